#!/usr/bin/env bash
# tgc-vulkan in CI, on Mesa's lavapipe (Vulkan on the CPU): the system packages the build and the tests need, the plugin built
# from source (glslang linked in statically), then its tests. Needs tgc installed already (scripts/test.sh does that first).
set -euo pipefail
cd "$(dirname "$0")/../.."

# build: Vulkan headers, glslang + SPIRV-Tools static libraries, a C++ linker; run: the loader (libvulkan1, pulled in by
# libvulkan-dev) and lavapipe (mesa-vulkan-drivers). Skipped when present, so it also runs where apt is not available.
pkgs=(mesa-vulkan-drivers libvulkan-dev glslang-dev glslang-tools spirv-tools)
command -v c++ >/dev/null || pkgs+=(g++)
if ! dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

python3 -m pip install -q "./plugins/tgc-vulkan[test]"
python3 -m pytest -q -rs plugins/tgc-vulkan/tests
