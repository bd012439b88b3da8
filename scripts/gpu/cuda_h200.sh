#!/usr/bin/env bash
# The CUDA backend end to end on a machine with an NVIDIA GPU and a CUDA 13.0 driver, python3 with torch, numpy, pytest,
# pytest-xdist, scikit-learn, scikit-build-core, cmake, a C compiler and the nvidia-cuda-nvrtc/-runtime 13.0 wheels, but
# NO network (the device machines of this workplace: /work/.library/device/README.md).
#
#   scripts/gpu/cuda_h200.sh            from the repository root; logs go to $OUT (default ./cuda_h200_out)
#   scripts/gpu/cuda_h200.sh certify    the build, then `tgc-sdk certify cuda` writing the record into $OUT
#   scripts/gpu/cuda_h200.sh build      the build alone (tgc, tgc-cuda, tgc-sdk installed in /tmp/tgc-site)
#
# Wheels it needs that such a machine lacks: cffi, pycparser and tinygrad==0.14.0 (the tests' reference), for Python 3.12,
# in $WHEELHOUSE (default .whl, ignored by git: carry it), fetched where pip works with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .whl cffi==2.1.1 pycparser==3.12 tinygrad==0.14.0
# tgc, tgc-cuda and tgc-sdk are built here from this tree (no stale prebuilt wheel can disagree with the tests beside it).
#
# Steps (each logged; a failed step does not stop the later ones; $OUT/summary.txt has one line per step):
#   build    the tree's C build with its test tools (codegentool, uoptool), then wheels of tgc, tgc-cuda, tgc-sdk
#   doctor   python -m tgc doctor (CUDA must be ready)
#   plugin   plugins/tgc-cuda/tests (hand-written kernels, every engine test kernel through NVRTC, the GPU tests)
#   core     the device-independent tensor tests with DEV=CUDA: tgc's tensors on the GPU, tinygrad/torch/numpy on CPU
#   sdk      tgc-sdk conformance cuda (JSON report in $OUT)
#   examples examples/train_mlp.py and ResNet-18 logits against torch (CPU), both with DEV=CUDA
#   bench    bench/bench_gpu.py against torch on the same GPU (into examples.log)
# $OUT gets at most 8 files (the device tool's limit): summary.txt, build.log, plugin.log, core.log, sdk.log,
# conformance.json, examples.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
OUT=${OUT:-$REPO/cuda_h200_out}
WHEELHOUSE=${WHEELHOUSE:-.whl}
JOBS=${JOBS:-$(nproc)}
SITE=/tmp/tgc-site
WHL=/tmp/tgc-wheels
CORE_TESTS=${CORE_TESTS:-"tests/test_ops_torch.py tests/test_tensor_api.py tests/test_autograd.py tests/test_nn.py tests/test_indexing.py tests/test_conv.py tests/test_ops_dtype.py tests/test_realize.py"}
mkdir -p "$OUT" "$SITE" "$WHL"
# tinygrad (the reference) runs its CPU device on its Python emulator there: no clang (tests/conftest.py)
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH=$SITE TGC_BUILD_DIR=$REPO/build CMAKE_BUILD_PARALLEL_LEVEL=$JOBS
PIP="python3 -m pip -q --disable-pip-version-check"

step() { # step NAME LOG command...: run, log, one summary line
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  echo "== $name ($(date -u +%H:%M:%S))" >>"$OUT/$log"
  "$@" >>"$OUT/$log" 2>&1
  local rc=$?
  printf '%-9s rc=%-3s %4ss  %s\n' "$name" "$rc" "$((SECONDS - t0))" "$(tail -n 1 "$OUT/$log" | cut -c1-150)" | tee -a "$OUT/summary.txt"
  return $rc
}

build() {
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  python3 -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())' || true
  $PIP install --no-index --no-deps --no-compile --target "$SITE" "$WHEELHOUSE"/cffi-*.whl "$WHEELHOUSE"/pycparser-*.whl "$WHEELHOUSE"/tinygrad-*.whl || return 1
  cmake -S . -B build -DBUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$JOBS" >/dev/null || return 1
  $PIP wheel --no-deps --no-build-isolation --no-index -w "$WHL" . || return 1
  $PIP install --no-index --no-deps --no-compile --target "$SITE" "$WHL"/tgc-*.whl || return 1
  $PIP wheel --no-deps --no-build-isolation --no-index -w "$WHL" --config-settings=cmake.define.TGC_INCLUDE_DIR="$SITE/tgc/include" ./plugins/tgc-cuda || return 1
  $PIP wheel --no-deps --no-build-isolation --no-index -w "$WHL" ./sdk || return 1
  $PIP install --no-index --no-deps --no-compile --target "$SITE" "$WHL"/tgc_cuda-*.whl "$WHL"/tgc_sdk-*.whl || return 1
  python3 -c 'import tgc, tgc_cuda, tgc_sdk; print("tgc", tgc.__version__, "nvrtc", tgc_cuda.nvrtc_path())'
}

examples() {
  DEV=CUDA python3 examples/train_mlp.py --epochs 5 || return 1
  DEV=CUDA python3 - <<'EOF'
import importlib.util
spec = importlib.util.spec_from_file_location("resnet18", "examples/resnet18.py"); mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
from tgc import Device
print("tgc device:", Device.DEFAULT)
err = mod.main(["--batch", "2", "--size", "64"])
print(f"ResNet-18 logits on {Device.DEFAULT} vs torch (CPU): max relative error {err:.3g}")
assert err < 1e-3, err
EOF
}

: >"$OUT/summary.txt"
step build build.log build || { echo "build failed: see build.log" | tee -a "$OUT/summary.txt"; exit 1; }
[ "${1:-}" = build ] && exit  # scripts/gpu/cuda_h200.sh build: only the build (tgc, tgc-cuda, tgc-sdk in /tmp/tgc-site)
if [ "${1:-}" = certify ]; then  # scripts/gpu/cuda_h200.sh certify: the certification record of this build, into $OUT
  step certify sdk.log bash -c "cd /tmp && python3 -m tgc_sdk certify cuda -q --output $OUT"
  exit
fi
step doctor build.log bash -c 'cd /tmp && python3 -m tgc doctor && python3 -m tgc doctor | grep -E "^CUDA +ready"'
# from /tmp: the source package plugins/tgc-cuda/tgc_cuda must not shadow the installed one
# the GPU tests one at a time (one of them fills the GPU's memory on purpose), the NVRTC compiles of every engine kernel in parallel
step plugin plugin.log bash -c "cd /tmp && python3 -m pytest -q -rs -p no:cacheprovider $REPO/plugins/tgc-cuda/tests --ignore=$REPO/plugins/tgc-cuda/tests/test_compile_engine.py && python3 -m pytest -q -rs -p no:cacheprovider -n 8 $REPO/plugins/tgc-cuda/tests/test_compile_engine.py"
step copies core.log bash -c "python3 -m pytest -q -rs -p no:cacheprovider tests/test_device.py -k every_pair"
step core core.log bash -c "DEV=CUDA python3 -m pytest -q -rs -p no:cacheprovider -n 8 --timeout 600 $CORE_TESTS"
step sdk sdk.log bash -c "cd /tmp && python3 -m tgc_sdk conformance cuda --json $OUT/conformance.json -q; rc=\$?; python3 -c \"import json; r=json.load(open('$OUT/conformance.json')); print({k: v for k, v in r.items() if k in ('summary', 'counts', 'totals')})\" 2>/dev/null; exit \$rc"
step examples examples.log examples
step bench examples.log bash -c "DEV=CUDA ROUNDS=${ROUNDS:-3} python3 bench/bench_gpu.py"
echo "done in ${SECONDS}s; logs in $OUT" | tee -a "$OUT/summary.txt"
