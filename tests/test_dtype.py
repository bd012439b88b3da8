"""tgc's dtype module (core/src/dtype.c through core/tgc/dtype.py and the raw tg_dtype_* calls) against tinygrad 0.14.0's
dtype.py: the table, promotion over every pair and triple, least_upper_float, sum_acc_dtype, can_lossless_cast, names,
constant truncation over a battery of values, and every error path of the C calls."""
import math, random, struct, itertools, importlib.metadata
import pytest
from conftest import run_py

try: TINYGRAD = importlib.metadata.version("tinygrad")
except importlib.metadata.PackageNotFoundError: TINYGRAD = None
if TINYGRAD != "0.14.0": pytest.skip(f"tinygrad 0.14.0 is the reference (found {TINYGRAD}): pip install tinygrad==0.14.0", allow_module_level=True)

import tinygrad.dtype as T
from tgc import dtype as G
from tgc._ffi import ffi, lib, check, STATUS

TINY = list(T.dtypes.all) + [T.dtypes.weakint, T.dtypes.weakfloat]
def tg(d):
  """The tgc DType for a tinygrad DType, matched by tinygrad's own attribute name (repr "dtypes.float" -> dtypes.float)."""
  return getattr(G.dtypes, repr(d).removeprefix("dtypes."))
PAIRS = list(itertools.product(TINY, repeat=2))

def raw(fn, *args, out="tg_dtype *"):
  """Call a tg_dtype_* function; returns (status, out value)."""
  o = ffi.new(out)
  return getattr(lib(), fn)(*args, o), o[0]

# ---------------- the table ----------------

def test_every_dtype_present():
  assert len({tg(d) for d in TINY}) == len(TINY) == 19

@pytest.mark.parametrize("d", TINY, ids=repr)
def test_fields(d):
  g = tg(d)
  assert (g.priority, g.bitsize, g.name, g.fmt, g.itemsize) == (d.priority, d.bitsize, d.name, d.fmt, d.itemsize)
  assert repr(g) == repr(d)
  assert (T.dtypes.is_float(d), T.dtypes.is_int(d), T.dtypes.is_unsigned(d), T.dtypes.is_bool(d)) == \
         (G.dtypes.is_float(g), G.dtypes.is_int(g), G.dtypes.is_unsigned(g), G.dtypes.is_bool(g))
  assert type(g.min) is type(d.min) and type(g.max) is type(d.max) and (g.min, g.max) == (d.min, d.max)
  if G.dtypes.is_float(g) and g is not G.dtypes.weakfloat: assert G.dtypes.finfo(g) == T.dtypes.finfo(d)

@pytest.mark.parametrize("d", TINY, ids=repr)
def test_raw_info(d):
  (i := ffi.new("tg_dtype_info *")).struct_size = ffi.sizeof("tg_dtype_info")
  check(lib().tg_dtype_get_info(tg(d).value, i))
  assert getattr(T.dtypes, ffi.string(i.name).decode()) is d
  assert (ffi.string(i.c_name).decode(), i.priority, i.bitsize, i.itemsize) == (d.name, d.priority, d.bitsize, d.itemsize)
  assert (i.fmt.decode() if i.fmt != b"\0" else None) == d.fmt
  assert (i.is_float, i.is_int, i.is_unsigned, i.is_bool, i.is_weak) == (T.dtypes.is_float(d), T.dtypes.is_int(d), T.dtypes.is_unsigned(d),
                                                                          T.dtypes.is_bool(d), d in T.dtypes.weaks)
  assert (i.min, i.max) == (float(d.min), float(d.max))  # exact for all but 64-bit and weak maxima, which round like float()

def test_groups_and_dicts():
  for name in ("fp8_ocp", "fp8_fnuz", "fp8s", "floats", "int8s", "int16s", "int32s", "int64s", "uints", "sints", "ints", "weaks", "all"):
    assert [repr(x) for x in getattr(G.dtypes, name)] == [repr(x) for x in getattr(T.dtypes, name)], name
  assert list(G.DTYPES_DICT) == list(T.DTYPES_DICT) and all(tg(T.DTYPES_DICT[k]) is v for k, v in G.DTYPES_DICT.items())
  assert G.INVERSE_DTYPES_DICT == T.INVERSE_DTYPES_DICT
  assert tg(T.dtypes.default_float) is G.dtypes.default_float and tg(T.dtypes.default_int) is G.dtypes.default_int
  assert repr(G.dtypes.void) == "dtypes.void" and (G.dtypes.void.priority, G.dtypes.void.bitsize) == (T.dtypes.void.priority, T.dtypes.void.bitsize)

def test_ordering_and_from_py():
  assert [repr(x) for x in sorted(tg(d) for d in TINY)] == [repr(x) for x in sorted(TINY)]
  assert all((tg(a) < tg(b)) == (a < b) for a, b in PAIRS)
  for x in (True, 1, 1.0, [1, 2], [1, 2.0], [True, False], (1, True), [], [[1, 2], [3, 4.5]]):
    assert repr(G.dtypes.from_py(x)) == repr(T.dtypes.from_py(x)), x
  with pytest.raises(RuntimeError, match="Could not infer dtype"): G.dtypes.from_py("x")
  for d in TINY: assert tg(T.strong_dtype(d)) is G.strong_dtype(tg(d)) and tg(T.weak_dtype(d)) is G.weak_dtype(tg(d))

def test_pickle_keeps_identity():
  import pickle
  for d in TINY: assert pickle.loads(pickle.dumps(tg(d))) is tg(d)

# ---------------- promotion ----------------

def test_least_upper_pairs_and_triples():
  bad = [(ds, T.least_upper_dtype(*ds), G.least_upper_dtype(*map(tg, ds))) for n in (1, 2, 3) for ds in itertools.product(TINY, repeat=n)
         if tg(T.least_upper_dtype(*ds)) is not G.least_upper_dtype(*map(tg, ds))]
  assert not bad, bad[:10]

def test_raw_promote_uncached():
  for a, b in PAIRS:
    st, v = raw("tg_dtype_promote", ffi.new("tg_dtype[]", [tg(a).value, tg(b).value, tg(a).value]), 3)
    assert st == 0 and v == tg(T.least_upper_dtype(a, b)).value, (a, b)

def test_least_upper_float_sum_acc_lossless():
  for d in TINY:
    assert tg(T.least_upper_float(d)) is G.least_upper_float(tg(d)), d
    assert tg(T.sum_acc_dtype(d)) is G.sum_acc_dtype(tg(d)), d
  bad = [(a, b) for a, b in PAIRS if T.can_lossless_cast(a, b) != G.can_lossless_cast(tg(a), tg(b))]
  assert not bad, bad

ENV_CHECK = """
import os, itertools, tinygrad.dtype as T, tgc.dtype as G
ds = list(T.dtypes.all) + list(T.dtypes.weaks)
tg = lambda d: getattr(G.dtypes, repr(d)[7:])
assert repr(G.dtypes.default_float) == repr(T.dtypes.default_float) and repr(G.dtypes.default_int) == repr(T.dtypes.default_int)
for d in ds:
  assert tg(T.least_upper_float(d)) is G.least_upper_float(tg(d)), d
  assert tg(T.sum_acc_dtype(d)) is G.sum_acc_dtype(tg(d)), d
  assert repr(G.dtypes.from_py([1, 2.0])) == repr(T.dtypes.from_py([1, 2.0]))
print("ok", repr(G.dtypes.default_float), repr(G.sum_acc_dtype(G.dtypes.bfloat16)))
"""

@pytest.mark.parametrize("env", [{"DEFAULT_FLOAT": "HALF"}, {"DEFAULT_FLOAT": "bfloat16", "SUM_DTYPE": "float16"}, {"SUM_DTYPE": "float64"},
                                 {"SUM_DTYPE": "fp8e4m3", "DEFAULT_INT": "int64"}, {"SUM_DTYPE": "default_float", "DEFAULT_FLOAT": "float16"}],
                         ids=lambda e: ",".join(f"{k}={v}" for k, v in e.items()))
def test_env_defaults(env):
  r = run_py(ENV_CHECK, env=env)
  assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr

def test_env_bad_values():
  code = "import tgc.dtype as G\ntry: G.sum_acc_dtype(G.dtypes.half)\nexcept ValueError as e: print('E', e)\nprint(G.sum_acc_dtype(G.dtypes.int8))"
  r = run_py(code, env={"SUM_DTYPE": "nope"})
  assert r.returncode == 0 and "SUM_DTYPE='nope' is not a dtype name" in r.stdout and "dtypes.int" in r.stdout, r.stdout + r.stderr
  r = run_py("import tgc.dtype as G\ntry: G.least_upper_float(G.dtypes.int8)\nexcept ValueError as e: print('E', e)", env={"DEFAULT_FLOAT": "int32"})
  assert r.returncode == 0 and "DEFAULT_FLOAT='int32' is not a float dtype" in r.stdout, r.stdout + r.stderr
  # tinygrad refuses the same setting at import
  assert run_py("import tinygrad.dtype", env={"DEFAULT_FLOAT": "int32"}).returncode != 0

# ---------------- names ----------------

NAMES = [*T.DTYPES_DICT, "weakint", "weakfloat", "default_float", "default_int", "void"]

@pytest.mark.parametrize("name", NAMES + [n.upper() for n in NAMES] + ["Float32", "bFlOaT16", "HALF"])
def test_to_dtype(name):
  assert repr(G.to_dtype(name)) == repr(T.to_dtype(name))
  assert G.to_dtype(G.to_dtype(name)) is G.to_dtype(name)

@pytest.mark.parametrize("bad", ["nope", "", "float33", "floats", "float32 ", "x" * 100, 5])
def test_to_dtype_bad(bad):
  if bad != "floats":  # tinygrad's getattr returns the dtypes.floats tuple there; a dtype it is not
    with pytest.raises(AttributeError) as te: T.to_dtype(bad)
  with pytest.raises(AttributeError) as ge: G.to_dtype(bad)
  if bad != "floats": assert str(ge.value) == str(te.value)

def test_raw_from_name():
  for name in T.DTYPES_DICT: assert raw("tg_dtype_from_name", name.encode()) == (0, tg(T.DTYPES_DICT[name]).value)
  st, _ = raw("tg_dtype_from_name", b"void")  # void is internal to the engine: not a tg_dtype
  assert st == STATUS["TG_ERR_INVALID_ARGUMENT"]

# ---------------- truncate ----------------

def bits(x: float) -> int: return struct.unpack("<Q", struct.pack("<d", x))[0]
def same(a: float, b: float) -> bool:
  """Equal as values, with -0.0 != 0.0 and any nan == nan of the same sign."""
  if math.isnan(a) or math.isnan(b): return math.isnan(a) and math.isnan(b) and math.copysign(1, a) == math.copysign(1, b)
  return bits(float(a)) == bits(float(b))

def representable(d) -> list[float]:
  """Every fp8 value; for the wider floats, adjacent pairs at a stride of bit patterns (so their midpoints are true ties)."""
  if d in T.dtypes.fp8s: return [T.fp8_to_float(b, d) for b in range(256)]
  pats = [b + k for b in range(0, 0x8000, 37) for k in (0, 1)]
  if d == T.dtypes.float16: return [struct.unpack("<e", struct.pack("<H", b))[0] for b in pats]
  if d == T.dtypes.bfloat16: return [T.from_storage_scalar(b, d) for b in pats]
  if d == T.dtypes.float32: return [struct.unpack("<f", struct.pack("<I", b + k))[0] for b in range(0, 0x7f800000, 0x7f800000 // 3000)
                                    for k in (0, 1)]
  return []

def battery(d) -> list[float]:
  rng = random.Random(1234)
  vals = [0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
          65504.0, 65519.99, 65520.0, 65536.0, 1e5, 3.4028234663852886e38, 3.4028235677973366e38, 3.5e38, 1e300, 448.0, 464.0, 57344.0, 61440.0,
          240.0, 248.0, 0.5, 1.5, 2.5, -2.5, 1 / 3, 0.1, 123456.789]
  vals += [s * rng.gauss(0, 1) * 10.0 ** e for e in (-40, -10, -6, -3, -1, 0, 1, 2, 3, 5, 10, 40) for s in (1,) for _ in range(40)]
  for k in range(-160, 161):
    p = 2.0 ** k
    vals += [p, -p, p * (1 + 2 ** -8), p * (1 - 2 ** -9), p * (1 + 2 ** -11), p * 1.5, -p * 1.75]
  rep = [v for v in representable(d) if math.isfinite(v)]
  fin = sorted(set(rep))
  mids = [(a + b) / 2 for a, b in itertools.pairwise(fin)]
  vals += rep + mids + [math.nextafter(m, math.inf) for m in mids] + [math.nextafter(m, -math.inf) for m in mids]
  if fin: vals += [fin[-1] * f for f in (1.01, 1.0625, 1.124, 1.125, 1.126, 1.25, 2, 1e10)] + [fin[0] * f for f in (1.01, 1.125, 1.126, 2)]
  return vals + [-v for v in vals]

FLOATS = list(T.dtypes.floats)

@pytest.mark.parametrize("d", FLOATS + [T.dtypes.bool], ids=repr)
def test_truncate_floats_and_bool(d):
  f, ref = G.truncate[tg(d)], T.truncate[d]
  bad = [(x, ref(x), f(x)) for x in battery(d) if not (same(f(x), ref(x)) and type(f(x)) is type(ref(x)))]
  assert not bad, f"{len(bad)} mismatches, first: {bad[:8]}"

@pytest.mark.parametrize("d", list(T.dtypes.ints), ids=repr)
def test_truncate_ints_raw_c(d):
  """tg_dtype_truncate on ints: trunc toward zero, then C wrap-around; the result is a double, so compared with float(tinygrad's int)."""
  bad = []
  for x in battery(T.dtypes.float32):
    if not math.isfinite(x): continue
    st, v = raw("tg_dtype_truncate", tg(d).value, x, out="double *")
    if st != 0 or v != float(T.truncate[d](int(x))): bad.append((x, T.truncate[d](int(x)), v))
  assert not bad, f"{len(bad)} mismatches, first: {bad[:8]}"
  ints = [0, 1, -1, 127, 128, -129, 255, 256, 2**15, 2**31 - 1, 2**31, -2**31 - 1, 2**32 + 5, 2**63 - 1, 2**63, -2**63 - 1, 2**64 + 3, 2**70 + 1]
  assert all(G.truncate[tg(d)](x) == T.truncate[d](x) for x in ints)

def test_truncate_keys_and_const():
  assert sorted(map(repr, G.truncate)) == sorted(map(repr, T.truncate))
  for d in TINY:
    for v in (1.7, -2.5, 300, True, 0.0, -0.0, 1e6):
      assert same(float(tg(d).const(v)), float(d.const(v))) and type(tg(d).const(v)) in (type(d.const(v)), float), (d, v)

def test_raw_truncate_weak():
  assert raw("tg_dtype_truncate", G.dtypes.weakint.value, -2.7, out="double *") == (0, -2.0)
  assert raw("tg_dtype_truncate", G.dtypes.weakfloat.value, 0.1, out="double *") == (0, 0.1)

# ---------------- errors: every C entry point, every bad argument ----------------

INV, NUL = STATUS["TG_ERR_INVALID_ARGUMENT"], STATUS["TG_ERR_NULL_POINTER"]
def msg() -> str: return ffi.string(lib().tg_last_error()).decode()

@pytest.mark.parametrize("bad", [17, 30, 31, 34, 35, 99, 1 << 20, 2**31 - 1])
def test_unknown_dtype_values(bad):
  (i := ffi.new("tg_dtype_info *")).struct_size = ffi.sizeof("tg_dtype_info")
  calls = [("tg_dtype_get_info", (bad, i)), ("tg_dtype_least_upper_float", (bad, ffi.new("tg_dtype *"))),
           ("tg_dtype_sum_acc", (bad, ffi.new("tg_dtype *"))),
           ("tg_dtype_can_lossless_cast", (bad, 11, ffi.new("int *"))), ("tg_dtype_can_lossless_cast", (11, bad, ffi.new("int *"))),
           ("tg_dtype_truncate", (bad, 1.0, ffi.new("double *")))]
  for fn, args in calls:
    assert getattr(lib(), fn)(*args) == INV and fn in msg() and f"unknown dtype {bad}" in msg(), (fn, msg())
  o = ffi.new("tg_dtype *", 7)
  assert lib().tg_dtype_promote(ffi.new("tg_dtype[]", [11, 5, bad]), 3, o) == INV and f"unknown dtype {bad} at index 2" in msg()
  assert o[0] == 7, "out-parameter written on failure"

def test_null_and_empty():
  for fn, args in [("tg_dtype_get_info", (11, ffi.NULL)), ("tg_dtype_from_name", (ffi.NULL, ffi.new("tg_dtype *"))),
                   ("tg_dtype_from_name", (b"float", ffi.NULL)), ("tg_dtype_promote", (ffi.NULL, 2, ffi.new("tg_dtype *"))),
                   ("tg_dtype_promote", (ffi.new("tg_dtype[]", [1]), 1, ffi.NULL)), ("tg_dtype_least_upper_float", (11, ffi.NULL)),
                   ("tg_dtype_sum_acc", (11, ffi.NULL)), ("tg_dtype_can_lossless_cast", (11, 11, ffi.NULL)),
                   ("tg_dtype_truncate", (11, 1.0, ffi.NULL))]:
    assert getattr(lib(), fn)(*args) == NUL and fn in msg() and "NULL" in msg(), (fn, msg())
  assert lib().tg_dtype_promote(ffi.new("tg_dtype[]", [1]), 0, ffi.new("tg_dtype *")) == INV and "n is 0" in msg()
  with pytest.raises(TypeError): G.least_upper_dtype()

def test_bad_name_and_struct_size():
  o = ffi.new("tg_dtype *", 3)
  assert lib().tg_dtype_from_name(b"floaty", o) == INV and "'floaty'" in msg() and o[0] == 3
  i = ffi.new("tg_dtype_info *")
  for size in (0, 8, ffi.offsetof("tg_dtype_info", "max")):
    i.struct_size = size
    assert lib().tg_dtype_get_info(11, i) == INV and f"struct_size {size}" in msg()
  i.struct_size = ffi.sizeof("tg_dtype_info") + 64  # a newer caller: filled up to what this library knows
  assert lib().tg_dtype_get_info(11, i) == 0 and i.struct_size == ffi.sizeof("tg_dtype_info")

@pytest.mark.parametrize("d", list(T.dtypes.ints), ids=repr)
def test_truncate_int_non_finite(d):
  for x in (math.nan, math.inf, -math.inf):
    o = ffi.new("double *", 42.0)
    assert lib().tg_dtype_truncate(tg(d).value, x, o) == INV and "cannot convert" in msg() and o[0] == 42.0
    with pytest.raises((ValueError, OverflowError)): int(x)  # what tinygrad's DType.const does with it
