"""Tier "numerics": every ALU op x every dtype, through tgc.Tensor on the backend's device and on the built-in CPU device,
compared value by value under a versioned per-op tolerance table (suite/engine.py).

One graph per dtype holds every op of that dtype (inputs: views into one buffer of the dtype; each result bitcast to the
integer of its width, so NaN, infinities and -0.0 come back as bits), so a dtype costs one kernel per device. Every
result is written, through `assign`, into the middle of a buffer filled with a sentinel: the sentinels on both sides are
the guard bytes, checked after the run. Cases:

  alu[OP-DTYPE]    the op on inputs chosen per op and dtype (special values, extremes, random values; never C's undefined
                   behaviour: no signed overflow, no shift past the width, no division by zero or INT_MIN / -1).
                   NOT_SUPPORTED when the caps do not declare the dtype. An op the caps do not declare is lowered by the
                   engine into declared ones (as tinygrad does) and checked all the same; NOT_SUPPORTED only if the engine
                   cannot lower it. THREEFRY is checked as Tensor.rand with one seed on both devices.
  storage[DTYPE]   bytes in, a reversing copy kernel, bytes out: bit for bit (the fp8s included, where declared)
  shapes[SHAPE]    tiny, odd, large, broadcast, strided (views in, a strided view out), size0: elementwise ops,
                   reductions and matmul in float32 and int32
  special[DTYPE]   NaN, +-Inf, -0.0, the largest finite and the smallest normal value in and out of every float op
  tolerance_table  the table covers every op and dtype, and its version is reported"""
from __future__ import annotations
import math, random
import pytest
from tgc_sdk.suite.abi import ALU_OPS, DTYPES
from tgc_sdk.suite.probes import OPS, DTS
from tgc_sdk.suite import engine as E
from tgc_sdk.suite.plugin import not_supported, not_run

N = 97            # elements per op and dtype
GUARD = 64        # guard elements on each side of every output
SHAPES = ["tiny", "odd", "large", "broadcast", "strided", "size0"]
ALU_CASES = [(op, dt) for op in ALU_OPS.values() for dt in OPS[op].domain]
STORAGE = list(DTYPES.values())
FLOATS = list(E.FLOAT_DTYPES)

# ---------------- the devices ----------------

class _Broken:
  def __init__(self, why: str): self.why = why

@pytest.fixture(scope="module")
def sut(target):
  if not target.library: pytest.fail("no backend library given (--tgc-library)")
  try: return E.open_sut(target.library)
  except Exception as e: return _Broken(f"{type(e).__name__}: {e}")

@pytest.fixture
def dev(sut, detail) -> E.SUT:
  if isinstance(sut, _Broken): pytest.fail(f"libtgc cannot run the backend's device: {sut.why}")
  for k, v in sut.detail().items(): detail(k, v)
  if sut.no_device: not_run(sut.no_device)
  if sut.no_renderer: not_run(sut.no_renderer)
  return sut

def need_dtype(dev: E.SUT, dt: str) -> None:
  if dt not in dev.caps["dtypes"]: not_supported(f"the caps do not declare {dt}")

# ---------------- running one graph on both devices ----------------

def _tensor(dt: str, values: list, device: str, raw: bytes | None = None):
  """values of dt (or their bytes) on device: copied in as the unsigned integers of dt's width, then bitcast (cast for bool)."""
  from tgc import Tensor
  raw = E._pack(DTS[dt], values) if raw is None else raw
  u = f"uint{E.WIDTH[dt]}"
  t = Tensor(raw, device=device, dtype=u)
  return t.cast(dt) if dt == "bool" else t if dt == u else t.bitcast(dt)

def dname(t) -> str:
  """The tensor's dtype as the suite names it (tg.h's enum: float16, not tinygrad's "half")."""
  from tgc.device import DTYPE_NAMES
  return DTYPE_NAMES[t.dtype.value]

def guarded(t, bits_dt: str):
  """t (any shape) written into the middle of a sentinel-filled buffer of bits_dt: returns (buffer, n)."""
  from tgc import Tensor
  n = math.prod(t.shape)
  flat = t.reshape(n)
  if (dt := dname(t)) == "bool": flat = flat.cast(bits_dt)
  elif dt != bits_dt and E.WIDTH[dt] == E.WIDTH[bits_dt]: flat = flat.bitcast(bits_dt)
  elif dt != bits_dt: raise TypeError(f"{dt} is not read through {bits_dt}")
  buf = Tensor.full((2 * GUARD + n,), _sentinel(bits_dt), dtype=bits_dt, device=t.device).contiguous().realize()
  buf[GUARD:GUARD + n].assign(flat)
  return buf, n

def _sentinel(bits_dt: str) -> int:
  w = E.WIDTH[bits_dt]
  u = int.from_bytes(b"\x5a" * (w // 8), "little")
  return u - (1 << w) if bits_dt.startswith("int") else u

def read(buf, n: int, bits_dt: str) -> tuple[list[int], list[int]]:
  """(the n result bit patterns, the indices of guard elements that changed)."""
  mask = (1 << E.WIDTH[bits_dt]) - 1
  vals = [v & mask for v in buf.data().tolist()]
  sent = _sentinel(bits_dt) & mask
  bad = [i - GUARD if i < GUARD else i - GUARD - n for i in [*range(GUARD), *range(GUARD + n, 2 * GUARD + n)] if vals[i] != sent]
  return vals[GUARD:GUARD + n], bad

def run_both(dev: E.SUT, build) -> tuple[dict, dict]:
  """build(device) -> {key: (tensor, bits dtype)}; realized on the device under test and on CPU; returns
  ({key: (bits, guard damage)}, same for CPU)."""
  from tgc import Tensor
  out = []
  for d in (dev.device, E.REFERENCE):
    res = {k: (*guarded(t, bd), bd) for k, (t, bd) in build(d).items()}
    bufs = [b for b, _, _ in res.values()]
    if bufs: Tensor.realize(*bufs)
    out.append({k: read(b, n, bd) for k, (b, n, bd) in res.items()})
  return out[0], out[1]

def compare(what: str, dt: str, tol: E.Tol, got: list[int], want: list[int], inputs=None) -> list[str]:
  errs = []
  for i, (g, w) in enumerate(zip(got, want)):
    if (why := E.mismatch(dt, g, w, tol, tuple(x[i] for x in inputs) if inputs else None)) is not None:
      at = f" at inputs {tuple(x[i] for x in inputs)!r}" if inputs else ""
      errs.append(f"{what}[{i}]{at}: {why}")
  if len(got) != len(want): errs.append(f"{what}: {len(got)} elements, CPU has {len(want)}")
  return errs

def verdict(errs: list[str], detail) -> None:
  detail("mismatches", len(errs))
  if errs: pytest.fail(f"{len(errs)} mismatch(es) against the CPU device:\n" + "\n".join(errs[:12]) + ("\n..." if len(errs) > 12 else ""))

# ---------------- inputs per op and dtype ----------------

NAN, INF = math.nan, math.inf
SPEC = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.5]
EXP_RANGE = {"float16": 6, "bfloat16": 30, "float32": 30, "float64": 60}
EXP2_RANGE = {"float16": 12, "bfloat16": 100, "float32": 100, "float64": 900}

def _mag(rng: random.Random, k: int, signed: bool = True) -> float:
  return (rng.choice((-1.0, 1.0)) if signed else 1.0) * 2.0 ** rng.uniform(-k, k)

def _fill(vals: list, rng: random.Random, gen) -> list:
  return (vals + [gen() for _ in range(N - len(vals))])[:N]

def float_inputs(op: str, dt: str, rng: random.Random) -> tuple[list, list, list]:
  k = EXP_RANGE[dt]
  m = lambda: _mag(rng, k)
  c = [float(rng.random() < 0.5) for _ in range(N)]
  if op in ("ADD", "SUB", "MUL", "FDIV", "MAX", "CMPLT", "CMPNE", "CMPEQ", "WHERE", "MULACC"):
    pairs = [(x, y) for x in SPEC for y in SPEC] + [(v, v) for v in (m() for _ in range(6))]
    pairs += [(m(), m()) for _ in range(N - len(pairs))]
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    if op == "MULACC": c = _fill([0.0, -0.0, 1.0, INF, NAN], rng, m)
    return a, b, c
  if op == "POW":
    pairs = [(0.0, 0.0), (2.0, 0.5), (-2.0, 2.0), (-2.0, 3.0), (0.0, 2.0), (4.0, -0.5), (1.0, 7.0), (10.0, 3.0)]
    pairs += [(2.0 ** rng.uniform(-4, 4), rng.uniform(-6, 6)) for _ in range(N - len(pairs))]
    return [p[0] for p in pairs], [p[1] for p in pairs], c
  gen = {"EXP2": lambda: rng.uniform(-EXP2_RANGE[dt], EXP2_RANGE[dt]), "LOG2": lambda: _mag(rng, k, signed=rng.random() < 0.1),
         "SIN": lambda: rng.uniform(-20.0, 20.0), "SQRT": lambda: _mag(rng, k, signed=rng.random() < 0.1),
         "TRUNC": lambda: rng.uniform(-1000.0, 1000.0) if rng.random() < 0.7 else m()}.get(op, m)
  return _fill(list(SPEC) + [0.5, -0.5, 2.0], rng, gen), [0.0] * N, c

def int_inputs(op: str, dt: str, rng: random.Random) -> tuple[list, list, list]:
  w, signed = DTS[dt].bits, DTS[dt].kind == "int"
  lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)
  def between(l: int, h: int, extremes: bool = True) -> list:
    """N values in [l, h]: the ends and small values first, then random ones of every magnitude."""
    first = [v for v in ((l, h, 0, 1, -1, 2, l + 1, h - 1) if extremes else ()) if l <= v <= h]
    def one():
      span = rng.randint(0, max(1, (h - l).bit_length()))
      v = rng.randint(0, (1 << span) - 1) * (rng.choice((-1, 1)) if l < 0 else 1)
      return min(max(v, l), h)
    return _fill(first, rng, one)
  c = [rng.randint(0, 1) for _ in range(N)]
  if op in ("ADD", "SUB"): r = (-(1 << (w - 2)), (1 << (w - 2)) - 1) if signed else (lo, hi)
  elif op in ("MUL", "MULACC"): r = (-(1 << (w // 2 - 1)) + 1, (1 << (w // 2 - 1)) - 1) if signed else (0, (1 << 15) - 1) if w == 16 else (lo, hi)
  elif op == "NEG": r = (lo + 1, hi)
  elif op in ("SHL", "SHR"):
    b = [rng.randint(0, w - 2 if signed and op == "SHL" else w - 1) for _ in range(N)]
    if op == "SHL" and signed: a = [rng.randint(0, (1 << (w - 2 - s)) - 1) for s in b]
    else: a = between(0, hi)
    return a, b, c
  elif op in ("CDIV", "CMOD", "FLOORDIV", "FLOORMOD"):
    a = between(lo + 1 if signed else lo, hi)
    b = [v if v != 0 else rng.choice((1, -1) if signed else (1,)) for v in between(lo + 1 if signed else lo, hi)]
    return a, b, c
  else: r = (lo, hi)
  a, b = between(*r), between(*r)
  rng.shuffle(b)
  if op == "MULACC": return a, b, between(*r)
  return a, b, c

def inputs(op: str, dt: str) -> tuple[list, list, list]:
  rng = random.Random(f"{op}-{dt}")
  if dt == "bool": return tuple([rng.random() < 0.5 for _ in range(N)] for _ in range(3))
  return float_inputs(op, dt, rng) if dt in FLOATS else int_inputs(op, dt, rng)

def expr(op: str, a, b, c):
  """The Tensor expression that computes op (the engine emits the op where the caps declare it, and lowers it otherwise)."""
  from tgc import dtypes
  return {"EXP2": lambda: a.exp2(), "LOG2": lambda: a.log2(), "SIN": lambda: a.sin(), "SQRT": lambda: a.sqrt(),
          "RECIPROCAL": lambda: a.reciprocal(), "NEG": lambda: -a, "TRUNC": lambda: a.trunc(), "ADD": lambda: a + b, "MUL": lambda: a * b,
          "SHL": lambda: a << b, "SHR": lambda: a >> b, "CDIV": lambda: a.div(b, rounding_mode="trunc"), "MAX": lambda: a.maximum(b),
          "CMOD": lambda: a.fmod(b), "CMPLT": lambda: a < b, "CMPNE": lambda: a != b, "CMPEQ": lambda: a == b, "XOR": lambda: a ^ b,
          "OR": lambda: a | b, "AND": lambda: a & b, "SUB": lambda: a - b, "FDIV": lambda: a / b, "POW": lambda: a.pow(b),
          "FLOORDIV": lambda: a // b, "FLOORMOD": lambda: a % b, "WHERE": lambda: c.cast(dtypes.bool).where(a, b),
          "MULACC": lambda: a * b + c}[op]()

# ---------------- alu: one graph per dtype ----------------

_batches: dict[str, dict] = {}

def _bits_for(dev: E.SUT, dt: str) -> tuple[str, str]:
  """(bits dtype of dt's results, bits dtype of bool results)"""
  declared = dev.caps["dtypes"]
  wide, narrow = E.bits_dtype(E.WIDTH[dt], declared), E.bits_dtype(8, declared) or E.bits_dtype(32, declared)
  if wide is None: not_supported(f"{dt} results are read through uint{E.WIDTH[dt]} or int{E.WIDTH[dt]}, and the caps declare neither")
  return wide, narrow

def alu_graph(ops: list[str], dt: str, wide: str, narrow: str):
  ins = {op: inputs(op, dt) for op in ops}
  def build(device: str) -> dict:
    flat = [v for op in ops for x in ins[op] for v in x]
    x = _tensor(dt, flat, device).reshape(len(ops), 3, N)
    outs = {op: expr(op, x[i, 0], x[i, 1], x[i, 2]) for i, op in enumerate(ops)}
    groups: dict[str, list[str]] = {}
    for op in ops: groups.setdefault("bool" if dname(outs[op]) == "bool" else dt, []).append(op)
    from tgc import Tensor
    res = {}
    for g, gops in groups.items():
      bd = narrow if g == "bool" else wide
      parts = [outs[op].cast(bd) if "bool" in (g, dt) else outs[op] if dt == bd else outs[op].bitcast(bd) for op in gops]
      res[g] = (Tensor.stack(*parts) if len(parts) > 1 else parts[0].reshape(1, N), bd)
    build.groups = groups
    return res
  return ins, build

def alu_batch(dev: E.SUT, dt: str) -> dict:
  """{op: (got bits, want bits, result dtype, guard damage) or an error string}, computed once per dtype."""
  if dt in _batches: return _batches[dt]
  wide, narrow = _bits_for(dev, dt)
  ops = [op for op, d in ALU_CASES if d == dt and op != "THREEFRY"]
  out: dict = {}
  try:
    ins, build = alu_graph(ops, dt, wide, narrow)
    got, want = run_both(dev, build)
    for g, gops in build.groups.items():
      for i, op in enumerate(gops):
        sl = slice(i * N, (i + 1) * N)
        out[op] = (got[g][0][sl], want[g][0][sl], "bool" if g == "bool" else dt, got[g][1], ins[op])
  except Exception as batch_error:   # one op the engine or the device cannot run: find it, op by op
    for op in ops:
      try:
        ins, build = alu_graph([op], dt, wide, narrow)
        got, want = run_both(dev, build)
        g = next(iter(build.groups))
        out[op] = (got[g][0], want[g][0], "bool" if g == "bool" else dt, got[g][1], ins[op])
      except Exception as e: out[op] = f"{type(e).__name__}: {e}"
    out["_batch_error"] = f"{type(batch_error).__name__}: {batch_error}"
  _batches[dt] = out
  return out

def _threefry(dev: E.SUT, detail) -> None:
  from tgc import Tensor
  def build(device: str) -> dict:
    Tensor.manual_seed(1234)
    return {"rand": (Tensor.rand(N, 3, device=device), "uint32")}
  got, want = run_both(dev, build)
  errs = [f"guard element {i} changed" for i in got["rand"][1]] + compare("Tensor.rand", "float32", E.EXACT, got["rand"][0], want["rand"][0])
  verdict(errs, detail)

@pytest.mark.parametrize("op,dtype", ALU_CASES, ids=[f"{op}-{dt}" for op, dt in ALU_CASES])
def test_alu(op, dtype, dev, detail):
  need_dtype(dev, dtype)
  native = op in dev.caps["alu_ops"]
  detail("native", native)
  tol = E.tolerance(op, dtype)
  detail("tolerance", tol.to_dict())
  if op == "THREEFRY":
    if "float32" not in dev.caps["dtypes"] or "uint32" not in dev.caps["dtypes"]: not_supported("Tensor.rand needs float32 and uint32")
    return _threefry(dev, detail)
  r = alu_batch(dev, dtype)[op]
  if isinstance(r, str):
    if not native: not_supported(f"{op} is not declared, and the engine could not lower it for this device: {r}")
    pytest.fail(f"{op} on {dtype}: {r}")
  got, want, rdt, guard, ins = r
  errs = [f"guard element {i} around the results changed" for i in guard[:4]]
  errs += compare(f"{op}({dtype})", rdt, tol, got, want, ins if OPS[op].arity > 1 else ins[:1])
  verdict(errs, detail)

# ---------------- storage ----------------

@pytest.mark.parametrize("dtype", STORAGE)
def test_storage(dtype, dev, detail):
  """Bytes in, a reversing copy kernel on the device, bytes out: bit for bit, against the input itself."""
  need_dtype(dev, dtype)
  from tgc import Tensor
  w = E.WIDTH[dtype] // 8
  rng = random.Random(dtype)
  raw = bytes(rng.randrange(256) for _ in range(N * w))
  if dtype == "bool": raw = bytes(b & 1 for b in raw)
  t = _tensor(dtype, [], dev.device, raw)
  bits_dt = E.bits_dtype(8 * w, dev.caps["dtypes"])
  if bits_dt is None: not_supported(f"{dtype} is read back through uint{8 * w} or int{8 * w}, and the caps declare neither")
  buf, n = guarded(t.flip(0).contiguous(), bits_dt)
  buf.realize()
  got, guard = read(buf, n, bits_dt)
  want = [int.from_bytes(raw[i * w:(i + 1) * w], "little") for i in range(N)][::-1]
  errs = [f"guard element {i} changed" for i in guard[:4]] + [f"[{i}]: {g:#x} != {x:#x}" for i, (g, x) in enumerate(zip(got, want)) if g != x]
  verdict(errs, detail)

# ---------------- shapes ----------------

def _rand(rng: random.Random, dt: str, n: int) -> list:
  return [rng.uniform(-4.0, 4.0) for _ in range(n)] if dt == "float32" else [rng.randint(-1000, 1000) for _ in range(n)]

def shape_graph(shape: str):
  """build(device) -> {name: (tensor, bits dtype)}; names are "<tolerance key>:<what>"."""
  rng = random.Random(shape)
  def t(dt, sh, device):
    return _tensor(dt, _rand(rng_fixed(dt, sh), dt, math.prod(sh)), device).reshape(sh)
  seeds: dict = {}
  def rng_fixed(dt, sh):
    return seeds.setdefault((dt, sh, len(seeds)), random.Random(f"{shape}-{dt}-{sh}-{len(seeds)}"))
  bits = {"float32": "uint32", "int32": "int32"}
  def build(device: str) -> dict:
    seeds.clear()
    out = {}
    for dt in ("float32", "int32"):
      bd = bits[dt]
      if shape == "tiny":
        a, b = t(dt, (1,), device), t(dt, (1,), device)
        s = t(dt, (1,), device).reshape(())
        out.update({f"ADD:{dt} a+b": (a + b, bd), f"MUL:{dt} scalar*a": (s * a, bd), f"sum:{dt} sum": (a.sum(), bd)})
      elif shape == "odd":
        a, b = t(dt, (7, 13), device), t(dt, (7, 13), device)
        out.update({f"fma:{dt} a*b+a": (a * b + a, bd), f"sum:{dt} sum(1)": (a.sum(1), bd), f"max:{dt} max(0)": (a.max(0), bd),
                    f"matmul:{dt} a@b.T": (a @ b.T, bd)})
      elif shape == "large":
        a, b = t(dt, (257, 1031), device), t(dt, (257, 1031), device)
        out.update({f"fma:{dt} a*b+a": (a * b + a, bd), f"sum:{dt} sum(1)": (a.sum(1), bd),
                    f"max:{dt} max": (a.max(), bd)})
      elif shape == "broadcast":
        a, b, v = t(dt, (5, 1, 7), device), t(dt, (1, 3, 1), device), t(dt, (7,), device)
        out.update({f"ADD:{dt} (5,1,7)+(1,3,1)": (a + b, bd), f"MUL:{dt} (5,3,7)*(7,)": ((a - b) * v, bd),
                    f"CMPLT:{dt} (5,1,7)<(1,3,1)": (a < b, "uint8"), f"sum:{dt} sum((5,3,7),(0,2))": ((a * b).sum((0, 2)), bd)})
      elif shape == "strided":
        a, b = t(dt, (9, 11), device), t(dt, (11, 9), device)
        out.update({f"ADD:{dt} a+b.T": (a + b.T, bd), f"MUL:{dt} a[::2,1::3]*a.flip(0)[::2,1::3]": (a[::2, 1::3] * a.flip(0)[::2, 1::3], bd),
                    f"ADD:{dt} pad+expand": (a[:, :1].expand(9, 11).pad(((1, 2), (0, 3))) + 1, bd),
                    f"sum:{dt} permuted sum": (b.reshape(11, 3, 3).permute(2, 0, 1).sum(2), bd)})
      elif shape == "size0":
        a, b = t(dt, (0,), device), t(dt, (3, 0), device)
        out.update({f"ADD:{dt} (0,)+(0,)": (a + a, bd), f"sum:{dt} sum((3,0),1)": (b.sum(1), bd), f"sum:{dt} sum((0,))": (a.sum(), bd),
                    f"ADD:{dt} cat": (a.cat(t(dt, (4,), device)) * 2, bd)})
    return out
  return build

def _strided_out(dev: E.SUT, detail) -> list[str]:
  """A result written into a strided view (every other column of the middle rows) of a sentinel-filled buffer."""
  from tgc import Tensor
  res = []
  for d in (dev.device, E.REFERENCE):
    rng = random.Random("strided-out")
    src = _tensor("float32", [rng.uniform(-4, 4) for _ in range(5 * 6)], d).reshape(5, 6)
    buf = Tensor.full((9, 14), 7.5, dtype="float32", device=d).contiguous().realize()
    buf[2:7, 1:13:2].assign(src * 3 - 1).realize()
    res.append(buf.bitcast("uint32").reshape(9 * 14).data().tolist())
  return compare("strided output view (9,14)[2:7,1:13:2]", "float32", E.tolerance("fma", "float32"), res[0], res[1])

@pytest.mark.parametrize("shape", SHAPES)
def test_shapes(shape, dev, detail):
  for dt in ("float32", "int32"): need_dtype(dev, dt)
  if "uint32" not in dev.caps["dtypes"] or "uint8" not in dev.caps["dtypes"]: not_supported("the results are read through uint32 and uint8")
  got, want = run_both(dev, shape_graph(shape))
  errs = []
  for k, (g, guard) in got.items():
    key, what = k.split(":", 1)
    dt = "float32" if what.startswith("float32") else "int32" if key not in ("CMPLT",) else "bool"
    errs += [f"{what}: guard element {i} changed" for i in guard[:4]]
    errs += compare(what, "bool" if key == "CMPLT" else dt, E.tolerance(key, dt), g, want[k][0])
  if shape == "strided": errs += _strided_out(dev, detail)
  detail("outputs", sorted(got))
  verdict(errs, detail)

# ---------------- special values ----------------

def _specials(dt: str) -> list[float]:
  big = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}[dt]
  tiny = {"float16": 2.0 ** -14, "bfloat16": 2.0 ** -126, "float32": 2.0 ** -126, "float64": 2.0 ** -1022}[dt]
  return [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, big, -big, tiny, -tiny]

SPECIAL_UNARY = ["NEG", "SQRT", "RECIPROCAL", "TRUNC", "EXP2", "LOG2", "SIN", "exp", "log", "sigmoid", "tanh", "cos"]
SPECIAL_BINARY = ["ADD", "SUB", "MUL", "FDIV", "MAX", "CMPLT", "CMPEQ", "CMPNE", "WHERE"]

@pytest.mark.parametrize("dtype", FLOATS)
def test_special(dtype, dev, detail):
  need_dtype(dev, dtype)
  wide, narrow = _bits_for(dev, dtype)
  sp = _specials(dtype)
  a_vals, b_vals = [x for x in sp for _ in sp], [y for _ in sp for y in sp]
  def build(device: str) -> dict:
    a, b, u = _tensor(dtype, a_vals, device), _tensor(dtype, b_vals, device), _tensor(dtype, sp, device)
    out = {}
    for op in SPECIAL_UNARY:
      r = getattr(u, op)() if op.islower() else expr(op, u, u, u)
      out[op] = (r, wide)
    for op in SPECIAL_BINARY:
      r = expr(op, a, b, a)
      out[op] = (r, narrow) if dname(r) == "bool" else (r, wide)
    return out
  got, want = run_both(dev, build)
  errs = []
  for op, (g, guard) in got.items():
    rdt = "bool" if op.startswith("CMP") else dtype
    ins = (a_vals, b_vals) if op in SPECIAL_BINARY else (sp,)
    errs += [f"{op}: guard element {i} changed" for i in guard[:4]] + compare(f"{op}({dtype})", rdt, E.tolerance(op, dtype), g, want[op][0], ins)
  verdict(errs, detail)

# ---------------- the table ----------------

def test_tolerance_table(dev, detail):
  """The versioned table covers every ALU op on every dtype of its domain (exact unless listed), and names no unknown op."""
  tab = E.table()
  detail("tolerance_table", tab)
  known = set(ALU_OPS.values()) | {"fma", "sum", "matmul", "max", "mean", "exp", "log", "sigmoid", "tanh", "cos"}
  assert not (unknown := set(E.TOLERANCES) - known), f"the table names unknown ops {sorted(unknown)}"
  for op, dt in ALU_CASES:
    tol = E.tolerance(op, dt)
    assert tol.ulps >= 0 and tol.atol >= 0, f"{op} {dt}: negative tolerance {tol}"
    if dt not in FLOATS: assert tol == E.EXACT, f"{op} on {dt} must be exact, the table says {tol}"
  assert tab["version"] == E.TOLERANCE_VERSION
