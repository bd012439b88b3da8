"""The backend under test as tgc's engine sees it, for the numerics and models tiers: its library loaded into libtgc
(tg_backend_load) next to the built-in CPU backend, which computes every reference with the same graphs.

A library whose manifest names a backend libtgc already has (the CPU plugin build and its planted-defect variants are
all "CPU") is loaded from a copy whose manifest `name` field alone is changed to NAME_SUT ("system under test"): the
code, caps and kernels are the library's own. Results are read as bit patterns (floats bitcast to the unsigned integer of
their width inside the kernel), so NaN, infinities and the sign of zero survive the trip, and compared under the
versioned per-op tolerance table below."""
from __future__ import annotations
import os, math, shutil, atexit, tempfile
from dataclasses import dataclass
from tgc_sdk.suite.elf import Elf
from tgc_sdk.suite.probes import DTS, DT

REFERENCE = "CPU"
SUT_SUFFIX = "_SUT"

# ---------------- the tolerance table ----------------

TOLERANCE_VERSION = "2"
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")

@dataclass(frozen=True)
class Tol:
  """ulps: distance in units of the last place of the result's format; atol: an absolute bound in machine epsilons of the
  format (for results near a zero crossing, where ulps mean nothing); signed_zero: IEEE fixes the sign of a zero result."""
  ulps: int = 0
  atol: float = 0.0
  signed_zero: bool = True
  scale: str = ""  # "arg": atol grows with max(1, |a|) (range reduction of sin/cos loses |a|*eps: a correctly rounded
                   # sin on a GPU and the CPU's polynomial differ by that much near multiples of pi, seen on an H200);
                   # "pow": ulps grow with max(1, |b*log2(a)|), the factor pow's exp2(b*log2(a)) magnifies errors by
  def to_dict(self) -> dict:
    d = {"ulps": self.ulps, "atol_eps": self.atol, "signed_zero": self.signed_zero}
    if self.scale: d["scaled_by"] = {"arg": "max(1, |a|) (atol)", "pow": "max(1, |b*log2(a)|) (ulps)"}[self.scale]
    return d

EXACT = Tol()
# op -> (float32/float64, float16/bfloat16). Everything not listed is exact: integer results, comparisons, selections, and
# the correctly rounded float ops (ADD, SUB, MUL, NEG, TRUNC). The 16-bit floats compute in float and round once more.
TOLERANCES: dict[str, tuple[Tol, Tol]] = {
  "FDIV": (Tol(1), Tol(1)), "RECIPROCAL": (Tol(1), Tol(1)), "SQRT": (Tol(1), Tol(1)),
  "EXP2": (Tol(2), Tol(1)), "LOG2": (Tol(2, 2.0), Tol(1, 1.0)), "SIN": (Tol(2, 2.0, False, "arg"), Tol(1, 1.0, False, "arg")),
  # pow lowers to exp2(b * log2(a)): the product's rounding is magnified by |b * log2(a)| (up to ~20 ulp in float32 here)
  "POW": (Tol(32, 2.0), Tol(2, 1.0, True, "pow")), "MULACC": (Tol(1), Tol(1)),
  "MAX": (Tol(0, 0.0, False), Tol(0, 0.0, False)),   # max(-0.0, 0.0): either zero
  "THREEFRY": (EXACT, EXACT),
  # Tensor-level functions of the shapes and special-value cases. "fma": a*b+c on inputs in [-4, 4], which a compiler
  # may contract into one fused multiply-add (C's default, every GPU): up to half an ulp of |a*b| <= 16 apart
  "fma": (Tol(1, 16.0), Tol(1, 16.0)),
  "sum": (Tol(0, 64.0, False), Tol(2, 8.0, False)), "matmul": (Tol(0, 64.0, False), Tol(2, 8.0, False)),
  "max": (EXACT, EXACT), "mean": (Tol(0, 64.0, False), Tol(2, 8.0, False)),
  "exp": (Tol(2, 2.0), Tol(1, 1.0)), "log": (Tol(2, 2.0), Tol(1, 1.0)), "sigmoid": (Tol(2, 2.0), Tol(1, 1.0)),
  "tanh": (Tol(4, 4.0, False), Tol(1, 1.0, False)), "cos": (Tol(2, 2.0, False, "arg"), Tol(1, 1.0, False, "arg")),
}

# the models tier, float32 end to end: (rtol, atol). Five Adam steps amplify reduction-order differences the most.
MODEL_TOLERANCE = {"mlp_training_step": (1e-3, 1e-4), "convnet_forward": (1e-4, 1e-5), "convnet_backward": (1e-4, 1e-5)}

def tolerance(op: str, dtype: str) -> Tol:
  if dtype not in FLOAT_DTYPES: return EXACT
  wide, half = TOLERANCES.get(op, (EXACT, EXACT))
  return half if dtype in ("float16", "bfloat16") else wide

def table() -> dict:
  """The whole table as reported (version, then op -> dtype class -> tolerance)."""
  return {"version": TOLERANCE_VERSION, "default": EXACT.to_dict(),
          "ops": {op: {"float32/float64": w.to_dict(), "float16/bfloat16": h.to_dict()} for op, (w, h) in TOLERANCES.items()},
          "models": {m: {"rtol": r, "atol": a} for m, (r, a) in MODEL_TOLERANCE.items()}}

# ---------------- bits ----------------

WIDTH = {"bool": 8, "int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64,
         "float16": 16, "bfloat16": 16, "float32": 32, "float64": 64, "fp8e4m3": 8, "fp8e5m2": 8, "fp8e4m3fnuz": 8, "fp8e5m2fnuz": 8}
EPS = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23, "float64": 2.0 ** -52}

def bits_dtype(width: int, declared: list[str]) -> str | None:
  """The integer dtype results of `width` bits are read through: unsigned if declared, else signed."""
  return next((d for d in (f"uint{width}", f"int{width}") if d in declared), None)

def to_bits(dt: str, values: list, width: int | None = None) -> list[int]:
  """Python values of dt as unsigned bit patterns of its width."""
  w = width or WIDTH[dt]
  d = DTS[dt]
  raw = _pack(d, values)
  n = w // 8
  return [int.from_bytes(raw[i:i + n], "little") for i in range(0, len(raw), n)]

def _pack(d: DT, values: list) -> bytes:
  from tgc_sdk.suite.probes import pack, cast
  return pack(d, [cast(d, v) for v in values])

def from_bits(dt: str, u: int):
  """The value of bit pattern u of dt (floats as Python floats, ints signed or not)."""
  if dt == "bool": return bool(u)
  w = WIDTH[dt]
  if dt == "bfloat16": return _f32(u << 16)
  if dt == "float16": return _unpack("e", u, 2)
  if dt == "float32": return _f32(u)
  if dt == "float64": return _unpack("d", u, 8)
  if dt.startswith("int") and u >> (w - 1): return u - (1 << w)
  return u

def _unpack(fmt: str, u: int, n: int) -> float:
  import struct
  return struct.unpack("<" + fmt, u.to_bytes(n, "little"))[0]
def _f32(u: int) -> float: return _unpack("f", u, 4)

def _ordered(dt: str, u: int) -> int:
  w = WIDTH[dt]
  return u if not u >> (w - 1) else -(u & ((1 << (w - 1)) - 1))

def ulp_distance(dt: str, a: int, b: int) -> int: return abs(_ordered(dt, a) - _ordered(dt, b))

def scaled(tol: Tol, ins: tuple | None) -> Tol:
  """tol for one element whose inputs are ins (a, b, ...): the input-dependent part of the table applied."""
  if not tol.scale or not ins: return tol
  try:
    if tol.scale == "arg": f = max(1.0, abs(float(ins[0])))
    else: f = max(1.0, abs(float(ins[1]) * math.log2(abs(float(ins[0]))))) if len(ins) > 1 and ins[0] else 1.0
  except (ValueError, OverflowError): f = 1.0
  if not math.isfinite(f): return tol
  return Tol(int(math.ceil(tol.ulps * f)) if tol.scale == "pow" else tol.ulps, tol.atol * f if tol.scale == "arg" else tol.atol, tol.signed_zero)

def mismatch(dt: str, got: int, want: int, tol: Tol, ins: tuple | None = None) -> str | None:
  """Why bit pattern `got` is not `want` within tol (None when it is); ins: the element's inputs, for scaled tolerances."""
  tol = scaled(tol, ins)
  if got == want: return None
  if dt not in FLOAT_DTYPES: return f"{from_bits(dt, got)} != {from_bits(dt, want)}"
  g, r = from_bits(dt, got), from_bits(dt, want)
  if math.isnan(r) or math.isnan(g):
    return None if math.isnan(r) and math.isnan(g) else f"{g!r} != {r!r} (NaN on one side only)"
  if math.isinf(r) or math.isinf(g): return f"{g!r} != {r!r}"
  if g == 0 and r == 0: return None if not tol.signed_zero or math.copysign(1, g) == math.copysign(1, r) else f"{g!r} != {r!r} (sign of zero)"
  d = ulp_distance(dt, got, want)
  if d <= tol.ulps or abs(g - r) <= tol.atol * EPS[dt]: return None
  return f"{g!r} != {r!r} ({d} ulp, tolerance {tol.ulps} ulp{f' or {tol.atol:g} eps' if tol.atol else ''})"

# ---------------- the device under test ----------------

_tmp: str | None = None

def _alias(library: str, name: str, alias: str) -> str:
  """A copy of the library whose manifest says `alias` instead of `name` (the name field only)."""
  global _tmp
  e = Elf(library)
  sym = next(s for s in e.dynamic_symbols() if s.name == "tg_backend_manifest" and s.defined)
  sec = e.sections[sym.shndx]
  start = sec.offset + sym.value - sec.addr
  off = start + 20   # magic, struct_size, abi_major, abi_min_minor, abi_max_minor: five uint32 before name[32]
  data = bytearray(e.data)
  if data[off:off + len(name) + 1] != name.encode() + b"\0": raise RuntimeError(f"{library}: manifest name {name!r} not found where expected")
  data[off:off + 32] = alias.encode().ljust(32, b"\0")
  if _tmp is None:
    _tmp = tempfile.mkdtemp(prefix="tgc-sut-")
    atexit.register(shutil.rmtree, _tmp, True)
  path = os.path.join(_tmp, f"lib{alias.lower()}.so")
  with open(path, "wb") as f: f.write(data)
  return path

@dataclass
class SUT:
  device: str          # the tgc device name of the backend under test
  library: str         # what was loaded (the library, or its renamed copy)
  renamed_from: str | None
  caps: dict
  no_renderer: str | None = None   # the engine has no renderer for the device's dialect: the tiers cannot run (NOT_RUN)
  no_device: str | None = None     # the backend loaded but reports no device here (as the runtime tier): NOT_RUN
  def detail(self) -> dict:
    return {"device": self.device, "loaded": self.library, **({"renamed_from": self.renamed_from} if self.renamed_from else {})}

def open_sut(library: str) -> SUT:
  """Load the library into libtgc and open its device 0. Raises with the loader's message when it cannot."""
  from tgc.device import Device, c_backends
  from tgc._ffi import ffi, lib, check
  from tgc_sdk.suite.test_loader import elf_manifest
  name = elf_manifest(library)["name"]
  taken = {i["name"] for i in c_backends() if i["state"] == "ready" and os.path.realpath(i["path"] or "") != os.path.realpath(library)}
  path, renamed = library, None
  if name in taken:
    alias = (name[:32 - 1 - len(SUT_SUFFIX)] + SUT_SUFFIX)
    path, renamed = _alias(library, name, alias), name
    name = alias
  check(lib().tg_backend_load(os.fsencode(path), ffi.new("tg_backend **")))
  from tgc._ffi import UnavailableError
  try: dev = Device[name]
  except UnavailableError as e: return SUT(name, path, renamed, {}, no_device=f"the backend is installed but has no device here: {e}")
  sut = SUT(dev.name, path, renamed, dev.caps)
  from tgc import Tensor
  from tgc._ffi import UnsupportedError
  try: (Tensor([1.0, 2.0], device=dev.name) + 1).realize()
  except UnsupportedError as e:
    if "no renderer for dialect" not in str(e): raise
    sut.no_renderer = f"the engine has no renderer for the device's dialect {dev.caps['dialect']!r} yet: {e}"
  return sut

def reference_caps() -> dict:
  from tgc.device import Device
  return Device[REFERENCE].caps
