"""tinygrad 0.14.0's Tensor over libtgc's tg_tensor_* calls (include/tg.h, "Tensor").

Every op builds the lazy UOp graph in C, exactly as tinygrad builds it; this module only turns Python arguments into
C arguments (Python scalars become weak 0-d constants, as tinygrad's ufix makes them) and C errors into the exception
types tinygrad raises for the same input. Realize, .numpy() and friends arrive with the engine."""
from __future__ import annotations
import hashlib, math, os, struct, weakref
from collections.abc import Sequence
from typing import Any
from tgc._ffi import ffi, lib, enum_names, check, last_error, error_class, STATUS_NAMES
from tgc.dtype import DType, DTypeLike, dtypes, to_dtype, truncate, strong_dtype, sum_acc_dtype, least_upper_dtype, _from_value, _ATTR

ConstType = float | int | bool

# ---------------- op tables: method name -> enum name in tg.h ----------------

_UNARY_OPS = {v: k for k, v in enum_names("tg_unary_op", "TG_UNARY_").items()}
_ACT = {v: k for k, v in enum_names("tg_activation", "TG_ACT_").items()}      # {"NEG": 0, ...}
_BINARY_OPS = {v: k for k, v in enum_names("tg_binary_op", "TG_BINARY_").items()}
_REDUCE_OPS = {v: k for k, v in enum_names("tg_reduce_op", "TG_REDUCE_").items()}
_HOST = {v: k for k, v in enum_names("tg_host_kind", "TG_HOST_").items()}
_INTERP = {"linear": 0, "nearest": 1, "nearest-exact": 2}   # tg_interpolate_mode
_SCATTER = {v.lower(): k for k, v in enum_names("tg_scatter_reduce", "TG_SCATTER_").items() if v != "NONE"}                  # {"ARRAY": 0, "LIST": 1}
_UNARY_METHODS = {"neg": "NEG", "reciprocal": "RECIPROCAL", "sqrt": "SQRT", "rsqrt": "RSQRT", "exp2": "EXP2", "log2": "LOG2", "exp": "EXP",
                  "log": "LOG", "log10": "LOG10", "sin": "SIN", "cos": "COS", "tan": "TAN", "trunc": "TRUNC", "floor": "FLOOR", "ceil": "CEIL",
                  "round": "ROUND", "abs": "ABS", "sign": "SIGN", "relu": "RELU", "sigmoid": "SIGMOID", "tanh": "TANH", "silu": "SILU",
                  "swish": "SILU", "square": "SQUARE", "logical_not": "LOGICAL_NOT", "bitwise_not": "BITWISE_NOT", "isnan": "ISNAN",
                  "isfinite": "ISFINITE", "__neg__": "NEG", "__invert__": "BITWISE_NOT", "detach": "DETACH",
                  "contiguous_backward": "CONTIGUOUS_BACKWARD"}
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

class JitError(Exception):
  """tinygrad's JitError: a TinyJit used wrongly (changed inputs, data read during capture, nothing captured)."""

_EXC_BY_MESSAGE = (("cannot access tensor data during JIT capture", JitError), ("shape mismatch: objects cannot be broadcast", IndexError), ("dim=", IndexError), ("list index out of range", IndexError),
  ("only one dimension can be inferred", RuntimeError), ("order is not a valid permutation", RuntimeError),
  ("dim can appear at most once", RuntimeError), ("where cond must be bool", RuntimeError), ("shift operands must be int", RuntimeError),
  ("cannot create storage for weak dtype", RuntimeError), ("bitcast requires concrete dtypes", RuntimeError),
  ("unsupported size in bitcast", RuntimeError), ("both tensors need to be at least 1D", RuntimeError), ("cannot dot", RuntimeError),
  ("base needs to be float", RuntimeError), ("arange [", OverflowError), ("integer division or modulo by zero", ZeroDivisionError),
  ("float floor division by zero", ZeroDivisionError), ("kernel size cannot be greater", AssertionError), ("flip args must be axis ints", AssertionError),
  ("Input Tensor shape", AssertionError), ("shape mismatch: self.shape", RuntimeError), ("expected Y and self", RuntimeError), ("stride/dilation mismatch", AssertionError),

  ("expected index and self", RuntimeError), ("expected src and self", RuntimeError), ("self.ndim must equal", RuntimeError),
  ("requires self.shape[d]", AssertionError), ("self.ndim, index.ndim and src.ndim", AssertionError), ("All dimensions of", AssertionError),
  ("non-scalar src is not supported", TypeError), ("can't setitem on a tensor with other uses", RuntimeError), ("tuple index out of range", IndexError),
  ("invalid size=", AssertionError), ("only supports linear, nearest", AssertionError), ("align_corners option", AssertionError),
  ("expected two or more dimensions", AssertionError), ("NS only works", AssertionError), ("Expected integer dtype for index", TypeError),
  ("reduce() of empty iterable", TypeError), ("cannot convert float infinity to integer", OverflowError),
  ("cannot convert float NaN to integer", ValueError),
  ("division by zero", ZeroDivisionError), ("float division by zero", ZeroDivisionError), ("0.0 cannot be raised to a negative power", ZeroDivisionError),
  ("no replacement samples must not exceed", AssertionError), ("expect sizes to sum exactly", AssertionError),
  ("expect chunks to be greater than 0", AssertionError), ("dim1 and dim2 cannot be the same", RuntimeError), ("len(dims)=", RuntimeError),
  ("size must be >= 0", RuntimeError), ("step must be > 0", RuntimeError), ("maximum size for tensor at dimension", RuntimeError),
  ('need exactly one "->" in formula', AssertionError), ("bracket mismatch", AssertionError), ("name mismatch in ", AssertionError),
  ("invalid axis name ", AssertionError), ("cannot have collapsed ellipsis", AssertionError), ("size provided for dimension", AssertionError))
# messages whose start names a value: matched anywhere in the message
_EXC_BY_SUBSTRING = (("must be 1 or 2 dim", AssertionError), ("is not used in transform", AssertionError))
_EXC_BY_STATUS = {"TG_ERR_SHAPE": ValueError, "TG_ERR_DTYPE": RuntimeError, "TG_ERR_INVALID_ARGUMENT": ValueError, "TG_ERR_OUT_OF_RANGE": IndexError}

def _check(status: int) -> None:
  if status == 0: return
  msg = last_error()
  exc = next((t for prefix, t in _EXC_BY_MESSAGE if msg.startswith(prefix)), None) or next((t for sub, t in _EXC_BY_SUBSTRING if sub in msg), None) \
    or _EXC_BY_STATUS.get(STATUS_NAMES.get(status, ""))
  if exc is None: check(status)  # not a tinygrad error (out of memory, released handle): the tgc exception
  err = (exc or error_class(status))(msg)
  err.status, err.status_name = status, STATUS_NAMES.get(status)
  raise err

def _call(fn: str, *args) -> Tensor:
  out = ffi.new("tg_tensor **")
  _check(getattr(lib(), fn)(*args, out))
  return Tensor._wrap(out[0])

def _calln(fn: str, n: int, *args) -> tuple:
  """A call with n tensor results (all or none)."""
  outs = [ffi.new("tg_tensor **") for _ in range(n)]
  _check(getattr(lib(), fn)(*args, *outs))
  return tuple(Tensor._wrap(o[0]) for o in outs)

def _opt(t) -> Any: return t._h if t is not None else ffi.NULL

# ---------------- helpers ----------------

_ALL_TENSORS: weakref.WeakSet = weakref.WeakSet()  # tinygrad's all_tensors: what backward() can fill .grad of

def _argfix(*x):
  if x and x[0].__class__ in (tuple, list):
    if len(x) != 1: raise ValueError(f"bad arg {x}")
    return tuple(x[0])
  return x

def _ints(v: Sequence[int]):
  return ffi.new("int64_t[]", [int(x) for x in v] or [0])

def _reduction(r: str) -> int:
  if r not in ("none", "mean", "sum"): raise ValueError(f"reduction={r!r} must be one of ('none', 'mean', 'sum')")
  return {"none": 0, "mean": 1, "sum": 2}[r]

def _dt(dtype: DTypeLike | None) -> int: return -1 if dtype is None else to_dtype(dtype).value
def _dev(device: str | None): return ffi.NULL if device is None else _canonical(device).encode()
def _py(v) -> Tensor: return v if isinstance(v, Tensor) else Tensor._const(v)  # a Python scalar as libtgc takes it

def _calls(fn: str, *args) -> tuple[Tensor, ...]:
  """A tg_* call with (outs, cap, nout) at the end: asks for the count, then for the tensors."""
  n = ffi.new("size_t *")
  _check(getattr(lib(), fn)(*args, ffi.NULL, 0, n))
  outs = ffi.new("tg_tensor *[]", max(1, n[0]))
  _check(getattr(lib(), fn)(*args, outs, n[0], n))
  return tuple(Tensor._wrap(outs[i]) for i in range(n[0]))

_PAD_MODES = {"constant": 0, "reflect": 1, "replicate": 2, "circular": 3}

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

_opened: set[str] = set()
def _open(name: str) -> str:
  """A plugin backend is loaded when a device of it is first asked for (Device[name]); a tensor asks for its device."""
  if name not in _opened:
    from tgc.device import Device
    Device[name]
    _opened.add(name)
  return name

def _default_device() -> str:
  from tgc.device import Device
  return _open(Device.DEFAULT)

def _canonical(device: str | None) -> str:
  from tgc.device import Device
  return _open(Device.DEFAULT if device is None else Device.canonicalize(device))

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
    _ALL_TENSORS.add(self)

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
    _ALL_TENSORS.add(t)
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
  @property
  def max_shape(self) -> tuple[int, ...]: return self.shape  # shapes are concrete: no symbolic dims to bound
  def max_numel(self) -> int: return self.numel()
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
    return _call("tg_tensor_full_like", self._h, _py(fill_value)._h, _dt(dtype), _dev(device), int(bool(buffer)))
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
  def const_like(self, b, dtype: DTypeLike | None = None) -> Tensor:
    """The constant b broadcast to this tensor's shape, without storage (tinygrad's const_like)."""
    return _call("tg_tensor_const_like", self._h, Tensor._const(b)._h, _dt(dtype))
  def is_param_(self, is_param: bool = True) -> Tensor:
    self.is_param = is_param
    return self
  def to(self, device: str | None) -> Tensor:
    """Moves the tensor to the given device (lazily: a copy at the next realize)."""
    if self.device is None or (dev := _canonical(device)) == self.device: return self
    ret = _call("tg_tensor_to", self._h, dev.encode())
    if self.grad is not None: ret.grad = self.grad.to(device)
    return ret.is_param_(self.is_param)
  def clone(self, device: str | None = None) -> Tensor:
    """A copy of this tensor in a separate buffer, on `device` if given."""
    ret = _call("tg_tensor_clone", self._h, _canonical(device).encode() if device is not None else ffi.NULL)
    if self.grad is not None: ret.grad = self.grad.clone(device=device)
    return ret.is_param_(self.is_param)
  # ---------------- functional compositions (tinygrad's OpMixin definitions over the C ops) ----------------
  # These build exactly tinygrad's graphs from libtgc's ops; they are composed here, not yet in core/src/tensor.

  training: bool = os.environ.get("TRAINING", "0") not in ("", "0")  # tinygrad's TRAINING context variable

  class train:
    """with Tensor.train(): ... turns Tensor.training on inside the block (tinygrad: Context(TRAINING=1))."""
    def __init__(self, mode: bool = True): self.mode = mode
    def __enter__(self): self.prev, Tensor.training = Tensor.training, self.mode
    def __exit__(self, *_): Tensor.training = self.prev

  def batchnorm(self, weight, bias, mean: Tensor, invstd: Tensor, axis=1) -> Tensor:
    axes = _argfix(axis)
    return _call("tg_tensor_batchnorm", self._h, _opt(weight), _opt(bias), mean._h, invstd._h, _ints(axes), len(axes))

  def softmax(self, axis=-1, dtype: DTypeLike | None = None) -> Tensor:
    return _call("tg_tensor_softmax", self._h, axis, _dt(dtype), 0)
  def log_softmax(self, axis=-1, dtype: DTypeLike | None = None) -> Tensor:
    return _call("tg_tensor_softmax", self._h, axis, _dt(dtype), 1)
  def softmin(self, axis=-1, dtype: DTypeLike | None = None) -> Tensor: return _call("tg_tensor_softmin", self._h, axis, _dt(dtype))
  def logsumexp(self, axis=None, keepdim=False) -> Tensor:
    axes = None if axis is None else _argfix(axis)
    return _call("tg_tensor_logsumexp", self._h, _ints(axes) if axes is not None else ffi.NULL, len(axes or ()), int(keepdim))
  def argmax(self, axis=None, keepdim=False) -> Tensor:
    return _call("tg_tensor_argmax", self._h, ffi.new("int64_t *", axis) if axis is not None else ffi.NULL, int(keepdim), 0)
  def argmin(self, axis=None, keepdim=False) -> Tensor:
    return _call("tg_tensor_argmax", self._h, ffi.new("int64_t *", axis) if axis is not None else ffi.NULL, int(keepdim), 1)
  def _inverse(self) -> Tensor: return -self if self.is_floating_point() else ~self if dtypes.is_int(self.dtype) else self.logical_not()
  def _one_hot_along_dim(self, num_classes: int, dim: int = -1) -> Tensor: return _call("tg_tensor_one_hot_along_dim", self._h, num_classes, dim)
  def one_hot(self, num_classes: int) -> Tensor: return _call("tg_tensor_one_hot", self._h, num_classes)
  def _do_reduction(self, reduction: str = "mean") -> Tensor:
    if reduction not in ("none", "mean", "sum"): raise ValueError(f"{reduction=} must be one of ('none', 'mean', 'sum')")
    return self.mean() if reduction == "mean" else self.sum() if reduction == "sum" else self
  def sparse_categorical_crossentropy(self, Y: Tensor, ignore_index: int = -1, label_smoothing=0.0, reduction: str = "mean") -> Tensor:
    assert 0.0 <= label_smoothing <= 1.0, "label_smoothing must be in [0.0, 1.0]"
    return _call("tg_tensor_sparse_categorical_crossentropy", self._h, Y._h, ignore_index, float(label_smoothing), _reduction(reduction))
  def cross_entropy(self, Y: Tensor, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    assert 0.0 <= label_smoothing <= 1.0, "label_smoothing must be in [0.0, 1.0]"
    return _call("tg_tensor_cross_entropy", self._h, Y._h, _reduction(reduction), float(label_smoothing))
  def var(self, axis=None, keepdim=False, correction=1) -> Tensor:
    axes = None if axis is None else _argfix(axis)
    return _call("tg_tensor_var", self._h, _ints(axes) if axes is not None else ffi.NULL, len(axes or ()), int(keepdim), float(correction), 0)
  def std(self, axis=None, keepdim=False, correction=1) -> Tensor:
    axes = None if axis is None else _argfix(axis)
    return _call("tg_tensor_var", self._h, _ints(axes) if axes is not None else ffi.NULL, len(axes or ()), int(keepdim), float(correction), 1)
  def layernorm(self, axis=-1, eps: float = 1e-5) -> Tensor:
    axes = _argfix(axis)
    return _call("tg_tensor_layernorm", self._h, _ints(axes), len(axes), float(eps))
  def linear(self, weight: Tensor, bias: Tensor | None = None, dtype: DTypeLike | None = None) -> Tensor:
    return _call("tg_tensor_linear", self._h, weight._h, _opt(bias), _dt(dtype))
  def sequential(self, ll) -> Tensor:
    x = self
    for f in ll: x = f(x)
    return x
  def dropout(self, p=0.5) -> Tensor:
    if not 0 <= p <= 1: raise ValueError(f"{p=} is out of range [0, 1]")
    return _call("tg_tensor_dropout", self._h, float(p), int(bool(Tensor.training)))
  def _act(self, op: str, *p: float) -> Tensor:
    return _call("tg_tensor_activation", _ACT[op], self._h, ffi.new("double[2]", [float(v) for v in p] + [0.0] * (2 - len(p))))
  def relu6(self) -> Tensor: return self._act("RELU6")
  def hardswish(self) -> Tensor: return self._act("HARDSWISH")
  def hardsigmoid(self, alpha: float = 1 / 6, beta: float = 0.5) -> Tensor: return self._act("HARDSIGMOID", alpha, beta)
  def hardtanh(self, min_val=-1, max_val=1) -> Tensor: return self._act("HARDTANH", min_val, max_val)
  def leaky_relu(self, neg_slope=0.01) -> Tensor: return self._act("LEAKY_RELU", neg_slope)
  def elu(self, alpha=1.0) -> Tensor: return self._act("ELU", alpha)
  def celu(self, alpha=1.0) -> Tensor: return self._act("CELU", alpha)
  def selu(self, alpha=1.67326, gamma=1.0507) -> Tensor: return self._act("SELU", alpha, gamma)
  def softplus(self, beta=1.0) -> Tensor: return self._act("SOFTPLUS", beta)
  def mish(self) -> Tensor: return self._act("MISH")
  def logsigmoid(self) -> Tensor: return self._act("LOGSIGMOID")
  def quick_gelu(self) -> Tensor: return self._act("QUICK_GELU")
  def gelu(self, approximate: str = "tanh") -> Tensor:
    if approximate not in ("tanh", "none"): raise ValueError(f"approximate must be 'tanh' or 'none', got {approximate!r}")
    return self._act("GELU", float(approximate == "none"))
  def softsign(self) -> Tensor: return self._act("SOFTSIGN")
  def sinh(self) -> Tensor: return self._act("SINH")
  def cosh(self) -> Tensor: return self._act("COSH")
  def atanh(self) -> Tensor: return self._act("ATANH")
  def asinh(self) -> Tensor: return self._act("ASINH")
  def acosh(self) -> Tensor: return self._act("ACOSH")
  def asin(self) -> Tensor: return self._act("ASIN")
  def acos(self) -> Tensor: return self._act("ACOS")
  def atan(self) -> Tensor: return self._act("ATAN")
  def erf(self) -> Tensor: return self._act("ERF")
  def logaddexp(self, other) -> Tensor: return self._binary("LOGADDEXP", other)
  def copysign(self, other) -> Tensor: return self._binary("COPYSIGN", other)
  def lerp(self, end: Tensor, weight) -> Tensor: return _call("tg_tensor_lerp", self._h, end._h, self._ufix(weight)._h)

  # ---------------- more of tinygrad's compositions (composed here over libtgc's ops, graphs equal tinygrad's) ----------------

  @staticmethod
  def linspace(start, stop, steps: int, dtype: DTypeLike | None = None) -> Tensor:
    return _call("tg_tensor_linspace", _py(start)._h, _py(stop)._h, steps, _dt(dtype))
  def meshgrid(self, *args: Tensor, indexing: str = "ij") -> tuple[Tensor, ...]:
    if indexing not in ("ij", "xy"): raise RuntimeError(f'indexing must be in ("ij", "xy"), got {indexing}')
    if not args: return (self,)
    ts = (self, *args)
    outs = ffi.new("tg_tensor *[]", len(ts))
    _check(lib().tg_tensor_meshgrid(ffi.new("tg_tensor *[]", [t._h for t in ts]), len(ts), int(indexing == "xy"), outs))
    return tuple(Tensor._wrap(outs[i]) for i in range(len(ts)))
  def _shape_arg(self, shape) -> list[int]:
    """A shape with None entries (keep the dim) resolved against self.shape; entries past self.ndim stay for libtgc to refuse."""
    sh = self.shape
    return [(sh[i] if i < len(sh) else 0) if v is None else v for i, v in enumerate(shape)]
  def pad_to(self, shape, *args, value=0) -> Tensor:
    s = self._shape_arg(_argfix(shape, *args))
    return _call("tg_tensor_pad_to", self._h, _ints(s), len(s), _py(value)._h)
  def shrink_to(self, shape, *args) -> Tensor:
    s = self._shape_arg(_argfix(shape, *args))
    return _call("tg_tensor_shrink_to", self._h, _ints(s), len(s))
  def diag(self) -> Tensor: return _call("tg_tensor_diag", self._h)
  def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor: return _call("tg_tensor_diagonal", self._h, offset, dim1, dim2)
  def roll(self, shifts, dims=None) -> Tensor:
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    if dims is None: return _call("tg_tensor_roll", self._h, _ints(shifts), len(shifts), ffi.NULL, 0)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    return _call("tg_tensor_roll", self._h, _ints(shifts), len(shifts), _ints(dims), len(dims))
  def repeat_interleave(self, repeats: int, dim: int | None = None) -> Tensor:
    return _call("tg_tensor_repeat_interleave", self._h, repeats, ffi.NULL if dim is None else ffi.new("int64_t *", dim))
  def unfold(self, dim: int, size: int, step: int) -> Tensor: return _call("tg_tensor_unfold", self._h, dim, size, step)
  def rearrange(self, formula: str, **sizes) -> Tensor:
    """einops' rearrange: "b (h w) c -> b c h w", with sizes of the axes that can't be inferred (h=2)."""
    names = [ffi.new("char[]", k.encode()) for k in sizes]
    return _call("tg_tensor_rearrange", self._h, formula.encode(), ffi.new("char *[]", names), _ints(list(sizes.values())), len(sizes))
  def normalize(self, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    return _call("tg_tensor_normalize", self._h, Tensor._const(p)._h, dim, float(eps))
  def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan=False) -> Tensor:
    return _call("tg_tensor_isclose", self._h, self._ufix(other)._h, float(rtol), float(atol), int(bool(equal_nan)))
  def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan=False) -> Tensor:
    return _call("tg_tensor_allclose", self._h, self._ufix(other)._h, float(rtol), float(atol), int(bool(equal_nan)))
  def _var_mean(self, axis, keepdim, correction, std: int) -> tuple[Tensor, Tensor]:
    axes = None if axis is None else _argfix(axis)
    return _calln("tg_tensor_var_mean", 2, self._h, _ints(axes) if axes is not None else ffi.NULL, len(axes or ()), int(keepdim), float(correction), std)
  def var_mean(self, axis=None, keepdim=False, correction=1) -> tuple[Tensor, Tensor]: return self._var_mean(axis, keepdim, correction, 0)
  def std_mean(self, axis=None, keepdim=False, correction=1) -> tuple[Tensor, Tensor]: return self._var_mean(axis, keepdim, correction, 1)
  def empty_like(self, dtype: DTypeLike | None = None, device: str | None = None) -> Tensor:
    return _call("tg_tensor_empty_like", self._h, _dt(dtype), _dev(device))
  def binary_crossentropy(self, Y: Tensor, reduction: str = "mean") -> Tensor:
    return _call("tg_tensor_binary_crossentropy", self._h, Y._h, _reduction(reduction))
  def binary_crossentropy_logits(self, Y: Tensor, reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    return _call("tg_tensor_binary_crossentropy_logits", self._h, Y._h, _reduction(reduction), _opt(pos_weight))
  def nll_loss(self, Y: Tensor, weight: Tensor | None = None, ignore_index: int | None = None, reduction: str = "mean") -> Tensor:
    ii = ffi.new("int64_t *", ignore_index) if ignore_index is not None else ffi.NULL
    return _call("tg_tensor_nll_loss", self._h, Y._h, _opt(weight), ii, _reduction(reduction))
  def scaled_dot_product_attention(self, key: Tensor, value: Tensor, attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                   is_causal: bool = False, enable_gqa: bool = False) -> Tensor:
    return _call("tg_tensor_scaled_dot_product_attention", self._h, key._h, value._h, _opt(attn_mask), float(dropout_p), int(bool(is_causal)),
                 int(bool(enable_gqa)), int(bool(Tensor.training)))
  def interpolate(self, size, mode: str = "linear", align_corners: bool = False) -> Tensor:
    assert isinstance(size, (tuple, list)) and all(isinstance(s, int) for s in size), f"invalid {size=}"
    return _call("tg_tensor_interpolate", self._h, _ints(size), len(size), _INTERP.get(mode, 255), int(bool(align_corners)))

  def logcumsumexp(self, axis=0) -> Tensor: return _call("tg_tensor_logcumsumexp", self._h, axis)
  def masked_select(self, mask: Tensor, size: int | None = None, fill_value=0) -> Tensor:
    return _call("tg_tensor_masked_select", self._h, mask._h, ffi.new("int64_t *", size) if size is not None else ffi.NULL, Tensor._const(fill_value)._h)
  def nonzero(self, size: int | None = None, fill_value=0) -> Tensor:
    return _call("tg_tensor_nonzero", self._h, ffi.new("int64_t *", size) if size is not None else ffi.NULL, Tensor._const(fill_value)._h)
  @staticmethod
  def randperm(n: int, device=None, dtype=dtypes.int32, contiguous: bool = True) -> Tensor:
    return _call("tg_tensor_randperm", n, to_dtype(dtype).value, _dev(device), int(bool(contiguous)))
  def multinomial(self, num_samples: int = 1, replacement: bool = False) -> Tensor:
    return _call("tg_tensor_multinomial", self._h, num_samples, int(bool(replacement)))

  @staticmethod
  def einsum(formula: str, *operands, dtype: DTypeLike | None = None) -> Tensor:
    """Einstein summation as tinygrad 0.14.0 evaluates it (traces, ellipsis, implicit output)."""
    xs = _argfix(*operands)
    return _call("tg_tensor_einsum", formula.encode(), ffi.new("tg_tensor *[]", [x._h for x in xs] or 1), len(xs), _dt(dtype))

  # ---------------- linear algebra (tinygrad's "matrix ops", unrolled into the graph in libtgc) ----------------

  def qr(self) -> tuple[Tensor, Tensor]: return _calln("tg_tensor_qr", 2, self._h)
  def svd(self, full_matrices=True) -> tuple[Tensor, Tensor, Tensor]: return _calln("tg_tensor_svd", 3, self._h, int(bool(full_matrices)))
  def newton_schulz(self, steps: int, params: tuple[int, ...], eps: float = 1.0e-7) -> Tensor:
    return _call("tg_tensor_newton_schulz", self._h, steps, ffi.new("double[]", [float(p) for p in params] or [0.0]), len(params), float(eps))

  # ---------------- random (tinygrad's threefry counter-based generator, bit for bit) ----------------

  @staticmethod
  def manual_seed(seed=0) -> None:
    """Sets the seed for random operations (every device's stream restarts)."""
    _check(lib().tg_tensor_manual_seed(int(seed) & 0xffffffffffffffff))

  @staticmethod
  def rand(*shape, device: str | None = None, dtype: DTypeLike | None = None, contiguous: bool = True) -> Tensor:
    """Uniform random values in [0, 1), the same stream as tinygrad's for the same seed (drawn in libtgc)."""
    dt = to_dtype(dtype) if dtype is not None else dtypes.default_float
    if not dtypes.is_float(dt) or dt in dtypes.weaks: raise ValueError(f"rand only supports concrete float dtypes, got {dt}")
    shape = _argfix(*shape)
    if not all(isinstance(s, int) and s >= 0 for s in shape): raise ValueError(f"invalid input {shape=}")
    return _call("tg_tensor_rand", _ints(shape), len(shape), dt.value, _canonical(device).encode(), int(bool(contiguous)))
  def rand_like(self, **kwargs) -> Tensor:
    return Tensor.rand(*self.shape, device=kwargs.pop("device", self.device), dtype=kwargs.pop("dtype", self.dtype), **kwargs)
  def randn_like(self, dtype: DTypeLike | None = None, device: str | None = None, contiguous: bool = True) -> Tensor:
    return _call("tg_tensor_randn_like", self._h, _dt(dtype), _dev(device), int(bool(contiguous)))
  @staticmethod
  def randn(*shape, dtype: DTypeLike | None = None, device: str | None = None) -> Tensor:
    shape = _argfix(*shape)
    return _call("tg_tensor_randn", _ints(shape), len(shape), _dt(dtype), _dev(device))
  @staticmethod
  def randint(*shape, low=0, high=10, dtype=dtypes.int32, device: str | None = None, contiguous: bool = True) -> Tensor:
    if not all(isinstance(v, int) for v in (low, high)): raise TypeError(f"{low=} and {high=} must be integers")
    if not dtypes.is_int(dtype := to_dtype(dtype)): raise TypeError(f"{dtype=} must be int")
    shape = _argfix(*shape)
    return _call("tg_tensor_randint", _ints(shape), len(shape), low, high, dtype.value, _dev(device), int(bool(contiguous)))
  @staticmethod
  def normal(*shape, mean=0.0, std=1.0, dtype: DTypeLike | None = None, device: str | None = None) -> Tensor:
    shape = _argfix(*shape)
    return _call("tg_tensor_normal", _ints(shape), len(shape), _py(mean)._h, _py(std)._h, _dt(dtype), _dev(device))
  @staticmethod
  def uniform(*shape, low=0.0, high=1.0, dtype: DTypeLike | None = None, device: str | None = None, contiguous: bool = True) -> Tensor:
    shape = _argfix(*shape)
    if not all(isinstance(s, int) for s in shape): raise ValueError(f"invalid input {shape=}")
    return _call("tg_tensor_uniform", _ints(shape), len(shape), _py(low)._h, _py(high)._h, _dt(dtype), _dev(device), int(bool(contiguous)))
  @staticmethod
  def _init(fn: str, shape, *args, dtype=None, device=None, contiguous=None) -> Tensor:
    shape = _argfix(*shape)
    return _call(fn, _ints(shape), len(shape), *args, _dt(dtype), _dev(device), *(() if contiguous is None else (int(bool(contiguous)),)))
  @staticmethod
  def scaled_uniform(*shape, dtype=None, device=None, contiguous=True) -> Tensor:
    return Tensor._init("tg_tensor_scaled_uniform", shape, dtype=dtype, device=device, contiguous=contiguous)
  @staticmethod
  def glorot_uniform(*shape, dtype=None, device=None, contiguous=True) -> Tensor:
    return Tensor._init("tg_tensor_glorot_uniform", shape, dtype=dtype, device=device, contiguous=contiguous)
  @staticmethod
  def kaiming_uniform(*shape, a: float = 0.01, dtype=None, device=None, contiguous=True) -> Tensor:
    return Tensor._init("tg_tensor_kaiming_uniform", shape, float(a), dtype=dtype, device=device, contiguous=contiguous)
  @staticmethod
  def kaiming_normal(*shape, a: float = 0.01, dtype=None, device=None) -> Tensor:
    return Tensor._init("tg_tensor_kaiming_normal", shape, float(a), dtype=dtype, device=device)

  # ---------------- indexing, stack, cat, split ----------------

  def _indices(self, indices):
    """tinygrad's index list as a tg_index array (and the tensors it points at): a list becomes an index tensor as
    UOp._frompy makes it, its negative values wrapped against the dim it indexes."""
    if (isinstance(indices, list) and all(isinstance(i, int) for i in indices)) or not isinstance(indices, (tuple, list)): indices = [indices]
    shape, keep = self.shape, []
    nreal = sum(1 for i in indices if i is not None and i is not Ellipsis)
    idx, dim = ffi.new("tg_index[]", max(1, len(indices))), 0
    for k, i in enumerate(indices):
      e = idx[k]
      if i is None: e.kind = lib().TG_INDEX_NONE
      elif i is Ellipsis: e.kind, dim = lib().TG_INDEX_ELLIPSIS, dim + max(0, len(shape) - nreal)
      elif isinstance(i, bool): raise IndexError(f"{type(i).__name__} indexing is not supported")
      elif isinstance(i, int): e.kind, e.start = lib().TG_INDEX_INT, i
      elif isinstance(i, slice):
        if not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (i.start, i.stop, i.step)):
          raise TypeError(f"slice index={i!r} is not supported")
        e.kind = lib().TG_INDEX_SLICE
        for bit, v, f in ((1, i.start, "start"), (2, i.stop, "stop"), (4, i.step, "step")):
          if v is not None: e.has |= bit; setattr(e, f, v)
      elif isinstance(i, Tensor): e.kind, e.tensor = lib().TG_INDEX_TENSOR, i._h
      elif isinstance(i, (list, tuple)):
        if nreal > len(shape): e.kind = lib().TG_INDEX_INT  # a stand-in: libtgc raises "too many indices" first, as tinygrad does
        else:
          e.kind, e.has = lib().TG_INDEX_TENSOR, 8  # TG_INDEX_WRAPPED
          flat, size = _fully_flatten(i), shape[dim]
          if not flat or not all(isinstance(v, int) for v in flat) or all(isinstance(v, bool) for v in flat):
            raise IndexError(f"index={i!r} contains non-int element")
          keep.append(t := Tensor([v + size if v < 0 else v for v in flat], device=self.device, dtype=dtypes.default_int).reshape(_get_shape(i)))
          e.tensor = t._h
      else: raise IndexError(f"{type(i).__name__} indexing is not supported")
      if i is not None and i is not Ellipsis: dim += 1
    return idx, len(indices), keep
  def __getitem__(self, indices) -> Tensor:
    """x[...] as tinygrad indexes: int, slice, None, Ellipsis (views), tensors and lists of ints (advanced indexing)."""
    idx, n, _keep = self._indices(indices)
    return _call("tg_tensor_getitem", self._h, idx, n)
  def __setitem__(self, indices, v) -> None:
    """self[indices] = v with tinygrad's semantics (a functional replace, or an assign into self's buffer)."""
    if self.dtype in dtypes.weaks: raise RuntimeError("cannot setitem into a weak tensor; it has no storage")
    if not isinstance(v, Tensor): v = Tensor(v, device=self.device, dtype=self.dtype)
    idx, n, _keep = self._indices(indices)
    _check(lib().tg_tensor_setitem(self._h, idx, n, v._h))
  def __delitem__(self, indices) -> None: raise TypeError("Tensor does not support deleting items")
  def gather(self, dim: int, index: Tensor) -> Tensor: return _call("tg_tensor_gather", self._h, dim, index._h)
  def scatter(self, dim: int, index: Tensor, src, reduce: str | None = None) -> Tensor:
    if reduce not in {None, "add", "multiply"}: raise TypeError(f"{reduce=} must be one of None, 'multiply', or 'add'")
    return _call("tg_tensor_scatter", self._h, dim, index._h, self._ufix(src)._h, {None: 0, "add": 1, "multiply": 2}[reduce])
  def scatter_reduce(self, dim: int, index: Tensor, src: Tensor, reduce: str, include_self: bool = True) -> Tensor:
    if reduce not in _SCATTER: raise RuntimeError(f"{reduce=} must be one of 'sum', 'prod', 'mean', 'amax', 'amin'")
    return _call("tg_tensor_scatter_reduce", self._h, dim, index._h, src._h, _SCATTER[reduce], int(bool(include_self)))
  def masked_fill(self, mask: Tensor, value) -> Tensor: return _call("tg_tensor_masked_fill", self._h, mask._h, self._ufix(value)._h)
  def _cumalu(self, op: str, axis: int, indices: bool = False):
    out, idx = ffi.new("tg_tensor **"), ffi.new("tg_tensor **") if indices else ffi.NULL
    _check(lib().tg_tensor_cumalu(_REDUCE_OPS[op], self._h, axis, out, idx))
    return (Tensor._wrap(out[0]), Tensor._wrap(idx[0])) if indices else Tensor._wrap(out[0])
  def cumsum(self, axis: int = 0) -> Tensor: return self._cumalu("SUM", axis)
  def cumprod(self, axis: int) -> Tensor: return self._cumalu("PROD", axis)
  def cummax(self, axis: int = 0) -> tuple[Tensor, Tensor]: return self._cumalu("MAX", axis, True)
  def cummin(self, axis: int = 0) -> tuple[Tensor, Tensor]: return self._cumalu("MIN", axis, True)
  def triu(self, diagonal: int = 0) -> Tensor: return _call("tg_tensor_triu", self._h, diagonal, 0)
  def tril(self, diagonal: int = 0) -> Tensor: return _call("tg_tensor_triu", self._h, diagonal, 1)
  @staticmethod
  def eye(n: int, m: int | None = None, dtype: DTypeLike | None = None) -> Tensor: return _call("tg_tensor_eye", n, n if m is None else m, _dt(dtype))
  def _pair(self, fn: str, *args) -> tuple[Tensor, Tensor]:
    v, i = ffi.new("tg_tensor **"), ffi.new("tg_tensor **")
    _check(getattr(lib(), fn)(self._h, *args, v, i))
    return Tensor._wrap(v[0]), Tensor._wrap(i[0])
  def sort(self, dim: int = -1, descending: bool = False) -> tuple[Tensor, Tensor]: return self._pair("tg_tensor_sort", dim, int(bool(descending)))
  def argsort(self, dim: int = -1, descending: bool = False) -> Tensor: return self.sort(dim, descending)[1]
  def topk(self, k: int, dim: int = -1, largest: bool = True, sorted_: bool = True) -> tuple[Tensor, Tensor]:
    if not sorted_: raise NotImplementedError("topk with sorted_=False is not supported")
    return self._pair("tg_tensor_topk", k, dim, int(bool(largest)))
  def stack(self, *args: Tensor, dim: int = 0) -> Tensor:
    ts = _argfix(self, *args)
    return _call("tg_tensor_stack", ffi.new("tg_tensor *[]", [t._h for t in ts]), len(ts), dim)
  def cat(self, *args: Tensor, dim: int = 0) -> Tensor:
    ts = _argfix(self, *args)
    return _call("tg_tensor_cat", ffi.new("tg_tensor *[]", [t._h for t in ts]), len(ts), dim)
  def split(self, sizes, dim: int = 0) -> tuple[Tensor, ...]:
    if isinstance(sizes, int): return _calls("tg_tensor_split", self._h, sizes, ffi.NULL, 0, dim)
    return _calls("tg_tensor_split", self._h, 0, _ints(list(sizes)), len(sizes), dim)
  def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]: return list(_calls("tg_tensor_chunk", self._h, chunks, dim))

  # ---------------- autograd ----------------

  def gradient(self, *targets: Tensor, gradient: Tensor | None = None) -> list[Tensor]:
    """Computes the gradient of the targets with respect to self (lazily: the backward graph, realized on demand)."""
    assert gradient is not None or self.shape == (), "when no gradient is provided, backward must be called on a scalar tensor"
    return self._gradient(list(targets), gradient, 0)
  def _gradient(self, targets: list[Tensor], gradient: Tensor | None, flags: int) -> list[Tensor | None]:
    out = ffi.new("tg_tensor *[]", max(1, len(targets)))
    _check(lib().tg_tensor_gradient(self._h, ffi.new("tg_tensor *[]", [t._h for t in targets]), len(targets),
                                    gradient._h if gradient is not None else ffi.NULL, flags, out))
    return [Tensor._wrap(out[i]) if out[i] != ffi.NULL else None for i in range(len(targets))]
  def backward(self, gradient: Tensor | None = None) -> Tensor:
    """Propagates the gradient of this tensor back through its graph: every live float tensor with a device that it
    depends on gets (or accumulates into) .grad. Without `gradient`, self must be a scalar."""
    assert gradient is not None or self.shape == (), "when no gradient is provided, backward must be called on a scalar tensor"
    cands = [t for t in list(_ALL_TENSORS) if t.is_floating_point() and t.device is not None]
    for t, g in zip(cands, self._gradient(cands, gradient, 1)):
      if g is None: continue
      assert g.shape == t.shape, f"grad shape must match tensor shape, {g.shape!r} != {t.shape!r}"
      if t.grad is None: t.grad = g
      else: t.grad.assign(t.grad + g)
    return self

  def assign(self, x) -> Tensor:
    """Writes x into this tensor's storage (lazily: at the next realize). x is broadcast to self's shape and must have
    self's dtype; a Python value becomes a tensor of self's dtype on self's device."""
    if not isinstance(x, Tensor): x = Tensor(x, device=self.device, dtype=strong_dtype(self.dtype))
    _check(lib().tg_tensor_assign(self._h, x._h))
    return self

  # ---------------- elementwise ----------------

  def _unary(self, op: str) -> Tensor: return _call("tg_tensor_unary", _UNARY_OPS[op], self._h)
  def _binary(self, op: str, x, reverse: bool = False) -> Tensor:
    a, b = (self._ufix(x), self) if reverse else (self, self._ufix(x))
    return _call("tg_tensor_binary", _BINARY_OPS[op], a._h, b._h)
  def div(self, x, reverse: bool = False, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode not in (None, "trunc", "floor"): raise RuntimeError(f"{rounding_mode=} is not supported")
    return self._binary({None: "DIV", "trunc": "TRUNCDIV", "floor": "FLOORDIV"}[rounding_mode], x, reverse)
  def threefry(self, seed) -> Tensor: return self._binary("THREEFRY", seed)
  def where(self, x, y) -> Tensor:
    return _call("tg_tensor_where", self._h, self._ufix(x)._h, self._ufix(y)._h)
  def isinf(self, detect_positive: bool = True, detect_negative: bool = True) -> Tensor:
    return _call("tg_tensor_isinf", self._h, int(bool(detect_positive)), int(bool(detect_negative)))
  def clamp(self, min_=None, max_=None) -> Tensor:
    return _call("tg_tensor_clamp", self._h, *[self._ufix(v)._h if v is not None else ffi.NULL for v in (min_, max_)])
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
    if mode not in _PAD_MODES: raise NotImplementedError(f"{mode=} is not supported")
    return _call("tg_tensor_pad_mode", self._h, _ints([v for p in pX for v in p]), len(pX), _PAD_MODES[mode], _py(value)._h)
  def flip(self, axis, *args) -> Tensor:
    axis = _argfix(axis, *args)
    return _call("tg_tensor_flip", self._h, _ints(axis), len(axis))
  def _resolve_dim(self, dim: int, *, extra: bool = False) -> int:
    total = self.ndim + int(extra)
    if not -max(1, total) <= dim <= max(1, total) - 1: raise IndexError(f"{dim=} out of range {[-max(1, total), max(1, total) - 1]}")
    return dim + total if dim < 0 else dim
  def transpose(self, dim0=1, dim1=0) -> Tensor: return _call("tg_tensor_transpose", self._h, dim0, dim1)
  @property
  def T(self) -> Tensor: return self.transpose()
  def flatten(self, start_dim=0, end_dim=-1) -> Tensor: return _call("tg_tensor_flatten", self._h, start_dim, end_dim)
  def unflatten(self, dim: int, sizes: tuple[int, ...]) -> Tensor:
    return _call("tg_tensor_unflatten", self._h, dim, _ints(sizes), len(sizes))
  def squeeze(self, dim: int | None = None) -> Tensor:
    return _call("tg_tensor_squeeze", self._h, ffi.NULL if dim is None else ffi.new("int64_t *", dim))
  def unsqueeze(self, dim: int) -> Tensor: return _call("tg_tensor_unsqueeze", self._h, dim)
  def repeat(self, repeats, *args) -> Tensor:
    repeats = _argfix(repeats, *args)
    return _call("tg_tensor_repeat", self._h, _ints(repeats), len(repeats))

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

  # ---------------- convolutions and pools (any number of spatial dims, as tinygrad's) ----------------

  def conv2d(self, weight: Tensor, bias: Tensor | None = None, groups=1, stride=1, dilation=1, padding=0, dtype=None) -> Tensor:
    p, _keep = _conv_params(max(weight.ndim - 2, 0), groups, stride, dilation, padding, dtype=dtype)
    return _call("tg_tensor_conv2d", self._h, weight._h, bias._h if bias is not None else ffi.NULL, p)
  def conv_transpose2d(self, weight: Tensor, bias: Tensor | None = None, groups=1, stride=1, dilation=1, padding=0,
                       output_padding=0) -> Tensor:
    p, _keep = _conv_params(max(weight.ndim - 2, 0), groups, stride, dilation, padding, output_padding)
    return _call("tg_tensor_conv_transpose2d", self._h, weight._h, bias._h if bias is not None else ffi.NULL, p)
  def avg_pool2d(self, kernel_size=(2, 2), stride=None, dilation=1, padding=0, ceil_mode=False, count_include_pad=True) -> Tensor:
    k = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
    p, _keep = _conv_params(len(k), 1, stride, dilation, padding, None, ceil_mode, count_include_pad)
    return _call("tg_tensor_avg_pool2d", self._h, _ints(k), len(k), p)
  def max_pool2d(self, kernel_size=(2, 2), stride=None, dilation=1, padding=0, ceil_mode=False, return_indices=False):
    k = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
    p, _keep = _conv_params(len(k), 1, stride, dilation, padding, None, ceil_mode)
    if not return_indices: return _call("tg_tensor_max_pool2d", self._h, _ints(k), len(k), p, ffi.NULL)
    idx, out = ffi.new("tg_tensor **"), ffi.new("tg_tensor **")
    _check(lib().tg_tensor_max_pool2d(self._h, _ints(k), len(k), p, idx, out))
    return Tensor._wrap(out[0]), Tensor._wrap(idx[0])
  def max_unpool2d(self, indices: Tensor, kernel_size=(2, 2), stride=None, dilation=1, padding=0, output_size=None) -> Tensor:
    ns = max(self.ndim - 2, 0)
    k = (kernel_size,) * ns if isinstance(kernel_size, int) else tuple(kernel_size)
    p, _keep = _conv_params(ns, 1, stride, dilation, padding)
    osz = None if output_size is None else tuple(output_size)
    return _call("tg_tensor_max_unpool2d", self._h, indices._h, _ints(k), len(k), p, _ints(osz) if osz is not None else ffi.NULL, len(osz or ()))

def _conv_params(n: int, groups=1, stride=None, dilation=1, padding=0, output_padding=None, ceil_mode=False, count_include_pad=True,
                 dtype=None):
  """A tg_conv_params for n spatial dims and the arrays it points at (keep both alive for the call). Python ints become
  make_tuple's n copies (padding: resolve_pool_pads' 2n); sequences go to C as they are, which checks their lengths."""
  p, keep = ffi.new("tg_conv_params *"), []
  lib().tg_conv_params_init(p)
  def arr(field: str, v, cnt: int):
    if v is None: return
    v = (v,) * cnt if isinstance(v, int) else tuple(v)
    keep.append(a := _ints(v))
    setattr(p, field, a)
    setattr(p, "n" + field, len(v))
  arr("stride", stride, n), arr("dilation", dilation, n), arr("padding", padding, 2 * n), arr("output_padding", output_padding, n)
  p.groups, p.ceil_mode, p.count_include_pad, p.dtype = groups, bool(ceil_mode), bool(count_include_pad), _dt(dtype)
  return p, keep

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
