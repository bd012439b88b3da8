"""The codegen (core/src/codegen, core/src/renderer) against tinygrad 0.14.0.

Every kernel here is built by tinygrad's own scheduler (Tensor...schedule_linear(): the kernel AST exactly as tinygrad
hands it to its codegen), crosses to C as JSON (tests/tinygrad_ir.py) and goes through tests/c/tools/codegentool:
  * values: our rendered C is compiled and run by tgc's CPU backend (tgc.device.Program) on the same input bytes
    tinygrad's realized buffers hold, and the outputs are compared with what tinygrad (DEV=CPU) computed from them:
    bytes for ints and bools, a per-dtype tolerance for floats (NaN where tinygrad has NaN). Both paths: NOOPT=1 and
    the heuristic optimizations.
  * structure: the graph after each pass of full_rewrite_to_sink (pretty_print) and the linearized op sequence are
    compared with tinygrad's, pass by pass.
Needs: tinygrad==0.14.0, a C compiler, the tgc package, and the C tools (TGC_BUILD_DIR)."""
import json, os, subprocess
import numpy as np
import pytest

tinygrad = pytest.importorskip("tinygrad")
from tinygrad.helpers import DEV, Context  # noqa: E402
DEV.value = "CPU"
from tinygrad import Tensor, dtypes  # noqa: E402
from tinygrad.uop.ops import UOp, Ops  # noqa: E402
from tinygrad.engine.realize import run_linear  # noqa: E402
import tinygrad.codegen as tg_codegen  # noqa: E402
from tinygrad.codegen import full_rewrite_to_sink, to_program  # noqa: E402
from tinygrad.device import Device as TGDevice  # noqa: E402

from conftest import requires_cc  # noqa: E402
from tinygrad_ir import to_json, tool  # noqa: E402

# ---------------------------------------------------------------- inputs

def rand(shape, dt=dtypes.float32, seed=0, lo=-2.0, hi=2.0):
  """A realized tinygrad tensor of random values (numpy's generator, so the bytes are reproducible)."""
  rng = np.random.default_rng(seed)
  if dt == dtypes.bool: return Tensor(rng.integers(0, 2, size=shape).astype(np.bool_)).realize()
  if dtypes.is_float(dt):
    x = rng.uniform(lo, hi, size=shape)
    if dt == dtypes.bfloat16: return from_bits(bf16_bits(x.astype(np.float32)), shape, dt)
    return Tensor(x.astype(np.dtype(dt.fmt))).realize()
  info = np.iinfo(np.dtype(dt.fmt))
  return Tensor(rng.integers(max(info.min, -100), min(info.max, 100) + 1, size=shape).astype(np.dtype(dt.fmt))).realize()

def special_floats(shape, seed=3):
  """NaN, +-inf, +-0 sprinkled over random floats."""
  x = np.random.default_rng(seed).uniform(-3, 3, size=shape).astype(np.float32)
  x.flat[::5], x.flat[1::7], x.flat[2::7], x.flat[3::11], x.flat[4::11] = np.nan, np.inf, -np.inf, 0.0, -0.0
  return Tensor(x).realize()

def bf16_bits(x: np.ndarray) -> np.ndarray:
  """float32 -> bfloat16 bits, round to nearest even (what tinygrad's cast does)."""
  u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
  r = np.where((u & 0x7f800000) == 0x7f800000, u | ((u & 0xffff) != 0).astype(np.uint64) * 0x10000, u + ((u >> 16) & 1) + 0x7fff)
  return (r >> 16).astype(np.uint16)

def from_bits(bits: np.ndarray, shape, dt) -> Tensor:
  """A realized buffer of dtype dt holding exactly these bytes (no kernel runs: bfloat16 needs no compiler here)."""
  t = Tensor.empty(*shape, dtype=dt).realize()
  mv = t.uop.buffer.ensure_allocated().as_memoryview(force_zero_copy=True).cast("B")
  mv[:] = bits.tobytes()
  return t

f32, f16, f64, i32, u32, i8, u8, i16, i64, u64, b = (dtypes.float32, dtypes.float16, dtypes.float64, dtypes.int32, dtypes.uint32,
                                                    dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.int64, dtypes.uint64, dtypes.bool)

# ---------------------------------------------------------------- the graphs (each line: name -> the tensor to realize)

KERNELS = {
  # elementwise float chains
  "add_mul": lambda: (rand((4, 5)) + rand((4, 5), seed=1)) * rand((4, 5), seed=2),
  "sub_div": lambda: (rand((3, 7)) - rand((3, 7), seed=1)) / (rand((3, 7), seed=2).abs() + 0.5),
  "exp_log": lambda: rand((33,)).exp() + (rand((33,), seed=1).abs() + 0.1).log(),
  "sin_cos": lambda: rand((17,), lo=-50, hi=50).sin() * rand((17,), seed=1).cos(),
  "sin_large": lambda: rand((19,), lo=-1e5, hi=1e5).sin(),
  "sqrt_recip": lambda: rand((16,)).abs().sqrt() + (rand((16,), seed=1).abs() + 0.2).reciprocal(),
  "exp2_log2": lambda: rand((10,)).exp2() + (rand((10,), seed=1).abs() + 0.1).log2(),
  "relu_sigmoid": lambda: rand((8, 8)).relu() + rand((8, 8), seed=1).sigmoid(),
  "maximum_minimum": lambda: rand((6, 6)).maximum(rand((6, 6), seed=1)) + rand((6, 6), seed=2).minimum(0.5),
  "where_cmp": lambda: (rand((9,)) < rand((9,), seed=1)).where(rand((9,), seed=2), 3.0),
  "trunc_floor_ceil": lambda: rand((12,), lo=-5, hi=5).trunc() + rand((12,), lo=-5, hi=5, seed=1).floor() + rand((12,), lo=-5, hi=5, seed=2).ceil(),
  "nan_inf": lambda: special_floats((40,)).exp2() + special_floats((40,)).sqrt() + special_floats((40,)).log2() + special_floats((40,)).sin(),
  "nan_max_cmp": lambda: (special_floats((40,)) < 1.0).where(special_floats((40,)), -1.0) + special_floats((40,)).maximum(0),
  "pow": lambda: rand((10,), lo=0.1, hi=3).pow(rand((10,), seed=1)),
  # ints
  "int_arith": lambda: (rand((5, 5), i32) * 3 + rand((5, 5), i32, seed=1)) - 7,
  "int_div_mod": lambda: rand((20,), i32) // (rand((20,), i32, seed=1).abs() + 1) + rand((20,), i32, seed=2) % 7,
  "int_div_neg": lambda: rand((20,), i32) // -3 + rand((20,), i32, seed=2) % -5,
  "int_bitwise": lambda: (rand((16,), i32) & rand((16,), i32, seed=1)) | (rand((16,), i32, seed=2) ^ 5),
  "uint_shift": lambda: (rand((16,), u32) << 3) + (rand((16,), u32, seed=1) >> 1),
  "int_max_cmp": lambda: rand((16,), i32).maximum(rand((16,), i32, seed=1)) + (rand((16,), i32) < 0).cast(i32),
  "int8_wrap": lambda: rand((16,), i8) * rand((16,), i8, seed=1) + 100,
  "uint8_wrap": lambda: rand((16,), u8) + rand((16,), u8, seed=1) * 3,
  "int16": lambda: rand((16,), i16) * 300 - rand((16,), i16, seed=1),
  "uint64": lambda: rand((16,), u64) * 1234567891011 + rand((16,), u64, seed=1),
  "int64": lambda: rand((16,), i64) * -98765432101 + rand((16,), i64, seed=1) // 3,
  "bool_logic": lambda: (rand((16,), b) & rand((16,), b, seed=1)) | ~rand((16,), b, seed=2),
  "bool_xor_where": lambda: (rand((16,), b) ^ rand((16,), b, seed=1)).where(1, 2).cast(i32),
  # other float dtypes
  "float16_chain": lambda: (rand((16,), f16) * rand((16,), f16, seed=1) + 1).exp(),
  "float64_chain": lambda: (rand((16,), f64) * rand((16,), f64, seed=1)).exp() + rand((16,), f64, seed=2).abs().log2(),
  "float64_sin": lambda: rand((16,), f64, lo=-100, hi=100).sin(),
  # casts and bitcasts
  "cast_f2i": lambda: rand((16,), lo=-100, hi=100).cast(i32),
  "cast_i2f": lambda: rand((16,), i32).cast(f32) / 3,
  "cast_f2h": lambda: rand((16,)).cast(f16),
  "cast_h2f": lambda: rand((16,), f16).cast(f32),
  "cast_bool": lambda: rand((16,)).cast(b).cast(i32),
  "cast_u8_f": lambda: rand((16,), u8).cast(f32) * 0.5,
  "cast_f64_f16": lambda: rand((16,), f64).cast(f16),
  "bitcast_f_i": lambda: rand((16,)).bitcast(i32) + 1,
  "bitcast_i_f": lambda: (rand((16,), i32) + 1065353216).bitcast(f32),
  # broadcasts and views
  "broadcast_row": lambda: rand((4, 5)) + rand((5,), seed=1),
  "broadcast_col": lambda: rand((4, 5)) * rand((4, 1), seed=1),
  "permute": lambda: rand((3, 4, 5)).permute(2, 0, 1).contiguous(),
  "pad": lambda: rand((3, 4)).pad(((1, 2), (0, 1))).contiguous(),
  "pad_value": lambda: rand((3, 4)).pad(((1, 1), (2, 0)), value=-1.5) + 1,
  "shrink": lambda: rand((6, 7))[1:4, 2:6].contiguous(),
  "flip": lambda: rand((4, 5)).flip(1).contiguous(),
  "flip_both": lambda: rand((4, 5)).flip((0, 1)) + 1,
  "shift_add": lambda: rand((4, 6))[:, :5] + rand((4, 6))[:, 1:],
  "size1_dims": lambda: rand((1, 5, 1)) * rand((3, 1, 2), seed=1),
  "expand_reshape": lambda: rand((2, 3)).reshape(3, 2).expand(4, 3, 2).contiguous(),
  "transpose_add": lambda: rand((5, 5)) + rand((5, 5), seed=1).T,
  "arange": lambda: Tensor.arange(12, dtype=i32).reshape(3, 4) + rand((3, 4), i32),
  # reductions with prologue and epilogue
  "sum_all": lambda: rand((37,)).sum(),
  "sum_axis1": lambda: (rand((4, 6)) + 1).sum(1),
  "sum_axis0": lambda: rand((6, 4)).sum(0),
  "max_axis": lambda: rand((5, 7)).max(1),
  "min_axis": lambda: rand((5, 7)).min(0),
  "prod_axis": lambda: rand((4, 5), lo=0.5, hi=1.5).prod(1),
  "std": lambda: rand((4, 8)).std(1),
  "sum_int": lambda: rand((4, 9), i32).sum(1),
  "max_int8": lambda: rand((4, 9), i8).max(1),
  "any_bool": lambda: rand((4, 9), b).any(1),
  "sum_half": lambda: rand((4, 9), f16).sum(1),
  "softmax": lambda: rand((4, 10)).softmax(1),
  "logsumexp": lambda: rand((3, 6)).logsumexp(1),
  "reduce_epilogue": lambda: (rand((4, 6)).sum(1) * 2 + 1).abs().sqrt(),
  "reduce_nan": lambda: special_floats((40,)).max(),
  "reduce_keepdim_bcast": lambda: rand((4, 6)) - rand((4, 6)).max(1, keepdim=True),
  "sum_pad": lambda: rand((4, 5)).pad(((0, 0), (2, 2))).sum(1),
  "sum_flip": lambda: (rand((4, 5)).flip(1) * rand((5,), seed=1)).sum(1),
  "argmax": lambda: rand((4, 7)).argmax(1),
  "cumsum": lambda: rand((9,)).cumsum(),
  # indexing, stacking, random
  "gather": lambda: rand((10,))[Tensor([3, 1, 4, 1, 5, 9, 2, 6], dtype=i32)],
  "stack": lambda: Tensor.stack(rand((5,)), rand((5,), seed=1), rand((5,), seed=2)),
  "cat": lambda: rand((3, 4)).cat(rand((2, 4), seed=1), dim=0),
  "one_hot": lambda: Tensor([0, 3, 1], dtype=i32).one_hot(4).cast(i32),
  "threefry_rand": lambda: (Tensor.manual_seed(7), Tensor.rand(16))[1],
  "clip_isnan": lambda: special_floats((40,)).clip(-1, 1) + special_floats((40,)).isnan().cast(f32),
  "int64_pow2_divmod": lambda: rand((16,), i64) // 4 + rand((16,), i64, seed=1) % 8,
  "mean_int": lambda: rand((8, 6), i32).mean(1),
  "var": lambda: rand((8, 6)).var(0),
  # matmul, conv, pool
  "conv2d": lambda: rand((1, 2, 6, 6)).conv2d(rand((3, 2, 3, 3), seed=1)),
  "max_pool": lambda: rand((1, 1, 6, 6)).max_pool2d(2),
  "matmul": lambda: rand((8, 12)) @ rand((12, 5), seed=1),
  "matmul_vec": lambda: rand((16,)) @ rand((16, 7), seed=1),
  "matmul_int": lambda: rand((4, 6), i32) @ rand((6, 3), i32, seed=1),
  "matmul_bias_relu": lambda: (rand((6, 8)) @ rand((8, 4), seed=1) + rand((4,), seed=2)).relu(),
  # larger shapes (opt path: upcasts, unrolls, vector loads, threads)
  "larger_ew": lambda: rand((64, 65)) * 2 + rand((65,), seed=1),
  "larger_reduce": lambda: (rand((64, 65)) + 1).sum(1),
  "matmul_big": lambda: rand((32, 48)) @ rand((48, 40), seed=1),
  "matmul_half": lambda: rand((16, 32), f16) @ rand((32, 8), f16, seed=1),
  # composites tinygrad builds from the above
  "layernorm": lambda: rand((8, 32)).layernorm(),
  "gelu": lambda: rand((64,)).gelu(),
  "avg_pool": lambda: rand((1, 2, 8, 8)).avg_pool2d(2),
  "tril": lambda: rand((6, 6)).tril(),
  "pad_reflect": lambda: rand((1, 1, 5, 5)).pad((1, 1, 1, 1), mode="reflect").contiguous(),
  "interpolate": lambda: rand((1, 1, 4, 4)).interpolate((8, 8), mode="linear"),
  "sdpa": lambda: rand((1, 2, 4, 8)).scaled_dot_product_attention(rand((1, 2, 4, 8), seed=1), rand((1, 2, 4, 8), seed=2)),
  "sort": lambda: rand((8,)).sort()[0],
  "topk": lambda: rand((10,)).topk(3)[0],
  "cross_entropy": lambda: rand((4, 10)).sparse_categorical_crossentropy(Tensor([1, 2, 3, 4], dtype=i32)),
  "reduce_2axes": lambda: rand((4, 5, 6)).sum((0, 2)),
  "all_bool": lambda: rand((4, 9), b).all(1),
  "cast_chain": lambda: rand((16,), f64, lo=-100, hi=100).cast(f16).cast(i8).cast(f32),
  "uint16_divmod": lambda: rand((16,), dtypes.uint16) // 7 + rand((16,), dtypes.uint16, seed=1) % 10,
  "int64_shift": lambda: (rand((16,), i64) << 3) >> 1,
  "fmod_float": lambda: rand((16,), lo=-5, hi=5) % 1.5,
  "big_sum": lambda: rand((128,)).sum(),
  "threaded_ew": lambda: rand((512, 1024)) * 2 + 1,
  # bfloat16 (tinygrad cannot compile bf16 on this host: the reference is numpy, see BF16_REFERENCE)
  "bf16_chain": lambda: (rand((16,), dtypes.bfloat16, lo=0) * rand((16,), dtypes.bfloat16, seed=1, lo=0) + 1).sqrt(),
  "bf16_cast": lambda: rand((16,)).cast(dtypes.bfloat16),
}

def _bf16_to_f32(bits): return (bits.astype(np.uint32) << 16).view(np.float32)
def _bf16_inputs(*seeds): return [_bf16_to_f32(bf16_bits(np.random.default_rng(s).uniform(0, 2, size=(16,)).astype(np.float32))) for s in seeds]
def _r(x): return _bf16_to_f32(bf16_bits(np.asarray(x, np.float32)))
# tinygrad computes every bf16 op in float32 and rounds the result back to bf16 (create_non_native_float_pats)
BF16_REFERENCE = {
  "bf16_chain": lambda: bf16_bits(np.sqrt(_r(_r(_bf16_inputs(0)[0] * _bf16_inputs(1)[0]) + 1))),
  "bf16_cast": lambda: bf16_bits(np.random.default_rng(0).uniform(-2, 2, size=(16,)).astype(np.float32)),
}

TOL = {dtypes.float32: 1e-5, dtypes.float64: 1e-12, dtypes.float16: 2e-3}

# ---------------------------------------------------------------- running both sides

def schedule(name):
  t = KERNELS[name]()
  return t, [c for c in t.schedule_linear().src if c.src[0].op is Ops.SINK]

def codegen(ast, noopt: int, cmd="render") -> str:
  r = subprocess.run([str(tool("codegentool")), cmd] + (["noopt"] if noopt else []), input=to_json(ast), capture_output=True, text=True, timeout=300)
  if r.returncode != 0: raise RuntimeError(f"codegentool {cmd} failed: {r.stderr.strip()}")
  return r.stdout

def buf_bytes(buf) -> bytes:
  buf.ensure_allocated()
  return bytes(buf.as_memoryview())

def run_ours(prog: dict, bufs_in: list[bytes]) -> dict[int, bytes]:
  from tgc.device import Program, Buffer
  p = Program("CPU", prog["source"], prog["name"])
  dev = [Buffer("CPU", max(1, len(bufs_in[s]))).copyin(bufs_in[s]) if len(bufs_in[s]) else Buffer("CPU", 1) for s in prog["globals"]]
  vals = [0 if v["core_id"] else v["vmin"] for v in prog["vars"]]
  p(*dev, global_size=tuple(prog["global_size"]), vals=vals, wait=True)
  return {s: bytes(dev[i].copyout(len(bufs_in[s]))) for i, s in enumerate(prog["globals"]) if s in prog["outs"]}

def compare(got: bytes, want: bytes, dt, what: str):
  assert len(got) == len(want), f"{what}: {len(got)} bytes, want {len(want)}"
  if not dtypes.is_float(dt) or dt == dtypes.bfloat16:
    g, w = np.frombuffer(got, np.uint8), np.frombuffer(want, np.uint8)
    if dt.fmt: g, w = np.frombuffer(got, np.dtype(dt.fmt)), np.frombuffer(want, np.dtype(dt.fmt))
    if dt == dtypes.bfloat16:  # our bf16 round trip is tinygrad's bit manipulation: allow one ulp
      g, w = np.frombuffer(got, np.uint16).astype(np.int32), np.frombuffer(want, np.uint16).astype(np.int32)
      assert np.all(np.abs(g - w) <= 1), f"{what}: bf16 bits differ\n got {g}\nwant {w}"
      return
    np.testing.assert_array_equal(g, w, err_msg=what)
    return
  g, w = np.frombuffer(got, np.dtype(dt.fmt)), np.frombuffer(want, np.dtype(dt.fmt))
  np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=TOL[dt], atol=TOL[dt], equal_nan=True, err_msg=what)

@requires_cc
@pytest.mark.parametrize("noopt", [1, 0], ids=["noopt", "opt"])
@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_values(name, noopt):
  t, calls = schedule(name)
  assert calls, "tinygrad scheduled no kernel"
  for ki, call in enumerate(calls):
    bufs = [s.buffer for s in call.src[1:]]
    before = [buf_bytes(x) for x in bufs]
    prog = json.loads(codegen(call.src[0], noopt))
    got = run_ours(prog, before)
    assert set(got) == set(prog["outs"]) and prog["outs"], f"kernel {ki}: no outputs in {prog['outs']}"
    if name in BF16_REFERENCE:
      for s, g in got.items(): compare(g, BF16_REFERENCE[name]().tobytes(), bufs[s].dtype, f"{name} kernel {ki} slot {s}")
      continue
    with Context(NOOPT=noopt): run_linear(UOp(Ops.LINEAR, src=(call,)))
    for s, g in got.items(): compare(g, buf_bytes(bufs[s]), bufs[s].dtype, f"{name} kernel {ki} ({prog['name']}) slot {s}")

# ---------------------------------------------------------------- structure: pass by pass, and the linearized program

def tinygrad_stages(ast, noopt: int) -> list[tuple[str, str]]:
  seen: list[tuple[str, str]] = []
  orig = tg_codegen.graph_rewrite
  def spy(sink, pm, *args, name=None, **kw):
    out = orig(sink, pm, *args, name=name, **kw)
    seen.append((name, str(out)))
    return out
  tg_codegen.graph_rewrite = spy
  try:
    with Context(NOOPT=noopt): full_rewrite_to_sink(ast, TGDevice["CPU"].renderer, optimize=ast.tag is None)
  finally: tg_codegen.graph_rewrite = orig
  return seen

def our_stages(ast, noopt: int) -> dict[str, str]:
  out: dict[str, list[str]] = {}
  cur = None
  for line in codegen(ast, noopt, "stages").split("\n"):
    if line.startswith("=== "): out[cur := line[4:]] = []
    elif cur is not None: out[cur].append(line)
  return {k: "\n".join(v).rstrip("\n") for k, v in out.items()}

STAGE_KERNELS = list(KERNELS)

@pytest.mark.parametrize("noopt", [1, 0], ids=["noopt", "opt"])
@pytest.mark.parametrize("name", STAGE_KERNELS)
def test_stages_match_tinygrad(name, noopt):
  _, calls = schedule(name)
  for ki, call in enumerate(calls):
    ours = our_stages(call.src[0], noopt)
    for stage, want in tinygrad_stages(call.src[0], noopt):
      assert stage in ours, f"kernel {ki}: tgc ran no pass '{stage}' (ran {list(ours)})"
      assert ours[stage] == want, f"kernel {ki}: the graph after '{stage}' differs from tinygrad's"

LINEAR_KERNELS = ["sum_axis1", "matmul", "softmax", "pad", "cumsum", "int_div_mod", "sin_cos", "larger_ew", "larger_reduce", "gather",
                  "conv2d", "threaded_ew"]

@pytest.mark.parametrize("noopt", [1, 0], ids=["noopt", "opt"])
@pytest.mark.parametrize("name", LINEAR_KERNELS)
def test_linearized_ops_match_tinygrad(name, noopt):
  _, calls = schedule(name)
  for call in calls:
    ops = json.loads(codegen(call.src[0], noopt))["ops"]
    with Context(NOOPT=noopt): prg = to_program(call.src[0], TGDevice["CPU"].renderer)
    want = [u.op.name for u in prg.src[1].src]
    assert ops == want

def test_program_info_matches_tinygrad():
  _, calls = schedule("softmax")
  for call in calls:
    ours = json.loads(codegen(call.src[0], 1))
    with Context(NOOPT=1): prg = to_program(call.src[0], TGDevice["CPU"].renderer)
    assert ours["name"] == prg.arg.function_name and ours["display_name"] == prg.arg.name
    assert (tuple(ours["globals"]), tuple(ours["outs"]), tuple(ours["ins"])) == (prg.arg.globals, prg.arg.outs, prg.arg.ins)
    assert tuple(ours["global_size"]) == prg.arg.global_size

@requires_cc
@pytest.mark.parametrize("name", ["float16_chain", "bf16_chain", "bitcast_f_i", "larger_reduce", "threaded_ew", "int64", "cast_bool", "sin_cos"])
def test_launch_abi_and_gcc_clang(name):
  """The rendered source is C that gcc and clang both accept without warnings (-Wall -Werror), with the tgc "c" launch entry."""
  import shutil, tempfile
  _, calls = schedule(name)
  src = json.loads(codegen(calls[0].src[0], 0))
  assert f"void {src['name']}(void *const *bufs, const int64_t *vals, const uint32_t gid[3])" in src["source"]
  assert "ext_vector_type" not in src["source"] and "__builtin_bit_cast" not in src["source"]
  for cc in ("gcc", "clang"):
    if not shutil.which(cc): continue
    with tempfile.TemporaryDirectory() as d:
      open(f"{d}/k.c", "w").write(src["source"])
      r = subprocess.run([cc, "-O2", "-march=native", "-Wall", "-Werror", "-c", f"{d}/k.c", "-o", f"{d}/k.o"], capture_output=True, text=True)
      assert r.returncode == 0, f"{cc}: {r.stderr}"

@requires_cc
@pytest.mark.parametrize("noopt", [1, 0], ids=["noopt", "opt"])
def test_symbolic_variable(noopt):
  """A kernel over a bound Variable: the size is a PARAM the entry reads from vals[]."""
  from tinygrad import Variable
  src = rand((10,))
  t = (src[:Variable("n", 1, 10).bind(3)] * 2).contiguous()
  linear, var_vals = t.linear_with_vars()
  (call,) = [c for c in linear.src if c.src[0].op is Ops.SINK]
  bufs = [s.buffer for s in call.src[1:] if s.op is Ops.BUFFER]
  before = [buf_bytes(x) for x in bufs]
  prog = json.loads(codegen(call.src[0], noopt))
  assert [v["name"] for v in prog["vars"]] == ["n"] and prog["display_name"].endswith("n\x1b[0m")
  from tgc.device import Program, Buffer
  dev = [Buffer("CPU", len(before[s])).copyin(before[s]) for s in prog["globals"]]
  Program("CPU", prog["source"], prog["name"])(*dev, global_size=tuple(prog["global_size"]), vals=[3], wait=True)
  with Context(NOOPT=noopt): run_linear(UOp(Ops.LINEAR, src=(call,)), var_vals)
  for i, s in enumerate(prog["globals"]):
    if s in prog["outs"]: compare(bytes(dev[i].copyout()), buf_bytes(bufs[s]), bufs[s].dtype, "variable kernel")

def test_bad_input_is_an_error():
  """A graph that is not a kernel SINK is refused with a message, not a crash."""
  r = subprocess.run([str(tool("codegentool")), "render"], input=to_json(UOp.const(1.0, dtypes.float)), capture_output=True, text=True)
  assert r.returncode == 1 and "requires a SINK with KernelInfo" in r.stderr
