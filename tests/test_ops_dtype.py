"""Every elementwise op, reduction, cast and bitcast tgc.Tensor exposes, over every dtype in the op's domain, against numpy
(issue 3, item 3): contiguous and non-contiguous inputs (permuted, flipped, shrunk, expanded views of realized buffers),
broadcasting, size-1 and size-0 dims, NaN/+-Inf/-0.0, and >2**24 elements; the heuristic opts and NOOPT=1 both run.

References: expected values are computed by numpy at test time. Where tinygrad 0.14.0 (the spec) defines an op
differently from numpy's function of the same name, the reference is numpy evaluating tinygrad's definition (sign(nan)
is 1, relu(nan) is 0, x >= nan is True, maximum is `a < b ? b : a`, float mod is a - floor(a * (1/b)) * b, ...); each such
place says so. Output dtypes are always tinygrad's, read from the same expression built lazily with tinygrad (nothing of
tinygrad is realized). bfloat16, which numpy lacks, is carried as float32 holding bfloat16 values and rounded to
nearest-even after every step, as the engine computes it (in float, then rounded)."""
import re, os, subprocess, sys, warnings, zlib
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
tinygrad = pytest.importorskip("tinygrad", reason="tinygrad==0.14.0 (the reference for output dtypes) is in the test extra")
import tgc
from tgc import Tensor, dtypes
from conftest import TEST_DEV, unsupported_reason

# DEV=WEBGPU: the default device's ALU. Without FDIV (WGSL) a / b is a * (1/b), as tinygrad lowers it, one more rounding;
# its half arithmetic is native (the CPU computes half in float); and WGSL leaves exp2/log2 outside their finite domain
# (NaN, +-inf, log2(0)) to the driver, so pow is compared where its operands and result are finite. On CPU nothing changes.
_ALU = set(tgc.Device[TEST_DEV].caps["alu_ops"])
DEV_DTYPES = None if TEST_DEV == "CPU" else set(tgc.Device[TEST_DEV].caps["dtypes"])
NO_FDIV, NATIVE_HALF, WGSL = "FDIV" not in _ALU, TEST_DEV != "CPU", tgc.Device[TEST_DEV].caps["dialect"] == "wgsl"
GLSL = tgc.Device[TEST_DEV].caps["dialect"] == "glsl"
def on_device(names): return [n for n in names if DEV_DTYPES is None or not unsupported_reason([n])]
def on_gpu() -> bool: return TEST_DEV != "CPU"

# ---------------- dtypes ----------------

FLOATS = ["float16", "bfloat16", "float32", "float64"]
SINTS = ["int8", "int16", "int32", "int64"]
UINTS = ["uint8", "uint16", "uint32", "uint64"]
INTS = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
ALL = ["bool", *INTS, *FLOATS]
NUMERIC = [*INTS, *FLOATS]

def npdt(name: str): return np.dtype(np.float32 if name == "bfloat16" else name)
def bits(name: str) -> int: return 8 if name == "bool" else npdt(name).itemsize * 8 if name != "bfloat16" else 16

def bf16(x):
  """float32 -> nearest-even bfloat16, kept in float32 (NaN stays NaN)."""
  x = np.asarray(x, np.float32)
  u = x.view(np.uint32).astype(np.uint64)
  r = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
  return np.where(np.isnan(x), np.float32(np.nan), r).astype(np.float32)

def rnd(name: str):
  """Rounds a computed numpy value to dtype `name` (bfloat16 stays float32-held)."""
  if name == "bfloat16": return lambda x: bf16(np.asarray(x, np.float32))
  return lambda x: np.asarray(x).astype(npdt(name))

def tg_dtype(name: str): return getattr(tinygrad.dtypes, name)

# ---------------- inputs ----------------

SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 0.5, -0.5, 1.0, -1.0, 2.5, -3.5, 7.0]

def values(name: str, shape, rng, profile="full", specials=True):
  """Numpy values of dtype `name` (bfloat16: float32 holding bf16 values). profile: 'full' spans the dtype (extremes
  included), 'small' stays where signed 32/64-bit arithmetic cannot overflow (C leaves that undefined), 'nonzero' is
  'small' without 0 (integer divisors: C traps on /0), 'shift' is 0..bits-1, 'pos' is positive floats, 'prod' tiny."""
  n = int(np.prod(shape))
  if name == "bool": return rng.integers(0, 2, shape).astype(np.bool_)
  if name in INTS:
    info = np.iinfo(name)
    if profile == "shift": return rng.integers(0, bits(name), shape).astype(name)
    if profile == "prod": return rng.choice([1, 1, 2, 3] if name in UINTS else [-1, 1, 1, 2], shape).astype(name)  # 2**15 at most over 60
    if profile == "full" or bits(name) <= 16 and profile == "small":
      v = rng.integers(info.min, info.max, shape, dtype=name, endpoint=True)
      flat = v.reshape(-1)
      for i, e in enumerate([info.min, info.max, 0, 1, -1 if name in SINTS else 2][:n]): flat[(i * 7) % n] = e
      return v
    lo = 0 if name in UINTS else -1000
    v = rng.integers(lo, 1000, shape).astype(name)
    if profile == "nonzero": v[v == 0] = 3
    return v
  base = (rng.standard_normal(shape) * 4).astype(np.float64)
  if profile == "pos": base = np.abs(base) + 0.25
  if profile == "prod": base = rng.uniform(-1.5, 1.5, shape)
  if specials and profile not in ("pos", "prod"):
    flat = base.reshape(-1)
    idx = rng.choice(n, min(n, len(SPECIALS)), replace=False)
    flat[idx] = SPECIALS[:len(idx)]
  return rnd(name)(base.astype(np.float32) if name in ("float16", "bfloat16") else base)

def all_pairs(name: str, rng, profile="full"):
  """(a, b) covering every pair of specials (floats), then random values: shape (4, 48)."""
  if name in FLOATS and profile != "pos":
    s = np.array(SPECIALS)
    a = np.concatenate([np.repeat(s, len(s)), values(name, (48,), rng, profile, False)])
    b = np.concatenate([np.tile(s, len(s)), values(name, (48,), rng, profile, False)])
    return rnd(name)(a).reshape(4, 48), rnd(name)(b).reshape(4, 48)
  return values(name, (4, 48), rng, profile), values(name, (4, 48), rng, profile)

def tensor(arr, name: str) -> Tensor:
  """A realized buffer of dtype `name` holding arr (exactly: bf16 values were rounded already)."""
  if name == "bfloat16": return Tensor(np.ascontiguousarray(arr, np.float32)).cast(dtypes.bfloat16).realize()
  return Tensor(np.ascontiguousarray(arr)).realize()

# views: (numpy fn, tgc fn) from a realized base of shape BASE to a (8, 8) non-contiguous view
BASE = (9, 10)
def view_np(x): return np.flip(np.transpose(x)[1:9, 0:8], 0)
def view_t(x): return x.permute(1, 0).shrink(((1, 9), (0, 8))).flip(0)
# broadcast: (3, 1, 5) against (4, 1), through an expand of a (1, 5) flipped row for the second operand of unaries
def expand_np(x): return np.broadcast_to(x[:, ::-1], (6, 5))
def expand_t(x): return x.flip(1).expand(6, 5)

def seeded(*key): return np.random.default_rng(zlib.crc32(repr(key).encode()))  # stable across runs (str hash is not)

# ---------------- comparison ----------------

def tol(name: str, kind: str):
  if kind == "sum": return {"float16": (1e-3, 1e-3), "bfloat16": (8e-3, 1e-3), "float32": (1e-5, 2e-5), "float64": (1e-12, 1e-12)}[name]
  if kind == "prod": return {"float16": (2e-2, 1e-4), "bfloat16": (6e-2, 1e-3), "float32": (2e-5, 1e-7), "float64": (1e-12, 1e-14)}[name]
  """(rtol, atol): exact for ints and single IEEE ops, loose for transcendentals (tinygrad's polynomial approximations)."""
  if kind == "exact": return 0.0, 0.0
  if kind == "close": return {"float16": (1e-3, 1e-3), "bfloat16": (8e-3, 8e-3), "float32": (2e-6, 1e-6), "float64": (1e-13, 1e-13)}[name]
  if kind == "tan": return {"float16": (2e-2, 2e-3), "bfloat16": (6e-2, 1e-2), "float32": (2e-4, 2e-6), "float64": (1e-9, 1e-12)}[name]
  return {"float16": (5e-3, 2e-3), "bfloat16": (3e-2, 1e-2), "float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}[name]

def check(got: Tensor, want, name: str, kind: str, what: str):
  g = got.numpy()
  w = np.asarray(want)
  assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
  if name in FLOATS:
    rtol, atol = tol(name, kind)
    np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
  else: np.testing.assert_array_equal(g, w.astype(g.dtype), err_msg=what)

# DEV=WEBGPU/VULKAN: 1/x is a division the APIs do not require to be correctly rounded. WGSL (W3C WGSL, "Floating Point
# Accuracy", accuracy of concrete floating point expressions): x / y is 2.5 ULP for |y| in [2^-126, 2^126] (f32) and
# [2^-14, 2^14] (f16). Vulkan ("Precision and Operation of SPIR-V Instructions"): OpFDiv is 2.5 ULP for |y| in
# [2^-126, 2^126] (the glsl dialect renders 1/x as 1.0/x, an OpFDiv). NVIDIA's float32 1/x was 1 ULP off in 23 of 192
# elements through WebGPU and in 4 cases through Vulkan (H200, driver 580). Within that range the result may be 2 ULP from
# the correctly rounded one (2.5 ULP from the exact value); 0, +-inf, NaN and everything outside the range still compare
# exactly, and an error of 3 ULP or more fails.
API_DIV_ULP = 2 if (WGSL or GLSL) else 0

def check_div_ulp(got: Tensor, want, x, name: str, what: str, ulp: int = API_DIV_ULP):
  g, w = got.numpy(), np.asarray(want)
  assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
  dt = npdt(name)
  lo, hi = (2.0 ** -14, 2.0 ** 14) if dt == np.float16 else (2.0 ** -126, 2.0 ** 126)
  ax = np.abs(np.broadcast_to(np.asarray(x, np.float64), w.shape))
  loose = (ax >= lo) & (ax <= hi) & np.isfinite(w.astype(np.float64))
  if loose.any():   # ULP distance of the bit patterns (same sign: 1/x keeps x's sign)
    gi = g[loose].astype(dt).view(np.int16 if dt == np.float16 else np.int32 if dt == np.float32 else np.int64).astype(np.int64)
    wi = w[loose].astype(dt).view(np.int16 if dt == np.float16 else np.int32 if dt == np.float32 else np.int64).astype(np.int64)
    far = np.abs(gi - wi) > ulp
    assert not far.any(), f"{what}: more than {ulp} ULP off: got {g[loose][far][:5]} want {w[loose][far][:5]}"
  check(Tensor(np.ascontiguousarray(g[~loose])), w[~loose], name, "exact", what)

@pytest.mark.parametrize("name", ["float16", "float32"])
def test_div_ulp_check_fails_real_errors(name):
  """The API tolerance for 1/x: 2 ULP from the correctly rounded value passes, 3 and 10 fail, and specials stay exact."""
  dt = npdt(name)
  x = np.array([3.0, -7.0, 0.1, 1e3, -2.5, 0.7], dt)
  want = (1 / x.astype(np.float64)).astype(dt)
  ity = np.int16 if dt == np.float16 else np.int32
  def off(k): return Tensor(np.ascontiguousarray((want.view(ity) + k).view(dt)))
  check_div_ulp(off(2), want, x, name, "2 ulp", ulp=2)
  check_div_ulp(off(-2), want, x, name, "-2 ulp", ulp=2)
  for k in (3, 10, -10):
    with pytest.raises(AssertionError): check_div_ulp(off(k), want, x, name, f"{k} ulp", ulp=2)
  sx = np.array([0.0, -0.0, np.inf, np.nan], dt)
  sw = np.array([np.inf, -np.inf, 0.0, np.nan], dt)
  check_div_ulp(Tensor(sw.copy()), sw, sx, name, "specials", ulp=2)
  with pytest.raises(AssertionError): check_div_ulp(Tensor(np.array([np.inf, np.inf, 0.0, np.nan], dt)), sw, sx, name, "-0 lost", ulp=2)

def assert_dtype(got: Tensor, tg_out, what: str):
  assert got.dtype.name == tg_out.dtype.name, f"{what}: dtype {got.dtype} != tinygrad's {tg_out.dtype}"

def out_name(t) -> str: return {tg_dtype(n): n for n in ALL}[t.dtype]  # a tinygrad tensor's dtype as one of ALL

# ---------------- unary ----------------

def _sign(x): return np.where(x != 0, np.where(x < 0, -1, 1), 0)  # tinygrad: sign(nan) is 1 (nan != 0 and not < 0)

def _f64(f): return lambda x, R: R(f(x.astype(np.float64)))

# name: (fn on a Tensor, reference(x, R), domain, tolerance kind). R rounds to the output dtype.
UNARY = {
  "neg": (lambda x: -x, lambda x, R: np.logical_not(x) if x.dtype == np.bool_ else R(-x), ALL, "exact"),
  "logical_not": (lambda x: x.logical_not(), lambda x, R: np.logical_not(x), ALL, "exact"),
  "bitwise_not": (lambda x: ~x, lambda x, R: np.logical_not(x) if x.dtype == np.bool_ else ~x, ["bool", *INTS], "exact"),
  "isnan": (lambda x: x.isnan(), lambda x, R: np.isnan(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool), ALL, "exact"),
  "isinf": (lambda x: x.isinf(), lambda x, R: np.isinf(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool), ALL, "exact"),
  "isfinite": (lambda x: x.isfinite(), lambda x, R: np.isfinite(x) if x.dtype.kind == "f" else np.ones(x.shape, bool), ALL, "exact"),
  "abs": (lambda x: x.abs(), lambda x, R: R(x * _sign(x).astype(x.dtype)), NUMERIC, "exact"),  # tinygrad: x * sign(x)
  "sign": (lambda x: x.sign(), lambda x, R: R(_sign(x)), NUMERIC, "exact"),
  "relu": (lambda x: x.relu(), lambda x, R: R(np.where(x > 0, x, 0)), NUMERIC, "exact"),  # tinygrad: (x > 0).where(x, 0): relu(nan) is 0
  "square": (lambda x: x.square(), lambda x, R: R(x * x), NUMERIC, "exact"),
  "trunc": (lambda x: x.trunc(), lambda x, R: R(np.trunc(x)), FLOATS, "exact"),
  "floor": (lambda x: x.floor(), lambda x, R: R(np.floor(x)), FLOATS, "exact"),
  "ceil": (lambda x: x.ceil(), lambda x, R: R(np.ceil(x)), FLOATS, "exact"),
  "round": (lambda x: x.round(), lambda x, R: R(np.round(x)), FLOATS, "exact"),  # half to even, as numpy
  "reciprocal": (lambda x: x.reciprocal(), _f64(lambda x: 1 / x), FLOATS, "exact"),
  "sqrt": (lambda x: x.sqrt(), _f64(np.sqrt), FLOATS, "close"),
  "rsqrt": (lambda x: x.rsqrt(), _f64(lambda x: 1 / np.sqrt(x)), FLOATS, "close"),
  "exp2": (lambda x: x.exp2(), _f64(np.exp2), FLOATS, "trans"),
  "log2": (lambda x: x.log2(), _f64(np.log2), FLOATS, "trans"),
  "exp": (lambda x: x.exp(), _f64(np.exp), FLOATS, "trans"),
  "log": (lambda x: x.log(), _f64(np.log), FLOATS, "trans"),
  "log10": (lambda x: x.log10(), _f64(np.log10), FLOATS, "trans"),
  "sin": (lambda x: x.sin(), _f64(np.sin), FLOATS, "trans"),
  "cos": (lambda x: x.cos(), _f64(np.cos), FLOATS, "trans"),
  "tan": (lambda x: x.tan(), _f64(np.tan), FLOATS, "tan"),  # sin/cos: near a pole the error grows as 1/cos(x)
  "sigmoid": (lambda x: x.sigmoid(), _f64(lambda x: 1 / (1 + np.exp(-x))), FLOATS, "trans"),
  "tanh": (lambda x: x.tanh(), _f64(np.tanh), FLOATS, "trans"),
  "silu": (lambda x: x.silu(), _f64(lambda x: x / (1 + np.exp(-x))), FLOATS, "trans"),
}
UNARY_CASES = [(op, dt) for op, (_, _, dom, _) in UNARY.items() for dt in dom]

@pytest.mark.parametrize("op,name", UNARY_CASES, ids=[f"{o}-{d}" for o, d in UNARY_CASES])
def test_unary(op, name):
  fn, ref, _, kind = UNARY[op]
  rng = seeded("unary", op, name)
  profile = "small" if name in ("int32", "int64") and op in ("neg", "abs", "square") else "full"
  a = values(name, (4, 48), rng, profile)
  if name in FLOATS: a.reshape(-1)[:len(SPECIALS)] = rnd(name)(np.array(SPECIALS))
  b, c = values(name, BASE, rng, profile), values(name, (1, 5), rng, profile)
  cases = [("contiguous", fn(tensor(a, name)), a), ("view", fn(view_t(tensor(b, name))), view_np(b)),
           ("expand", fn(expand_t(tensor(c, name))), expand_np(c)), ("size0", fn(tensor(values(name, (0, 3), rng), name)), values(name, (0, 3), rng))]
  outs = [t for _, t, _ in cases]
  outs[0].realize(*outs[1:])
  tg_out = fn(tinygrad.Tensor.empty(2, dtype=tg_dtype(name)))
  R = rnd(out_name(tg_out))
  with np.errstate(all="ignore"):
    for what, got, x in cases:
      assert_dtype(got, tg_out, f"{op} {name} {what}")
      if kind in ("trans", "tan") and op in ("sin", "cos", "tan") and name in ("float16", "bfloat16"):
        want = R(ref(x, lambda v: v))  # argument reduction of a rounded input: compare on the rounded input, loosely
      else: want = ref(x, R)
      if op == "reciprocal" and API_DIV_ULP: check_div_ulp(got, want, x, out_name(tg_out), f"{op} {name} {what}")
      else: check(got, want, out_name(tg_out), kind if out_name(tg_out) in FLOATS else "exact", f"{op} {name} {what}")

# ---------------- binary ----------------

# References get both operands in the compute dtype (float16 as float32) and two rounding functions: R to the output
# dtype, M for intermediates. As tinygrad on CPU, a fused kernel keeps float16 intermediates in float (the C compiler's
# excess precision: M is the identity) but rounds every bfloat16 step (each bf16 ALU op is float math cast back: M
# rounds to bf16). A python-scalar divisor is folded: x / s is x * R(1/s); a tensor divisor is a true division.
def _q(a, b, R, M):
  """tinygrad's a / b; ints and bools go to default_float first."""
  fa, fb = (a if a.dtype.kind == "f" else a.astype(np.float32)), (b if b.dtype.kind == "f" else b.astype(np.float32))
  return M(fa * R(1 / fb)) if np.ndim(b) == 0 else M(fa / fb)

def _floordiv(a, b, R, M): return np.floor_divide(a, b) if a.dtype.kind in "iu" else np.floor(_q(a, b, R, M))
def _mod(a, b, R, M):  # ints: floor mod (sign of the divisor, as Python); floats: tinygrad's a - floor(a / b) * b
  return np.mod(a, b) if a.dtype.kind in "iu" else a - M(np.floor(_q(a, b, R, M)) * b)
def _fmod(a, b, R, M):  # ints: C's %; floats: tinygrad's a - trunc(a / b) * b
  return np.fmod(a, b) if a.dtype.kind in "iu" else a - M(np.trunc(_q(a, b, R, M)) * b)
def _pow(a, b, R, M):
  """tinygrad's pow, in numpy. A tensor ** tensor is exp2(b * log2|a|); for a negative base a non-integer exponent
  (nan and +-inf included, |b| >= 2**31 too: the int32 round trip fails) gives nan unless the base is -inf, an odd one
  negates; b == 0 gives 1. Half dtypes round each transcendental step (log2 and exp2 run in float32 and are cast back).
  A python-scalar exponent c is rewritten first (symbolic): c < 0 -> (1/x) ** -c, c == 0 -> 1, c = n + 0.5 ->
  x ** n * sqrt(x), an integer -> repeated squaring; a positive python-scalar base c gives exp2(x * log2(c))."""
  H = R if R(np.float32(1 / 3)) != np.float32(1 / 3) else (lambda z: z)
  if np.ndim(b) == 0 and np.isfinite(c := float(b)):
    if c < 0: return _pow(H(1 / a), np.asarray(-c, b.dtype), R, M)
    if c == 0: return np.ones_like(a)
    if int(c - 0.5) + 0.5 == c: return M(_pow(a, np.asarray(c - 0.5, b.dtype), R, M) * H(np.sqrt(a)))
    if int(c) == c:
      y = _pow(a, np.asarray(c // 2, b.dtype), R, M)
      return M(M(y * y) * a) if c % 2 == 1 else M(y * y)
  if np.ndim(a) == 0 and float(a) > 0: return np.ones_like(b) if float(a) == 1 else H(np.exp2(M(b * R(np.log2(float(a))))))
  m = np.where(a < 0, -a, a).astype(np.float64)
  r = H(np.exp2(H(b * H(np.log2(m)))))
  non_int = ~(np.isfinite(b) & (np.abs(b) < 2**31) & (b == np.trunc(b)))
  odd = np.where(np.isfinite(b) & (np.abs(b) < 2**31), np.abs(np.nan_to_num(b)), 0).astype(np.int64) % 2 == 1
  neg = np.where(non_int, np.where(a != -np.inf, np.nan, r), np.where(odd, -r, r))
  return np.where(b == 0, 1.0, np.where(a < 0, neg, r))
def _np2(f): return lambda a, b, R, M: f(a, b)
def _bool_or(f): return lambda a, b, R, M: (a | b) if a.dtype == np.bool_ else f(a, b)

# name: (fn(a, b), reference(a, b), domain, tolerance kind, operand profile, reflected python-scalar form exists)
BINARY = {
  "add": (lambda a, b: a + b, _bool_or(np.add), ALL, "exact", "small", True),
  "sub": (lambda a, b: a - b, _np2(np.subtract), NUMERIC, "exact", "small", True),
  "mul": (lambda a, b: a * b, lambda a, b, R, M: (a & b) if a.dtype == np.bool_ else a * b, ALL, "exact", "small", True),
  "truediv": (lambda a, b: a / b, _q, ALL, "exact", "small", True),
  "floordiv": (lambda a, b: a // b, _floordiv, NUMERIC, "exact", "nonzero", True),
  "mod": (lambda a, b: a % b, _mod, NUMERIC, "close", "nonzero", True),
  "fmod": (lambda a, b: a.fmod(b), _fmod, NUMERIC, "close", "nonzero", False),
  "pow": (lambda a, b: a ** b, _pow, FLOATS, "trans", "full", True),
  "and": (lambda a, b: a & b, _np2(np.bitwise_and), ["bool", *INTS], "exact", "full", True),
  "or": (lambda a, b: a | b, _np2(np.bitwise_or), ["bool", *INTS], "exact", "full", True),
  "xor": (lambda a, b: a ^ b, _np2(np.bitwise_xor), ["bool", *INTS], "exact", "full", True),
  # `2 << t` keeps the python scalar's weak dtype in tinygrad (its SHL takes the left operand's dtype), which neither
  # tinygrad nor tgc can realize: no reflected form
  "lshift": (lambda a, b: a << b, _np2(np.left_shift), INTS, "exact", "shift", False),
  "rshift": (lambda a, b: a >> b, _np2(np.right_shift), INTS, "exact", "shift", False),
  "lt": (lambda a, b: a < b, _np2(np.less), ALL, "exact", "full", False),
  "gt": (lambda a, b: a > b, _np2(np.greater), ALL, "exact", "full", False),
  "le": (lambda a, b: a <= b, _np2(lambda a, b: ~(a > b)), ALL, "exact", "full", False),  # tinygrad: not (a > b): nan <= x is True
  "ge": (lambda a, b: a >= b, _np2(lambda a, b: ~(a < b)), ALL, "exact", "full", False),  # tinygrad: not (a < b)
  "eq": (lambda a, b: a.eq(b), _np2(np.equal), ALL, "exact", "full", False),
  "ne": (lambda a, b: a.ne(b), _np2(np.not_equal), ALL, "exact", "full", False),
  "maximum": (lambda a, b: a.maximum(b), _np2(lambda a, b: np.where(a < b, b, a)), ALL, "exact", "full", False),  # tinygrad: a < b ? b : a
  "minimum": (lambda a, b: a.minimum(b), _np2(lambda a, b: np.where(b < a, b, a)), ALL, "exact", "full", False),  # -max(-a, -b) for floats
}
BINARY_CASES = [(op, dt) for op, v in BINARY.items() for dt in v[2]]
SCALAR = {"bool": True, "float16": 2.5, "bfloat16": 2.5, "float32": 2.5, "float64": 2.5}

def _np_scalar(s, name): return rnd(name)(np.array(s, np.float64)) if name in FLOATS else np.array(s, npdt(name))

@pytest.mark.parametrize("op,name", BINARY_CASES, ids=[f"{o}-{d}" for o, d in BINARY_CASES])
def test_binary(op, name):
  fn, ref, _, kind, profile, reflected = BINARY[op]
  if on_gpu() and op in ("truediv", "mod", "fmod"):
    # a / b is a * (1 / b) on GPU dialects without FDIV (glsl, wgsl, cuda), and Vulkan allows 1 / b within 2.5 ULP
    # (lavapipe and NVIDIA are 1 ULP off at times): the quotient to the last bits, and floor/trunc of it in half precision, differ
    kind = {"exact": "close", "close": "trans"}.get(kind, kind)
  elif op == "truediv" and NO_FDIV: kind = "close"
  if op in ("mod", "fmod") and name == "float16" and NATIVE_HALF: kind = "trans"
  if on_gpu() and op == "pow" and name == "float16": kind = "tan"  # a 1-ULP float32 log2 can round b * log2|a| to the next half
  rng = seeded("binary", op, name)
  v = lambda *shape, prof=profile: values(name, shape, rng, prof)
  a, b = all_pairs(name, rng, profile)
  if op == "lshift" or op == "rshift": a = v(4, 48, prof="full")
  va, vb = (v(*BASE, prof="full") if op.endswith("shift") else v(*BASE)), v(1, 8)
  ba, bb = (v(3, 1, 5, prof="full") if op.endswith("shift") else v(3, 1, 5)), v(4, 1)
  if op == "pow" and (name == "float16" or GLSL):
    # (GLSL: the int32 its compilers make of +-inf differs from gcc's for every float dtype)
    # pow's integer test casts the exponent to int32 and back: for +-inf that cast is undefined in C, and the int32 the
    # compiler makes of it (INT_MIN with gcc) rounds back to -inf in half, so negative bases to +-inf powers give
    # what the compiler makes of that: not compared. (-inf included: CUDA saturates +inf to INT_MAX, which rounds back to
    # +inf in half and is odd, so (-inf)**inf comes out -inf there; gcc's INT_MIN is even.)
    b = np.where((a < 0) & np.isinf(b), np.float16(2.0), b)
    vb, bb = (np.where(np.isinf(e), np.float16(2.0), e) for e in (vb, bb))
  s = {"shift": 2, "nonzero": 3}.get(profile, 3) if name in INTS else SCALAR[name]
  if profile == "nonzero":
    # a negative divisor checks the sign conventions; for floats one with an exact reciprocal (-1/4), so that x * R(1/s)
    # is exact and the reference does not depend on where the engine rounds a half intermediate before floor/trunc
    s = -4.0 if name in FLOATS else -3 if name in SINTS else 3
  xs = v(2, 7, prof="full") if op.endswith("shift") else v(2, 7)  # the tensor operand next to the python scalar
  za, zb = v(0, 3), v(1, 3)
  cases = [("contiguous", lambda T: fn(T(a), T(b)), (a, b)),
           ("view", lambda T: fn(view_t(T(va)), T(vb).flip(1).expand(8, 8)), (view_np(va), np.broadcast_to(vb[:, ::-1], (8, 8)))),
           ("broadcast", lambda T: fn(T(ba), T(bb)), (ba, bb)),
           ("scalar", lambda T: fn(T(xs), s), (xs, _np_scalar(s, name))),
           ("size0", lambda T: fn(T(za), T(zb)), (za, zb))]
  if reflected:
    xr = v(2, 7, prof="shift") if op.endswith("shift") else xs  # the reflected form shifts a scalar by the tensor
    cases.append(("rscalar", lambda T: fn(s, T(xr)), (_np_scalar(s, name), xr)))
  outs = [mk(lambda arr: tensor(arr, name)) for _, mk, _ in cases]
  outs[0].realize(*outs[1:])
  with np.errstate(all="ignore"):
    for (what, mk, (x, y)), got in zip(cases, outs):
      tg_out = mk(lambda arr: tinygrad.Tensor.empty(*arr.shape, dtype=tg_dtype(name)))
      assert_dtype(got, tg_out, f"{op} {name} {what}")
      R = rnd(out_name(tg_out))
      M = R if out_name(tg_out) == "bfloat16" else lambda z: z
      x, y = (z.astype(np.float32) if z.dtype == np.float16 else z for z in (np.asarray(x), np.asarray(y)))
      want = np.broadcast_to(R(ref(x, y, R, M)), got.shape)
      if op == "pow" and WGSL:
        ok = np.broadcast_to(np.isfinite(x) & np.isfinite(y) & (x != 0), got.shape) & np.isfinite(want)
        got, want = Tensor(got.numpy()[ok]), want[ok]
      if on_gpu() and op in ("mod", "fmod") and out_name(tg_out) in ("float16", "bfloat16"):
        # x - trunc(x/y)*y: GPU compilers fuse the last multiply-subtract into one FMA (NVRTC does by default: the product
        # is not rounded to 16 bits), so where x/y rounds up to a whole number the result may differ from the per-op
        # rounded reference by up to one unit in the last place of x: accepted element by element, exactly that far
        g = got.numpy().astype(np.float64)
        xa = np.abs(np.broadcast_to(np.asarray(x, np.float64), g.shape))
        with np.errstate(all="ignore"):
          ulp = np.spacing(xa.astype(np.float16)).astype(np.float64) if out_name(tg_out) == "float16" else \
                np.where(xa > 0, 2.0 ** (np.floor(np.log2(np.where(xa > 0, xa, 1.0))) - 7), 0.0)
          w64 = np.broadcast_to(np.asarray(want, np.float64), g.shape)
          fused = np.isfinite(g) & np.isfinite(w64) & (np.abs(g - w64) <= ulp)
        got = Tensor(np.where(fused, w64, g).astype(np.float32))
      check(got, want, out_name(tg_out),
            kind if out_name(tg_out) in FLOATS else "exact", f"{op} {name} {what}")

# ---------------- where ----------------

@pytest.mark.parametrize("name", ALL)
def test_where(name):
  rng = seeded("where", name)
  v = lambda *shape: values(name, shape, rng)
  c = lambda *shape: values("bool", shape, rng)
  (a, b), ca = all_pairs(name, rng), c(4, 48)
  cv, xv, yv = c(*BASE), v(*BASE), v(1, 8)
  s = 3 if name in INTS else SCALAR[name]
  cases = [("contiguous", lambda T, B: B(ca).where(T(a), T(b)), (ca, a, b)),
           ("view", lambda T, B: view_t(B(cv)).where(view_t(T(xv)), T(yv).flip(1).expand(8, 8)),
            (view_np(cv), view_np(xv), np.broadcast_to(yv[:, ::-1], (8, 8)))),
           ("broadcast", lambda T, B: B(c(3, 1, 5)).where(T(v(4, 1)), T(v(1,))), None),
           ("scalar_x", lambda T, B: B(c(2, 7)).where(s, T(v(2, 7))), None),
           ("scalar_y", lambda T, B: B(c(2, 7)).where(T(v(2, 7)), s), None),
           ("size0", lambda T, B: B(c(0, 3)).where(T(v(1, 3)), T(v(0, 1))), None)]
  # cases without listed inputs record theirs while building the tgc graph, so numpy sees the very same arrays
  outs, ins = [], []
  for what, mk, arrs in cases:
    seen = []
    T = lambda arr: (seen.append(arr), tensor(arr, name))[1]
    B = lambda arr: (seen.append(arr), tensor(arr, "bool"))[1]
    outs.append(mk(T, B))
    ins.append(arrs or (seen[0], s if what == "scalar_x" else seen[1], s if what == "scalar_y" else seen[-1]))
  outs[0].realize(*outs[1:])
  for (what, mk, _), got, (cond, x, y) in zip(cases, outs, ins):
    tg_out = mk(lambda arr: tinygrad.Tensor.empty(*arr.shape, dtype=tg_dtype(name)), lambda arr: tinygrad.Tensor.empty(*arr.shape, dtype="bool"))
    assert_dtype(got, tg_out, f"where {name} {what}")
    want = np.where(cond, _np_scalar(x, name) if np.ndim(x) == 0 else x, _np_scalar(y, name) if np.ndim(y) == 0 else y)
    check(got, rnd(out_name(tg_out))(want), out_name(tg_out), "exact", f"where {name} {what}")

# ---------------- reductions ----------------

def _ident(name, op):
  if name == "bool": return op == "min"
  if name in FLOATS: return -np.inf if op == "max" else np.inf
  return np.iinfo(name).min if op == "max" else np.iinfo(name).max

def _acc(x, out):  # numpy accumulates in the output dtype: float64 for floats (rounded after), wrapping ints
  return x.astype(np.float64) if out in FLOATS else x.astype(npdt(out))

# name: (fn(x, axis, keepdim), reference(x, axis, keepdim, out dtype name, in dtype name), tolerance kind, value profile)
REDUCE = {
  "sum": (lambda x, ax, kd: x.sum(ax, keepdim=kd), lambda x, ax, kd, o, i: np.sum(_acc(x, o), ax, keepdims=kd), "sum", "small"),
  "prod": (lambda x, ax, kd: x.prod(ax, keepdim=kd), lambda x, ax, kd, o, i: np.prod(_acc(x, o), ax, keepdims=kd), "prod", "prod"),
  # no nan in max/min: which element wins against a nan depends on the accumulation order (tinygrad's a < b ? b : a)
  "max": (lambda x, ax, kd: x.max(ax, keepdim=kd), lambda x, ax, kd, o, i: np.max(x, ax, keepdims=kd, initial=_ident(i, "max")), "exact", "full"),
  "min": (lambda x, ax, kd: x.min(ax, keepdim=kd), lambda x, ax, kd, o, i: np.min(x, ax, keepdims=kd, initial=_ident(i, "min")), "exact", "full"),
  "mean": (lambda x, ax, kd: x.mean(ax, keepdim=kd), lambda x, ax, kd, o, i: np.mean(x.astype(np.float64), ax, keepdims=kd), "sum", "small"),
  "any": (lambda x, ax, kd: x.any(ax, keepdim=kd), lambda x, ax, kd, o, i: np.any(x, ax, keepdims=kd), "exact", "full"),
  "all": (lambda x, ax, kd: x.all(ax, keepdim=kd), lambda x, ax, kd, o, i: np.all(x, ax, keepdims=kd), "exact", "full"),
}
REDUCE_CASES = [(op, dt) for op in REDUCE for dt in ALL]

def _reduce_input(name, op, shape, rng, profile):
  x = values(name, shape, rng, profile)
  if name in FLOATS and op in ("max", "min"): x = np.where(np.isnan(x), np.float32(np.inf) if op == "min" else -np.inf, x).astype(x.dtype)
  if name in FLOATS and op == "prod" and x.size >= 3: x.reshape(-1)[:3] = [np.inf, -0.0, 1.0]  # inf * 0 makes the nan of whichever slice holds both
  return x

@pytest.mark.parametrize("op,name", REDUCE_CASES, ids=[f"{o}-{d}" for o, d in REDUCE_CASES])
def test_reduce(op, name):
  fn, ref, kind, profile = REDUCE[op]
  rng = seeded("reduce", op, name)
  x = _reduce_input(name, op, (3, 4, 5), rng, profile)
  xv = _reduce_input(name, op, (3, 4, 5), rng, profile)
  cases = [(f"axis={ax} keepdim={kd}", x, (lambda T, ax=ax, kd=kd: fn(T, ax, kd)), (lambda a, ax=ax, kd=kd: (a, ax, kd)))
           for ax, kd in [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)]]
  # a permuted, flipped view reduced over a strided axis; a size-1 axis; size-0 axes (the op's identity, nan for mean)
  cases.append(("view", xv, lambda T: fn(T.permute(2, 0, 1).flip(1), 2, False), lambda a: (np.flip(np.transpose(a, (2, 0, 1)), 1), 2, False)))
  for shape, ax in [((3, 1, 5), 1), ((0, 4), 0), ((3, 0), 1), ((0, 4), None)]:
    cases.append((f"shape={shape} axis={ax}", _reduce_input(name, op, shape, rng, profile), lambda T, ax=ax: fn(T, ax, False), lambda a, ax=ax: (a, ax, False)))
  outs = [mk(tensor(arr, name)) for _, arr, mk, _ in cases]
  outs[0].realize(*outs[1:])
  with np.errstate(all="ignore"), warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "mean of empty slice": its nan is the reference
    for (what, arr, mk, npargs), got in zip(cases, outs):
      tg_out = mk(tinygrad.Tensor.empty(*arr.shape, dtype=tg_dtype(name)))
      assert_dtype(got, tg_out, f"{op} {name} {what}")
      o = out_name(tg_out)
      a, ax, kd = npargs(arr.astype(np.float32) if arr.dtype == np.float16 else arr)
      want = rnd(o)(ref(a, ax, kd, o, name))
      check(got, want, o, kind if o in FLOATS else "exact", f"{op} {name} {what}")

# ---------------- cast and bitcast ----------------

def _cast_input(src, dst, shape, rng):
  """Values of dtype src whose conversion to dst C defines: floats going to ints stay inside (dst.min - 1, dst.max + 1)
  (C leaves the rest, nan and inf included, undefined; tinygrad renders a plain C cast), everything else spans src."""
  if not (src in FLOATS and dst in INTS): return values(src, shape, rng)
  info, fmax = np.iinfo(dst), float(np.finfo(np.float16).max) if src == "float16" else 3e38
  lo, hi = max(float(info.min), -fmax) * 0.99, min(float(info.max), fmax) * 0.99
  small = rng.uniform(max(lo, -300), min(hi, 300), shape)  # fractions, truncated toward zero
  x = np.where(rng.integers(0, 2, shape) == 1, rng.uniform(lo, hi, shape), small)
  x.reshape(-1)[:4] = [0.0, -0.0, min(hi, 0.9), max(lo, -0.9)]
  return rnd(src)(x.astype(np.float32) if src in ("float16", "bfloat16") else x)

def _cast_ref(x, src, dst):
  if dst == "bool": return x != 0
  if dst == "bfloat16": return bf16(x.astype(np.float32))
  if src in FLOATS and dst in INTS: return np.trunc(x.astype(np.float64)).astype(dst)
  return x.astype(npdt(dst))

@pytest.mark.parametrize("src", ALL)
def test_cast(src):
  rng = seeded("cast", src)
  cases = []
  for i, dst in enumerate(on_device(ALL)):
    x = _cast_input(src, dst, (6, 16), rng)
    # every other pair reads a flipped, shrunk view of the buffer (no vector loads); the rest read it whole
    cases.append((dst, x if i % 2 == 0 else x[::-1, 2:14], (lambda t: t) if i % 2 == 0 else (lambda t: t.flip(0).shrink(((0, 6), (2, 14)))), x))
  empty = tensor(values(src, (0, 5), rng), src)
  outs = [view(tensor(base, src)).cast(dst) for dst, _, view, base in cases] + [empty.cast(dst) for dst in on_device(ALL)]
  outs[0].realize(*outs[1:])
  for (dst, x, _, _), got in zip(cases, outs):
    assert got.dtype.name == tg_dtype(dst).name
    with np.errstate(all="ignore"):
      want = _cast_ref(x.astype(np.float32) if x.dtype == np.float16 and dst == "bfloat16" else x, src, dst)
    # into float16/bfloat16 from a wider type C may round twice (through float): one unit in the last place allowed
    kind = "close" if dst in ("float16", "bfloat16") and src not in ("bool", "int8", "uint8", "float16", "bfloat16", "float32") else "exact"
    check(got, want, dst, kind, f"cast {src} -> {dst}")
  for dst, got in zip(on_device(ALL), outs[len(cases):]): assert got.numpy().shape == (0, 5) and got.dtype.name == tg_dtype(dst).name

BITCAST_GROUPS = [["int8", "uint8"], ["int16", "uint16", "float16", "bfloat16"], ["int32", "uint32", "float32"], ["int64", "uint64", "float64"]]
BITCAST_CASES = [(s, d) for g in BITCAST_GROUPS for s in g for d in g if s != d]

def _bits(x, name):  # the raw bits of numpy values of dtype `name` (bfloat16: the top half of the float32)
  return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16) if name == "bfloat16" else x.view(f"u{npdt(name).itemsize}")

@pytest.mark.parametrize("src,dst", BITCAST_CASES, ids=[f"{s}-{d}" for s, d in BITCAST_CASES])
def test_bitcast(src, dst):
  rng = seeded("bitcast", src, dst)
  x = values(src, (4, 8), rng)
  # a bfloat16 source is made from its bits, not cast from float32: which NaN a float32 NaN becomes is the converter's choice
  # (CUDA's gives 0x7fff, tinygrad's CPU keeps the payload), and the payload is what a bitcast shows
  src_t = lambda: Tensor(_bits(x, src)).bitcast(dtypes.bfloat16).realize() if src == "bfloat16" else tensor(x, src)
  outs = [src_t().bitcast(dst), src_t().flip(1).bitcast(dst)]
  outs[0].realize(outs[1])
  for got, xs, what in zip(outs, (x, x[:, ::-1]), ("contiguous", "flipped")):
    assert got.dtype.name == tg_dtype(dst).name and got.shape == xs.shape
    bits = _bits(np.ascontiguousarray(xs), src)
    if dst == "bfloat16":  # .numpy() of bfloat16 goes through a float cast: compare values (nan payloads may change)
      want = (bits.astype(np.uint32) << 16).view(np.float32)
      np.testing.assert_array_equal(got.numpy(), want, err_msg=f"bitcast {src} -> {dst} {what}")
    else:
      gb = _bits(got.numpy(), dst)
      if WGSL and "float16" in (src, dst):
        # WGSL reaches a half's bits only through a value in an f16 register (array<f16> elements; bitcast to or from 16-bit
        # ints through f32's pack2x16float/unpack2x16float), and NVIDIA's driver canonicalizes a NaN passing through one to
        # 0x7fff, sign and payload lost (H200, driver 580). IEEE 754 leaves NaN payloads through conversions to the
        # implementation; the NaN elements compare as "is NaN" there, every other element bit for bit.
        def f16nan(v): return (v.astype(np.uint16) & 0x7FFF) > 0x7C00
        nan = f16nan(bits)
        assert (f16nan(gb) == nan).all(), f"bitcast {src} -> {dst} {what}: NaN positions differ"
        gb, bits = gb[~nan], bits[~nan]
      np.testing.assert_array_equal(gb, bits, err_msg=f"bitcast {src} -> {dst} {what}")

# ---------------- beyond 2**24 elements; NOOPT=1 and DEBUG=4 ----------------

@pytest.mark.skipif(bool(unsupported_reason(["int64"])), reason=unsupported_reason(["int64"]) or "")
def test_beyond_2_24_elements():
  """Index math and accumulation past float32's exact integers: a flipped uint8 view, an int32 sum and a cast."""
  n = (1 << 24) + 5
  if (c := tgc.Device[TEST_DEV].caps)["has_local"] and (gm := c["global_max"])[0] < n // 3:  # a GPU launch (CPU: gid is the thread)
    # n = 3 * 5592407 (a prime): tinygrad's get_grouped_dims splits a launch dimension only by its factors
    pytest.skip(f"{TEST_DEV}: {n} elements are 3 * 5592407 (prime), beyond its global_max {gm} whatever the local size")
  rng = np.random.default_rng(24)
  a = rng.integers(0, 256, n, dtype=np.uint8)
  b = rng.integers(0, 4, n).astype(np.int32)
  t = tensor(a, "uint8")
  outs = [t.flip(0) + 3, tensor(b, "int32").sum(), t.cast(dtypes.float16) * 2, t.shrink(((n - 7, n),)).cast(dtypes.int64)]
  outs[0].realize(*outs[1:])
  np.testing.assert_array_equal(outs[0].numpy(), a[::-1] + np.uint8(3))
  assert outs[1].item() == int(b.sum(dtype=np.int64))
  np.testing.assert_array_equal(outs[2].numpy(), a.astype(np.float16) * np.float16(2))
  np.testing.assert_array_equal(outs[3].numpy(), a[n - 7:].astype(np.int64))

NOOPT_SUBSET = ("add-float16 or add-bool or truediv-int8 or floordiv-int32 or mod-int64 or fmod-float32 or lshift-uint64 or "
                "rshift-int16 or pow-bfloat16 or maximum-float64 or minimum-uint64 or ge-float32 or exp-float16 or sin-float64 or "
                "sign-float32 or round-bfloat16 or bitwise_not-uint64 or sum-float16 or prod-int8 or min-uint64 or max-bfloat16 or "
                "mean-uint32 or any-float32 or test_where or test_cast or float32-int32 or bfloat16-int16")

@pytest.mark.skipif(os.environ.get("TGC_OPS_DTYPE_INNER") == "1", reason="already the NOOPT=1 run")
def test_noopt_and_debug4_subset():
  """A representative subset again in a fresh process with NOOPT=1 (no upcast/unroll: scalar code everywhere) and
  DEBUG=4 (every kernel's source printed): NOOPT and DEBUG are read from the environment by the engine."""
  env = {**os.environ, "NOOPT": "1", "DEBUG": "4", "TGC_OPS_DTYPE_INNER": "1"}
  r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", __file__, "-k", NOOPT_SUBSET],
                     capture_output=True, text=True, env=env, timeout=600, cwd=os.path.dirname(os.path.abspath(__file__)))
  tail = r.stdout[-3000:] + r.stderr[-3000:]
  assert r.returncode == 0, tail
  assert " passed" in r.stdout and "failed" not in r.stdout.splitlines()[-1], tail
  # the kernels' names: after "void" in the C-family dialects (CUDA: `void __launch_bounds__(n) r_...`), after "fn" in WGSL,
  # in the comment after #version in the glsl dialect
  src = (r.stdout + r.stderr).replace("\n// E_", "\nvoid E_").replace("\n// r_", "\nvoid r_")
  name_after = r"\b(void|fn)\b(?:[^\n(]|\(\d+\))*\b"  # CUDA's `void __launch_bounds__(4) E_4_4(`: the one parenthesis allowed
  assert re.search(name_after + "E_", src) and re.search(name_after + "r_", src), "DEBUG=4 printed no kernel source"
