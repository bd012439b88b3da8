#!/usr/bin/env bash
# The Vulkan and WebGPU backends on the H200 through NVIDIA's Vulkan driver, built from this tree in one call (the steps of
# vulkan_h200.sh and webgpu_h200.sh without their prebuilt tgc wheel): tgc, tgc-cuda and tgc-sdk are built there
# (cuda_h200.sh build), tgc-webgpu too; tgc-vulkan (glslang linked in) comes prebuilt from .vkwhl/, the wgpu wheels and
# Debian's Vulkan loader from .gpu-webgpu/ (webgpu_h200.sh prepare), Python 3.12 wheels from .whl/. Here:
#   python3 -m pip wheel --no-deps -w .vkwhl ./plugins/tgc-vulkan
# then the lead's call: run(command="bash scripts/gpu/gpuapi_h200.sh", carry=[".whl", ".gpu-webgpu", ".vkwhl"])
# APIS="VULKAN WEBGPU" (default) picks the backends; per backend: doctor, plugin tests, the tensor suite (DEV=X), conformance.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
OUT=${OUT:-/tmp/gpuapi-out}; mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
OUT=$OUT/b bash scripts/gpu/cuda_h200.sh build >/dev/null 2>&1; cat "$OUT/b/summary.txt"; mv "$OUT/b/build.log" "$OUT/build.log"; rm -rf "$OUT/b"
for f in .gpu-webgpu/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site-w .gpu-webgpu/wgpu-*.whl .gpu-webgpu/rendercanvas-*.whl .vkwhl/tgc_vulkan-*.whl
export PYTHONPATH=/tmp/tgc-site:/tmp/site-w TGC_BUILD_DIR=$REPO/build
python3 -m pip install -q --no-build-isolation --no-deps --no-index --target /tmp/site2 \
  --config-settings=cmake.define.TGC_INCLUDE_DIR=/tmp/tgc-site/tgc/include ./plugins/tgc-webgpu >> "$OUT/build.log" 2>&1 || echo "webgpu plugin build failed"
export PYTHONPATH=/tmp/site2:/tmp/tgc-site:/tmp/site-w
(cd /tmp && python3 -m tgc doctor) > "$OUT/doctor.txt" 2>&1; grep -E "^(VULKAN|WEBGPU)" "$OUT/doctor.txt"
TENSOR_TESTS="tests/test_ops_torch.py tests/test_ops_dtype.py tests/test_tensor_api.py tests/test_autograd.py tests/test_nn.py tests/test_indexing.py tests/test_conv.py tests/test_realize.py tests/test_jit.py tests/test_state.py"
for api in ${APIS:-VULKAN WEBGPU}; do
  low=$(echo "$api" | tr A-Z a-z); L="$OUT/$low.log"; : > "$L"
  s=$SECONDS; (cd /tmp && python3 -m pytest -q -rs -p no:cacheprovider "$REPO/plugins/tgc-$low/tests") >> "$L" 2>&1
  echo "$api plugin tests: $((SECONDS-s)) s: $(tail -1 "$L")"
  extra=""; [ "$api" = VULKAN ] && extra="tests/test_resnet18.py tests/test_torch_load.py tests/test_fuzz.py"
  s=$SECONDS; DEV=$api timeout ${TENSOR_TIMEOUT:-240} python3 -m pytest -q -rf -p no:cacheprovider -n ${JOBS:-16} $TENSOR_TESTS $extra >> "$L" 2>&1
  echo "$api tensor tests: $((SECONDS-s)) s: $(tail -1 "$L")"; grep -E "^FAILED" "$L" | head -30
  exp=""; [ -f "plugins/tgc-$low/conformance-expect.json" ] && exp="--expect $REPO/plugins/tgc-$low/conformance-expect.json"
  s=$SECONDS; (cd /tmp && timeout 120 python3 -m tgc_sdk conformance $low $exp --json "$OUT/conformance_$low.json") > "$OUT/conformance_$low.txt" 2>&1
  echo "$api conformance: $((SECONDS-s)) s: $(grep -iE '^(total|verdict)|FAIL' "$OUT/conformance_$low.txt" | tr -s ' ' | head -12 | tr '\n' ' ')"
done
(cd /tmp && python3 -m pytest -q -rs -p no:cacheprovider "$REPO/tests/test_device.py" -k every_pair) 2>&1 | tail -2
exit 0
