"""The GPU codegen (locals, shared memory, gpudims, the cuda/hip/metal renderers) against tinygrad 0.14.0's GPU renderers,
with no GPU: tinygrad's own CUDARenderer, HIPRenderer and MetalRenderer run here with their compilers stubbed out (they
are only constructed, never called). Tensor cores: CUDA's as CUDARenderer declares them for the arch (get_cuda: sm_75+,
the same list plugins/tgc-cuda declares); none for HIP and Metal (those plugins declare none).

Every kernel is built by tinygrad's scheduler (as in tests/test_codegen.py), crosses to C as JSON and goes through
tests/c/tools/codegentool with CODEGENTOOL_GPU=<dialect>, i.e. with the caps the GPU plugin declares (ops, dtypes,
vector width, launch and shared memory limits, tensor cores; tinygrad's renderer gets the same limits). Compared, NOOPT=1
and with the heuristic (tensor cores, GROUPTOP/MV reductions through shared memory, LOCAL groups, upcasts):
  * the graph after every pass of full_rewrite_to_sink (CUDA);
  * the rendered source, byte for byte, for cuda, hip and metal, and the launch sizes. The intended differences:
    a variable parameter is `const long long` in tgc's CUDA and HIP dialects (every launch parameter is 8 bytes,
    plugins/tgc-cuda/README.md) where tinygrad writes `const int`; an inlined narrow-int ADD/SUB/MUL/SHL/NEG (and signed
    CDIV) is cast back to its dtype, `((unsigned char)(a+b))` (C promotes it to int), which tests/cstyle_wrap.py applies
    to tinygrad's renderers here, so that the bytes still compare (test_narrow_wrap_is_the_only_departure).
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
from cstyle_wrap import wrapping, unwrap, NARROW  # noqa: E402

class _NoCompiler:
  """Stands in for NVRTC/hipcc: the renderers are only asked to render."""
  def __init__(self, *a, **k): pass
  def compile_cached(self, src): return b""

def cuda_renderer(arch: str):
  """tinygrad's CUDARenderer for DEV=CUDA on `arch`, with its tensor cores (tc.get_cuda(arch)) and codegentool's limits."""
  compiler_cuda.NVRTCCompiler = _NoCompiler
  r = wrapping(CUDARenderer(Target("CUDA", "CUDA", arch)))
  r.global_max, r.local_max, r.shared_max = (2147483647, 65535, 65535), (1024, 1024, 64), 49152
  return r

def _renderers() -> dict:
  compiler_cuda.NVRTCCompiler, compiler_amd.HIPCompiler = _NoCompiler, _NoCompiler
  cuda = cuda_renderer("sm_90")
  hip = wrapping(HIPRenderer(Target("AMD", "HIP", "gfx1100")))
  metal = MetalRenderer.__new__(MetalRenderer)   # MetalRenderer.__init__ loads the macOS compiler; the class has everything else
  Renderer.__init__(metal, Target("METAL", "METAL", "Apple9"))
  wrapping(metal)
  for r in (hip, metal): r.tensor_cores = []
  for r in (cuda, hip, metal):   # the limits codegentool declares for every GPU dialect (tests/c/tools/codegentool.c)
    r.global_max, r.local_max, r.shared_max = (2147483647, 65535, 65535), (1024, 1024, 64), 49152
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
  "narrow_int": lambda: (rand((64,), dtypes.uint8) + rand((64,), dtypes.uint8, seed=1) + rand((64,), dtypes.uint8, seed=2)).cast(dtypes.int32) +
                        (rand((64,), dtypes.int8) * 3 - 1).cast(dtypes.int32) + (rand((64,), dtypes.int16) << 3).cast(dtypes.int32) +
                        (rand((64,), dtypes.uint16) - rand((64,), dtypes.uint16, seed=1)).cast(dtypes.int32) + (rand((64,), dtypes.int8) // rand((64,), dtypes.int8, seed=1)).cast(dtypes.int32),
}

def calls_of(name):
  return [c for c in KERNELS[name]().schedule_linear().src if c.src[0].op is Ops.SINK]

def run_tool(ast, cmd: str, noopt: int, dialect: str, arch: str = "sm_90") -> str:
  env = {**os.environ, "CODEGENTOOL_GPU": dialect, "CODEGENTOOL_ARCH": arch}
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

def our_stages(ast, noopt: int, dialect: str, arch: str = "sm_90") -> dict[str, str]:
  out: dict[str, list[str]] = {}
  cur = None
  for line in run_tool(ast, "stages", noopt, dialect, arch).split("\n"):
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

def _plain(dialect: str):  # tinygrad's renderer of RENDERERS[dialect] without tgc's narrow-int wraps
  compiler_cuda.NVRTCCompiler, compiler_amd.HIPCompiler = _NoCompiler, _NoCompiler
  if dialect == "metal":
    r = MetalRenderer.__new__(MetalRenderer)
    Renderer.__init__(r, Target("METAL", "METAL", "Apple9"))
  else: r = (CUDARenderer(Target("CUDA", "CUDA", "sm_90")) if dialect == "cuda" else HIPRenderer(Target("AMD", "HIP", "gfx1100")))
  r.tensor_cores = RENDERERS[dialect].tensor_cores
  r.global_max, r.local_max, r.shared_max = RENDERERS[dialect].global_max, RENDERERS[dialect].local_max, RENDERERS[dialect].shared_max
  return r

@pytest.mark.parametrize("noopt", [1, 0], ids=["noopt", "opt"])
@pytest.mark.parametrize("dialect", list(RENDERERS))
def test_narrow_wrap_is_the_only_departure(dialect, noopt):
  """tinygrad's own renderer (not wrapping()) prints the narrow-int kernel without the wraps and is otherwise tgc's text."""
  plain, names = _plain(dialect), [RENDERERS[dialect].render_dtype(dt) for dt in NARROW]
  wraps = 0
  for ki, call in enumerate(calls_of("narrow_int")):
    ours = normalize(json.loads(run_tool(call.src[0], "render", noopt, dialect))["source"])
    with Context(NOOPT=noopt): want = to_program(call.src[0], plain).src[2].arg
    wraps += ours != want
    assert unwrap(ours, names) == want, f"kernel {ki}"
  assert wraps, "no kernel of narrow_int has a wrap"

def test_unwrap_keeps_casts():
  assert unwrap("((int)(((unsigned char)(a+b))))", ["unsigned char"]) == "((int)((a+b)))"
  assert unwrap("x = ((unsigned char)((a+b))); y = ((unsigned char)(v)); z = ((signed char)-v);", ["unsigned char", "signed char"]) == \
    "x = ((unsigned char)((a+b))); y = ((unsigned char)(v)); z = -v;"
  assert unwrap("((short)((short)(a+b)+c))", ["short"]) == "(a+b+c)"
  assert unwrap("((short)(c*(short)(a*b)))", ["short"]) == "(c*a*b)"

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

# ---------------- tensor cores (OptOps.TC) ----------------
# Matmuls tinygrad's heuristic puts on tensor cores with CUDARenderer(sm_XX), and neighbours it does not (a shape that is
# not a multiple of the TC dims, a float32 matmul without ALLOW_TF32, a 3x3 conv with three reduce axes at TC_OPT=0).
# Compared as above (every pass, the source byte for byte, the launch sizes) plus the applied opts; `tc` says whether
# tinygrad applies a TC there, so a case cannot pass by both sides silently losing their tensor cores.
def _mm(a, b, dt=dtypes.half, acc=None, seed=1): return rand(a, dt).matmul(rand(b, dt, seed=seed), dtype=acc)
TC_KERNELS = {   # name: (graph, tinygrad applies a TC, minimum sm)
  "half_acc_float": (lambda: _mm((64, 64), (64, 64)), True, 75),             # sum in float (the default acc), stored as half
  "half_out_float": (lambda: _mm((64, 64), (64, 64), acc=dtypes.float), True, 75),
  "half_acc_half": (lambda: _mm((64, 64), (64, 64), acc=dtypes.half), True, 75),
  "bf16": (lambda: _mm((64, 64), (64, 64), dtypes.bfloat16), True, 80),
  "fp8e4m3": (lambda: Tensor.empty(64, 64, dtype=dtypes.fp8e4m3).realize() @ Tensor.empty(64, 64, dtype=dtypes.fp8e4m3).realize(), True, 89),
  "256x512x128": (lambda: _mm((256, 512), (512, 128)), True, 75),
  "batched": (lambda: _mm((4, 64, 64), (4, 64, 64)), True, 75),
  "k8": (lambda: _mm((64, 8), (8, 64)), True, 75),
  "16x16": (lambda: _mm((16, 16), (16, 16)), True, 75),
  "not_multiple": (lambda: _mm((60, 60), (60, 60)), False, 75),
  "relu": (lambda: _mm((64, 64), (64, 64)).relu(), True, 75),
  "linear_bias": (lambda: _mm((32, 64), (64, 48)) + rand((48,), dtypes.half, seed=2), True, 75),
  "conv1x1": (lambda: rand((2, 64, 8, 8), dtypes.half).conv2d(rand((32, 64, 1, 1), dtypes.half, seed=1)), True, 75),
  "conv3x3": (lambda: rand((4, 32, 16, 16), dtypes.half).conv2d(rand((64, 32, 3, 3), dtypes.half, seed=1)), False, 75),
  "float32": (lambda: _mm((64, 64), (64, 64), dtypes.float32), False, 75),
  "int8": (lambda: _mm((64, 64), (64, 64), dtypes.int8), False, 75),   # CUDA has no int8 tensor core in tinygrad; RDNA3 has
}
TC_ARCHS = ["sm_75", "sm_89", "sm_90"]

def _applied_opts(stage_text: str) -> str:
  m = re.search(r"applied_opts=(\(.*?\)), opts_to_apply", stage_text)
  return m.group(1) if m else ""

def metal_renderer(arch: str):
  """tinygrad's MetalRenderer for `arch` ("Apple9": tc.metal from Apple7 on), built as _renderers() builds it."""
  import tinygrad.codegen.opt.tc as tc
  r = MetalRenderer.__new__(MetalRenderer)
  Renderer.__init__(r, Target("METAL", "METAL", arch))
  wrapping(r)
  r.tensor_cores = tc.metal if int(arch[5:]) >= 7 else []
  r.global_max, r.local_max, r.shared_max = (2147483647, 65535, 65535), (1024, 1024, 64), 49152
  return r

def hip_renderer(arch: str):
  """tinygrad's HIPRenderer for `arch` with its tensor cores (tc.get_amd: RDNA3's WMMA on gfx11) and codegentool's limits."""
  compiler_amd.HIPCompiler = _NoCompiler
  r = wrapping(HIPRenderer(Target("AMD", "HIP", arch)))
  r.global_max, r.local_max, r.shared_max = (2147483647, 65535, 65535), (1024, 1024, 64), 65536
  return r

def check_tc(graph, arch: str, env: dict[str, int] | None = None) -> list[str]:
  """Compares every kernel of the graph with tinygrad's CUDARenderer(arch) (MetalRenderer for an "AppleN" arch,
  HIPRenderer for "gfxN"); returns tinygrad's applied opts per kernel."""
  env = env or {}
  dialect = "metal" if arch.startswith("Apple") else "hip" if arch.startswith("gfx") else "cuda"
  ren, opts = {"metal": metal_renderer, "hip": hip_renderer, "cuda": cuda_renderer}[dialect](arch), []
  old = {k: os.environ.get(k) for k in env}
  os.environ.update({k: str(v) for k, v in env.items()})
  # to_program caches by (ast, renderer type, target, config): RENDERERS' metal/hip renderers have the same targets and no
  # tensor cores, so a cached program of theirs must not answer here (nor ours there)
  tg_codegen.to_program_cache.clear()
  try:
    calls = [c for c in graph().schedule_linear().src if c.src[0].op is Ops.SINK]
    for ki, call in enumerate(calls):
      ast = call.src[0]
      ours = our_stages(ast, 0, dialect, arch)
      with Context(**env):
        theirs = tinygrad_stages(ast, 0, ren)
        want = to_program(ast, ren)
      for stage, text in theirs:
        assert ours.get(stage) == text, f"kernel {ki}: the graph after '{stage}' differs from tinygrad's ({arch}, {env})"
      assert _applied_opts(ours[theirs[-1][0]]) == str(want.src[0].arg.applied_opts)
      prog = json.loads(run_tool(ast, "render", 0, dialect, arch))
      assert normalize(prog["source"]) == want.src[2].arg, f"kernel {ki} ({prog['name']}, {arch}, {env})"
      assert prog["name"] == want.arg.function_name
      assert tuple(prog["global_size"]) == tuple(want.arg.global_size) and tuple(prog["local_size"]) == tuple(want.arg.local_size)
      opts.append(str(want.src[0].arg.applied_opts))
  finally:
    tg_codegen.to_program_cache.clear()
    for k, v in old.items():
      if v is None: os.environ.pop(k, None)
      else: os.environ[k] = v
  return opts

@pytest.mark.parametrize("arch", TC_ARCHS)
@pytest.mark.parametrize("name", list(TC_KERNELS))
def test_tensor_cores_match_tinygrad(name, arch):
  graph, tc, min_sm = TC_KERNELS[name]
  if int(arch[3:]) < min_sm: pytest.skip(f"{name} needs sm_{min_sm} (its dtype is not declared below)")
  opts = check_tc(graph, arch)
  assert any("OptOps.TC" in o for o in opts) == tc, opts

@pytest.mark.parametrize("env,tc", [({"TC": 0}, False), ({"TC": 2}, True), ({"TC_SELECT": 0}, True), ({"TC_SELECT": 2}, False),
                                    ({"TC_OPT": 1}, True)], ids=lambda x: str(x))
def test_tensor_core_knobs(env, tc):
  """USE_TC (TC=0 off, TC=2 the TC shape without WMMA), TC_SELECT (one tensor core of the list), TC_OPT, read as tinygrad does."""
  opts = check_tc(TC_KERNELS["half_acc_float"][0], "sm_90", env)
  assert any("OptOps.TC" in o for o in opts) == tc, opts

@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
@pytest.mark.parametrize("name", ["not_multiple", "conv3x3", "batched"])
def test_tensor_cores_padded(name, arch):
  """TC_OPT=2 (BEAM's level): M, N, K that are not multiples of the TC dims are padded (PADTO, loads gated) as tinygrad pads them."""
  opts = check_tc(TC_KERNELS[name][0], arch, {"TC_OPT": 2})
  assert any("OptOps.TC" in o and "(-1, 2, 1)" in o for o in opts), opts

def test_tensor_cores_padded_odd():
  opts = check_tc(lambda: _mm((13, 29), (29, 7)), "sm_90", {"TC_OPT": 2})
  assert opts == ["(Opt(op=OptOps.TC, axis=0, arg=(-1, 2, 1)),)"], opts

@pytest.mark.parametrize("name", ["half_acc_float", "half_acc_half", "bf16", "float32", "batched", "16x16", "relu", "conv1x1", "not_multiple"])
def test_metal_tensor_cores_match_tinygrad(name):
  """Metal's simdgroup 8x8 tensor cores (MetalRenderer on Apple7+: float32 too, no TF32 gate there), the same comparison."""
  graph, tc, _ = TC_KERNELS[name]
  opts = check_tc(graph, "Apple9")
  assert any("OptOps.TC" in o for o in opts) == (tc or name == "float32"), opts
  assert not any("OptOps.TC" in o for o in check_tc(graph, "Apple6"))

@pytest.mark.parametrize("name", ["half_acc_float", "half_acc_half", "bf16", "int8", "batched", "16x16", "linear_bias", "conv1x1",
                                  "k8", "not_multiple"])
def test_hip_tensor_cores_match_tinygrad(name):
  """RDNA3's WMMA (HIPRenderer on gfx1100: 16x16x16, half/bfloat16 -> float or half, int8 -> int32), the same comparison."""
  graph, tc, _ = TC_KERNELS[name]
  opts = check_tc(graph, "gfx1100")
  assert any("OptOps.TC" in o for o in opts) == ((tc or name == "int8") and name != "k8"), opts   # K=8 is below RDNA3's K=16

def test_tf32_needs_allow_tf32():
  assert "OptOps.TC" in check_tc(TC_KERNELS["float32"][0], "sm_90", {"ALLOW_TF32": 1})[0]

def test_wmma_source_is_mma_sync():
  """The rendered kernel calls __WMMA_8_16_16_half_float, defined with tinygrad's inline mma.sync PTX (m16n8k16, f16 in, f32 acc)."""
  (call,) = [c for c in TC_KERNELS["half_acc_float"][0]().schedule_linear().src if c.src[0].op is Ops.SINK]
  src = json.loads(run_tool(call.src[0], "render", 0, "cuda", "sm_90"))["source"]
  assert "__device__ float4 __WMMA_8_16_16_half_float(half8 a, half4 b, float4 c){" in src
  assert 'asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"' in src and "= __WMMA_8_16_16_half_float(" in src
  src75 = json.loads(run_tool(call.src[0], "render", 0, "cuda", "sm_75"))["source"]
  assert 'mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32' in src75
  hip = json.loads(run_tool(call.src[0], "render", 0, "hip", "gfx1100"))["source"]
  assert "#define __WMMA_16_16_16_half_float __builtin_amdgcn_wmma_f32_16x16x16_f16_w32" in hip
  msl = json.loads(run_tool(call.src[0], "render", 0, "metal", "Apple9"))["source"]
  assert "float2 __WMMA_8_8_8_half_float(half2 a, half2 b, float2 c){" in msl and "simdgroup_multiply_accumulate(" in msl
