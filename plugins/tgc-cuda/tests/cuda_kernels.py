"""Hand-written kernels in tgc's CUDA dialect (README: kernel ABI), shared by the compile-only and the GPU tests, and the
helpers the tests use. The engine's CUDA renderer does not exist yet; these stand in for what it will emit."""
from __future__ import annotations
import os, re, glob, ctypes, shutil, subprocess
from dataclasses import dataclass
import pytest
import tgc_cuda

if not os.path.isfile(tgc_cuda.library()):
  pytest.exit(f"tgc_cuda imported from {os.path.dirname(tgc_cuda.__file__)} has no {tgc_cuda.library()}: install the plugin (pip install "
              "./plugins/tgc-cuda) and run pytest from outside plugins/tgc-cuda (python -m pytest puts the current directory on sys.path, "
              "where the source package shadows the installed one)", returncode=2)

@dataclass(frozen=True)
class Kernel:
  name: str
  src: str
  min_cc: int = 75   # oldest compute capability whose dtypes the kernel uses (caps: half sm_53, bfloat16 sm_80, fp8 sm_89)

KERNELS = {k.name: k for k in [
  Kernel("vadd", """
extern "C" __global__ void vadd(float *out, const float *a, const float *b, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}"""),
  # one block sum per 256-thread block: shared memory and __syncthreads, the tree reduction tinygrad's LOCAL opts produce
  Kernel("block_sum", """
extern "C" __global__ void __launch_bounds__(256) block_sum(float *out, const float *a, long long n) {
  __shared__ __align__(16) float acc[256];
  long long i = (long long)blockIdx.x * 256 + threadIdx.x;
  acc[threadIdx.x] = i < n ? a[i] : 0.0f;
  __syncthreads();
  for (int k = 128; k > 0; k >>= 1) {
    if (threadIdx.x < k) acc[threadIdx.x] += acc[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = acc[0];
}"""),
  Kernel("iota1024", """
extern "C" __global__ void __launch_bounds__(1024) iota1024(int *out) {
  out[blockIdx.x * blockDim.x + threadIdx.x] = blockIdx.x * blockDim.x + threadIdx.x;
}"""),
  # 3-D grid and block: global/local dimension order as tinygrad uses them (x fastest)
  Kernel("idx3d", """
extern "C" __global__ void idx3d(int *out, long long nx, long long ny) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y, z = blockIdx.z * blockDim.z + threadIdx.z;
  out[(z * ny + y) * nx + x] = x + 1000 * y + 1000000 * z;
}"""),
  # 64-bit vals: beta does not fit in 32 bits
  Kernel("axpb", """
extern "C" __global__ void axpb(long long *out, const int *a, long long alpha, long long beta, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] * alpha + beta;
}"""),
  # tinygrad's CUDARenderer prefix and style: INFINITY/NAN macros, tg_bitcast, transcendentals as builtins, float4
  Kernel("tiny_style", """
typedef unsigned int uint;
#define INFINITY (__int_as_float(0x7f800000))
#define NAN (__int_as_float(0x7fffffff))
template <class T, class F> __device__ __forceinline__ T tg_bitcast(F v) { union U { F f; T t; }; U u; u.f = v; return u.t; }
extern "C" __global__ void __launch_bounds__(64) tiny_style(float* data0, const float* data1) {
  int gidx0 = blockIdx.x; int lidx0 = threadIdx.x;
  int alu0 = ((gidx0<<8)+(lidx0<<2));
  float4 val0 = *((float4*)((data1+alu0)));
  float a = ((val0.x<0.0f)?0.0f:val0.x), b = exp2(val0.y), c = log2((val0.z*val0.z)+1.0f), d = sin(val0.w);
  uint bits = tg_bitcast<uint>(a); float e = (bits==0u)?-INFINITY:a;
  *((float4*)((data0+alu0))) = make_float4(e,b,c,d);
}"""),
  Kernel("half_ops", """
#include <cuda_fp16.h>
extern "C" __global__ void half_ops(half *out, const half *a, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = hsqrt(a[i]) * a[i] + __float2half(1.0f);
}"""),
  Kernel("f64_ops", """
extern "C" __global__ void f64_ops(double *out, const double *a, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = exp2(a[i]) + log2(a[i] + 1.0) + sin(a[i]) + sqrt(a[i]);
}"""),
  Kernel("bf16_scale", """
#include <cuda_bf16.h>
extern "C" __global__ void bf16_scale(nv_bfloat16 *out, const nv_bfloat16 *a, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __float2bfloat16(__bfloat162float(a[i]) * 2.0f);
}""", min_cc=80),
  Kernel("fp8_roundtrip", """
#include <cuda_fp8.h>
extern "C" __global__ void fp8_roundtrip(float *out, const float *a, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = (float)__nv_fp8_e4m3(a[i]) + (float)__nv_fp8_e5m2(a[i]);
}""", min_cc=89),
]}

BROKEN = Kernel("broken", """
extern "C" __global__ void broken(float *out) {
  out[threadIdx.x] = undefined_thing;
}""")

# ---------------- environment probes ----------------

def driver_present() -> bool:
  try: ctypes.CDLL("libcuda.so.1")
  except OSError: return False
  return True

def tgc_include() -> str:
  import importlib.resources
  return str(importlib.resources.files("tgc") / "include")

def find_ptxas() -> str | None:
  return shutil.which("ptxas") or next(iter(sorted(glob.glob("/usr/local/cuda*/bin/ptxas"))), None)

def ptx_isa(ptx: str) -> tuple[int, int]:
  m = re.search(r"^\.version (\d+)\.(\d+)", ptx, re.M)
  assert m, f"no .version line in the PTX:\n{ptx[:500]}"
  return int(m[1]), int(m[2])

def cc_compiler() -> list[str] | None:
  cc = os.environ.get("TGC_CC", "cc").split()
  return cc if cc and shutil.which(cc[0]) else None

def build_tool(out_dir: str) -> str:
  here = os.path.dirname(os.path.abspath(__file__))
  exe = os.path.join(out_dir, "nvrtc_ptx")
  r = subprocess.run([*cc_compiler(), "-O1", "-Wall", "-Wextra", f"-I{tgc_include()}", "-o", exe,
                      os.path.join(here, "..", "src", "nvrtc.c"), os.path.join(here, "nvrtc_ptx.c"), "-ldl", "-lpthread"],
                     capture_output=True, text=True, check=False)
  if r.returncode != 0: pytest.fail(f"building the nvrtc_ptx tool failed:\n{r.stderr}")
  return exe
