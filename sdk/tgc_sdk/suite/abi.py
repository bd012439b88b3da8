"""The host side of include/tg_backend.h in Python (cffi, ABI mode), so the suite drives a backend library directly.

The declarations are tgc's own (tg_cdef.h, generated from the installed tg.h/tg_backend.h), never typed twice. Unlike
libtgc, this host can lie on purpose: offer another ABI major or minor, pass out-structs smaller or larger than its
own, call the entry twice, unload and reload. Every call the suite makes goes through `Session`, which counts what was
allocated and freed, and through `check()`, which turns a failing status into an assertion naming the backend's own
message (delivered through host->set_error)."""
from __future__ import annotations
import re, importlib.resources
from dataclasses import dataclass, field
from cffi import FFI

CDEF = importlib.resources.files("tgc").joinpath("tg_cdef.h").read_text()
ffi = FFI()
ffi.cdef(CDEF)
# the two symbols a backend exports (tg_backend.h names them only as strings and a function-pointer typedef)
ffi.cdef("tg_status tg_backend_entry_v1(const tg_backend_host *host, const tg_backend_api **out_api);\nextern tg_manifest tg_backend_manifest;")

def _define(name: str) -> int:
  if not (m := re.search(rf"^\s*#\s*define\s+{name}\s+(0x[0-9a-fA-F]+|\d+)u?\b", CDEF, re.M)): raise RuntimeError(f"{name} not in tgc's tg_cdef.h")
  return int(m.group(1), 0)

ABI_MAJOR, ABI_MINOR, MAGIC = _define("TG_BACKEND_ABI_MAJOR"), _define("TG_BACKEND_ABI_MINOR"), _define("TG_BACKEND_MAGIC")
STATUS_NAMES: dict[int, str] = dict(ffi.typeof("tg_status").elements)
STATUS = {v: k for k, v in STATUS_NAMES.items()}
OK = STATUS["TG_OK"]
DTYPES = {v: n[3:].lower() for v, n in sorted(ffi.typeof("tg_dtype").elements.items()) if v < ffi.typeof("tg_dtype").relements["TG_DTYPE_COUNT"]}
ALU_OPS = {v: n[7:] for v, n in sorted(ffi.typeof("tg_alu_op").elements.items()) if not n.endswith("_COUNT")}
DEVICE_TYPES = {v: n[10:] for v, n in ffi.typeof("tg_device_type").elements.items()}
DIALECTS = ("c", "cuda", "hip", "metal", "opencl", "wgsl", "glsl")
FLAVORS = ("release", "debug", "asan")
ENTRY_SYMBOL, MANIFEST_SYMBOL = "tg_backend_entry_v1", "tg_backend_manifest"

def sname(status: int) -> str: return STATUS_NAMES.get(int(status), f"status {int(status)}")
def size_to(ctype: str, f: str) -> int:
  """TG_STRUCT_SIZE(T, field)."""
  return ffi.offsetof(ctype, f) + ffi.sizeof(ffi.typeof(ctype).fields[[n for n, _ in ffi.typeof(ctype).fields].index(f)][1].type)
def text(chars) -> str: return ffi.string(chars).decode(errors="replace")

REQUIRED = ("device_count", "device_properties", "device_caps", "device_open", "device_close", "alloc", "free", "copyin", "copyout",
            "compile", "blob_free", "load", "program_free", "launch", "synchronize")
OPTIONAL = ("shutdown", "buffer_view", "transfer", "event_create", "event_record", "event_synchronize", "event_elapsed", "event_free")
EVENTS = OPTIONAL[3:]
API_MIN_SIZE = size_to("tg_backend_api", "synchronize")

class BackendError(AssertionError):
  """A backend call failed where the suite needed it to succeed (an AssertionError, so the case FAILs)."""

# ---------------- the host table ----------------

class Host:
  """A tg_backend_host whose set_error/log callbacks record what the backend says. `extra` bytes are appended (a newer
  host); `struct_size` may claim less than the struct (an older host). The object must outlive the backend's use of it."""
  def __init__(self, major: int = ABI_MAJOR, minor: int = ABI_MINOR, struct_size: int | None = None, extra: int = 0):
    self.errors: list[tuple[int, str]] = []
    self.logs: list[tuple[int, str]] = []
    self._cbs = (ffi.callback("void(void *, tg_status, const char *)", self._on_error),
                 ffi.callback("void(void *, tg_log_level, const char *)", self._on_log))
    self._mem = ffi.new("char[]", ffi.sizeof("tg_backend_host") + extra)
    self.ptr = h = ffi.cast("tg_backend_host *", self._mem)
    h.struct_size, h.abi_major, h.abi_minor = ffi.sizeof("tg_backend_host") + extra if struct_size is None else struct_size, major, minor
    h.ctx, h.set_error, h.log = ffi.NULL, self._cbs[0], self._cbs[1]
  def _on_error(self, ctx, code, msg): self.errors.append((int(code), ffi.string(msg).decode(errors="replace") if msg != ffi.NULL else ""))
  def _on_log(self, ctx, level, msg): self.logs.append((int(level), ffi.string(msg).decode(errors="replace") if msg != ffi.NULL else ""))
  def last_error(self, since: int = 0) -> str:
    """The newest message reported after the first `since` ones ("" if none): a message belongs to the call that made it."""
    return self.errors[-1][1] if len(self.errors) > since else ""

# ---------------- the library ----------------

class Library:
  """One dlopen of a backend library (RTLD_NOW). close() is dlclose()."""
  def __init__(self, path: str):
    self.path = path
    try: self.lib = ffi.dlopen(path)
    except OSError as e: raise BackendError(f"dlopen({path}) failed: {e}") from None
  def has(self, symbol: str) -> bool:
    try: getattr(self.lib, symbol)
    except Exception: return False   # cffi: AttributeError for a symbol the library lacks
    return True
  def manifest(self): return ffi.addressof(self.lib, MANIFEST_SYMBOL)
  def entry(self, host: Host) -> tuple[int, Api | None, object]:
    """Calls tg_backend_entry_v1(host, &api). Returns (status, Api or None, the raw out pointer cell)."""
    if not self.has(ENTRY_SYMBOL): raise BackendError(f"{self.path} does not export {ENTRY_SYMBOL}")
    out = ffi.new("const tg_backend_api **")
    st = self.lib.tg_backend_entry_v1(host.ptr, out)
    return int(st), (Api(out[0]) if st == OK and out[0] != ffi.NULL else None), out
  def close(self) -> None:
    ffi.dlclose(self.lib)
    self.lib = None

class Api:
  """The function table: read only within the struct_size the backend declared (an older backend's table is shorter)."""
  def __init__(self, ptr):
    self.ptr, self.size, self.minor = ptr, int(ptr.struct_size), int(ptr.abi_minor)
  def covers(self, f: str) -> bool: return self.size >= size_to("tg_backend_api", f)
  def get(self, f: str):
    if not self.covers(f): return None
    fn = getattr(self.ptr, f)
    return None if fn == ffi.NULL else fn
  def __getattr__(self, f: str):
    if f.startswith("_") or f not in REQUIRED + OPTIONAL: raise AttributeError(f)
    if (fn := self.get(f)) is None: raise BackendError(f"the function table has no {f} (NULL or beyond struct_size {self.size})")
    return fn
  def addresses(self) -> dict[str, int]:
    return {f: int(ffi.cast("uintptr_t", getattr(self.ptr, f))) for f in REQUIRED + OPTIONAL if self.covers(f)}
  def has_events(self) -> bool: return all(self.get(f) is not None for f in EVENTS)

def check(host: Host, st: int, what: str, since: int = 0) -> None:
  """The suite's one error funnel: a failing status becomes a FAIL that names the call and the backend's message
  (one reported after the first `since` messages, so that an older message is never blamed on this call)."""
  if st != OK: raise BackendError(f"{what} returned {sname(st)}: {host.last_error(since) or '(no message through set_error)'}")

# ---------------- a loaded backend with one open device ----------------

@dataclass
class Counts:
  allocs: int = 0
  frees: int = 0
  programs: int = 0
  program_frees: int = 0
  blobs: int = 0
  blob_frees: int = 0
  events: int = 0
  event_frees: int = 0
  live: dict = field(default_factory=dict)   # address -> kind, of what the suite holds now
  def leftovers(self) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in self.live.values(): out[k] = out.get(k, 0) + 1
    return out

def _addr(p) -> int: return int(ffi.cast("uintptr_t", p))

class Session:
  """dlopen + entry + device_open(0), the way a host uses a backend, with every object the suite makes counted."""
  def __init__(self, path: str, host: Host | None = None):
    self.host, self.lib, self.counts, self.dev, self.shut = host or Host(), Library(path), Counts(), None, False
    st, api, _ = self.lib.entry(self.host)
    check(self.host, st, "tg_backend_entry_v1")   # a fresh host: any message is this call's
    if api is None: raise BackendError("tg_backend_entry_v1 returned TG_OK but no function table")
    self.api = api
    n = ffi.new("int *")
    mark = len(self.host.errors)
    self.count_status = int(self.api.device_count(n))
    self.device_count, self.unavailable = int(n[0]), self.host.last_error(mark) if self.count_status != OK else ""
    if self.count_status == OK and self.device_count > 0:
      d = ffi.new("tg_backend_device **")
      self.call("device_open(0)", self.api.device_open, 0, d)
      self.dev = d[0]
      self.caps, self.props = self.query("caps"), self.query("properties")

  def call(self, what: str, fn, *args) -> None:
    """fn(*args) must return TG_OK; otherwise a FAIL naming `what` and the message the backend reported for it."""
    n = len(self.host.errors)
    check(self.host, int(fn(*args)), what, n)

  def query(self, what: str, index: int = 0):
    ctype = "tg_device_caps" if what == "caps" else "tg_device_properties"
    o = ffi.new(f"{ctype} *")
    o.struct_size = ffi.sizeof(ctype)
    self.call(f"device_{what}({index})", getattr(self.api, f"device_{what}"), index, o)
    return o

  # memory
  def alloc(self, n: int):
    out = ffi.new("tg_backend_buffer **")
    self.call(f"alloc({n})", self.api.alloc, self.dev, n, out)
    self.counts.allocs += 1
    self.counts.live[_addr(out[0])] = "buffer"
    return out[0]
  def free(self, buf) -> None:
    self.api.free(self.dev, buf)
    self.counts.frees += 1
    self.counts.live.pop(_addr(buf), None)
  def view(self, buf, offset: int, n: int):
    out = ffi.new("tg_backend_buffer **")
    self.call(f"buffer_view(offset={offset}, nbytes={n})", self.api.buffer_view, self.dev, buf, offset, n, out)
    self.counts.allocs += 1
    self.counts.live[_addr(out[0])] = "buffer"
    return out[0]
  def copyin(self, buf, offset: int, data: bytes) -> None:
    src = ffi.new("unsigned char[]", data or b"\0")
    self.call(f"copyin(offset={offset}, nbytes={len(data)})", self.api.copyin, self.dev, buf, offset, src, len(data))
  def copyout(self, buf, offset: int, n: int, guard: int = 64) -> bytes:
    """n bytes from the buffer into a host array with `guard` bytes of 0xA5 each side; the guards must survive."""
    host = ffi.new("unsigned char[]", n + 2 * guard)
    ffi.memmove(host, b"\xa5" * (n + 2 * guard), n + 2 * guard)
    self.call(f"copyout(offset={offset}, nbytes={n})", self.api.copyout, self.dev, buf, offset, host + guard, n)
    raw = bytes(ffi.buffer(host, n + 2 * guard))
    if raw[:guard] != b"\xa5" * guard or raw[guard + n:] != b"\xa5" * guard:
      raise BackendError(f"copyout(offset={offset}, nbytes={n}) wrote outside the {n} host bytes it was given (guard bytes changed)")
    return raw[guard:guard + n]

  # programs
  def compile(self, source: str, name: str) -> bytes:
    blob = ffi.new("tg_blob *")
    blob.struct_size = ffi.sizeof("tg_blob")
    self.call(f"compile({name})", self.api.compile, self.dev, source.encode(), name.encode(), blob)
    self.counts.blobs += 1
    try:
      if blob.data == ffi.NULL or blob.size == 0: raise BackendError(f"compile({name}) returned TG_OK with an empty blob")
      return bytes(ffi.buffer(blob.data, blob.size))
    finally:
      self.api.blob_free(blob)
      self.counts.blob_frees += 1
  def load(self, blob: bytes, name: str):
    out = ffi.new("tg_backend_program **")
    data = ffi.new("unsigned char[]", blob)
    self.call(f"load({name})", self.api.load, self.dev, data, len(blob), name.encode(), out)
    self.counts.programs += 1
    self.counts.live[_addr(out[0])] = "program"
    return out[0]
  def program(self, source: str, name: str): return self.load(self.compile(source, name), name)
  def program_free(self, prog) -> None:
    self.api.program_free(self.dev, prog)
    self.counts.program_frees += 1
    self.counts.live.pop(_addr(prog), None)
  def launch(self, prog, bufs=(), vals=(), global_=(1, 1, 1), local=(1, 1, 1), wait: int = 1, what: str = "launch") -> float | None:
    """Returns the elapsed seconds the backend wrote (None when it wrote nothing)."""
    p = ffi.new("tg_launch_params *")
    keep = (ffi.new("tg_backend_buffer *[]", list(bufs)) if bufs else ffi.NULL, ffi.new("int64_t[]", list(vals)) if vals else ffi.NULL,
            ffi.new("double *", -1.0))
    p.struct_size, p.bufs, p.n_bufs, p.vals, p.n_vals = ffi.sizeof("tg_launch_params"), keep[0], len(bufs), keep[1], len(vals)
    g, l = getattr(p, "global"), getattr(p, "local")   # `global` is a Python keyword
    for i in range(3): g[i], l[i] = global_[i], local[i]
    p.wait, p.elapsed_s = wait, keep[2]
    self.call(f"{what} global={tuple(global_)} local={tuple(local)}", self.api.launch, self.dev, prog, p)
    return None if keep[2][0] == -1.0 else float(keep[2][0])
  def synchronize(self) -> None: self.call("synchronize", self.api.synchronize, self.dev)

  # events
  def event(self):
    out = ffi.new("tg_backend_event **")
    self.call("event_create", self.api.event_create, self.dev, out)
    self.counts.events += 1
    self.counts.live[_addr(out[0])] = "event"
    return out[0]
  def event_free(self, ev) -> None:
    self.api.event_free(self.dev, ev)
    self.counts.event_frees += 1
    self.counts.live.pop(_addr(ev), None)

  def shutdown(self) -> None:
    if self.shut: return
    self.shut = True
    if self.dev is not None: self.api.device_close(self.dev)
    if (fn := self.api.get("shutdown")) is not None: fn()
  def close(self) -> None:
    self.shutdown()
    if self.lib.lib is not None: self.lib.close()
