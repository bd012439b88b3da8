"""tinygrad 0.14.0's dtype.py surface over libtgc: DType, dtypes, least_upper_dtype, least_upper_float, sum_acc_dtype,
can_lossless_cast, to_dtype, truncate. The table (priorities, sizes, names) comes from tg_dtype_get_info, and every
promotion and rounding is a tg_dtype_* call: nothing here is retyped from tinygrad but the alias names and finfo.
Importing this module opens libtgc (the dtypes are built from it)."""
from __future__ import annotations
import os, math, ctypes, functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from tgc._ffi import ffi, lib, check, enum_names

@dataclass(frozen=True, eq=False)
class DType:
  priority: int  # this determines when things get upcasted
  bitsize: int
  name: str      # the C spelling, as tinygrad: "float", "__bf16", "unsigned char"
  fmt: str|None
  value: int     # the tg_dtype to pass to libtgc (void's 31 is the engine's internal id: tg.h refuses it)
  @property
  def itemsize(self) -> int: return (self.bitsize + 7) // 8
  def __reduce__(self): return _from_value, (self.value,)
  def __repr__(self): return f"dtypes.{INVERSE_DTYPES_DICT[self.name]}"
  def __lt__(self, o:DType): return (self.priority, self.bitsize, self.name, self.fmt) < (o.priority, o.bitsize, o.name, o.fmt)
  @functools.cached_property
  def min(self):
    if dtypes.is_int(self): return int(_INFO[self].min)  # 0 or -2**(bitsize-1): exact as a double
    return _INFO[self].min if dtypes.is_float(self) else False
  @functools.cached_property
  def max(self):
    if dtypes.is_int(self): return 2**self.bitsize - 1 + self.min  # the double in tg_dtype_info rounds 2**63-1 and up
    return _INFO[self].max if dtypes.is_float(self) else True
  def const(self, val):
    if isinstance(val, float) and math.isnan(val): val = math.nan  # one canonical nan, as tinygrad
    return truncate.get(self, float)(float(val)) if dtypes.is_float(self) else bool(val) if dtypes.is_bool(self) else int(val)

# ---------------- the table, from libtgc ----------------

def _get_info(v:int):
  (i := ffi.new("tg_dtype_info *")).struct_size = ffi.sizeof("tg_dtype_info")
  check(lib().tg_dtype_get_info(v, i))
  return i

_INFO: dict[DType, object] = {}
for _v in enum_names("tg_dtype", "TG_"):
  _i = _get_info(_v)
  _INFO[DType(_i.priority, _i.bitsize, ffi.string(_i.c_name).decode(), _i.fmt.decode() if _i.fmt != b"\0" else None, _v)] = _i
_BY_VALUE: dict[int, DType] = {d.value: d for d in _INFO}
_ATTR: dict[DType, str] = {d: ffi.string(i.name).decode() for d, i in _INFO.items()}
def _from_value(v:int) -> DType: return _BY_VALUE[v]
def _flag(f:str) -> frozenset[DType]: return frozenset(d for d, i in _INFO.items() if getattr(i, f))
_FLOATS, _INTS, _UINTS = _flag("is_float"), _flag("is_int"), _flag("is_unsigned")

def _c_dtype(fn, *args) -> DType:
  check(getattr(lib(), fn)(*args, out := ffi.new("tg_dtype *")))
  return _BY_VALUE[out[0]]

class DTypes:
  @staticmethod
  def is_float(x:DType) -> bool: return x in _FLOATS   # weakfloat included
  @staticmethod
  def is_int(x:DType) -> bool: return x in _INTS       # weakint included
  @staticmethod
  def is_unsigned(x:DType) -> bool: return x in _UINTS
  @staticmethod
  def is_bool(x:DType) -> bool: return x == dtypes.bool
  @staticmethod
  def from_py(x) -> DType:
    # NOTE: isinstance(True, int) is True, so bool must be checked before int
    if isinstance(x, bool): return dtypes.bool
    if isinstance(x, float): return dtypes.weakfloat
    if isinstance(x, int): return dtypes.weakint
    if isinstance(x, (list, tuple)): return strong_dtype(max(dtypes.from_py(xi) for xi in x)) if x else dtypes.default_float
    raise RuntimeError(f"Could not infer dtype of {x} with type {type(x)}")
  @staticmethod
  def finfo(dtype:DType) -> tuple[int, int]:
    """(exponent, mantissa)"""
    if not dtypes.is_float(dtype): raise ValueError(f"{dtype} is not a floating point type")
    return _FINFO[_ATTR[dtype]]
  @property
  def default_float(self) -> DType: return least_upper_float(dtypes.bool)  # libtgc's $DEFAULT_FLOAT: bool promotes with it to it
  @property
  def default_int(self) -> DType:  # tg.h has no call for it: read the same variable libtgc reads
    if not dtypes.is_int(dt := to_dtype(v := os.getenv("DEFAULT_INT", "int32"))): raise ValueError(f"DEFAULT_INT={v} is not an int dtype")
    return dt

# tinygrad's finfo table: tg_dtype_info does not carry exponent/mantissa widths
_FINFO = {"float16": (5, 10), "bfloat16": (8, 7), "float32": (8, 23), "float64": (11, 52),
          "fp8e4m3": (4, 3), "fp8e5m2": (5, 2), "fp8e4m3fnuz": (4, 3), "fp8e5m2fnuz": (5, 2)}
_ALIASES = ("half", "float", "double", "uchar", "ushort", "uint", "ulong", "char", "short", "int", "long")  # resolved by libtgc

for _d, _n in _ATTR.items(): setattr(DTypes, _n, _d)
for _n in _ALIASES: setattr(DTypes, _n, _c_dtype("tg_dtype_from_name", _n.encode()))
DTypes.void = DType(-1, 0, "void", None, 31)  # the engine's void: internal to libtgc (TG_DT_VOID), not a tg_dtype
_canon = sorted((d for d, i in _INFO.items() if not i.is_weak),
                key=lambda d: (d in _FLOATS, d.bitsize if d in _FLOATS else d.priority, d.value))  # tinygrad's declaration order
DTypes.fp8s = tuple(d for d in _canon if d in _FLOATS and d.bitsize == 8)
DTypes.fp8_ocp, DTypes.fp8_fnuz = (tuple(d for d in DTypes.fp8s if _ATTR[d].endswith("fnuz") == z) for z in (False, True))
DTypes.floats = tuple(d for d in _canon if d in _FLOATS)
DTypes.uints = tuple(sorted((d for d in _canon if d in _UINTS), key=lambda d: d.priority))
DTypes.sints = tuple(sorted((d for d in _canon if d in _INTS and d not in _UINTS), key=lambda d: d.priority))
DTypes.ints = DTypes.uints + DTypes.sints
DTypes.int8s, DTypes.int16s, DTypes.int32s, DTypes.int64s = (tuple(d for d in DTypes.ints if d.bitsize == b) for b in (8, 16, 32, 64))
DTypes.weaks = (DTypes.weakint, DTypes.weakfloat)
DTypes.all = DTypes.floats + DTypes.ints + (DTypes.bool,)
dtypes: Final = DTypes()

DTYPES_DICT: dict[str, DType] = {**{_ATTR[d]: d for d in _canon}, **{n: getattr(dtypes, n) for n in _ALIASES}}
INVERSE_DTYPES_DICT: dict[str, str] = {**{v.name: k for k, v in DTYPES_DICT.items()}, "void": "void", "weakint": "weakint", "weakfloat": "weakfloat"}

DTypeLike = str|DType
def to_dtype(dtype:DTypeLike) -> DType:
  if isinstance(dtype, DType): return dtype
  name = dtype.lower()  # a non-str raises AttributeError here, as in tinygrad
  if name == "void": return dtypes.void
  out = ffi.new("tg_dtype *")
  if lib().tg_dtype_from_name(name.encode(), out) != 0: raise AttributeError(f"'DTypes' object has no attribute '{name}'")
  return _BY_VALUE[out[0]]

def strong_dtype(dtype:DType) -> DType:
  return dtypes.default_int if dtype is dtypes.weakint else dtypes.default_float if dtype is dtypes.weakfloat else dtype
def weak_dtype(dtype:DType) -> DType: return dtypes.weakfloat if dtypes.is_float(dtype) else dtypes.weakint if dtypes.is_int(dtype) else dtype

@functools.cache
def least_upper_dtype(*ds:DType) -> DType:
  if not ds: raise TypeError("least_upper_dtype() needs at least one dtype")
  return _c_dtype("tg_dtype_promote", ffi.new("tg_dtype[]", [d.value for d in ds]), len(ds))
def least_upper_float(dt:DType) -> DType: return _c_dtype("tg_dtype_least_upper_float", dt.value)
def sum_acc_dtype(dt:DType) -> DType: return _c_dtype("tg_dtype_sum_acc", dt.value)

@functools.cache
def can_lossless_cast(dt0:DType, dt1:DType) -> bool:
  check(lib().tg_dtype_can_lossless_cast(dt0.value, dt1.value, out := ffi.new("int *")))
  return bool(out[0])

def _truncate_c(dt:DType, x) -> float:
  check(lib().tg_dtype_truncate(dt.value, float(x), out := ffi.new("double *")))
  return out[0]

# tinygrad's truncate: floats rounded by libtgc, bool by libtgc; ints through ctypes as tinygrad does, because
# tg_dtype_truncate carries values as doubles, which cannot hold every 64-bit integer result.
truncate: dict[DType, Callable] = {dtypes.bool: lambda x: bool(_truncate_c(dtypes.bool, x)),
  **{d: functools.partial(_truncate_c, d) for d in dtypes.floats},
  **{d: (lambda x, c=getattr(ctypes, f"c_{_ATTR[d]}"): c(x).value) for d in dtypes.ints}}
