"""Edge-case ALU results of one device against tgc's CPU device (the tensor tests' reference semantics), side by side.

  DEV=WEBGPU python3 scripts/gpu/diag_ops.py        # DEBUG=4 adds each kernel's source

For diagnosing a driver/compiler that disagrees with the CPU on the integer division, NaN and 16-bit cases the tensor tests
flagged. Prints one line per case (ok/BAD, bit-exact comparison); asserts nothing."""
import numpy as np
from tgc import Tensor, dtypes, Device

DEV = Device.DEFAULT
nan, inf = float("nan"), float("inf")

def case(name, fn, *arrays, dtype=None):
  try:
    got = fn(*[Tensor(a, dtype=dtype, device=DEV) for a in arrays]).numpy()
    want = fn(*[Tensor(a, dtype=dtype, device="CPU") for a in arrays]).numpy()
  except Exception as e:
    print(f"ERR {name}: {type(e).__name__}: {e}", flush=True); return
  same = got.shape == want.shape and got.dtype == want.dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8))
  print(f"{'ok ' if same else 'BAD'} {name:30s} got ={got.tolist()}", flush=True)
  if not same: print(f"{'':34s} want={want.tolist()}", flush=True)

print("device:", DEV, flush=True)
for dt, npdt in [(dtypes.int8, np.int8), (dtypes.int16, np.int16), (dtypes.int32, np.int32), (dtypes.int64, np.int64)]:
  i = np.iinfo(npdt)
  a = np.array([-7, -7, 7, 7, -8, 9, -1, 0, 5, i.min, i.max, -6, 6, i.min, -100], dtype=npdt)
  b = np.array([2, -2, 2, -2, 3, -4, 5, 3, -1, 3, -3, 3, -3, 7, 7], dtype=npdt)
  case(f"{dt.name} //", lambda x, y: x // y, a, b, dtype=dt)
  case(f"{dt.name} %", lambda x, y: x % y, a, b, dtype=dt)
  case(f"{dt.name} fmod", lambda x, y: x.fmod(y), a, b, dtype=dt)
  case(f"{dt.name} trunc div", lambda x, y: x.div(y, rounding_mode="trunc"), a, b, dtype=dt)
  case(f"{dt.name} max/min", lambda x, y: x.maximum(y) * 2 + x.minimum(y), a, b, dtype=dt)
for dt, npdt in [(dtypes.uint8, np.uint8), (dtypes.uint16, np.uint16), (dtypes.uint32, np.uint32)]:
  a = np.array([7, 200, 255, 0, 100, 13], dtype=npdt); b = np.array([2, 3, 7, 5, 255, 1], dtype=npdt)
  case(f"{dt.name} // %", lambda x, y: (x // y) * 3 + (x % y), a, b, dtype=dt)
for dt, npdt in [(dtypes.float32, np.float32), (dtypes.float16, np.float16), (dtypes.bfloat16, np.float32)]:
  big = 60000.0 if npdt == np.float16 else 1e30
  a = np.array([nan, 1.0, nan, -inf, 2.0, -0.0, 0.0], dtype=npdt); b = np.array([1.0, nan, nan, 3.0, inf, 0.0, -0.0], dtype=npdt)
  case(f"{dt.name} maximum", lambda x, y: x.maximum(y), a, b, dtype=dt)
  case(f"{dt.name} minimum", lambda x, y: x.minimum(y), a, b, dtype=dt)
  case(f"{dt.name} max reduce", lambda x: x.reshape(1, -1).max(axis=1), np.array([1.0, nan, 3.0], dtype=npdt), dtype=dt)
  r = np.array([3.0, 7.0, 0.1, 1e-3, big, 3e-5, 0.0, -0.0, inf, 1.7, 9.3], dtype=npdt)
  case(f"{dt.name} reciprocal", lambda x: x.reciprocal(), r, dtype=dt)
  case(f"{dt.name} 1/x", lambda x: 1 / x, r, dtype=dt)
  case(f"{dt.name} sqrt", lambda x: x.sqrt(), r, dtype=dt)
  case(f"{dt.name} exp2/log2", lambda x: x.exp2() + x.log2(), np.array([0.5, 3.0, 10.0, -3.0], dtype=npdt), dtype=dt)
  s = np.array([0.5, 3.14159, 100.0, 1000.0, 30000.0, -2.0, big, 1e-3], dtype=npdt)
  case(f"{dt.name} sin", lambda x: x.sin(), s, dtype=dt)
  p = np.array([-3.0, -2.0, -5.0, -10.0, -300.0, 2.0, -1.5, -7.0], dtype=npdt); e = np.array([7.0, 8.0, 31.0, 15.0, 3.0, 0.5, 2.0, 5.0], dtype=npdt)
  case(f"{dt.name} pow", lambda x, y: x.pow(y), p, e, dtype=dt)
  m = np.array([5.5, -5.5, 6.0, -7.25, big, 0.3, 7.0, -100.0], dtype=npdt); d = np.array([2.75, 2.75, 1.5, 2.0, 3.0, 0.1, 3.5, 10.0], dtype=npdt)
  case(f"{dt.name} fmod", lambda x, y: x.fmod(y), m, d, dtype=dt)
  case(f"{dt.name} %", lambda x, y: x % y, m, d, dtype=dt)
  case(f"{dt.name} //", lambda x, y: x // y, m, d, dtype=dt)
  ub = {2: dtypes.uint16, 4: dtypes.uint32}[dt.itemsize]
  case(f"{dt.name} nan/inf bits", lambda x: x.bitcast(ub), np.array([nan, -nan, inf, -inf], dtype=npdt), dtype=dt)
  case(f"float32 nan -> {dt.name} bits", lambda x: x.cast(dt).bitcast(ub), np.array([nan, -nan, inf, 1.0], dtype=np.float32), dtype=dtypes.float32)
