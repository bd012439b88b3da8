"""tinygrad 0.14.0's Tensor over libtgc's tg_tensor_* calls (include/tg.h, "Tensor").

Every op builds the lazy UOp graph in C, exactly as tinygrad builds it; this module only turns Python arguments into
C arguments (Python scalars become weak 0-d constants, as tinygrad's ufix makes them) and C errors into the exception
types tinygrad raises for the same input. Realize, .numpy() and friends arrive with the engine."""
from __future__ import annotations
import math, struct
from collections.abc import Sequence
from typing import Any
from tgc._ffi import ffi, lib, enum_names, check, last_error, error_class, STATUS_NAMES
from tgc.dtype import DType, DTypeLike, dtypes, to_dtype, truncate, strong_dtype, _from_value, _ATTR

ConstType = float | int | bool

# ---------------- op tables: method name -> enum name in tg.h ----------------

_UNARY_OPS = {v: k for k, v in enum_names("tg_unary_op", "TG_UNARY_").items()}      # {"NEG": 0, ...}
_BINARY_OPS = {v: k for k, v in enum_names("tg_binary_op", "TG_BINARY_").items()}
_REDUCE_OPS = {v: k for k, v in enum_names("tg_reduce_op", "TG_REDUCE_").items()}
_HOST = {v: k for k, v in enum_names("tg_host_kind", "TG_HOST_").items()}                  # {"ARRAY": 0, "LIST": 1}
_UNARY_METHODS = {"neg": "NEG", "reciprocal": "RECIPROCAL", "sqrt": "SQRT", "rsqrt": "RSQRT", "exp2": "EXP2", "log2": "LOG2", "exp": "EXP",
                  "log": "LOG", "log10": "LOG10", "sin": "SIN", "cos": "COS", "tan": "TAN", "trunc": "TRUNC", "floor": "FLOOR", "ceil": "CEIL",
                  "round": "ROUND", "abs": "ABS", "sign": "SIGN", "relu": "RELU", "sigmoid": "SIGMOID", "tanh": "TANH", "silu": "SILU",
                  "swish": "SILU", "square": "SQUARE", "logical_not": "LOGICAL_NOT", "bitwise_not": "BITWISE_NOT", "isnan": "ISNAN",
                  "isfinite": "ISFINITE", "__neg__": "NEG", "__invert__": "BITWISE_NOT"}
# name -> (enum, reflected operand order); methods with a `reverse` flag take it as tinygrad's do
_BINARY_METHODS = {"add": "ADD", "sub": "SUB", "mul": "MUL", "pow": "POW", "mod": "MOD", "bitwise_and": "AND", "bitwise_or": "OR",
                   "bitwise_xor": "XOR", "lshift": "SHL", "rshift": "SHR"}
_OPERATORS = {"__add__": ("ADD", False), "__radd__": ("ADD", True), "__sub__": ("SUB", False), "__rsub__": ("SUB", True),
              "__mul__": ("MUL", False), "__rmul__": ("MUL", True), "__truediv__": ("DIV", False), "__rtruediv__": ("DIV", True),
              "__floordiv__": ("FLOORDIV", False), "__rfloordiv__": ("FLOORDIV", True), "__mod__": ("MOD", False), "__rmod__": ("MOD", True),
              "__pow__": ("POW", False), "__rpow__": ("POW", True), "__and__": ("AND", False), "__rand__": ("AND", True),
              "__or__": ("OR", False), "__ror__": ("OR", True), "__xor__": ("XOR", False), "__rxor__": ("XOR", True),
              "__lshift__": ("SHL", False), "__rlshift__": ("SHL", True), "__rshift__": ("SHR", False), "__rrshift__": ("SHR", True),
              "__lt__": ("LT", False), "__gt__": ("GT", False), "__le__": ("LE", False), "__ge__": ("GE", False),
              "__eq__": ("EQ", False), "__ne__": ("NE", False), "eq": ("EQ", False), "ne": ("NE", False),
              "maximum": ("MAXIMUM", False), "minimum": ("MINIMUM", False), "fmod": ("FMOD", False)}

# ---------------- errors: tinygrad's exception type for each of its messages (libtgc uses tinygrad's wording) ----------------

_EXC_BY_MESSAGE = (("shape mismatch: objects cannot be broadcast", IndexError), ("dim=", IndexError), ("list index out of range", IndexError),
  ("only one dimension can be inferred", RuntimeError), ("order is not a valid permutation", RuntimeError),
  ("dim can appear at most once", RuntimeError), ("where cond must be bool", RuntimeError), ("shift operands must be int", RuntimeError),
  ("cannot create storage for weak dtype", RuntimeError), ("bitcast requires concrete dtypes", RuntimeError),
  ("unsupported size in bitcast", RuntimeError), ("both tensors need to be at least 1D", RuntimeError), ("cannot dot", RuntimeError),
  ("base needs to be float", RuntimeError), ("arange [", OverflowError), ("integer division or modulo by zero", ZeroDivisionError),
  ("float floor division by zero", ZeroDivisionError), ("kernel size cannot be greater", AssertionError), ("flip args must be axis ints", AssertionError))
_EXC_BY_STATUS = {"TG_ERR_SHAPE": ValueError, "TG_ERR_DTYPE": RuntimeError, "TG_ERR_INVALID_ARGUMENT": ValueError, "TG_ERR_OUT_OF_RANGE": IndexError}

def _check(status: int) -> None:
  if status == 0: return
  msg = last_error()
  exc = next((t for prefix, t in _EXC_BY_MESSAGE if msg.startswith(prefix)), _EXC_BY_STATUS.get(STATUS_NAMES.get(status, "")))
  if exc is None: check(status)  # not a tinygrad error (out of memory, released handle): the tgc exception
  err = (exc or error_class(status))(msg)
  err.status, err.status_name = status, STATUS_NAMES.get(status)
  raise err

def _call(fn: str, *args) -> Tensor:
  out = ffi.new("tg_tensor **")
  _check(getattr(lib(), fn)(*args, out))
  return Tensor._wrap(out[0])

# ---------------- helpers ----------------

def _argfix(*x):
  if x and x[0].__class__ in (tuple, list):
    if len(x) != 1: raise ValueError(f"bad arg {x}")
    return tuple(x[0])
  return x

def _ints(v: Sequence[int]):
  return ffi.new("int64_t[]", [int(x) for x in v] or [0])

def _dt(dtype: DTypeLike | None) -> int: return -1 if dtype is None else to_dtype(dtype).value

def _get_shape(x) -> tuple[int, ...]:
  if not hasattr(x, "__len__") or isinstance(x, str) or getattr(x, "shape", None) == (): return ()
  subs = [_get_shape(xi) for xi in x]
  if not all(s == subs[0] for s in subs): raise ValueError(f"inhomogeneous shape from {x}")
  return (len(subs),) + (subs[0] if subs else ())

def _fully_flatten(l):
  if not (hasattr(l, "__len__") and hasattr(l, "__getitem__")) or isinstance(l, str): return [l]
  return [l[()]] if hasattr(l, "shape") and l.shape == () else [x for li in l for x in _fully_flatten(li)]

def _is_numpy(x) -> bool: return str(type(x)) == "<class 'numpy.ndarray'>"
_NO_NUMPY = {"bfloat16", "fp8e4m3", "fp8e5m2", "fp8e4m3fnuz", "fp8e5m2fnuz", "weakint", "weakfloat", "void"}
def _to_np_dtype(dt: DType):
  import numpy as np
  return None if (n := _ATTR.get(dt, "void")) in _NO_NUMPY else np.dtype(n)
def _from_np_dtype(npdt) -> DType:
  import numpy as np
  return to_dtype(np.dtype(npdt).name)

def _default_device() -> str:
  from tgc.device import Device
  return Device.DEFAULT

def _canonical(device: str | None) -> str:
  from tgc.device import Device
  return Device.DEFAULT if device is None else Device.canonicalize(device)

# ---------------- Tensor ----------------

class Tensor:
  """A lazy value in the engine's UOp graph: tinygrad's Tensor, built by libtgc."""
  __slots__ = ("__weakref__", "_h", "grad", "is_param")

  def __init__(self, data: ConstType | bytes | list | tuple | Any | None, device: str | None = None, dtype: DTypeLike | None = None):
    _dtype = to_dtype(dtype) if dtype is not None else None
    self.grad, self.is_param = None, True
    if data is None: t = Tensor._const(0.0, _dtype)
    elif isinstance(data, (bool, int, float)): t = Tensor._const(data, _dtype)
    elif _is_numpy(data) and data.shape == (): t = Tensor._const(data.item(), _dtype or _from_np_dtype(data.dtype))
    elif isinstance(data, (bytes, list, tuple)) or _is_numpy(data):
      dev = _canonical(device)
      if _dtype in dtypes.weaks: t = Tensor._from_host("LIST", _dtype, (), b"", dev)  # libtgc raises tinygrad's error
      elif isinstance(data, bytes):
        dt = _dtype or dtypes.uint8
        n = len(data) // dt.itemsize
        t = Tensor._from_host("LIST", dt, (n,), data[:n * dt.itemsize], dev)
      elif isinstance(data, (list, tuple)):
        dt = _dtype or dtypes.from_py(data)
        bdt = dtypes.float32 if dt in (dtypes.bfloat16, *dtypes.fp8s) else dt  # bfloat16/fp8 lists are packed as float32
        shape = _get_shape(data)
        packed = struct.pack(f"{math.prod(shape)}{bdt.fmt}", *[truncate[bdt](bdt.const(xi)) for xi in _fully_flatten(data)])
        t = Tensor._from_host("LIST", dt, shape, packed, dev)
      else:
        import numpy as np
        arr = data.astype(npdt) if _dtype is not None and (npdt := _to_np_dtype(_dtype)) is not None else data
        t = Tensor._from_host("ARRAY", _from_np_dtype(arr.dtype), arr.shape, np.ascontiguousarray(arr).tobytes(), dev)
    else: raise RuntimeError(f"can't create Tensor from {data!r} with type {type(data)}")
    if _dtype is not None: t = t.cast(_dtype)
    self._h = t._h

  @staticmethod
  def _from_host(kind: str, dt: DType, shape, data: bytes, device: str) -> Tensor:
    return _call("tg_tensor_from_host", _HOST[kind], dt.value, _ints(shape), len(shape), data, len(data), device.encode())

  @staticmethod
  def _const(v: ConstType, dtype: DType | None = None) -> Tensor:
    if dtype is None: dtype = dtypes.from_py(v)
    if isinstance(v, float): return _call("tg_tensor_const_float", dtype.value, v)
    return _call("tg_tensor_const_int", dtype.value, int(v))

  @classmethod
  def _wrap(cls, h) -> Tensor:
    t = cls.__new__(cls)
    t._h, t.grad, t.is_param = ffi.gc(h, lib().tg_tensor_release), None, True
    return t

  def _ufix(self, x) -> Tensor: return x if isinstance(x, Tensor) else Tensor._const(x)

  # ---------------- properties ----------------

  @property
  def shape(self) -> tuple[int, ...]:
    _check(lib().tg_tensor_shape(self._h, ffi.NULL, 0, n := ffi.new("size_t *")))
    dims = ffi.new("int64_t[]", max(1, n[0]))
    _check(lib().tg_tensor_shape(self._h, dims, n[0], n))
    return tuple(dims[i] for i in range(n[0]))
  @property
  def dtype(self) -> DType:
    _check(lib().tg_tensor_dtype(self._h, out := ffi.new("tg_dtype *")))
    return _from_value(out[0])
  @property
  def device(self) -> str | None:
    _check(lib().tg_tensor_device(self._h, out := ffi.new("char **")))
    return None if out[0] == ffi.NULL else ffi.string(out[0]).decode()
  @property
  def ndim(self) -> int: return len(self.shape)
  def numel(self) -> int: return math.prod(self.shape)
  def size(self, dim: int | None = None): return self.shape if dim is None else self.shape[dim]
  def element_size(self) -> int:
    if self.dtype in dtypes.weaks: raise RuntimeError(f"element_size requires a concrete dtype, got {self.dtype}")
    return self.dtype.itemsize
  def nbytes(self) -> int: return self.numel() * self.element_size()
  def is_floating_point(self) -> bool: return dtypes.is_float(self.dtype)
  def __len__(self):
    if not (s := self.shape): raise TypeError("len() of a 0-d tensor")
    return s[0]
  def __bool__(self): raise TypeError("__bool__ on Tensor is not defined")
  def __hash__(self): return id(self)
  def __repr__(self): return f"<Tensor <UOp {self.device} {self.shape} {str(self.dtype)[7:]}> on {self.device} with grad None>"

  def _graph_json(self) -> str:
    """The tensor's UOp graph as JSON (tinygrad's Tensor.uop, in the form of tests/tinygrad_ir.py)."""
    _check(lib().tg_tensor_graph_json(self._h, ffi.NULL, 0, n := ffi.new("size_t *")))
    buf = ffi.new("char[]", n[0] + 1)
    _check(lib().tg_tensor_graph_json(self._h, buf, n[0] + 1, n))
    return ffi.string(buf).decode()

  # ---------------- creation ----------------

  @staticmethod
  def const(b: ConstType, dtype: DTypeLike | None = None) -> Tensor: return Tensor._const(b, None if dtype is None else to_dtype(dtype))
  @staticmethod
  def empty(*shape, device: str | None = None, dtype: DTypeLike | None = None) -> Tensor:
    shape = _argfix(*shape)
    return _call("tg_tensor_empty", _ints(shape), len(shape), _dt(dtype), _canonical(device).encode())
  @staticmethod
  def full(shape, fill_value, dtype: DTypeLike | None = None, device: str | None = None, buffer=True) -> Tensor:
    shape, fill = _argfix(shape), fill_value if isinstance(fill_value, Tensor) else Tensor._const(fill_value)
    dev = _canonical(device) if device is not None or (buffer and not isinstance(fill_value, Tensor)) else None
    return _call("tg_tensor_full", _ints(shape), len(shape), fill._h, _dt(dtype), dev.encode() if dev else ffi.NULL, int(bool(buffer)))
  @staticmethod
  def zeros(*shape, **kwargs) -> Tensor: return Tensor.full(_argfix(*shape), 0.0, **kwargs)
  @staticmethod
  def ones(*shape, **kwargs) -> Tensor: return Tensor.full(_argfix(*shape), 1.0, **kwargs)
  def full_like(self, fill_value, dtype=None, device=None, buffer=True) -> Tensor:
    return Tensor.full(self.shape, fill_value, dtype=dtype or self.dtype, device=self.device if device is None else device, buffer=buffer)
  def zeros_like(self, **kwargs) -> Tensor: return self.full_like(0, **kwargs)
  def ones_like(self, **kwargs) -> Tensor: return self.full_like(1, **kwargs)
  @staticmethod
  def arange(start, stop=None, step=1, dtype: DTypeLike | None = None) -> Tensor:
    args = [Tensor._const(v) if v is not None else None for v in (start, stop, step)]
    return _call("tg_tensor_arange", *[a._h if a is not None else ffi.NULL for a in args], _dt(dtype))

  # ---------------- dtype ----------------

  def cast(self, dtype: DTypeLike) -> Tensor: return _call("tg_tensor_cast", self._h, to_dtype(dtype).value)
  def bitcast(self, dtype: DTypeLike) -> Tensor: return _call("tg_tensor_bitcast", self._h, to_dtype(dtype).value)
  def float(self) -> Tensor: return self.cast(dtypes.float32)
  def half(self) -> Tensor: return self.cast(dtypes.float16)
  def int(self) -> Tensor: return self.cast(dtypes.int32)
  def bool(self) -> Tensor: return self.cast(dtypes.bool)
  def bfloat16(self) -> Tensor: return self.cast(dtypes.bfloat16)
  def double(self) -> Tensor: return self.cast(dtypes.double)
  def long(self) -> Tensor: return self.cast(dtypes.long)
  def short(self) -> Tensor: return self.cast(dtypes.short)
  def contiguous(self) -> Tensor: return _call("tg_tensor_contiguous", self._h)

  # ---------------- elementwise ----------------

  def _unary(self, op: str) -> Tensor: return _call("tg_tensor_unary", _UNARY_OPS[op], self._h)
  def _binary(self, op: str, x, reverse: bool = False) -> Tensor:
    a, b = (self._ufix(x), self) if reverse else (self, self._ufix(x))
    return _call("tg_tensor_binary", _BINARY_OPS[op], a._h, b._h)
  def div(self, x, reverse: bool = False, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode not in (None, "trunc", "floor"): raise RuntimeError(f"{rounding_mode=} is not supported")
    return self._binary({None: "DIV", "trunc": "TRUNCDIV", "floor": "FLOORDIV"}[rounding_mode], x, reverse)
  def where(self, x, y) -> Tensor:
    return _call("tg_tensor_where", self._h, self._ufix(x)._h, self._ufix(y)._h)
  def isinf(self, detect_positive: bool = True, detect_negative: bool = True) -> Tensor:
    if detect_positive and detect_negative: return self._unary("ISINF")
    return self.eq(float("inf")) * detect_positive + self.eq(float("-inf")) * detect_negative
  def clamp(self, min_=None, max_=None) -> Tensor:
    if min_ is None and max_ is None: raise RuntimeError("at least one of 'min_' or 'max_' must not be None")
    ret = (self < min_).where(min_, self) if min_ is not None else self
    return (ret > max_).where(max_, ret) if max_ is not None else ret
  def clip(self, min_=None, max_=None) -> Tensor: return self.clamp(min_, max_)

  # ---------------- movement ----------------

  def reshape(self, shape, *args) -> Tensor:
    sh = self.shape
    new_shape = tuple(s if s is not None else sh[i] for i, s in enumerate(_argfix(shape, *args)))
    return _call("tg_tensor_reshape", self._h, _ints(new_shape), len(new_shape))
  def view(self, shape, *args) -> Tensor: return self.reshape(shape, *args)
  def permute(self, order, *args) -> Tensor:
    order = _argfix(order, *args)
    return _call("tg_tensor_permute", self._h, _ints(order), len(order))
  def expand(self, shape, *args) -> Tensor:
    shape = tuple(-1 if s is None else s for s in _argfix(shape, *args))
    return _call("tg_tensor_expand", self._h, _ints(shape), len(shape))
  def shrink(self, arg) -> Tensor:
    sh = self.shape
    b = [x if x is not None else (0, sh[i] if i < len(sh) else 0) for i, x in enumerate(arg)]
    return _call("tg_tensor_shrink", self._h, _ints([v for p in b for v in p]), len(b))
  def pad(self, padding, mode: str = "constant", value: ConstType = 0.0) -> Tensor:
    if not any(isinstance(p, (tuple, type(None))) for p in padding):
      if len(padding) % 2 != 0: raise ValueError("Flat padding must have even number of pads")
      pX = ((0, 0),) * (self.ndim - len(padding) // 2) + tuple(zip(padding[-2::-2], padding[::-2]))
    else: pX = tuple((0, 0) if p is None else p for p in padding)
    if len(pX) != self.ndim: raise ValueError(f"padding length is improper, {padding=} {self.ndim=}")
    if mode != "constant": raise NotImplementedError(f"{mode=} is not supported yet by tgc")
    return _call("tg_tensor_pad", self._h, _ints([v for p in pX for v in p]), len(pX), Tensor._const(value)._h)
  def flip(self, axis, *args) -> Tensor:
    axis = _argfix(axis, *args)
    return _call("tg_tensor_flip", self._h, _ints(axis), len(axis))
  def _resolve_dim(self, dim: int, *, extra: bool = False) -> int:
    total = self.ndim + int(extra)
    if not -max(1, total) <= dim <= max(1, total) - 1: raise IndexError(f"{dim=} out of range {[-max(1, total), max(1, total) - 1]}")
    return dim + total if dim < 0 else dim
  def transpose(self, dim0=1, dim1=0) -> Tensor:
    order = list(range(self.ndim))
    order[dim0], order[dim1] = order[dim1], order[dim0]
    return self.permute(order)
  @property
  def T(self) -> Tensor: return self.transpose()
  def flatten(self, start_dim=0, end_dim=-1) -> Tensor:
    start_dim, end_dim, sh = self._resolve_dim(start_dim), self._resolve_dim(end_dim), self.shape
    return self.reshape(sh[:start_dim] + (math.prod(sh[start_dim:end_dim + 1]),) + sh[end_dim + 1:])
  def unflatten(self, dim: int, sizes: tuple[int, ...]) -> Tensor:
    dim, sh = self._resolve_dim(dim), self.shape
    return self.reshape(sh[:dim] + tuple(sizes) + sh[dim + 1:])
  def squeeze(self, dim: int | None = None) -> Tensor:
    if dim is None: return self.reshape(tuple(d for d in self.shape if d != 1))
    dim, sh = self._resolve_dim(dim), self.shape
    return self if not sh or sh[dim] != 1 else self.reshape(sh[:dim] + sh[dim + 1:])
  def unsqueeze(self, dim: int) -> Tensor:
    dim, sh = self._resolve_dim(dim, extra=True), self.shape
    return self.reshape(sh[:dim] + (1,) + sh[dim:])
  def repeat(self, repeats, *args) -> Tensor:
    repeats = _argfix(repeats, *args)
    base = (1,) * (len(repeats) - self.ndim) + self.shape
    unsq = [d for r, s in zip(repeats, base) for d in ([s] if r == 1 else [1, s])]
    exp = [d for r, s in zip(repeats, base) for d in ([s] if r == 1 else [r, s])]
    return self.reshape(unsq).expand(exp).reshape([r * s for r, s in zip(repeats, base)])

  # ---------------- reduce ----------------

  def _reduce(self, op: str, axis, keepdim: bool, dtype: DTypeLike | None = None) -> Tensor:
    axes = None if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    return _call("tg_tensor_reduce", _REDUCE_OPS[op], self._h, ffi.NULL if axes is None else _ints(axes), 0 if axes is None else len(axes),
                 int(bool(keepdim)), _dt(dtype))
  def sum(self, axis=None, keepdim=False, dtype: DTypeLike | None = None) -> Tensor: return self._reduce("SUM", axis, keepdim, dtype)
  def prod(self, axis=None, keepdim=False, dtype: DTypeLike | None = None) -> Tensor: return self._reduce("PROD", axis, keepdim, dtype)
  def max(self, axis=None, keepdim=False) -> Tensor: return self._reduce("MAX", axis, keepdim)
  def min(self, axis=None, keepdim=False) -> Tensor: return self._reduce("MIN", axis, keepdim)
  def mean(self, axis=None, keepdim=False) -> Tensor: return self._reduce("MEAN", axis, keepdim)
  def any(self, axis=None, keepdim=False) -> Tensor: return self._reduce("ANY", axis, keepdim)
  def all(self, axis=None, keepdim=False) -> Tensor: return self._reduce("ALL", axis, keepdim)

  # ---------------- realize and data ----------------

  def realize(self, *lst: Tensor) -> Tensor:
    """Triggers the computation needed to create these Tensor(s)."""
    hs = [t._h for t in (self, *lst)]
    _check(lib().tg_tensor_realize(ffi.new("tg_tensor *[]", hs), len(hs)))
    return self
  def _data_bytes(self, dt: DType) -> bytes:
    n = self.numel() * dt.itemsize
    buf = ffi.new("char[]", max(1, n))
    _check(lib().tg_tensor_data(self._h, buf, n))
    return ffi.buffer(buf, n)[:]
  def data(self) -> memoryview:
    """The tensor's elements as a memoryview of its dtype's struct format, in its shape."""
    dt = strong_dtype(self.dtype)
    if dt.fmt is None: raise RuntimeError(f"no memoryview format for {dt}")
    if 0 in self.shape: return memoryview(bytearray(0)).cast(dt.fmt)
    mv = memoryview(self._data_bytes(dt)).cast(dt.fmt)
    return mv.cast("B").cast(dt.fmt, self.shape) if self.shape else mv
  def numpy(self):
    """The tensor as a numpy array (bfloat16 and fp8 come back as float32, as in tinygrad)."""
    import numpy as np
    if self.dtype in (dtypes.bfloat16, *dtypes.fp8s): return self.cast(dtypes.float32).numpy()
    dt = strong_dtype(self.dtype)
    if 0 in self.shape: return np.zeros(self.shape, dtype=_to_np_dtype(dt))
    return np.frombuffer(self._data_bytes(dt), dtype=_to_np_dtype(dt)).reshape(self.shape).copy()
  def tolist(self): return self.numpy().tolist()
  def item(self):
    assert self.numel() == 1, "must have one element for item"
    return self.numpy().reshape(()).item()

  # ---------------- matmul ----------------

  def dot(self, w: Tensor, dtype: DTypeLike | None = None) -> Tensor: return _call("tg_tensor_dot", self._h, w._h, _dt(dtype))
  def matmul(self, x: Tensor, reverse=False, dtype: DTypeLike | None = None) -> Tensor:
    return x.dot(self, dtype=dtype) if reverse else self.dot(x, dtype=dtype)
  def __matmul__(self, x: Tensor) -> Tensor: return self.matmul(x)
  def __rmatmul__(self, x: Tensor) -> Tensor: return self.matmul(x, True)

def _unary_method(op: str):
  def f(self: Tensor) -> Tensor: return self._unary(op)
  return f
def _binary_method(op: str):
  def f(self: Tensor, x, reverse: bool = False) -> Tensor: return self._binary(op, x, reverse)
  return f
def _operator(op: str, reverse: bool):
  def f(self: Tensor, x) -> Tensor: return self._binary(op, x, reverse)
  return f

for _name, _op in _UNARY_METHODS.items(): setattr(Tensor, _name, _unary_method(_op))
for _name, _op in _BINARY_METHODS.items(): setattr(Tensor, _name, _binary_method(_op))
for _name, (_op, _rev) in _OPERATORS.items(): setattr(Tensor, _name, _operator(_op, _rev))
