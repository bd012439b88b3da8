"""The probe kernels of `tgc-sdk validate` ("c" dialect) and their Python references.

Per dtype a kernel that reads and writes it (a reversed copy through the dtype's C type); per ALU op and dtype a kernel
computing tinygrad's C rendering of the op (CStyleLanguage.code_for_op: `(a+b)`, `(a<b)`, `(a?b:c)`, `__builtin_sqrtf`,
...). Inputs are chosen so that C's undefined behaviour (signed overflow, negative or too-wide shifts, INT_MIN / -1)
never happens, and results are compared with Python bit for bit: +, -, *, /, sqrt and the conversions are correctly
rounded in IEEE arithmetic, so wider intermediate precision cannot change them. Only the transcendentals (EXP2, LOG2,
SIN, POW, computed by libm) get an ulp bound. float16 is C's _Float16 (as tinygrad's C renderer), bfloat16 is stored as
uint16_t and computed in float with round-to-nearest-even; the fp8s are storage only (the c dialect has no fp8 type)."""
from __future__ import annotations
import re, math, struct, random
from dataclasses import dataclass

SIG = "(void *const *bufs, const int64_t *vals, const uint32_t gid[3])"
PRELUDE = """#include <stdint.h>
static inline float tgc_bf2f(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; __builtin_memcpy(&f, &u, 4); return f; }
static inline uint16_t tgc_f2bf(float f) {
  uint32_t u; __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
"""

@dataclass(frozen=True)
class DT:
  name: str
  ctype: str     # storage type in C
  fmt: str       # struct format of one element
  kind: str      # bool, int, uint, float, fp8
  bits: int = 8
  comp: str = ""  # the C type arithmetic happens in
  @property
  def size(self) -> int: return struct.calcsize("<" + self.fmt)
  @property
  def compute(self) -> str: return self.comp or self.ctype

DTS: dict[str, DT] = {d.name: d for d in [
  DT("bool", "_Bool", "?", "bool", 1), DT("int8", "int8_t", "b", "int", 8), DT("uint8", "uint8_t", "B", "uint", 8),
  DT("int16", "int16_t", "h", "int", 16), DT("uint16", "uint16_t", "H", "uint", 16), DT("int32", "int32_t", "i", "int", 32),
  DT("uint32", "uint32_t", "I", "uint", 32), DT("int64", "int64_t", "q", "int", 64), DT("uint64", "uint64_t", "Q", "uint", 64),
  DT("float16", "_Float16", "e", "float", 16), DT("bfloat16", "uint16_t", "H", "float", 16, "float"), DT("float32", "float", "f", "float", 32),
  DT("float64", "double", "d", "float", 64), DT("fp8e4m3", "uint8_t", "B", "fp8"), DT("fp8e5m2", "uint8_t", "B", "fp8"),
  DT("fp8e4m3fnuz", "uint8_t", "B", "fp8"), DT("fp8e5m2fnuz", "uint8_t", "B", "fp8")]}

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
NUM = INTS + FLOATS

# ---------------- rounding and wrapping, the way C stores a value ----------------

def _pack_round(fmt: str, x: float) -> float:
  try: return struct.unpack("<" + fmt, struct.pack("<" + fmt, x))[0]
  except OverflowError: return math.copysign(math.inf, x)
def round_bf16(x: float) -> float:
  f = _pack_round("f", x)
  u = struct.unpack("<I", struct.pack("<f", f))[0]
  u = (u >> 16 | 0x40) if (u & 0x7FFFFFFF) > 0x7F800000 else (u + 0x7FFF + ((u >> 16) & 1)) >> 16 & 0xFFFF
  return struct.unpack("<f", struct.pack("<I", u << 16))[0]

def cast(dt: DT, v):
  """The value C stores when `v` (exact) is converted to dt: ints wrap (gcc, clang), floats round to nearest even."""
  if dt.kind == "bool": return bool(v)
  if dt.kind in ("int", "uint"):
    v = int(v) & ((1 << dt.bits) - 1)
    return v - (1 << dt.bits) if dt.kind == "int" and v >> (dt.bits - 1) else v
  if dt.name == "float64": return float(v)
  if dt.name == "bfloat16": return round_bf16(float(v))
  return _pack_round(dt.fmt, float(v))

def pack(dt: DT, values: list) -> bytes:
  if dt.name == "bfloat16": return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)
  return struct.pack(f"<{len(values)}{dt.fmt}", *values)
def unpack(dt: DT, raw: bytes) -> list:
  n = len(raw) // dt.size
  if dt.name == "bfloat16": return [struct.unpack("<f", b"\0\0" + raw[2 * i:2 * i + 2])[0] for i in range(n)]
  return list(struct.unpack(f"<{n}{dt.fmt}", raw))

def _ordered(dt: DT, x: float) -> int:
  """x's bit pattern as an integer that is monotonic in x (ulp distance = difference)."""
  fmt, bits = {"float16": ("e", 16), "bfloat16": ("f", 32), "float32": ("f", 32), "float64": ("d", 64)}[dt.name]
  u = int.from_bytes(struct.pack("<" + fmt, x), "little")
  if dt.name == "bfloat16": u, bits = u >> 16, 16
  return u if not u >> (bits - 1) else -(u & ((1 << (bits - 1)) - 1))

def same(dt: DT, got, want, ulps: int = 0) -> bool:
  if dt.kind != "float": return got == want
  if math.isnan(want) or math.isnan(got): return math.isnan(want) and math.isnan(got)
  if ulps == 0 or math.isinf(want) or math.isinf(got): return got == want and math.copysign(1, got) == math.copysign(1, want)
  return abs(_ordered(dt, got) - _ordered(dt, want)) <= ulps

# ---------------- IEEE semantics Python would raise on ----------------

def _fdiv(a: float, b: float) -> float:
  if b == 0: return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
  return math.nan if math.isinf(a) and math.isinf(b) else a / b
def _sqrt(a: float) -> float: return math.nan if a < 0 else math.sqrt(a) if not math.isnan(a) else a
def _trunc(a: float) -> float: return a if not math.isfinite(a) else math.copysign(float(math.trunc(a)), a)
def _cdiv(a: int, b: int) -> int: return abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)

@dataclass(frozen=True)
class Op:
  name: str
  arity: int
  domain: tuple[str, ...]
  expr: str                 # C, over a, b, c; F(x) is the float builtin of the dtype (sqrt -> __builtin_sqrtf)
  ref: object               # Python reference on exact values
  bool_out: bool = False
  ulps: int = 0             # allowed distance for libm results (float32/64; 1 for the 16-bit floats)
  iexpr: str = ""           # C for signed ints where it differs from expr

_B = ("bool",)
OPS: dict[str, Op] = {o.name: o for o in [
  Op("EXP2", 1, FLOATS, "F(exp2)(a)", lambda a, b, c: 2.0 ** a, ulps=2),
  Op("LOG2", 1, FLOATS, "F(log2)(a)", lambda a, b, c: math.log2(a), ulps=2),
  Op("SIN", 1, FLOATS, "F(sin)(a)", lambda a, b, c: math.sin(a), ulps=2),
  Op("SQRT", 1, FLOATS, "F(sqrt)(a)", lambda a, b, c: _sqrt(a)),
  Op("RECIPROCAL", 1, FLOATS, "(1 / a)", lambda a, b, c: _fdiv(1.0, a)),
  Op("NEG", 1, NUM, "(-a)", lambda a, b, c: -a),
  Op("TRUNC", 1, FLOATS, "F(trunc)(a)", lambda a, b, c: _trunc(a)),
  Op("ADD", 2, NUM, "(a + b)", lambda a, b, c: a + b),
  Op("MUL", 2, NUM, "(a * b)", lambda a, b, c: a * b),
  Op("SHL", 2, INTS, "(a << b)", lambda a, b, c: a << b),
  Op("SHR", 2, INTS, "(a >> b)", lambda a, b, c: a >> b),
  Op("CDIV", 2, INTS, "(a / b)", lambda a, b, c: _cdiv(a, b)),
  Op("MAX", 2, NUM, "(a > b ? a : b)", lambda a, b, c: a if a > b else b),
  Op("CMOD", 2, INTS, "(a % b)", lambda a, b, c: a - b * _cdiv(a, b)),
  Op("CMPLT", 2, NUM + _B, "(a < b)", lambda a, b, c: a < b, bool_out=True),
  Op("CMPNE", 2, NUM + _B, "(a != b)", lambda a, b, c: a != b, bool_out=True),
  Op("CMPEQ", 2, NUM + _B, "(a == b)", lambda a, b, c: a == b, bool_out=True),
  Op("XOR", 2, INTS + _B, "(a ^ b)", lambda a, b, c: a ^ b),
  Op("OR", 2, INTS + _B, "(a | b)", lambda a, b, c: a | b),
  Op("AND", 2, INTS + _B, "(a & b)", lambda a, b, c: a & b),
  Op("THREEFRY", 2, ("uint64",), "", None),
  Op("SUB", 2, NUM, "(a - b)", lambda a, b, c: a - b),
  Op("FDIV", 2, FLOATS, "(a / b)", lambda a, b, c: _fdiv(a, b)),
  Op("POW", 2, FLOATS, "F(pow)(a, b)", lambda a, b, c: math.pow(a, b), ulps=2),
  Op("FLOORDIV", 2, INTS, "(a / b)", lambda a, b, c: a // b, iexpr="(a / b - ((a % b != 0) && ((a < 0) != (b < 0))))"),
  Op("FLOORMOD", 2, INTS, "(a % b)", lambda a, b, c: a % b, iexpr="(a % b + (((a % b != 0) && ((a < 0) != (b < 0))) ? b : 0))"),
  Op("WHERE", 3, NUM + _B, "(a ? b : c)", lambda a, b, c: b if a else c),
  Op("MULACC", 3, NUM, "(a * b + c)", lambda a, b, c: a * b + c)]}
NO_C = {"THREEFRY": "tinygrad's C renderers have no expression for THREEFRY (threefry2x32): the engine decomposes it, so a native "
                    "THREEFRY can only be proven with kernels rendered by the engine (issue 3)"}

def representative(op: Op) -> str | None:
  """The dtype an undeclared op is tried on ("works but not declared")."""
  return next((d for d in ("float32", "int32", "bool") if d in op.domain), None)

# ---------------- C source ----------------

def _ld(dt: DT, x: str) -> str: return f"tgc_bf2f({x})" if dt.name == "bfloat16" else x
def _st(dt: DT, x: str) -> str: return f"tgc_f2bf((float)({x}))" if dt.name == "bfloat16" else f"({dt.ctype})({x})"

def copy_kernel(dt: DT) -> tuple[str, str]:
  """o[i] = x[n-1-i] through the dtype's C type (vals[0] = n)."""
  name = f"tgc_v_copy_{dt.name}"
  st = "o[i] = x[vals[0] - 1 - i];" if dt.kind == "fp8" else f"{dt.compute} v = {_ld(dt, 'x[vals[0] - 1 - i]')};\n  o[i] = {_st(dt, 'v')};"
  return name, f"void {name}{SIG} {{\n  const uint32_t i = gid[0];\n  {dt.ctype} *o = bufs[0];\n  const {dt.ctype} *x = bufs[1];\n  {st}\n}}\n"

def op_kernel(op: Op, dt: DT) -> tuple[str, str]:
  name = f"tgc_v_{op.name.lower()}_{dt.name}"
  expr = op.iexpr if op.iexpr and dt.kind == "int" else op.expr
  expr = re.sub(r"F\((\w+)\)", lambda m: f"__builtin_{m.group(1)}{'' if dt.name == 'float64' else 'f'}", expr)
  ins = ["_Bool" if op.name == "WHERE" and k == 0 else None for k in range(op.arity)]
  decl = []
  for k, v in enumerate("abc"[:op.arity]):
    if ins[k]: decl.append(f"  const _Bool {v} = ((const _Bool *)bufs[{k + 1}])[i];")
    else: decl.append(f"  const {dt.compute} {v} = {_ld(dt, f'((const {dt.ctype} *)bufs[{k + 1}])[i]')};")
  store = f"((_Bool *)bufs[0])[i] = (_Bool)({expr});" if op.bool_out else f"(({dt.ctype} *)bufs[0])[i] = {_st(dt, expr)};"
  return name, f"void {name}{SIG} {{\n  (void)vals;\n  const uint32_t i = gid[0];\n" + "\n".join(decl) + f"\n  {store}\n}}\n"

def source(kernels: list[tuple[str, str]]) -> str: return PRELUDE + "".join(src for _, src in kernels)

def ops_for(dt: DT) -> list[Op]: return [o for o in OPS.values() if dt.name in o.domain and o.name not in NO_C]

# ---------------- inputs ----------------

def _ints(dt: DT, rng: random.Random, n: int, lo: int | None = None, hi: int | None = None) -> list[int]:
  tlo, thi = (-(1 << (dt.bits - 1)), (1 << (dt.bits - 1)) - 1) if dt.kind == "int" else (0, (1 << dt.bits) - 1)
  lo, hi = max(tlo, tlo if lo is None else lo), min(thi, thi if hi is None else hi)
  edge = [v for v in (lo, hi, 0, 1, -1, lo + 1, hi - 1) if lo <= v <= hi]
  return [edge[i] if i < len(edge) else rng.randint(lo, hi) for i in range(n)]

def _floats(dt: DT, rng: random.Random, n: int, lo: float, hi: float, special: bool = True) -> list[float]:
  sp = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 0.5, -2.5] if special else []
  return [cast(dt, sp[i] if i < len(sp) else rng.uniform(lo, hi)) for i in range(n)]

def copy_inputs(dt: DT, n: int, seed: int = 0) -> list:
  rng = random.Random(seed)
  if dt.kind == "bool": return [bool(rng.getrandbits(1)) for _ in range(n)]
  if dt.kind in ("int", "uint", "fp8"): return _ints(DTS["uint8"] if dt.kind == "fp8" else dt, rng, n)
  big = {"float16": 6e4, "bfloat16": 1e30, "float32": 1e30, "float64": 1e300}[dt.name]
  return [v if i % 3 else cast(dt, rng.uniform(-1, 1) * big) for i, v in enumerate(_floats(dt, rng, n, -1000, 1000))]

def op_inputs(op: Op, dt: DT, n: int, seed: int = 0) -> list[list]:
  """Inputs for op over dt where every C evaluation is defined behaviour."""
  rng = random.Random(f"{op.name}-{dt.name}-{seed}")
  if dt.kind == "bool": return [[bool(rng.getrandbits(1)) if i > 3 else bool(i & (1 << k)) for i in range(n)] for k in range(op.arity)]
  if op.name == "WHERE": return [[bool(rng.getrandbits(1)) for _ in range(n)], *op_inputs(OPS["MAX"], dt, n, seed)]
  if dt.kind == "float":
    if op.name == "MULACC":   # small dyadic values: a*b+c is exact, so a fused multiply-add and a*b then +c agree
      step, lim = (0.5, 8) if dt.name == "bfloat16" else (0.25, 16)
      return [[rng.randint(-lim, lim) * step for _ in range(n)] for _ in range(3)]
    rngs = {"EXP2": (-14, 14), "LOG2": (1e-3, 1000), "SIN": (-10, 10), "POW": (0.1, 10)}
    lo, hi = rngs.get(op.name, (-100, 100))
    xs = [_floats(dt, rng, n, lo, hi, special=op.name not in rngs) for _ in range(op.arity)]
    if op.name == "POW": xs[1] = [cast(dt, rng.uniform(-4, 4)) for _ in range(n)]
    return xs
  signed32 = dt.kind == "int" and dt.bits >= 32
  if op.name in ("ADD", "SUB"): lim = 1 << (dt.bits - 2) if signed32 else None
  elif op.name in ("MUL", "MULACC"): lim = 1 << (dt.bits // 2 - 1) if signed32 else (1 << 15) if dt.name == "uint16" else None
  else: lim = None
  if op.name in ("SHL", "SHR"):
    b = [rng.randint(0, dt.bits - 1) for _ in range(n)]
    if op.name == "SHR": return [_ints(dt, rng, n), b]
    a = [rng.randint(0, (1 << max(0, dt.bits - 1 - s)) - 1) if signed32 else rng.randint(0, (1 << (dt.bits - (dt.kind == "int"))) - 1) for s in b]
    return [a, b]
  if op.name in ("CDIV", "CMOD", "FLOORDIV", "FLOORMOD"):
    a = _ints(dt, rng, n, lo=-(1 << (dt.bits - 1)) + 1 if dt.kind == "int" else None)
    b = [v if v != 0 else 7 for v in _ints(dt, rng, n)]
    return [a, [v if not (signed32 and v == -(1 << (dt.bits - 1))) else 3 for v in b]]
  lo = None if lim is None else -lim if dt.kind == "int" else 0
  hi = None if lim is None else lim - 1
  if op.name == "NEG" and dt.kind == "int": lo = -(1 << (dt.bits - 1)) + 1
  xs = [_ints(dt, rng, n, lo, hi) for _ in range(op.arity)]
  if op.name == "MULACC" and signed32: xs[2] = _ints(dt, rng, n, -(1 << (dt.bits - 2)), (1 << (dt.bits - 2)) - 1)
  return xs

def expected(op: Op, dt: DT, xs: list[list]) -> list:
  out_dt = DTS["bool"] if op.bool_out else dt
  pad = xs + [[0] * len(xs[0])] * (3 - len(xs))
  return [cast(out_dt, op.ref(a, b, c)) for a, b, c in zip(*pad)]

def input_dtypes(op: Op, dt: DT) -> list[DT]: return [DTS["bool"] if op.name == "WHERE" and k == 0 else dt for k in range(op.arity)]

def mismatches(op: Op | None, dt: DT, xs: list[list], got: list, want: list) -> list[str]:
  """Human-readable differences (at most 3) between got and want."""
  out_dt = DTS["bool"] if op is not None and op.bool_out else dt
  tol = 0 if op is None else op.ulps if dt.bits > 16 else min(op.ulps, 1)
  bad = [i for i, (g, w) in enumerate(zip(got, want)) if not same(out_dt, g, w, tol)]
  args = lambda i: ", ".join(f"{'abc'[k]}={x[i]!r}" for k, x in enumerate(xs))
  return [f"[{i}] {args(i)}: got {got[i]!r}, expected {want[i]!r}" for i in bad[:3]] + ([f"... {len(bad)} of {len(got)} wrong"] if bad else [])
