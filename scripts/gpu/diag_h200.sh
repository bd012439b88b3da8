#!/usr/bin/env bash
# Diagnosis on the H200: builds tgc + tgc-cuda (cuda_h200.sh build) and tgc-webgpu from this tree, then runs
# scripts/gpu/diag_ops.py with DEV=CUDA and DEV=WEBGPU (WebGPU through NVIDIA's Vulkan driver), then $EXTRA (shell code,
# e.g. a DEBUG=4 snippet or a pytest subset; $OUT is where files come back). Needs what cuda_h200.sh and webgpu_h200.sh
# need (.whl and .gpu-webgpu prepared here):
#   run(command="DEVS='CUDA WEBGPU' EXTRA='...' bash scripts/gpu/diag_h200.sh", carry=[".whl", ".gpu-webgpu"])
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/diag-out}; mkdir -p "$OUT"
OUT=$OUT/cuda bash scripts/gpu/cuda_h200.sh build >/dev/null 2>&1; cat "$OUT/cuda/summary.txt"; tar -C "$OUT" -czf "$OUT/cuda_build.tgz" cuda && rm -rf "$OUT/cuda"
D=.gpu-webgpu
for f in "$D"/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=$(mktemp -d) PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site-w "$D"/wgpu-*.whl "$D"/rendercanvas-*.whl
export PYTHONPATH=/tmp/tgc-site:/tmp/site-w
python3 -m pip install -q --no-build-isolation --no-deps --no-index --target /tmp/site2 \
  --config-settings=cmake.define.TGC_INCLUDE_DIR=/tmp/tgc-site/tgc/include ./plugins/tgc-webgpu > "$OUT/webgpu_build.log" 2>&1 || echo "webgpu plugin build failed"
export PYTHONPATH=/tmp/site2:/tmp/tgc-site:/tmp/site-w
(cd /tmp && python3 -m tgc doctor) 2>&1 | tail -8
for dev in ${DEVS:-CUDA WEBGPU}; do
  DEV=$dev timeout 200 python3 scripts/gpu/diag_ops.py > "$OUT/diag_$dev.txt" 2>&1; echo "== $dev: $(grep -c '^ok' "$OUT/diag_$dev.txt") ok, $(grep -c '^BAD' "$OUT/diag_$dev.txt") BAD, $(grep -c '^ERR' "$OUT/diag_$dev.txt") ERR"
  grep -v '^ok' "$OUT/diag_$dev.txt" | head -80
done
[ -n "${EXTRA:-}" ] && eval "$EXTRA"
exit 0
