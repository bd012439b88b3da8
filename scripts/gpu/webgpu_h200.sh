#!/usr/bin/env bash
# The WebGPU plugin and the tensor/conformance suites on an NVIDIA machine through NVIDIA's Vulkan driver (wgpu-native's Vulkan
# backend), as CI runs them on lavapipe (scripts/test.sh). The machine has no network and no Vulkan loader, so this runs in two steps:
#
#   scripts/gpu/webgpu_h200.sh prepare   # here, from the repository root, with network: fills .gpu-webgpu/ (git-ignored through
#                                        # .git/info/exclude): tgc's wheel built from this tree, tgc-sdk's, the wheels the H200 image
#                                        # lacks (cffi, pycparser, wgpu, rendercanvas, tinygrad) for CPython 3.12, Debian's Vulkan loader
#                                        # and glvnd packages
#   scripts/gpu/webgpu_h200.sh run       # there (the device tool, carry [".gpu-webgpu"]): installs, builds the plugin and the C test
#                                        # tools, runs doctor, the plugin's tests, the tensor tests with DEV=WEBGPU and
#                                        # `tgc-sdk conformance webgpu`; logs and the conformance JSON go to $OUT
#
# The lead's call:  run(command="bash scripts/gpu/webgpu_h200.sh run", carry=[".gpu-webgpu"], timeout_s=600)
set -uo pipefail
cd "$(dirname "$0")/../.."
D=.gpu-webgpu
TENSOR_TESTS="tests/test_ops_torch.py tests/test_ops_dtype.py tests/test_tensor_api.py tests/test_autograd.py tests/test_nn.py tests/test_indexing.py tests/test_conv.py tests/test_realize.py tests/test_jit.py tests/test_state.py"   # as scripts/test.sh

prepare() {
  set -e
  ex=$(git rev-parse --git-path info/exclude) && mkdir -p "$(dirname "$ex")"
  grep -qx "/$D/" "$ex" 2>/dev/null || echo "/$D/" >> "$ex"
  rm -rf "$D" && mkdir -p "$D"
  tmp=$(mktemp -d) && git archive HEAD | tar -x -C "$tmp"
  CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-2} python3 -m pip wheel -q --no-deps -w "$D" "$tmp" "$tmp/sdk"
  rm -rf "$tmp"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$D" cffi==2.0.0 pycparser==3.0 wgpu==0.32.0 rendercanvas==2.7.2 tinygrad==0.14.0
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists'
  mkdir -p /tmp/amd64-lists/partial && apt-get $o update -qq
  (cd "$D" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  du -sh "$D" && ls "$D"
}

run() {
  L=${OUT:-/tmp/webgpu-out}; mkdir -p "$L"
  export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
  for f in "$D"/*.deb; do dpkg -x "$f" /; done; ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$D"/*.whl || return 1
  export PYTHONPATH=/tmp/site
  python3 -m pip install -q --no-build-isolation --no-deps --no-index --target /tmp/site2 \
    --config-settings=cmake.define.TGC_INCLUDE_DIR=/tmp/site/tgc/include ./plugins/tgc-webgpu > "$L/plugin_build.log" 2>&1 || return 1
  export PYTHONPATH=/tmp/site2:/tmp/site PATH=/tmp/site/bin:$PATH
  (cmake -S . -B /tmp/tgc-build -G Ninja -DBUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/tgc-build -j"$(nproc)") > "$L/c_build.log" 2>&1
  export TGC_BUILD_DIR=/tmp/tgc-build
  { nvidia-smi -L; python3 -m tgc doctor; } > "$L/doctor.txt" 2>&1
  s=$SECONDS; python3 -m pytest -q -rs -p no:cacheprovider plugins/tgc-webgpu/tests > "$L/plugin_tests.log" 2>&1; echo "plugin tests: $((SECONDS-s)) s: $(tail -1 "$L/plugin_tests.log")"
  s=$SECONDS; DEV=WEBGPU timeout ${TENSOR_TIMEOUT:-300} python3 -m pytest -q -rs -p no:cacheprovider -n ${JOBS:-8} $TENSOR_TESTS > "$L/tensor_tests.log" 2>&1
  echo "tensor tests (DEV=WEBGPU): $((SECONDS-s)) s: $(tail -1 "$L/tensor_tests.log")"
  s=$SECONDS; (cd /tmp && timeout 100 python3 -m tgc_sdk conformance webgpu --expect "$OLDPWD/plugins/tgc-webgpu/conformance-expect.json" --json "$L/conformance.json") > "$L/conformance.txt" 2>&1
  echo "conformance: $((SECONDS-s)) s: $(grep -E '^(total|verdict)' "$L/conformance.txt" | tr -s ' ' | tr '\n' ' ')"
  cat "$L/doctor.txt"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
