"""Every elementwise op, reduction, cast and bitcast tgc.Tensor exposes, over every dtype in the op's domain, against numpy
(issue 3, item 3): contiguous and non-contiguous inputs (permuted, flipped, shrunk, expanded views of realized buffers),
broadcasting, size-1 and size-0 dims, NaN/+-Inf/-0.0, and >2**24 elements; the heuristic opts and NOOPT=1 both run.

References: expected values are computed by numpy at test time. Where tinygrad 0.14.0 (the spec) defines an op
differently from numpy's function of the same name, the reference is numpy evaluating tinygrad's definition (sign(nan)
is 1, relu(nan) is 0, x >= nan is True, maximum is `a < b ? b : a`, float mod is a - floor(a * (1/b)) * b, ...); each such
place says so. Output dtypes are always tinygrad's, read from the same expression built lazily with tinygrad (nothing of
tinygrad is realized). bfloat16, which numpy lacks, is carried as float32 holding bfloat16 values and rounded to
nearest-even after every step, as the engine computes it (in float, then rounded)."""
import os, subprocess, sys, zlib
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
tinygrad = pytest.importorskip("tinygrad", reason="tinygrad==0.14.0 (the reference for output dtypes) is in the test extra")
import tgc
from tgc import Tensor, dtypes

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
    if profile == "prod": return rng.integers(0 if name in UINTS else -2, 3, shape).astype(name)
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
      check(got, want, out_name(tg_out), kind if out_name(tg_out) in FLOATS else "exact", f"{op} {name} {what}")
