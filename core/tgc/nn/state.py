"""tinygrad 0.14.0's nn/state.py: safetensors files and state dicts.

Parsing and writing safetensors is libtgc's ("State" in include/tg.h): a strict, bounds-checked reader whose every
complaint about a malformed file is a tgc.CorruptError (a ValueError) naming the problem. The state-dict walkers are
plain Python, as in tinygrad. torch_load is not implemented."""
from __future__ import annotations
import json, os, pathlib, time
from collections import OrderedDict
from typing import Any
from tgc._ffi import ffi, lib, check, STATUS, last_error
from tgc.dtype import dtypes
from tgc.tensor import Tensor

safe_dtypes = {"BOOL": dtypes.bool, "I8": dtypes.int8, "U8": dtypes.uint8, "I16": dtypes.int16, "U16": dtypes.uint16, "I32": dtypes.int32,
               "U32": dtypes.uint32, "I64": dtypes.int64, "U64": dtypes.uint64, "F8_E4M3": dtypes.fp8e4m3, "F8_E5M2": dtypes.fp8e5m2,
               "F16": dtypes.float16, "BF16": dtypes.bfloat16, "F32": dtypes.float32, "F64": dtypes.float64}
inverse_safe_dtypes = {v: k for k, v in safe_dtypes.items()}

def _file_bytes(fn) -> bytes:
  if isinstance(fn, (bytes, bytearray, memoryview)): return bytes(fn)
  if isinstance(fn, Tensor):
    if fn.ndim != 1 or fn.dtype != dtypes.uint8: raise ValueError("Tensor must be 1d and of dtype uint8!")
    return bytes(fn.data())
  with open(os.fspath(fn), "rb") as f: return f.read()

class _SafeFile:
  """A parsed safetensors file (a tg_safetensors handle): a path, bytes, or a 1-d uint8 Tensor of the file."""
  def __init__(self, fn):
    out = ffi.new("tg_safetensors **")
    if isinstance(fn, (str, os.PathLike)):
      open(os.fspath(fn), "rb").close()  # the OSError Python raises (FileNotFoundError, IsADirectoryError, ...), not TG_ERR_IO
      check(lib().tg_safetensors_open(os.fsencode(fn), out))
    else:
      data = _file_bytes(fn)
      check(lib().tg_safetensors_parse(data, len(data), out))
    self.h = ffi.gc(out[0], lib().tg_safetensors_release)
  def __len__(self) -> int:
    check(lib().tg_safetensors_count(self.h, n := ffi.new("size_t *")))
    return n[0]
  def name(self, i: int) -> str:
    e = ffi.new("tg_safetensors_entry *", {"struct_size": ffi.sizeof("tg_safetensors_entry")})
    check(lib().tg_safetensors_entry_get(self.h, i, e))
    return ffi.string(e.name).decode()
  def tensor(self, i: int, device: str | None = None) -> Tensor:
    check(lib().tg_safetensors_tensor(self.h, i, device.encode() if device else ffi.NULL, out := ffi.new("tg_tensor **")))
    return Tensor._wrap(out[0])
  def json(self, what: int) -> str:
    check(lib().tg_safetensors_json(self.h, what, ffi.NULL, 0, n := ffi.new("size_t *")))
    buf = ffi.new("char[]", n[0] + 1)
    check(lib().tg_safetensors_json(self.h, what, buf, n[0] + 1, n))
    return ffi.buffer(buf, n[0])[:].decode()

def safe_load_metadata(fn: Tensor | str | pathlib.Path | bytes) -> tuple[Tensor, int, dict[str, Any]]:
  """Loads a .safetensor file, returning the source tensor (the file's bytes, uint8), data start position, and metadata (the
  whole JSON header)."""
  data = _file_bytes(fn)
  header = _SafeFile(data).json(0)
  return (fn if isinstance(fn, Tensor) else Tensor(data, dtype=dtypes.uint8)), 8 + len(header.encode()), json.loads(header)

def safe_load(fn: Tensor | str | pathlib.Path | bytes) -> dict[str, Tensor]:
  """Loads a .safetensor file (a path, its bytes, or a 1-d uint8 Tensor of them), returning the `state_dict`.

  ```python
  state_dict = nn.state.safe_load("test.safetensor")
  ```"""
  f = _SafeFile(fn)
  return {f.name(i): f.tensor(i) for i in range(len(f))}

def safe_save(tensors: dict[str, Tensor], fn: str, metadata: dict[str, Any] | None = None):
  """Saves a `state_dict` to disk in a .safetensor file with optional metadata, laid out byte for byte as tinygrad's.

  ```python
  t = Tensor([1, 2, 3])
  nn.state.safe_save({'t':t}, "test.safetensor")
  ```"""
  if any(v.dtype in dtypes.weaks for v in tensors.values()): raise ValueError("safe_save requires concrete dtypes")
  names = [str(k) for k in tensors]
  if bad := [k for k in names if "\x00" in k]: raise ValueError(f"safe_save: tensor name {bad[0]!r} holds a NUL character")
  cnames = [ffi.new("char[]", k.encode()) for k in names]
  meta = ffi.new("char[]", json.dumps(metadata, separators=(",", ":")).encode()) if metadata else ffi.NULL
  hs = [t._h for t in tensors.values()]
  st = lib().tg_safetensors_save_file(os.fsencode(fn), ffi.new("char *[]", cnames) if cnames else ffi.NULL,
                                      ffi.new("tg_tensor *[]", hs) if hs else ffi.NULL, len(hs), meta)
  if st == STATUS["TG_ERR_IO"]: raise OSError(last_error())
  check(st)

# ---------------- state dict ----------------

def get_state_dict(obj, prefix: str = "", tensor_type=Tensor) -> dict[str, Tensor]:
  """Returns a `state_dict` of the object, with optional prefix: its tensors by dotted path through attributes, namedtuples,
  lists, tuples and dicts.

  ```python
  class Net:
    def __init__(self):
      self.l1 = nn.Linear(4, 5)
      self.l2 = nn.Linear(5, 6)
  net = Net()
  print(nn.state.get_state_dict(net).keys())   # dict_keys(['l1.weight', 'l1.bias', 'l2.weight', 'l2.bias'])
  ```"""
  if isinstance(obj, tensor_type): return {prefix.strip("."): obj}
  if hasattr(obj, "_asdict"): return get_state_dict(obj._asdict(), prefix, tensor_type)
  if isinstance(obj, OrderedDict): return get_state_dict(dict(obj), prefix, tensor_type)
  if hasattr(obj, "__dict__"): return get_state_dict(obj.__dict__, prefix, tensor_type)
  ret: dict[str, Tensor] = {}
  if isinstance(obj, (list, tuple)): items = enumerate(obj)
  elif isinstance(obj, dict): items = obj.items()
  else: return ret
  for k, v in items: ret.update(get_state_dict(v, f"{prefix}{k}.", tensor_type))
  return ret

def get_parameters(obj) -> list[Tensor]:
  """The tensors of get_state_dict(obj), in its order."""
  return list(get_state_dict(obj).values())

def load_state_dict(model, state_dict: dict[str, Tensor], strict=True, verbose=True, consume=False, realize=True) -> list[Tensor]:
  """Loads a `state_dict` into a model, writing each value into the model's tensor of that name (Tensor.assign; a value of
  another dtype is cast to the model's). Returns the loaded Tensors. strict: a key of the model missing from state_dict is
  a KeyError (else skipped); keys the model lacks are ignored, as in tinygrad. verbose: print the time taken and bytes loaded.

  ```python
  net = Net()
  nn.state.load_state_dict(net, nn.state.safe_load("net.safetensors"))
  ```"""
  debug, start = int(os.environ.get("DEBUG") or 0), time.perf_counter()
  model_state_dict, ret = get_state_dict(model), []
  if debug >= 1 and len(state_dict) > len(model_state_dict):
    print("WARNING: unused weights in state_dict", sorted(list(state_dict.keys() - model_state_dict.keys())))
  for k, v in model_state_dict.items():
    if k not in state_dict and not strict:
      if debug >= 1: print(f"WARNING: not loading {k}")
      continue
    src = state_dict[k]
    if v.shape != src.shape:
      if {(), (1,)} == {src.shape, v.shape}: src = src.reshape(v.shape)
      else: raise ValueError(f"Shape mismatch in layer `{k}`: Expected shape {v.shape}, but found {src.shape} in state dict.")
    v.assign(src if src.dtype == v.dtype else src.cast(v.dtype))
    if realize: v.realize()
    if consume: del state_dict[k]
    ret.append(v)
  if verbose:
    et, nb = time.perf_counter() - start, sum(t.nbytes() for t in ret)
    print(f"loaded weights in {et*1e3:7.2f} ms, {nb/1e9:.2f} GB loaded at {nb/max(et, 1e-9)/1e9:.2f} GB/s")
  return ret

# ---------------- torch_load: PyTorch's zip checkpoint format, read without torch ----------------

_TORCH_STORAGES = {"HalfStorage": "float16", "FloatStorage": "float32", "DoubleStorage": "float64", "BFloat16Storage": "bfloat16",
                   "IntStorage": "int32", "LongStorage": "int64", "ShortStorage": "int16", "CharStorage": "int8",
                   "ByteStorage": "uint8", "BoolStorage": "bool"}

class TorchLoadError(ValueError):
  """A file torch_load cannot read: not a PyTorch zip checkpoint, an object it will not unpickle, or bad tensor data."""

def torch_load(fn) -> dict[str, Tensor]:
  """Loads a PyTorch .pth/.pt state_dict saved with torch.save (the zip format, PyTorch >= 1.6), without torch and
  without running code from the file: the unpickler only accepts the classes a state_dict is made of (tensor rebuild
  functions, typed storages, OrderedDict, Parameter); anything else raises TorchLoadError naming it. Tensors are placed
  on the default device; non-contiguous (permuted) storage views are rebuilt with their strides."""
  import io, pickle, zipfile
  import numpy as np
  data = _file_bytes(fn)
  try: zf = zipfile.ZipFile(io.BytesIO(data))
  except zipfile.BadZipFile as e: raise TorchLoadError(f"torch_load: not a PyTorch zip checkpoint ({e}); the legacy tar/pickle format is not supported") from None
  names = zf.namelist()
  pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
  if len(pkl) != 1: raise TorchLoadError(f"torch_load: expected one data.pkl in the archive, found {len(pkl)}")
  root = pkl[0][:-len("data.pkl")]

  def storage_bytes(key: str) -> bytes:
    try: return zf.read(f"{root}data/{key}")
    except KeyError: raise TorchLoadError(f"torch_load: storage {key!r} is missing from the archive") from None

  def rebuild(storage, offset, size, stride, *_):
    dt, key, numel = storage
    np_dt = np.uint16 if dt == "bfloat16" else np.bool_ if dt == "bool" else np.dtype(dt)
    raw = storage_bytes(key)
    itemsize = np.dtype(np_dt).itemsize
    if len(raw) < numel * itemsize: raise TorchLoadError(f"torch_load: storage {key!r} holds {len(raw)} bytes, {numel} elements need {numel * itemsize}")
    flat = np.frombuffer(raw, dtype=np_dt, count=numel)
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if any(s < 0 for s in size) or any(s < 0 for s in stride): raise TorchLoadError(f"torch_load: negative size or stride {size} {stride}")
    need = offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1 if all(s > 0 for s in size) else 0
    if offset < 0 or need > numel: raise TorchLoadError(f"torch_load: a view of {size} at offset {offset} reads past its storage of {numel}")
    arr = np.lib.stride_tricks.as_strided(flat[offset:], shape=size, strides=tuple(st * itemsize for st in stride)).copy() if need else np.zeros(size, np_dt)
    if dt == "bfloat16": return Tensor(arr.view(np.uint16)).bitcast(dtypes.bfloat16)
    return Tensor(arr)

  class _Param:
    def __new__(cls, data=None, requires_grad=True, *_): return data
  class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
      if module == "collections" and name == "OrderedDict": return OrderedDict
      if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"): return rebuild
      if module == "torch._utils" and name == "_rebuild_parameter": return lambda data, requires_grad, *_: data
      if module == "torch.nn.parameter" and name == "Parameter": return _Param
      if module == "torch" and name in _TORCH_STORAGES: return _TORCH_STORAGES[name]
      raise TorchLoadError(f"torch_load: refusing to unpickle {module}.{name} (only state_dict contents are loaded)")
    def persistent_load(self, pid):
      if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"): raise TorchLoadError(f"torch_load: unexpected persistent id {pid!r}")
      _, dt, key, _, numel = pid[:5]
      if dt not in _TORCH_STORAGES.values(): raise TorchLoadError(f"torch_load: unsupported storage type {dt!r}")
      return (dt, str(key), int(numel))
  try: obj = _Unpickler(io.BytesIO(zf.read(pkl[0]))).load()
  except TorchLoadError: raise
  except Exception as e: raise TorchLoadError(f"torch_load: cannot read {pkl[0]}: {type(e).__name__}: {e}") from None
  if not isinstance(obj, dict): raise TorchLoadError(f"torch_load: the checkpoint holds a {type(obj).__name__}, not a state_dict")
  return dict(obj)
