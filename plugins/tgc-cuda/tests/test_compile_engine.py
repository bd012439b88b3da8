"""Every kernel the engine's test graphs produce, rendered by tgc's codegen in the "cuda" dialect with the caps this plugin
declares for sm_75 and sm_90, compiles to PTX through NVRTC (no GPU needed) with the plugin's own src/nvrtc.c.

The graphs: tests/test_codegen.py's KERNELS, tests/test_realize.py's CASES and tests/test_codegen_gpu.py's TC_KERNELS (the
tensor-core matmuls: with the heuristic their kernels call __WMMA_ functions whose inline mma.sync PTX must assemble for
the arch) (tinygrad builds and schedules them; the kernel ASTs go to the C codegen as JSON, as tests/test_codegen_gpu.py
does), both with the heuristic optimizations (tensor cores, GROUPTOP/MV shared-memory reductions, LOCAL groups, upcasts)
and with NOOPT=1. Checked per kernel: NVRTC accepts it,
the PTX targets the arch, the entry is unmangled (extern "C"), every parameter is 8 bytes (u64), the PTX ISA loads on a
CUDA 13.0 driver, and CUDA 13.0's ptxas accepts it when present.

Needs the repository's C tools (codegentool: TGC_BUILD_DIR, default <repo>/build) and tinygrad==0.14.0 (the core's test
extra); skipped with the reason otherwise."""
import json, os, pathlib, re, subprocess, sys
import pytest
import tgc_cuda
from cuda_kernels import build_tool, cc_compiler, find_ptxas, ptx_isa

REPO = pathlib.Path(__file__).resolve().parents[3]
CODEGENTOOL = pathlib.Path(os.environ.get("TGC_BUILD_DIR", REPO / "build")) / "codegentool"
NVRTC = tgc_cuda.nvrtc_path()
pytestmark = [pytest.mark.skipif(NVRTC is None, reason="the NVRTC wheel is not installed (pip install 'nvidia-cuda-nvrtc==13.0.*')"),
              pytest.mark.skipif(cc_compiler() is None, reason="no C compiler (cc or $TGC_CC) to build the nvrtc_ptx tool"),
              pytest.mark.skipif(not CODEGENTOOL.exists(), reason=f"{CODEGENTOOL} is missing (build the C tree with -DBUILD_TESTS=ON)"),
              pytest.mark.skipif(not (REPO / "tests" / "test_codegen.py").exists(), reason="not run from a tgc checkout")]
tinygrad = pytest.importorskip("tinygrad", reason="tinygrad==0.14.0 (the core's test extra) builds the graphs")

sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("DEV", "CPU")
from tinygrad.uop.ops import Ops  # noqa: E402
from tinygrad_ir import to_json  # noqa: E402
import test_codegen  # noqa: E402
import test_realize  # noqa: E402
import test_codegen_gpu  # noqa: E402

DRIVER_PTX_ISA = (9, 0)
ARCHS = (75, 90)

def _realize_case(name):
  fn, inputs = test_realize.CASES[name]
  return fn(tinygrad.Tensor, *[tinygrad.Tensor(x).realize() for x in inputs])

GRAPHS = {**{f"codegen:{k}": v for k, v in test_codegen.KERNELS.items()},
          **{f"realize:{k}": (lambda k=k: _realize_case(k)) for k in test_realize.CASES},
          **{f"tc:{k}": v[0] for k, v in test_codegen_gpu.TC_KERNELS.items()}}
# the tensor-core graphs: (tinygrad applies a TC, the oldest arch whose caps declare its dtypes)
TC = {f"tc:{k}": (v[1], v[2]) for k, v in test_codegen_gpu.TC_KERNELS.items()}

@pytest.fixture(scope="module")
def tool(tmp_path_factory) -> str: return build_tool(str(tmp_path_factory.mktemp("nvrtc")))

def render(ast, cc: int, noopt: int) -> dict:
  env = {**os.environ, "CODEGENTOOL_GPU": "cuda", "CODEGENTOOL_ARCH": f"sm_{cc}", "CODEGENTOOL_FDIV": "1"}  # the caps src/cuda.c declares
  r = subprocess.run([str(CODEGENTOOL), "render"] + (["noopt"] if noopt else []), input=to_json(ast), capture_output=True, text=True,
                     env=env, timeout=300, check=False)
  assert r.returncode == 0, f"codegen for sm_{cc} failed: {r.stderr}"
  return json.loads(r.stdout)

@pytest.mark.parametrize("cc", ARCHS)
@pytest.mark.parametrize("graph", list(GRAPHS))
def test_engine_kernels_compile(tool, tmp_path, graph, cc):
  try: t = GRAPHS[graph]()
  except Exception as e: pytest.skip(f"tinygrad cannot build this graph here: {type(e).__name__}: {e}")
  asts = [c.src[0] for c in t.schedule_linear().src if c.src[0].op is Ops.SINK]
  if not asts: pytest.skip("no kernel")
  if cc < 80 and any(u.dtype == tinygrad.dtypes.bfloat16 for a in asts for u in a.toposort()):
    pytest.skip(f"bfloat16 is not declared in sm_{cc}'s caps (CUDARenderer: sm_80+)")
  if graph in TC and cc < TC[graph][1]: pytest.skip(f"{graph}'s dtypes are not declared in sm_{cc}'s caps")
  env = {**os.environ, "TGC_NVRTC_PATH": NVRTC}
  for noopt in (0, 1):
    for ki, ast in enumerate(asts):
      prog = render(ast, cc, noopt)
      name, src = prog["name"], prog["source"]
      (f := tmp_path / f"{name}_{noopt}.cu").write_text(src)
      r = subprocess.run([tool, str(cc), name, str(f)], capture_output=True, text=True, env=env, timeout=120, check=False)
      where = f"{graph} kernel {ki} ({name}, NOOPT={noopt}) for sm_{cc}"
      assert r.returncode == 0, f"{where}:\n{r.stderr}\n{src}"
      ptx = r.stdout
      assert re.search(rf"^\.target sm_{cc}\b", ptx, re.M), where
      assert re.search(rf"^\.visible \.entry {name}\(", ptx, re.M), f"{where}: not an unmangled entry"
      params = re.findall(rf"\.param \.(\w+) {name}_param_\d+", ptx)
      assert params == ["u64"] * (len(prog["globals"]) + len(prog["vars"])), f"{where}: parameters {params}"
      assert ptx_isa(ptx) <= DRIVER_PTX_ISA, where
      if graph in TC and TC[graph][0] and not noopt:
        assert "__WMMA_" in src and re.search(r"^\s*mma\.sync\.aligned\.m16n8k(8|16|32)\.row\.col\.", ptx, re.M), f"{where}: no tensor core"
      if (ptxas := find_ptxas()) is not None:
        (p := tmp_path / f"{name}_{noopt}.ptx").write_text(ptx)
        a = subprocess.run([ptxas, f"-arch=sm_{cc}", "-o", os.devnull, str(p)], capture_output=True, text=True, timeout=120, check=False)
        assert a.returncode == 0, f"{ptxas} refused {where}:\n{a.stderr}"
