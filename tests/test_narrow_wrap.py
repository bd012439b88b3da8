"""Narrow-int ALU results that leave their dtype's range, widened in the same kernel, against numpy.

C promotes char and short operands to int: an int8/uint8/int16/uint16 ADD, SUB, MUL, SHL, neg (MUL by -1) or signed
CDIV printed inline (`(val0+val1)`) and then CAST to a wider type, or compared, kept bits its dtype does not have
(uint8 200+100 widened to 300, not 44). tinygrad 0.14.0's ClangRenderer and CUDARenderer print the same code; tgc's
C-family printer casts such an inlined value back to its dtype (core/src/renderer/cstyle.c, wraps_inline). WGSL keeps these
dtypes in i32/u32 registers: a compare or >> reads its operand wrapped (core/src/renderer/wgsl.c, operand). Both the
heuristic opts (lengths >= 8: UPCAST gives vector ALUs in the "c" dialect) and NOOPT=1 (scalar code) run."""
import warnings
import numpy as np
import pytest
import tgc
from tgc import Tensor
from conftest import TEST_DEV, unsupported_reason

NARROW = ["int8", "uint8", "int16", "uint16"]
OPS = {  # name: (tgc, numpy); numpy computes in the narrow dtype and wraps, as the dtype does
  "add": lambda a, b: a + b,
  "sub": lambda a, b: a - b,
  "mul": lambda a, b: a * b,
  "shl": lambda a, b: a << 3,
  "neg": lambda a, b: -a,
  "add3": lambda a, b: a + b + a,
  "mul_sub": lambda a, b: a * b - b,
}
WIDEN = {  # name: (tgc, numpy) of the narrow result r
  "int32": (lambda r: r.cast(tgc.dtypes.int32), lambda r: r.astype(np.int32)),
  "float32": (lambda r: r.cast(tgc.dtypes.float32), lambda r: r.astype(np.float32)),
  "lt": (lambda r: r < 50, lambda r: r < 50),
  "shr": (lambda r: (r >> 1).cast(tgc.dtypes.int32), lambda r: (r >> 1).astype(np.int32)),  # WGSL's registers: a >> reads the bits
}

def inputs(name: str, n: int):
  info = np.iinfo(name)
  rng = np.random.default_rng(n * 31 + info.bits + (info.min < 0))
  edges = np.array([info.max, info.min, info.max // 2 + 1, 200 % (info.max + 1), -1 if info.min else 255], dtype=np.int64)
  a = np.resize(np.concatenate([edges, rng.integers(info.min, info.max + 1, n)]), n).astype(name)
  b = np.resize(np.concatenate([edges[::-1], rng.integers(info.min, info.max + 1, n)]), n).astype(name)
  return a, b

def check(name: str, op: str, widen: str, n: int):
  if TEST_DEV != "CPU" and unsupported_reason([name]): pytest.skip(unsupported_reason([name]))
  if op == "neg" and widen == "lt" and name.startswith("u"): return  # tinygrad 0.14.0 (the spec) folds uint -a < 50 to True
  a, b = inputs(name, n)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    want = WIDEN[widen][1](OPS[op](a, b))
  got = WIDEN[widen][0](OPS[op](Tensor(a), Tensor(b))).numpy()
  try: np.testing.assert_array_equal(got, want, err_msg=f"{op} {name} -> {widen}, n={n}: a={a.tolist()} b={b.tolist()}")
  except AssertionError:
    # seen on the H200 (NVRTC 13.0, 2026-11-30): for a short x, `((int)(((short)-x)))` comes out as -x, so -(-32768) widens
    # to 32768; the printed CUDA C does wrap (and int8's `(signed char)-x` is kept): the compiler folds int16's away
    if TEST_DEV.split(":")[0] == "CUDA" and name == "int16" and op == "neg":
      pytest.xfail("NVRTC folds the int16 wrap of a negation: -(-32768) widened gives 32768 (the printed C wraps it)")
    raise

@pytest.mark.parametrize("n", [2, 16], ids=["scalar", "vector"])
@pytest.mark.parametrize("widen", list(WIDEN))
@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("name", NARROW)
def test_narrow_result_wraps_before_widening(name, op, widen, n): check(name, op, widen, n)

@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("name", NARROW)
def test_narrow_result_wraps_noopt(name, op, monkeypatch):
  monkeypatch.setenv("NOOPT", "1")   # read by the engine at each codegen; other lengths, so no kernel of the opt run is reused
  for widen in WIDEN: check(name, op, widen, 11)

@pytest.mark.parametrize("name", ["int8", "int16"])
def test_signed_min_div_minus_one_wraps(name):
  info = np.iinfo(name)
  a, b = np.array([info.min, 7, -7, info.min], name), np.array([-1, 2, 2, 1], name)
  got = (Tensor(a) // Tensor(b)).cast(tgc.dtypes.int32).numpy()
  np.testing.assert_array_equal(got, np.array([info.min, 3, -4, info.min], np.int32))
