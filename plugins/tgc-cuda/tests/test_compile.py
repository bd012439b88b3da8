"""NVRTC compile-only, no GPU and no driver needed: every hand-written kernel compiles to PTX for sm_75 and sm_90 through
the plugin's own src/nvrtc.c (built here into a small tool), the PTX is one a CUDA 13.0 driver accepts, and a compile
error comes back with NVRTC's log."""
import os, re, subprocess
import pytest
import tgc_cuda
from cuda_kernels import KERNELS, BROKEN, build_tool, cc_compiler, find_ptxas, ptx_isa

NVRTC = tgc_cuda.nvrtc_path()
pytestmark = [pytest.mark.skipif(NVRTC is None, reason="the NVRTC wheel is not installed (pip install 'nvidia-cuda-nvrtc==13.0.*')"),
              pytest.mark.skipif(cc_compiler() is None, reason="no C compiler (cc or $TGC_CC) to build the nvrtc_ptx tool")]
ARCHS = (75, 90)
# The newest PTX ISA a CUDA 13.0 driver (the H200's, 580.x) loads; NVRTC 13.N writes ISA 9.N (toolchains.md section 3).
DRIVER_PTX_ISA = (9, 0)

@pytest.fixture(scope="module")
def tool(tmp_path_factory) -> str: return build_tool(str(tmp_path_factory.mktemp("nvrtc")))

def compile_ptx(tool: str, tmp_path, cc: int, name: str, src: str) -> subprocess.CompletedProcess:
  (f := tmp_path / f"{name}.cu").write_text(src)
  env = {**os.environ, "TGC_NVRTC_PATH": NVRTC}   # what the tgc_cuda hook sets
  return subprocess.run([tool, str(cc), name, str(f)], capture_output=True, text=True, env=env, timeout=120, check=False)

@pytest.mark.parametrize("cc", ARCHS)
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_compiles(tool, tmp_path, name, cc):
  k = KERNELS[name]
  if cc < k.min_cc: pytest.skip(f"{name} needs sm_{k.min_cc}+ (not declared in sm_{cc}'s caps)")
  r = compile_ptx(tool, tmp_path, cc, name, k.src)
  assert r.returncode == 0, f"{name} for sm_{cc}:\n{r.stderr}"
  assert r.stderr.startswith("nvrtc: NVRTC ") and os.path.realpath(NVRTC) in r.stderr, r.stderr
  ptx = r.stdout
  assert re.search(rf"^\.target sm_{cc}\b", ptx, re.M), ptx[:400]
  assert re.search(rf"^\.visible \.entry {name}\(", ptx, re.M), f"kernel {name} is not an unmangled entry (extern \"C\"):\n{ptx[:800]}"
  assert ptx_isa(ptx) <= DRIVER_PTX_ISA, (f"NVRTC wrote PTX ISA {ptx_isa(ptx)}, newer than a CUDA 13.0 driver loads {DRIVER_PTX_ISA}: "
                                         "keep nvidia-cuda-nvrtc pinned to 13.0.* (README: NVRTC pin)")
  if (ptxas := find_ptxas()) is not None:   # CUDA 13.0's assembler is the JIT a 13.0 driver runs on this PTX
    (p := tmp_path / f"{name}.ptx").write_text(ptx)
    a = subprocess.run([ptxas, f"-arch=sm_{cc}", "-o", os.devnull, str(p)], capture_output=True, text=True, timeout=120, check=False)
    assert a.returncode == 0, f"{ptxas} refused the PTX of {name} for sm_{cc}:\n{a.stderr}"

def test_params_are_eight_bytes(tool, tmp_path):
  """The CUDA dialect ABI: one pointer per buffer, then one long long per val -- every .param is 64-bit."""
  r = compile_ptx(tool, tmp_path, 90, "axpb", KERNELS["axpb"].src)
  assert r.returncode == 0, r.stderr
  params = re.findall(r"\.param \.(\w+) axpb_param_\d+", r.stdout)
  assert params == ["u64"] * 5, params

def test_compile_error_has_log(tool, tmp_path):
  r = compile_ptx(tool, tmp_path, 90, BROKEN.name, BROKEN.src)
  assert r.returncode == 1 and r.stdout == ""
  assert "cannot compile broken for sm_90: NVRTC_ERROR_COMPILATION" in r.stderr, r.stderr
  assert 'broken.cu(3): error: identifier "undefined_thing" is undefined' in r.stderr, r.stderr

def test_arch_lowered_to_what_nvrtc_knows(tool, tmp_path):
  """A GPU newer than NVRTC (here a made-up sm_999) gets PTX for NVRTC's newest arch, which the driver JITs forward."""
  r = compile_ptx(tool, tmp_path, 999, "vadd", KERNELS["vadd"].src)
  assert r.returncode == 0, r.stderr
  target = int(re.search(r"^\.target sm_(\d+)", r.stdout, re.M)[1])
  assert 90 <= target < 999

def test_nvrtc_missing(tool, tmp_path):
  (f := tmp_path / "vadd.cu").write_text(KERNELS["vadd"].src)
  env = {**os.environ, "TGC_NVRTC_PATH": str(tmp_path / "nowhere" / "libnvrtc.so.13")}
  r = subprocess.run([tool, "90", "vadd", str(f)], capture_output=True, text=True, env=env, timeout=60, check=False)
  assert r.returncode == 2
  assert f"NVRTC not found (tried TGC_NVRTC_PATH={tmp_path}/nowhere/libnvrtc.so.13): pip install 'nvidia-cuda-nvrtc==13.0.*'" in r.stderr, r.stderr
