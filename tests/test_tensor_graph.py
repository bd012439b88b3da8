"""tgc.Tensor builds the same lazy UOp graph as tinygrad 0.14.0's Tensor.

Each case builds one computation with tinygrad (DEV=CPU) and with tgc, then compares tinygrad's repr(t.uop) with what
build/uoptool prints for tgc's graph (Tensor._graph_json(), through core/src/uop/serialize.c and print.c), plus shape,
dtype and device. Error cases give both the same bad input and compare the exception type and message.

NORMALISED: BUFFER ids. tinygrad numbers buffers with a process-wide counter (UOp.unique_num, the slot of ParamArg), and
so does tgc; the two counters start and advance independently, so both sides' slots are renumbered in order of first
appearance in the printed graph before comparing. Nothing else is rewritten."""
import os, re, subprocess, difflib, importlib.util
os.environ.setdefault("DEV", "CPU")
import pytest

tinygrad = pytest.importorskip("tinygrad")
np = pytest.importorskip("numpy")
from tinygrad import Tensor as TT, dtypes as tdtypes
import tinygrad_ir as ir

if importlib.util.find_spec("tgc.tensor") is None:
  pytest.skip("the installed tgc has no tensor API (reinstall: pip install .)", allow_module_level=True)
from tgc.tensor import Tensor as CT
from tgc import dtypes as cdtypes

SIDES = {"tinygrad": (TT, tdtypes), "tgc": (CT, cdtypes)}

@pytest.fixture(autouse=True)
def _cpu(monkeypatch): monkeypatch.setenv("DEV", "CPU")  # both sides' default device (conftest clears DEV for every test)

def _renumber_buffers(text: str) -> str:
  seen: dict[str, int] = {}
  return re.sub(r"ParamArg\((-?\d+),", lambda m: f"ParamArg(<buf{seen.setdefault(m.group(1), len(seen))}>,", text)

def tgc_print(t) -> str:
  r = subprocess.run([str(ir.tool("uoptool")), "print"], input=t._graph_json(), capture_output=True, text=True, timeout=60, check=False)
  assert r.returncode == 0, f"uoptool print failed: {r.stderr}"
  return r.stdout.rstrip("\n")

def build(fn, side: str):
  T, dtypes = SIDES[side]
  return fn(T, dtypes)

def helper_graph(fn):
  # the graph is tinygrad's on CPU, whatever device the test's values run on (DEV=WEBGPU keeps the graph, not the device)
  dev = os.environ.get("DEV")
  os.environ["DEV"] = "CPU"
  try: want, got = build(fn, "tinygrad"), build(fn, "tgc")
  finally:
    if dev is None: os.environ.pop("DEV", None)
    else: os.environ["DEV"] = dev
  a, b = _renumber_buffers(repr(want.uop)), _renumber_buffers(tgc_print(got))
  if a != b: pytest.fail("graphs differ:\n" + "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "tinygrad", "tgc", lineterm="")))
  assert got.shape == want.shape
  assert repr(got.dtype) == repr(want.dtype)
  assert got.device == want.device

A = lambda T, d, *s, dt=None: T.empty(*(s or (2, 3)), dtype=dt or d.float32)
I = lambda T, d, *s: T.empty(*(s or (2, 3)), dtype=d.int32)
B = lambda T, d, *s: T.empty(*(s or (2, 3)), dtype=d.bool)

CASES = {
  # ---- creation ----
  "empty_default": lambda T, d: T.empty(2, 3),
  "empty_int8": lambda T, d: T.empty(4, dtype=d.int8),
  "empty_0d": lambda T, d: T.empty(),
  "empty_zero_dim": lambda T, d: T.empty(0, 3, dtype=d.uint16),
  "empty_device_lowercase": lambda T, d: T.empty(2, device="cpu"),
  "list_int": lambda T, d: T([[1, 2, 3], [4, 5, 6]]),
  "list_float": lambda T, d: T([1.5, -2.0, 3.25]),
  "list_bool": lambda T, d: T([True, False]),
  "list_mixed_promotes": lambda T, d: T([1, 2.5, True]),
  "list_empty": lambda T, d: T([]),
  "list_uint8": lambda T, d: T([1, 2, 300], dtype=d.uint8),
  "list_half": lambda T, d: T([1.0, 2.0, 70000.0], dtype=d.float16),
  "list_bfloat16": lambda T, d: T([1, 2, 3], dtype=d.bfloat16),
  "list_fp8": lambda T, d: T([0.5, 1.0], dtype=d.fp8e4m3),
  "list_int64": lambda T, d: T([[1], [2**40]], dtype=d.int64),
  "list_float64": lambda T, d: T([0.1, 0.2], dtype=d.float64),
  "numpy_float32": lambda T, d: T(np.arange(6, dtype=np.float32).reshape(2, 3)),
  "numpy_int64": lambda T, d: T(np.array([[1, 2], [3, 4]], dtype=np.int64)),
  "numpy_bool": lambda T, d: T(np.array([True, False, True])),
  "numpy_float16": lambda T, d: T(np.ones((2, 2), dtype=np.float16)),
  "numpy_uint32": lambda T, d: T(np.array([1, 2], dtype=np.uint32)),
  "numpy_astype": lambda T, d: T(np.array([1.5, 2.5], dtype=np.float64), dtype=d.int32),
  "numpy_to_bfloat16": lambda T, d: T(np.array([1, 2, 3], dtype=np.float32), dtype=d.bfloat16),
  "numpy_0d": lambda T, d: T(np.array(2.5, dtype=np.float32)),
  "bytes": lambda T, d: T(b"abcd"),
  "bytes_int16": lambda T, d: T(b"abcd", dtype=d.int16),
  "scalar_int": lambda T, d: T(3),
  "scalar_float": lambda T, d: T(2.5),
  "scalar_bool": lambda T, d: T(True),
  "scalar_dtype": lambda T, d: T(3, dtype=d.int8),
  "scalar_float_to_int": lambda T, d: T(2.7, dtype=d.int32),
  "scalar_half_overflow": lambda T, d: T(1e6, dtype=d.float16),
  "none": lambda T, d: T(None),
  "zeros": lambda T, d: T.zeros(2, 3),
  "ones_int": lambda T, d: T.ones(4, dtype=d.int32),
  "full_int": lambda T, d: T.full((2, 2), 7),
  "full_bool": lambda T, d: T.full((3,), False),
  "full_dtype": lambda T, d: T.full((2, 3), 2.5, dtype=d.float16),
  "full_0d": lambda T, d: T.full((), 4.0),
  "full_no_buffer": lambda T, d: T.full((2, 3), 3, buffer=False),
  "zeros_like": lambda T, d: A(T, d).zeros_like(),
  "full_like": lambda T, d: I(T, d).full_like(5),
  "arange": lambda T, d: T.arange(5),
  "arange_start_stop_step": lambda T, d: T.arange(2, 10, 3),
  "arange_float": lambda T, d: T.arange(5.5, 10, 2),
  "arange_negative_step": lambda T, d: T.arange(10, 0, -2),
  "arange_dtype": lambda T, d: T.arange(4, dtype=d.float16),
  "arange_int_float_dtype": lambda T, d: T.arange(0.0, 4.0, dtype=d.int32),
  "arange_empty": lambda T, d: T.arange(5, 2),
  "arange_int64": lambda T, d: T.arange(2**31, 2**31 + 3),
  "const_method": lambda T, d: T.const(2, d.int16),
  # ---- binary elementwise, promotion, broadcasting ----
  "add_float": lambda T, d: A(T, d) + A(T, d),
  "add_scalar_float": lambda T, d: A(T, d) + 1.5,
  "add_int_scalar_float": lambda T, d: I(T, d) + 1.5,
  "radd_int": lambda T, d: 2 + I(T, d),
  "add_bool_int": lambda T, d: B(T, d) + 1,
  "add_bool_bool": lambda T, d: B(T, d) + B(T, d),
  "add_int8_int16": lambda T, d: A(T, d, dt=d.int8) + A(T, d, dt=d.int16),
  "add_uint8_int8": lambda T, d: A(T, d, dt=d.uint8) + A(T, d, dt=d.int8),
  "add_half_float": lambda T, d: A(T, d, dt=d.float16) + A(T, d),
  "add_uint64_int64": lambda T, d: A(T, d, dt=d.uint64) + A(T, d, dt=d.int64),
  "mul_bf16_scalar": lambda T, d: A(T, d, dt=d.bfloat16) * 2.0,
  "mul_fp8": lambda T, d: A(T, d, dt=d.fp8e5m2) * A(T, d, dt=d.fp8e5m2),
  "broadcast_row": lambda T, d: A(T, d) + A(T, d, 3),
  "broadcast_outer": lambda T, d: A(T, d, 2, 1) * A(T, d, 1, 3),
  "sub": lambda T, d: A(T, d) - A(T, d),
  "sub_int_scalar": lambda T, d: I(T, d) - 3,
  "rsub": lambda T, d: 3 - I(T, d),
  "sub_bool": lambda T, d: B(T, d) - B(T, d),
  "div_float": lambda T, d: A(T, d) / A(T, d),
  "div_int": lambda T, d: I(T, d) / 2,
  "rdiv": lambda T, d: 1 / A(T, d),
  "floordiv_int": lambda T, d: I(T, d) // I(T, d),
  "floordiv_float": lambda T, d: A(T, d) // 2,
  "rfloordiv": lambda T, d: 7 // I(T, d),
  "truncdiv_int": lambda T, d: I(T, d).div(3, rounding_mode="trunc"),
  "truncdiv_float": lambda T, d: A(T, d).div(A(T, d), rounding_mode="trunc"),
  "mod_int": lambda T, d: I(T, d) % 3,
  "mod_float": lambda T, d: A(T, d) % 2.5,
  "rmod": lambda T, d: 5 % I(T, d),
  "fmod_int": lambda T, d: I(T, d).fmod(I(T, d)),
  "fmod_float": lambda T, d: A(T, d).fmod(1.5),
  "pow_float": lambda T, d: A(T, d) ** 2,
  "pow_int": lambda T, d: I(T, d) ** 3,
  "pow_int_half": lambda T, d: I(T, d) ** 0.5,
  "rpow": lambda T, d: 2 ** A(T, d),
  "maximum": lambda T, d: A(T, d).maximum(A(T, d, 3)),
  "maximum_scalar": lambda T, d: I(T, d).maximum(1),
  "minimum_float": lambda T, d: A(T, d).minimum(0.5),
  "minimum_int": lambda T, d: I(T, d).minimum(I(T, d)),
  "minimum_uint8": lambda T, d: A(T, d, dt=d.uint8).minimum(A(T, d, dt=d.uint8)),
  "minimum_bool": lambda T, d: B(T, d).minimum(B(T, d)),
  "lt": lambda T, d: A(T, d) < A(T, d),
  "gt_scalar": lambda T, d: I(T, d) > 2,
  "le": lambda T, d: A(T, d) <= 1.0,
  "ge": lambda T, d: I(T, d) >= I(T, d),
  "eq": lambda T, d: I(T, d) == 3,
  "ne": lambda T, d: A(T, d) != A(T, d),
  "reflected_lt": lambda T, d: 2 < I(T, d),
  "and_bool": lambda T, d: B(T, d) & B(T, d),
  "or_int": lambda T, d: I(T, d) | 5,
  "xor_int8": lambda T, d: A(T, d, dt=d.int8) ^ A(T, d, dt=d.int8),
  "rand": lambda T, d: True & B(T, d),
  "shl": lambda T, d: A(T, d, dt=d.uint8) << 2,
  "shr": lambda T, d: I(T, d) >> I(T, d),
  "where": lambda T, d: B(T, d).where(A(T, d), A(T, d)),
  "where_scalars": lambda T, d: B(T, d).where(1, 0),
  "where_mixed": lambda T, d: B(T, d).where(I(T, d), 2.5),
  "where_scalar_first": lambda T, d: B(T, d).where(0, A(T, d, 3)),
  # ---- unary elementwise ----
  "neg": lambda T, d: -A(T, d),
  "neg_int": lambda T, d: -I(T, d),
  "neg_bool": lambda T, d: -B(T, d),
  "reciprocal": lambda T, d: A(T, d).reciprocal(),
  "sqrt_int": lambda T, d: I(T, d).sqrt(),
  "rsqrt": lambda T, d: A(T, d).rsqrt(),
  "exp2": lambda T, d: A(T, d).exp2(),
  "log2": lambda T, d: A(T, d, dt=d.float64).log2(),
  "exp": lambda T, d: A(T, d).exp(),
  "exp_half": lambda T, d: A(T, d, dt=d.float16).exp(),
  "exp_int": lambda T, d: I(T, d).exp(),
  "log": lambda T, d: A(T, d).log(),
  "log10": lambda T, d: A(T, d).log10(),
  "sin": lambda T, d: A(T, d).sin(),
  "cos": lambda T, d: A(T, d).cos(),
  "cos_bf16": lambda T, d: A(T, d, dt=d.bfloat16).cos(),
  "tan": lambda T, d: A(T, d).tan(),
  "trunc": lambda T, d: A(T, d).trunc(),
  "floor": lambda T, d: A(T, d).floor(),
  "ceil": lambda T, d: A(T, d).ceil(),
  "round": lambda T, d: A(T, d).round(),
  "abs": lambda T, d: A(T, d).abs(),
  "abs_int": lambda T, d: I(T, d).abs(),
  "sign": lambda T, d: A(T, d).sign(),
  "relu": lambda T, d: A(T, d).relu(),
  "relu_int": lambda T, d: I(T, d).relu(),
  "sigmoid": lambda T, d: A(T, d).sigmoid(),
  "tanh": lambda T, d: A(T, d).tanh(),
  "silu": lambda T, d: A(T, d).silu(),
  "square": lambda T, d: I(T, d).square(),
  "logical_not": lambda T, d: I(T, d).logical_not(),
  "bitwise_not_int": lambda T, d: ~I(T, d),
  "bitwise_not_uint16": lambda T, d: ~A(T, d, dt=d.uint16),
  "bitwise_not_bool": lambda T, d: ~B(T, d),
  "isnan": lambda T, d: A(T, d).isnan(),
  "isinf": lambda T, d: A(T, d).isinf(),
  "isfinite": lambda T, d: A(T, d).isfinite(),
  "clip": lambda T, d: A(T, d).clip(-1, 1),
  "scalar_chain": lambda T, d: (T(2) + 3) * 1.5,
  # ---- dtype ----
  "cast_float_int": lambda T, d: A(T, d).cast(d.int32),
  "cast_same": lambda T, d: A(T, d).cast(d.float32),
  "cast_bool": lambda T, d: I(T, d).bool(),
  "cast_half_double": lambda T, d: A(T, d).half().double(),
  "cast_fp8": lambda T, d: A(T, d).cast(d.fp8e4m3fnuz),
  "cast_str": lambda T, d: A(T, d).cast("uint8"),
  "cast_weak": lambda T, d: (I(T, d) + 1.5).float(),
  "bitcast_same_size": lambda T, d: A(T, d).bitcast(d.int32),
  "bitcast_shrink": lambda T, d: A(T, d, 2, 4, dt=d.uint8).bitcast(d.int32),
  "bitcast_grow": lambda T, d: A(T, d, 3, dt=d.float16).bitcast(d.uint8),
  # ---- movement ----
  "reshape": lambda T, d: A(T, d).reshape(3, 2),
  "reshape_infer": lambda T, d: A(T, d).reshape(-1),
  "reshape_tuple_infer": lambda T, d: A(T, d, 2, 3, 4).reshape((6, -1)),
  "reshape_same": lambda T, d: A(T, d).reshape(2, 3),
  "reshape_none": lambda T, d: A(T, d).reshape(None, 3),
  "reshape_0d": lambda T, d: A(T, d, 1, 1).reshape(()),
  "reshape_zero": lambda T, d: A(T, d, 0, 4).reshape(2, 0, 2),
  "permute": lambda T, d: A(T, d, 2, 3, 4).permute(2, 0, 1),
  "permute_negative": lambda T, d: A(T, d, 2, 3, 4).permute((-1, -3, -2)),
  "permute_identity": lambda T, d: A(T, d).permute(0, 1),
  "transpose": lambda T, d: A(T, d, 2, 3, 4).transpose(0, 2),
  "T": lambda T, d: A(T, d).T,
  "expand": lambda T, d: A(T, d, 3).expand(2, 3),
  "expand_middle": lambda T, d: A(T, d, 2, 1, 3).expand(2, 4, 3),
  "expand_minus_one": lambda T, d: A(T, d, 1, 3).expand(4, -1),
  "expand_new_dims": lambda T, d: A(T, d, 3, 1).expand(5, 2, 3, 4),
  "pad": lambda T, d: A(T, d).pad(((1, 1), (0, 2))),
  "pad_flat": lambda T, d: A(T, d).pad((1, 2)),
  "pad_none": lambda T, d: A(T, d).pad((None, (1, 0))),
  "pad_negative": lambda T, d: A(T, d).pad(((-1, 1), (1, -1))),
  "pad_value": lambda T, d: I(T, d).pad(((1, 0), (0, 1)), value=7),
  "pad_value_float": lambda T, d: I(T, d).pad(((1, 0), (0, 1)), value=-1.5),
  "pad_noop": lambda T, d: A(T, d).pad(((0, 0), (0, 0))),
  "shrink": lambda T, d: A(T, d, 4, 5).shrink(((1, 3), (0, 4))),
  "shrink_none": lambda T, d: A(T, d, 4, 5).shrink((None, (2, 5))),
  "shrink_noop": lambda T, d: A(T, d).shrink(((0, 2), (0, 3))),
  "flip": lambda T, d: A(T, d).flip(0),
  "flip_multi": lambda T, d: A(T, d, 2, 3, 4).flip((0, -1)),
  "flatten": lambda T, d: A(T, d, 2, 3, 4).flatten(1),
  "squeeze": lambda T, d: A(T, d, 2, 1, 3, 1).squeeze(),
  "squeeze_dim": lambda T, d: A(T, d, 2, 1, 3).squeeze(1),
  "unsqueeze": lambda T, d: A(T, d).unsqueeze(-1),
  "repeat": lambda T, d: A(T, d, 3).repeat(2, 2),
  "movement_chain": lambda T, d: A(T, d, 4, 6).reshape(2, 2, 6).permute(2, 0, 1).shrink(((1, 5), None, None)).flip(1).pad(((0, 0), (1, 1), (0, 0))),
  "movement_on_list": lambda T, d: T([[1, 2], [3, 4]]).T.reshape(4),
  # ---- reductions ----
  "sum_all": lambda T, d: A(T, d).sum(),
  "sum_axis": lambda T, d: A(T, d, 2, 3, 4).sum(1),
  "sum_axes_keepdim": lambda T, d: A(T, d, 2, 3, 4).sum((0, 2), keepdim=True),
  "sum_negative_axis": lambda T, d: A(T, d).sum(-1),
  "sum_size1_axis": lambda T, d: A(T, d, 2, 1, 3).sum(1),
  "sum_size1_mixed": lambda T, d: A(T, d, 2, 1, 3).sum((1, 2)),
  "sum_empty_axes": lambda T, d: A(T, d).sum(axis=()),
  "sum_0d": lambda T, d: T(2.0).sum(),
  "sum_half": lambda T, d: A(T, d, dt=d.float16).sum(0),
  "sum_int8": lambda T, d: A(T, d, dt=d.int8).sum(),
  "sum_uint16": lambda T, d: A(T, d, dt=d.uint16).sum(1),
  "sum_bool": lambda T, d: B(T, d).sum(),
  "sum_dtype": lambda T, d: A(T, d, dt=d.float16).sum(dtype=d.float32),
  "prod": lambda T, d: I(T, d).prod(0),
  "prod_dtype": lambda T, d: A(T, d, dt=d.int8).prod(dtype=d.int32),
  "max": lambda T, d: A(T, d).max(1, keepdim=True),
  "max_weak": lambda T, d: (I(T, d) + 0.5).max(),
  "min_float": lambda T, d: A(T, d).min(),
  "min_int": lambda T, d: I(T, d).min(0),
  "min_bool": lambda T, d: B(T, d).min(),
  "mean": lambda T, d: A(T, d, 2, 3, 4).mean((1, 2)),
  "mean_int": lambda T, d: I(T, d).mean(),
  "mean_half_keepdim": lambda T, d: A(T, d, dt=d.float16).mean(0, keepdim=True),
  "any": lambda T, d: I(T, d).any(1),
  "all": lambda T, d: B(T, d).all(),
  "sum_zero_dim": lambda T, d: A(T, d, 0, 3).sum(0),
  # ---- contiguous ----
  "contiguous_buffer": lambda T, d: A(T, d).contiguous(),
  "contiguous_view": lambda T, d: A(T, d).permute(1, 0).contiguous(),
  "contiguous_alu": lambda T, d: (A(T, d) + 1).contiguous(),
  "contiguous_const": lambda T, d: T(3).contiguous(),
  "contiguous_twice": lambda T, d: (A(T, d) * 2).contiguous().contiguous(),
  # ---- matmul ----
  "matmul_2d": lambda T, d: A(T, d, 2, 3) @ A(T, d, 3, 4),
  "dot_1d": lambda T, d: A(T, d, 3).dot(A(T, d, 3)),
  "matmul_1d_2d": lambda T, d: A(T, d, 3) @ A(T, d, 3, 4),
  "matmul_2d_1d": lambda T, d: A(T, d, 2, 3) @ A(T, d, 3),
  "matmul_batched": lambda T, d: A(T, d, 5, 2, 3) @ A(T, d, 3, 4),
  "matmul_int": lambda T, d: I(T, d, 2, 3) @ I(T, d, 3, 2),
  "matmul_half_acc": lambda T, d: A(T, d, 2, 3, dt=d.float16).matmul(A(T, d, 3, 2, dt=d.float16), dtype=d.float32),
  "matmul_mixed": lambda T, d: A(T, d, 2, 3, dt=d.float16) @ A(T, d, 3, 2),
  "rmatmul": lambda T, d: A(T, d, 2, 3).matmul(A(T, d, 4, 2), reverse=True),
  "mlp_layer": lambda T, d: (A(T, d, 8, 16) @ A(T, d, 16, 4) + A(T, d, 4)).relu().sum(1).mean(),
}

@pytest.mark.parametrize("name", list(CASES))
def test_graph(name): helper_graph(CASES[name])

# ---------------- errors: same exception type and message as tinygrad ----------------

def run_error(fn, side):
  T, dtypes = SIDES[side]
  try:
    r = fn(T, dtypes)
    _ = r.shape  # tinygrad raises some shape errors lazily, when the shape is first asked for
  except Exception as e: return e  # noqa: BLE001  any exception is compared with tinygrad's
  return None

ERRORS = {
  "reshape_size": lambda T, d: A(T, d).reshape(4),
  "reshape_two_infer": lambda T, d: A(T, d).reshape(-1, -1),
  "reshape_infer_mismatch": lambda T, d: A(T, d).reshape(-1, 4),
  "reshape_negative": lambda T, d: A(T, d).reshape(-2, -3),
  "permute_not_permutation": lambda T, d: A(T, d).permute(0, 0),
  "permute_short": lambda T, d: A(T, d, 2, 3, 4).permute(0, 1),
  "permute_out_of_range": lambda T, d: A(T, d).permute(0, 2),
  "expand_bad": lambda T, d: A(T, d).expand(4, 3),
  "expand_fewer_dims": lambda T, d: A(T, d, 2, 3).expand(3),
  "broadcast_mismatch": lambda T, d: A(T, d) + A(T, d, 4),
  "pad_length": lambda T, d: A(T, d).pad(((1, 1),)),
  "pad_flat_odd": lambda T, d: A(T, d).pad((1, 2, 3)),
  "shrink_out_of_range": lambda T, d: A(T, d).shrink(((0, 5), (0, 3))),
  "shrink_ndim": lambda T, d: A(T, d).shrink(((0, 1),)),
  "flip_repeat": lambda T, d: A(T, d).flip(0, 0),
  "flip_out_of_range": lambda T, d: A(T, d).flip(2),
  "sum_bad_axis": lambda T, d: A(T, d).sum(2),
  "sum_bad_negative_axis": lambda T, d: A(T, d).sum(-3),
  "sum_repeat_axis": lambda T, d: A(T, d).sum((0, 0)),
  "where_not_bool": lambda T, d: A(T, d).where(A(T, d), A(T, d)),
  "shift_float": lambda T, d: A(T, d) << 1,
  "weak_storage": lambda T, d: T([1, 2], dtype=d.weakint),
  "bitcast_weak": lambda T, d: (I(T, d) + 1.5).bitcast(d.int32),
  "bitcast_size": lambda T, d: A(T, d, 3, dt=d.uint8).bitcast(d.int32),
  "dot_0d": lambda T, d: T(2.0).dot(A(T, d, 3)),
  "dot_mismatch": lambda T, d: A(T, d, 2, 3) @ A(T, d, 2, 3),
  "pow_negative_int": lambda T, d: I(T, d) ** -1,
  "arange_overflow": lambda T, d: T.arange(2**40, dtype=d.int32),
  "arange_zero_step": lambda T, d: T.arange(0, 5, 0),
  "unsqueeze_out_of_range": lambda T, d: A(T, d).unsqueeze(4),
  "transpose_out_of_range": lambda T, d: A(T, d).transpose(0, 5),
  "div_rounding_mode": lambda T, d: A(T, d).div(2, rounding_mode="round"),
}

@pytest.mark.parametrize("name", list(ERRORS))
def test_error(name):
  want, got = run_error(ERRORS[name], "tinygrad"), run_error(ERRORS[name], "tgc")
  assert want is not None, "tinygrad accepted the input"
  assert got is not None, f"tgc accepted the input; tinygrad raised {type(want).__name__}: {want}"
  assert type(got) is type(want), f"tgc raised {type(got).__name__}: {got}; tinygrad raised {type(want).__name__}: {want}"
  assert str(got) == str(want)

# ---------------- the Python surface around the graph ----------------

ATTRS = {"float": lambda T, d: A(T, d, 2, 3), "int_list": lambda T, d: T([[1, 2], [3, 4], [5, 6]]), "const": lambda T, d: T(2.5),
         "weak": lambda T, d: I(T, d) + 1.5, "bool_0d": lambda T, d: B(T, d).all(), "half": lambda T, d: A(T, d, 4, dt=d.float16)}

def _attrs(t):
  def get(f):
    try: return f()
    except Exception as e: return type(e)  # noqa: BLE001  the exception type is what is compared
  return {"repr": repr(t), "ndim": t.ndim, "numel": t.numel(), "len": get(lambda: len(t)), "is_float": t.is_floating_point(),
          "element_size": get(t.element_size), "bool": get(lambda: bool(t)), "size": t.size(), "size0": get(lambda: t.size(0))}

@pytest.mark.parametrize("name", list(ATTRS))
def test_attributes(name): assert _attrs(build(ATTRS[name], "tgc")) == _attrs(build(ATTRS[name], "tinygrad"))
