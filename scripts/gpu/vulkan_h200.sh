#!/usr/bin/env bash
# tgc-vulkan on an NVIDIA H200 (the device machine: NVIDIA's Vulkan driver, no network, no Vulkan loader, no pip index):
# the plugin's tests, the core's tensor tests with DEV=VULKAN and `tgc-sdk conformance vulkan`, as plugins/tgc-vulkan/ci.sh
# runs them on lavapipe. Two steps:
#
#   here (a machine with pip and apt, in the repository root):   scripts/gpu/vulkan_h200.sh prepare
#     builds the wheels (tgc, tgc-vulkan, tgc-sdk) and fetches what the H200 image lacks (cffi, pycparser, tinygrad 0.14.0
#     for CPython 3.12; the Debian Vulkan loader and libglvnd) into .h200vk/ (git-ignored through .git/info/exclude),
#     with the C test tools the graph tests use (build/uoptool ...).
#   there (device tool `run`, carry [".h200vk"]):                 bash scripts/gpu/vulkan_h200.sh run [STEP...]
#     installs them, runs the steps (doctor plugin tensor conformance; all by default), writes one log per step and a
#     summary to $OUT (or ./h200-out), exits non-zero if a step failed. Each step is cut at STEP_TIMEOUT seconds (540), so
#     that a call fits the device tool's 600 s: if `tensor` is cut, run it alone in a second call.
set -uo pipefail
cd "$(dirname "$0")/../.."
H=.h200vk
OUT=${OUT:-$PWD/h200-out}

prepare() {
  set -e
  local ex; ex=$(git rev-parse --git-path info/exclude); mkdir -p "$(dirname "$ex")"
  grep -qx "/$H/" "$ex" 2>/dev/null || echo "/$H/" >> "$ex"
  rm -rf "$H" && mkdir -p "$H/whl" "$H/gl" "$H/build"
  local src; src=$(mktemp -d)
  git archive HEAD | tar -x -C "$src"   # committed sources only: what the lead merges
  python3 -m pip wheel -q --no-deps -w "$H/whl" "$src" "$src/plugins/tgc-vulkan" "$src/sdk"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$H/whl" cffi==2.0.0 pycparser==3.0
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$H/whl" tinygrad==0.14.0
  local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial && apt-get $o update -qq && (cd "$H/gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  [ -x build/uoptool ] || { cmake -S "$src" -B build -DBUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2; }
  cp build/uoptool build/codegentool build/schedtool build/symtool "$H/build/" 2>/dev/null || true
  rm -rf "$src"
  du -sh "$H"; ls "$H/whl"
}

step() {  # step NAME CMD...: runs CMD with its output in $OUT/NAME.log, records PASS/FAIL and the wall time
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name: $*" | tee -a "$OUT/summary.txt"
  timeout "${STEP_TIMEOUT:-540}" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "   rc=$rc in $((SECONDS - t0)) s: $(grep -E '(passed|failed|verdict)' "$OUT/$name.log" | tail -1)" | tee -a "$OUT/summary.txt"
  [ $rc = 0 ] || FAILED=1
}

run() {
  mkdir -p "$OUT"; : > "$OUT/summary.txt"; FAILED=0
  [ -d "$H/whl" ] || { echo "no $H/whl: run '$0 prepare' here first and carry $H" | tee "$OUT/summary.txt"; exit 2; }
  if ! ldconfig -p | grep -q libvulkan.so.1; then for f in "$H"/gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
  [ -e /usr/share/vulkan/icd.d/nvidia_icd.json ] || [ -e /etc/vulkan/icd.d/nvidia_icd.json ] ||
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site "$H"/whl/*.whl || exit 2
  export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH TGC_BUILD_DIR=$PWD/$H/build XDG_CACHE_HOME=/tmp/h200vk-cache  # kept between calls to a warm machine
  : # tinygrad (the reference) runs its CPU device on its Python emulator where there is no clang (tests/conftest.py)
  { nvidia-smi -L; python3 --version; command -v cc clang; python3 -c 'import torch, numpy, pytest; print(torch.__version__, numpy.__version__, pytest.__version__)'; } \
    > "$OUT/env.log" 2>&1
  local steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(doctor plugin tensor conformance)
  for s in "${steps[@]}"; do case $s in
    doctor) step doctor python3 -m tgc doctor ;;
    plugin) step plugin_tests python3 -m pytest -q -rs plugins/tgc-vulkan/tests ;;
    tensor) step tensor_tests env DEV=VULKAN timeout ${TENSOR_TIMEOUT:-300} python3 -m pytest -q -rs -p no:cacheprovider -n ${JOBS:-8} \
              tests/test_ops_torch.py tests/test_tensor_api.py tests/test_autograd.py tests/test_nn.py tests/test_indexing.py tests/test_conv.py \
              tests/test_ops_dtype.py tests/test_jit.py tests/test_state.py tests/test_resnet18.py tests/test_torch_load.py tests/test_fuzz.py ;;
    conformance) step conformance python3 -m tgc_sdk conformance vulkan --json "$OUT/conformance.json" ;;
    *) echo "unknown step $s (doctor plugin tensor conformance)" | tee -a "$OUT/summary.txt"; FAILED=1 ;;
  esac; done
  cat "$OUT/summary.txt"
  exit $FAILED
}

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
