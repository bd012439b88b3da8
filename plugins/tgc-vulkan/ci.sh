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

# the core's tensor tests on the Vulkan device (tests/conftest.py: DEV picks the device for these modules; tinygrad, the
# reference, stays on CPU). About 6 minutes on 2 shared cores after scripts/test.sh's CPU run, whose cached CPU kernels (tgc's
# and tinygrad's) are reused here; up to 15 with an empty cache (2026-11-30)
TENSOR_TESTS=(tests/test_ops_torch.py tests/test_tensor_api.py tests/test_autograd.py tests/test_nn.py tests/test_indexing.py
              tests/test_conv.py tests/test_ops_dtype.py tests/test_jit.py tests/test_state.py tests/test_resnet18.py
              tests/test_torch_load.py tests/test_fuzz.py)
DEV=VULKAN python3 -m pytest -q -rs "${TENSOR_TESTS[@]}"

# the conformance suite on the Vulkan backend (tgc-sdk from ./sdk when not installed yet)
command -v tgc-sdk >/dev/null || python3 -m pip install -q ./sdk
tgc-sdk conformance vulkan --expect plugins/tgc-vulkan/conformance-expect.json
