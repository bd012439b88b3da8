#!/usr/bin/env bash
# The whole test suite, from a clean clone: system packages, the Python package and its test extra, the C build with
# ctest, the C tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

# C compiler and CMake (Debian). Skipped when present, so it also runs where apt is not available.
need=()
command -v cc >/dev/null || need+=(gcc)
command -v cmake >/dev/null || need+=(cmake)
command -v clang >/dev/null || need+=(clang)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

python3 -m pip install -q --upgrade pip >/dev/null
python3 -m pip install -q ".[test]"

echo "== C build + ctest =="
cmake -S . -B build -DBUILD_TESTS=ON -DBUILD_EXAMPLES=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS"
ctest --test-dir build --output-on-failure -j"$JOBS"

echo "== C tests under ASan + UBSan =="
cmake -S . -B build-asan -DBUILD_TESTS=ON -DBUILD_EXAMPLES=ON -DTGC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS"

echo "== pytest =="
python3 -m pytest -q tests

echo "== tgc-cuda plugin (no GPU here: NVRTC compile-only, packaging, discovery, doctor) =="
python3 -m pip install -q ./plugins/tgc-cuda
python3 -m pytest -q plugins/tgc-cuda/tests

echo "== tgc-sdk: its tests, then a generated backend built, installed and run through conformance =="
python3 -m pip install -q "./sdk[test]"
TGC_BUILD_DIR="$PWD/build" python3 -m pytest -q sdk/tests
sdk_tmp=$(mktemp -d)
tgc-sdk new-backend acme --output "$sdk_tmp/tgc-acme"
python3 -m pip install -q --no-build-isolation "$sdk_tmp/tgc-acme"
python3 -m tgc doctor | grep -E '^ACME +ready'
tgc-sdk conformance acme --json "$sdk_tmp/acme.json" --html "$sdk_tmp/acme.html"
tgc-sdk conformance cpu --library build/libtgc_cpu_plugin.so --manifest build/libtgc_cpu_plugin.json
tgc-sdk validate acme -q
tgc-sdk validate cpu --library build/libtgc_cpu_plugin.so -q
tgc-sdk registry verify --library cpu=build/libtgc_cpu_plugin.so   # records, schema, digests, statuses, expiry, index; a rebuilt library is only a warning
python3 -m pip uninstall -q -y tgc-acme
rm -rf "$sdk_tmp"

echo "== tgc-hip plugin (no GPU here: Debian's HIP 5.2 runtime + hiprtc compile-only, a fake runtime for the host logic) =="
hip_pkgs=(libamdhip64-dev rocm-device-libs hipcc)
if ! dpkg -s "${hip_pkgs[@]}" >/dev/null 2>&1; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${hip_pkgs[@]}"
fi
python3 -m pip install -q ./plugins/tgc-hip
TGC_BUILD_DIR="$PWD/build" python3 -m pytest -q -rs plugins/tgc-hip/tests
python3 -m pip uninstall -q -y tgc-hip

echo "== tgc-metal plugin (not macOS here: a fake objc/Metal layer for the host logic, the rendered MSL compiled as C++ and run on the CPU) =="
python3 -m pip install -q ./plugins/tgc-metal
TGC_BUILD_DIR="$PWD/build" python3 -m pytest -q -rs plugins/tgc-metal/tests
python3 -m pip uninstall -q -y tgc-metal

echo "== tgc-vulkan plugin (glslang linked in, on Mesa lavapipe) =="
./plugins/tgc-vulkan/ci.sh

echo "== tgc-webgpu plugin (wgpu-native from the wgpu wheel, on Mesa lavapipe) =="
if ! [ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers
fi
python3 -m pip install -q ./plugins/tgc-webgpu
export XDG_RUNTIME_DIR=$(mktemp -d)   # libwayland's complaint when lavapipe is enumerated without one
python3 -m pytest -q plugins/tgc-webgpu/tests
echo "== copies between every pair of ready devices (CPU, VULKAN, WEBGPU) =="
python3 -m pytest -q -rs tests/test_device.py -k every_pair
echo "== the tensor tests on WEBGPU (DEV=WEBGPU: kernels rendered in WGSL, on lavapipe) =="
DEV=WEBGPU python3 -m pytest -q tests/test_ops_torch.py tests/test_ops_dtype.py tests/test_tensor_api.py tests/test_autograd.py tests/test_nn.py \
  tests/test_indexing.py tests/test_conv.py tests/test_realize.py tests/test_jit.py tests/test_state.py
echo "== tgc-sdk conformance webgpu (lavapipe) =="
tgc-sdk conformance webgpu --expect plugins/tgc-webgpu/conformance-expect.json
python3 -m pip uninstall -q -y tgc-webgpu
