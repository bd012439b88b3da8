"""tgc: tinygrad's engine in C behind a stable C ABI (include/tg.h), with GPU backends as pip-installable plugins.

`import tgc` is cheap and loads no shared library: the names below are imported on first access, libtgc is opened on
first use, and each backend's library on first use of one of its devices."""
import importlib

_LAZY = {"Device": "tgc.device", "Compiled": "tgc.device", "Buffer": "tgc.device", "Program": "tgc.device", "backends": "tgc.device",
         "TgcError": "tgc._ffi", "CompileError": "tgc._ffi", "CorruptError": "tgc._ffi", "dtypes": "tgc.dtype", "DType": "tgc.dtype", "to_dtype": "tgc.dtype", "least_upper_dtype": "tgc.dtype", "Tensor": "tgc.tensor", "GlobalCounters": "tgc.helpers", "TinyJit": "tgc.jit", "JitError": "tgc.jit"}
__all__ = ["__version__", "Device", "Compiled", "Buffer", "Program", "backends", "TgcError", "CompileError", "CorruptError", "dtypes", "Tensor", "GlobalCounters", "TinyJit", "JitError"]

def _version() -> str:
  import importlib.metadata
  try: return importlib.metadata.version("tgc")
  except importlib.metadata.PackageNotFoundError: return "0.0.0+unknown"

def __getattr__(name: str):
  if name == "__version__": val = _version()
  elif (mod := _LAZY.get(name)) is not None: val = getattr(importlib.import_module(mod), name)
  else: raise AttributeError(f"module 'tgc' has no attribute {name!r}")
  globals()[name] = val
  return val

def __dir__(): return sorted({*globals(), *__all__})
