"""The GPU codegen (locals, shared memory, gpudims, the cuda/hip/metal renderers) against tinygrad 0.14.0's GPU renderers,
with no GPU: tinygrad's own CUDARenderer, HIPRenderer and MetalRenderer run here with their compilers stubbed out (they
are only constructed, never called), tensor cores off (the plugins declare none).

Every kernel is built by tinygrad's scheduler (as in tests/test_codegen.py), crosses to C as JSON and goes through
tests/c/tools/codegentool with CODEGENTOOL_GPU=<dialect>, i.e. with the caps the GPU plugin declares (ops, dtypes,
vector width, launch and shared memory limits; tinygrad's renderer gets the same limits). Compared, NOOPT=1 and with the
heuristic (GROUPTOP/MV reductions through shared memory, LOCAL groups, upcasts):
  * the graph after every pass of full_rewrite_to_sink (CUDA);
  * the rendered source, byte for byte, for cuda, hip and metal, and the launch sizes. The one intended difference:
    a variable parameter is `const long long` in tgc's CUDA and HIP dialects (every launch parameter is 8 bytes,
    plugins/tgc-cuda/README.md) where tinygrad writes `const int`.
Needs: tinygrad==0.14.0 and the C tools (TGC_BUILD_DIR)."""
import json, os, re, subprocess
import numpy as np
import pytest

tinygrad = pytest.importorskip("tinygrad")
from tinygrad.helpers import DEV, Context, Target  # noqa: E402
DEV.value = "CPU"
import tinygrad.runtime.support.compiler_cuda as compiler_cuda  # noqa: E402
import tinygrad.runtime.support.compiler_amd as compiler_amd  # noqa: E402
from tinygrad import Tensor, dtypes, Variable  # noqa: E402
from tinygrad.uop.ops import Ops  # noqa: E402
from tinygrad.renderer import Renderer  # noqa: E402
from tinygrad.renderer.cstyle import CUDARenderer, HIPRenderer, MetalRenderer  # noqa: E402
import tinygrad.codegen as tg_codegen  # noqa: E402
from tinygrad.codegen import full_rewrite_to_sink, to_program  # noqa: E402

from tinygrad_ir import to_json, tool  # noqa: E402

class _NoCompiler:
  """Stands in for NVRTC/hipcc: the renderers are only asked to render."""
  def __init__(self, *a, **k): pass
  def compile_cached(self, src): return b""

def _renderers() -> dict:
  compiler_cuda.NVRTCCompiler, compiler_amd.HIPCompiler = _NoCompiler, _NoCompiler
  cuda = CUDARenderer(Target("NV", "CUDA", "sm_90"))
  hip = HIPRenderer(Target("AMD", "HIP", "gfx1100"))
  metal = MetalRenderer.__new__(MetalRenderer)   # MetalRenderer.__init__ loads the macOS compiler; the class has everything else
  Renderer.__init__(metal, Target("METAL", "METAL", "Apple9"))
  for r in (cuda, hip, metal):   # the limits codegentool declares for every GPU dialect (tests/c/tools/codegentool.c)
    r.tensor_cores, r.global_max, r.local_max, r.shared_max = [], (2147483647, 65535, 65535), (1024, 1024, 64), 49152
  hip.shared_max = 65536
  return {"cuda": cuda, "hip": hip, "metal": metal}
RENDERERS = _renderers()

def rand(shape, dt=dtypes.float32, seed=0):
  rng = np.random.default_rng(seed)
  if dt == dtypes.bool: return Tensor(rng.integers(0, 2, size=shape).astype(np.bool_)).realize()
  if dtypes.is_float(dt) and dt != dtypes.bfloat16: return Tensor(rng.uniform(-2, 2, size=shape).astype(np.dtype(dt.fmt))).realize()
  if dt == dtypes.bfloat16: return Tensor.empty(*shape, dtype=dt).realize()
  return Tensor(rng.integers(-100, 100, size=shape).astype(np.dtype(dt.fmt))).realize()

KERNELS = {
  "elementwise": lambda: (rand((64, 64)) + rand((64, 64), seed=1)) * 2,
  "broadcast": lambda: rand((32, 48)) * rand((48,), seed=1) + rand((32, 1), seed=2),
  "matmul": lambda: rand((64, 64)) @ rand((64, 64), seed=1),
  "matmul_odd": lambda: rand((13, 29)) @ rand((29, 7), seed=1),
  "matvec": lambda: rand((256,)) @ rand((256, 512), seed=1),
  "vecmat": lambda: rand((512, 256)) @ rand((256,), seed=1),
  "sum_axis0": lambda: rand((64, 64)).sum(0),
  "sum_axis1": lambda: rand((64, 64)).sum(1),
  "sum_axis1_big": lambda: rand((4096, 64)).sum(1),
  "sum_axis_mid": lambda: rand((8, 32, 16)).sum(1),
  "sum_all": lambda: rand((64, 64)).sum(),
  "sum_all_odd": lambda: rand((37, 3)).sum(),
  "max_all": lambda: rand((1000,)).max(),
  "softmax": lambda: rand((16, 100)).softmax(1),
  "conv2d": lambda: rand((2, 3, 12, 12)).conv2d(rand((8, 3, 3, 3), seed=1)),
  "argmax": lambda: rand((64, 64)).argmax(1),
  "cumsum": lambda: rand((300,)).cumsum(),
  "gather": lambda: rand((100,))[Tensor([3, 1, 4, 1, 5, 9, 2, 6] * 8, dtype=dtypes.int32)],
  "int": lambda: (rand((40, 40), dtypes.int32) * 3 + rand((40, 40), dtypes.int32, seed=1)) // 7 % 5,
  "int_sum": lambda: rand((33, 65), dtypes.int32).sum(0),
  "half": lambda: (rand((64, 64), dtypes.half) * 2).exp().sqrt(),
  "half_sum": lambda: rand((64, 64), dtypes.half).sum(1),
  "half_matmul": lambda: rand((32, 32), dtypes.half) @ rand((32, 32), dtypes.half, seed=1),
  "bf16": lambda: (rand((64,), dtypes.bfloat16) * 3).sin(),
  "bf16_cast": lambda: rand((64,)).cast(dtypes.bfloat16),
  "bool": lambda: (rand((50,)) < rand((50,), seed=1)).where(1.0, rand((50,), seed=2)),
  "transcendental": lambda: rand((33,)).exp() + rand((33,), seed=1).log2().abs() + rand((33,), seed=2).sin(),
  "tiny": lambda: rand((1,)) + 1,
  "odd_shape": lambda: (rand((3, 5, 7)) * 2).exp(),
  "huge_1d": lambda: Tensor.empty(70000 * 1024).realize() + 1,
  "bitcast": lambda: rand((16,)).bitcast(dtypes.int32) + 1,
  "inf_nan": lambda: (rand((16,)) > 0).where(float("inf"), float("nan")) + rand((16,)).maximum(0),
}

def calls_of(name):
  return [c for c in KERNELS[name]().schedule_linear().src if c.src[0].op is Ops.SINK]

def run_tool(ast, cmd: str, noopt: int, dialect: str) -> str:
  env = {**os.environ, "CODEGENTOOL_GPU": dialect, "CODEGENTOOL_ARCH": "sm_90"}
  r = subprocess.run([str(tool("codegentool")), cmd] + (["noopt"] if noopt else []), input=to_json(ast), capture_output=True, text=True,
                     timeout=300, env=env)
  if r.returncode != 0: raise RuntimeError(f"codegentool {cmd} ({dialect}) failed: {r.stderr.strip()}")
  return r.stdout

def tinygrad_stages(ast, noopt: int, ren) -> list[tuple[str, str]]:
  seen: list[tuple[str, str]] = []
  orig = tg_codegen.graph_rewrite
  def spy(sink, pm, *args, name=None, **kw):
    out = orig(sink, pm, *args, name=name, **kw)
    seen.append((name, str(out)))
    return out
  tg_codegen.graph_rewrite = spy
  try:
    with Context(NOOPT=noopt): full_rewrite_to_sink(ast, ren, optimize=ast.tag is None)
  finally: tg_codegen.graph_rewrite = orig
  return seen

def our_stages(ast, noopt: int, dialect: str) -> dict[str, str]:
  out: dict[str, list[str]] = {}
  cur = None
  for line in run_tool(ast, "stages", noopt, dialect).split("\n"):
    if line.startswith("=== "): out[cur := line[4:]] = []
    elif cur is not None: out[cur].append(line)
  return {k: "\n".join(v).rstrip("\n") for k, v in out.items()}

def normalize(src: str) -> str:
  """tgc's 8-byte variable parameters spelled as tinygrad's (only in the kernel's signature line)."""
  return "\n".join(re.sub(r"const long long (data\d+_)", r"const int \1", ln) if "__global__" in ln or "__attribute__((global))" in ln else ln
                   for ln in src.split("\n"))

@pytest.mark.parametrize("noopt", [1, 0], ids=["noopt", "opt"])
@pytest.mark.parametrize("name", list(KERNELS))
def test_stages_match_tinygrad_cuda(name, noopt):
  for ki, call in enumerate(calls_of(name)):
    ours = our_stages(call.src[0], noopt, "cuda")
    for stage, want in tinygrad_stages(call.src[0], noopt, RENDERERS["cuda"]):
      assert stage in ours, f"kernel {ki}: tgc ran no pass '{stage}' (ran {list(ours)})"
      assert ours[stage] == want, f"kernel {ki}: the graph after '{stage}' differs from tinygrad's"

@pytest.mark.parametrize("noopt", [1, 0], ids=["noopt", "opt"])
@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dialect", list(RENDERERS))
def test_source_matches_tinygrad(dialect, name, noopt):
  ren = RENDERERS[dialect]
  for ki, call in enumerate(calls_of(name)):
    ast = call.src[0]
    if dialect == "metal" and any(u.dtype == dtypes.float64 for u in ast.toposort()): continue  # Metal has no double
    prog = json.loads(run_tool(ast, "render", noopt, dialect))
    with Context(NOOPT=noopt): want = to_program(ast, ren)
    assert normalize(prog["source"]) == want.src[2].arg, f"kernel {ki} ({prog['name']})"
    assert prog["name"] == want.arg.function_name
    assert tuple(prog["global_size"]) == tuple(want.arg.global_size) and tuple(prog["local_size"]) == tuple(want.arg.local_size)
    assert (tuple(prog["globals"]), tuple(prog["outs"]), tuple(prog["ins"])) == (want.arg.globals, want.arg.outs, want.arg.ins)

def test_grouptop_uses_shared_memory():
  """A full reduction on a GPU is split over 16 threads through __shared__ memory with a barrier, as tinygrad's is."""
  (call,) = calls_of("sum_all")
  src = json.loads(run_tool(call.src[0], "render", 0, "cuda"))["source"]
  assert "__shared__ __align__(16) float buf2[16];" in src and "__syncthreads();" in src and "if ((lidx0==0)) {" in src

@pytest.mark.parametrize("dialect", ["cuda", "hip"])
def test_variable_params_are_8_bytes(dialect):
  """A symbolic kernel's variable is a `const long long` parameter (tgc's launch ABI), named as tinygrad names it.
  (A variable launch size, e.g. an elementwise kernel over x[:n], is not supported on GPUs yet: gpudims refuses it.)"""
  t = rand((4, 10))[:, :Variable("n", 1, 10).bind(3)].sum(1)
  (call,) = [c for c in t.linear_with_vars()[0].src if c.src[0].op is Ops.SINK]
  prog = json.loads(run_tool(call.src[0], "render", 0, dialect))
  sig = next(ln for ln in prog["source"].split("\n") if "data0_" in ln and "(" in ln)
  assert re.search(r"const long long data\d+_[,)]", sig), sig
  assert [v["name"] for v in prog["vars"]] == ["n"]

@pytest.mark.parametrize("dialect", ["cuda", "hip", "metal"])
def test_vector_cast_is_a_constructor_of_lane_casts(dialect):
  """An empty reduce's identity is a vector CAST of a STACK of CONSTs. tinygrad renders it "(uint4)(make_long4(...))",
  which NVRTC refuses (seen on the H200: "type name is not allowed"); GPU dialects build the vector from a cast per lane."""
  t = Tensor.ones(4, 0, dtype=dtypes.uint32).contiguous().min(axis=1)
  (call,) = [c for c in t.schedule_linear().src if c.src[0].op is Ops.SINK]
  src = json.loads(run_tool(call.src[0], "render", 0, dialect))["source"]
  line = next(ln for ln in src.split("\n") if "cast0 =" in ln)
  assert "__builtin_convertvector" not in line and "4)(" not in line.split("=", 1)[1].split("(", 1)[0], line
  assert line.count("(4294967295l)") == 4, line

def test_unknown_dialect_is_an_error():
  (call,) = calls_of("tiny")
  r = subprocess.run([str(tool("codegentool")), "render"], input=to_json(call.src[0]), capture_output=True, text=True,
                     env={**os.environ, "CODEGENTOOL_GPU": "nosuch"})
  assert r.returncode == 1 and "no renderer for dialect 'nosuch'" in r.stderr
