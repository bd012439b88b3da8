"""cffi binding (ABI mode) to libtgc, and the one place where a tg_status becomes a Python exception.

The declarations come from tg_cdef.h, generated from include/tg.h at build time and installed next to this file (or, with
$TGC_LIBRARY set, the one generated next to that library).
The library is opened on first use of `lib()`, never at import: `import tgc` loads no shared library."""
from __future__ import annotations
import os, re, threading, functools, importlib.resources
from cffi import FFI

def _read_cdef() -> str:
  # A development build: TGC_LIBRARY=build/libtgc.so with PYTHONPATH=core takes the cdef generated next to that library.
  if (lp := os.environ.get("TGC_LIBRARY")) and os.path.exists(cp := os.path.join(os.path.dirname(lp), "tg_cdef.h")):
    with open(cp) as f: return f.read()
  return importlib.resources.files("tgc").joinpath("tg_cdef.h").read_text()

CDEF = _read_cdef()
ffi = FFI()
ffi.cdef(CDEF)

# ---------------- status names, from the enum in the cdef ----------------

STATUS_NAMES: dict[int, str] = dict(ffi.typeof("tg_status").elements)   # {0: "TG_OK", 1: "TG_ERR_INVALID_ARGUMENT", ...}
STATUS: dict[str, int] = {v: k for k, v in STATUS_NAMES.items()}
OK = STATUS["TG_OK"]

def enum_names(ctype: str, prefix: str) -> dict[int, str]:
  """{value: short name} of a cdef enum, without the prefix and without the *_COUNT sentinel: tg_dtype -> {11: "float32", ...}."""
  return {v: n[len(prefix):] for v, n in sorted(ffi.typeof(ctype).elements.items()) if not n.endswith("_COUNT")}

# ---------------- exceptions ----------------

class TgcError(RuntimeError):
  """A failing tg_* call. `status` is the tg_status code, `status_name` its enum name, str(e) is tg_last_error()."""
  code = ""   # the tg_status name a subclass stands for
  def __init__(self, msg: str, status: int | None = None):
    super().__init__(msg)
    self.status = STATUS.get(self.code) if status is None else status
    self.status_name = STATUS_NAMES.get(self.status, f"status {self.status}") if self.status is not None else None

class InvalidArgumentError(TgcError, ValueError): code = "TG_ERR_INVALID_ARGUMENT"
class NullPointerError(TgcError, ValueError): code = "TG_ERR_NULL_POINTER"
class ShapeError(TgcError, ValueError): code = "TG_ERR_SHAPE"
class DtypeError(TgcError, ValueError): code = "TG_ERR_DTYPE"
class OutOfRangeError(TgcError, IndexError): code = "TG_ERR_OUT_OF_RANGE"
class TgcMemoryError(TgcError, MemoryError): code = "TG_ERR_OUT_OF_MEMORY"
class UnsupportedError(TgcError, NotImplementedError): code = "TG_ERR_UNSUPPORTED"
class CompileError(TgcError): code = "TG_ERR_COMPILE"
class InvalidHandleError(TgcError): code = "TG_ERR_INVALID_HANDLE"
class LoadError(TgcError): code = "TG_ERR_LOAD"
class AbiError(TgcError): code = "TG_ERR_ABI"
class UnavailableError(TgcError): code = "TG_ERR_UNAVAILABLE"
class CorruptError(TgcError, ValueError): code = "TG_ERR_CORRUPT"

# keyed by the enum's names, so a renumbered or appended code needs no edit here; codes not listed raise TgcError
_ERRORS: dict[str, type[TgcError]] = {c.code: c for c in (InvalidArgumentError, NullPointerError, ShapeError, DtypeError, OutOfRangeError,
                                                          TgcMemoryError, UnsupportedError, CompileError, InvalidHandleError, LoadError, AbiError,
                                                          UnavailableError, CorruptError)}

def error_class(status: int) -> type[TgcError]: return _ERRORS.get(STATUS_NAMES.get(status, ""), TgcError)

def last_error() -> str: return ffi.string(lib().tg_last_error()).decode(errors="replace")

def check(status: int) -> None:
  """The error funnel: raise the exception for a failing tg_status, with the calling thread's tg_last_error() as message."""
  if status == OK: return
  msg = last_error() or f"{STATUS_NAMES.get(status, 'unknown status')} ({ffi.string(lib().tg_status_string(status)).decode()})"
  raise error_class(status)(msg, status)

# ---------------- the library, opened lazily ----------------

_LIB_NAMES = ("libtgc.so", "libtgc.dylib", "tgc.dll")
_lib, _lib_path, _lib_lock = None, None, threading.Lock()

def library_path() -> str:
  """Where libtgc is: $TGC_LIBRARY (another build, e.g. with sanitizers), else the one installed in the tgc package."""
  if p := os.environ.get("TGC_LIBRARY"): return p
  pkg = importlib.resources.files("tgc")
  for n in _LIB_NAMES:
    if (f := pkg.joinpath(n)).is_file(): return str(f)
  raise LoadError(f"libtgc not found in the tgc package ({pkg}; looked for {', '.join(_LIB_NAMES)}): reinstall tgc or set TGC_LIBRARY")

def lib():
  """The opened libtgc (cffi library object); opened on the first call."""
  global _lib, _lib_path
  if _lib is None:
    with _lib_lock:
      if _lib is None:
        path = library_path()
        try: _lib, _lib_path = ffi.dlopen(path), path
        except OSError as e: raise LoadError(f"cannot load libtgc from {path!r}: {e}") from e
  return _lib

def loaded_library_path() -> str | None: return _lib_path

def version() -> str: return ffi.string(lib().tg_version()).decode()

# ---------------- #define constants (cffi gives them only through the opened library) ----------------

def _int_defines(text: str, prefix: str) -> dict[str, int]:
  return {k: int(v, 0) for k, v in re.findall(rf"^\s*#\s*define\s+{prefix}(\w+)\s+(0x[0-9a-fA-F]+|\d+)u?\b", text, re.M)}

@functools.cache
def host_abi() -> tuple[int, int]:
  """The backend ABI (major, minor) this tgc speaks, from the #defines in the cdef (cffi exposes those only through the
  opened library), else from the installed tg_backend.h: known without loading libtgc, so that a plugin's manifest JSON
  can be refused before its library is opened."""
  if not {"MAJOR", "MINOR"} <= (vals := _int_defines(CDEF, "TG_BACKEND_ABI_")).keys():
    vals = _int_defines(importlib.resources.files("tgc").joinpath("include", "tg_backend.h").read_text(), "TG_BACKEND_ABI_")
  if not {"MAJOR", "MINOR"} <= vals.keys(): raise LoadError(f"no TG_BACKEND_ABI_MAJOR/MINOR in tg_cdef.h or tg_backend.h (found {vals})")
  return vals["MAJOR"], vals["MINOR"]
