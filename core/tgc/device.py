"""Backend discovery, devices, buffers and raw programs: tinygrad's device.py over include/tg.h.

Discovery is pluggy over the entry-point group "tgc.backends" (see hookspecs.py); the built-in CPU backend registers
through the same hook. Nothing happens at import: plugins are discovered on first use of Device or backends(), and a
backend's library is opened (tg_backend_load) only when a device of it is asked for, when Device.DEFAULT has to pick
one, or when backends() reports on all of them. A broken plugin is quarantined with its reason, never fatal."""
from __future__ import annotations
import os, re, json, time, logging, threading, functools, importlib.metadata
from dataclasses import dataclass, field, asdict
from typing import Any
import pluggy
from tgc import hookspecs, _builtin
from tgc._ffi import ffi, lib, check, host_abi, enum_names, TgcError, InvalidArgumentError, OutOfRangeError, InvalidHandleError, UnavailableError

log = logging.getLogger("tgc")
ENTRY_POINT_GROUP = "tgc.backends"

# storage dtypes only (below TG_DTYPE_COUNT): the weak pseudo-dtypes are never a caps bit
DTYPE_NAMES = {v: n.lower() for v, n in enum_names("tg_dtype", "TG_").items() if v < ffi.typeof("tg_dtype").relements["TG_DTYPE_COUNT"]}
ALU_NAMES = enum_names("tg_alu_op", "TG_ALU_")                           # {7: "ADD", ...}
DEVICE_TYPES = enum_names("tg_device_type", "TG_DEVICE_")                # {1: "CPU", ...}
BACKEND_STATES = {v: n.lower() for v, n in enum_names("tg_backend_state", "TG_BACKEND_").items()}  # {0: "ready", ...}

def _str(chars) -> str: return ffi.string(chars).decode(errors="replace")
def _versioned(ctype: str):
  """A zero-filled versioned out-struct with struct_size set to our capacity."""
  (o := ffi.new(f"{ctype} *")).struct_size = ffi.sizeof(ctype)
  return o

# ---------------- backend records ----------------

@dataclass
class BackendRecord:
  """One backend as doctor shows it. state: "not loaded", "ready", "unavailable" or "quarantined"; reason says why."""
  name: str
  source: str                          # "builtin", "entry point <dist>", "TGC_BACKEND_PATH"
  library: str | None = None
  manifest: str | None = None
  priority: int = 0
  state: str = "not loaded"
  reason: str = ""
  version: str = ""
  abi: str = ""
  flavor: str = ""
  dialects: list[str] = field(default_factory=list)
  device_count: int = 0
  loaded: bool = field(default=False, repr=False)

  @property
  def status(self) -> str: return f"{self.state}: {self.reason}" if self.reason else self.state
  def to_dict(self) -> dict[str, Any]: return {**{k: v for k, v in asdict(self).items() if k != "loaded"}, "status": self.status}

  def quarantine(self, reason: str) -> BackendRecord:
    self.state, self.reason = "quarantined", reason
    log.warning("tgc: backend %s (%s) quarantined: %s", self.name, self.source, reason)
    return self

  def update(self, info: dict[str, Any]) -> BackendRecord:
    """Take what libtgc knows (tg_backend_info) about this backend."""
    for k in ("version", "flavor", "state", "reason", "device_count"): setattr(self, k, info[k])
    if info["dialects"]: self.dialects = info["dialects"]
    if info["abi_major"] or info["abi_minor"]: self.abi = f"{info['abi_major']}.{info['abi_minor']}"
    if info["path"]: self.library = info["path"]
    if info["name"] and info["name"] != self.name:
      log.warning("tgc: backend %s from %s calls itself %s in its library; using %s", self.name, self.source, info["name"], info["name"])
      self.name = info["name"]
    return self

# ---------------- libtgc's backend registry ----------------

def _backend_info(b) -> dict[str, Any]:
  i = _versioned("tg_backend_info")
  check(lib().tg_backend_get_info(b, i))
  return {"name": _str(i.name), "version": _str(i.version), "flavor": _str(i.flavor), "path": _str(i.path),
          "dialects": [d.strip() for d in _str(i.dialects).split(",") if d.strip()], "abi_major": i.abi_major, "abi_minor": i.abi_minor,
          "state": BACKEND_STATES.get(i.state, f"state {i.state}"), "device_count": i.device_count, "builtin": bool(i.builtin),
          "reason": _str(i.reason)}

def c_backends() -> list[dict[str, Any]]:
  """Every backend libtgc knows (built-in, loaded, quarantined, $TGC_BACKEND_PATH), as tg_backend_info dicts."""
  n, b = ffi.new("int *"), ffi.new("tg_backend **")
  check(lib().tg_backend_count(n))
  out = []
  for i in range(n[0]):
    check(lib().tg_backend_at(i, b))
    out.append(_backend_info(b[0]))
  return out

def _same_file(a: str | None, b: str | None) -> bool: return bool(a and b) and os.path.realpath(a) == os.path.realpath(b)

# ---------------- discovery (pluggy, entry points one by one) ----------------

_lock = threading.RLock()
_records: list[BackendRecord] | None = None
_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")

def _metadata_error(md: Any) -> str | None:
  if not isinstance(md, dict): return f"metadata must be a dict, got {type(md).__name__} {md!r}"
  if missing := [k for k in ("name", "library") if k not in md]: return f"metadata {md!r} lacks {', '.join(missing)}"
  if not isinstance(md["name"], str) or not _NAME_RE.fullmatch(md["name"]): return f"name must be an upper-case identifier (CUDA), got {md['name']!r}"
  for k in ("library", "manifest"):
    if (v := md.get(k)) is not None and (not isinstance(v, str) or not os.path.isabs(v)): return f"{k} must be an absolute path or None, got {v!r}"
  if not isinstance(p := md.get("priority", 0), int) or isinstance(p, bool): return f"priority must be an int, got {p!r}"
  return None

def _records_from_plugin(pm: pluggy.PluginManager, plugin: Any, source: str, fallback_name: str) -> list[BackendRecord]:
  impls = [i for i in pm.hook.tgc_backends.get_hookimpls() if i.plugin is plugin]
  if not impls: return [BackendRecord(fallback_name, source).quarantine(f"{getattr(plugin, '__name__', plugin)} has no tgc_backends() hookimpl")]
  recs = []
  for impl in impls:
    try: res = impl.function()
    except Exception as e:
      recs.append(BackendRecord(fallback_name, source).quarantine(f"{impl.plugin_name}: tgc_backends() raised {type(e).__name__}: {e}"))
      continue
    if not isinstance(res, (list, tuple)):
      recs.append(BackendRecord(fallback_name, source).quarantine(f"{impl.plugin_name}: tgc_backends() must return a list of dicts, got {res!r}"))
      continue
    for md in res:
      if err := _metadata_error(md):
        name = md["name"] if isinstance(md, dict) and isinstance(md.get("name"), str) and md["name"] else fallback_name
        recs.append(BackendRecord(name, source).quarantine(f"{impl.plugin_name}: malformed metadata: {err}"))
      else: recs.append(BackendRecord(md["name"], source, md["library"], md.get("manifest"), md.get("priority", 0)))
  return recs

def _check_manifest(r: BackendRecord) -> None:
  """Refuse a plugin from its manifest JSON alone, before its library is opened."""
  try:
    with open(r.manifest, encoding="utf-8") as f: m = json.load(f)
    if not isinstance(m, dict): raise ValueError(f"top level is {type(m).__name__}, not an object")
  except (OSError, ValueError) as e:
    r.quarantine(f"manifest {r.manifest} is unreadable: {e}")
    return
  r.version, r.flavor = str(m.get("version", "")), str(m.get("flavor", ""))
  d = m.get("dialects", [])
  r.dialects = [d] if isinstance(d, str) else [str(x) for x in d] if isinstance(d, list) else []
  major, minor = host_abi()
  am, amin, amax = m.get("abi_major"), m.get("abi_min_minor", 0), m.get("abi_max_minor", 0)
  if not all(isinstance(x, int) and not isinstance(x, bool) for x in (am, amin, amax)):
    r.quarantine(f"manifest {r.manifest}: abi_major/abi_min_minor/abi_max_minor must be integers, got {am!r}/{amin!r}/{amax!r}")
  elif am != major:
    r.abi = f"{am}.{amax}"
    r.quarantine(f"manifest {r.manifest} declares backend ABI major {am}, this tgc speaks {major}.{minor}: install {r.name} built for ABI {major}")
  elif amin > minor:
    r.abi = f"{am}.{amax}"
    r.quarantine(f"manifest {r.manifest} requires backend ABI >= {am}.{amin}, this tgc speaks {major}.{minor}: upgrade tgc")
  elif m.get("name", r.name) != r.name: r.quarantine(f"manifest {r.manifest} names backend {m.get('name')!r}, its hook says {r.name!r}")
  else: r.abi = f"{am}.{amax}"

def _discover() -> list[BackendRecord]:
  pm = pluggy.PluginManager("tgc")
  pm.add_hookspecs(hookspecs)
  pm.register(_builtin, name="builtin")
  recs = _records_from_plugin(pm, _builtin, "builtin", "CPU")
  for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
    source, fallback = f"entry point {ep.dist.name if ep.dist else '?'}", ep.name.upper()
    try:
      plugin = ep.load()
      pm.register(plugin, name=f"{ep.dist.name if ep.dist else '?'}:{ep.name}")
    except Exception as e:
      recs.append(BackendRecord(fallback, source).quarantine(f"entry point {ep.name} = {ep.value!r} failed to load: {type(e).__name__}: {e}"))
      continue
    recs += _records_from_plugin(pm, plugin, source, fallback)
  for r in recs:
    if r.manifest and r.state != "quarantined": _check_manifest(r)
  seen: dict[str, BackendRecord] = {}
  for r in sorted(recs, key=lambda r: (r.source != "builtin", -r.priority)):   # the built-in, then the higher priority, keeps a name
    if r.state == "quarantined": continue
    if r.name in seen: r.quarantine(f"duplicate backend name {r.name}: already provided by {seen[r.name].source}")
    else: seen[r.name] = r
  return recs

def discovered() -> list[BackendRecord]:
  """Backend records from the hooks, discovered once, not loaded (cheap: no library is opened)."""
  global _records
  with _lock:
    if _records is None: _records = _discover()
    return _records

def _load(r: BackendRecord) -> BackendRecord:
  with _lock:
    if r.loaded or r.state == "quarantined": return r
    r.loaded = True
    if r.library is None:
      if info := next((i for i in c_backends() if i["builtin"] and i["name"] == r.name), None): return r.update(info)
      return r.quarantine(f"no backend named {r.name} is built into libtgc")
    tg = lib()   # a missing libtgc is not this backend's fault: let it raise
    try:
      check(tg.tg_backend_load(os.fsencode(r.library), b := ffi.new("tg_backend **")))
      return r.update(_backend_info(b[0]))
    except TgcError as e:
      if info := next((i for i in c_backends() if _same_file(i["path"], r.library)), None): r.update(info)
      return r.quarantine(str(e))

def backends() -> list[BackendRecord]:
  """Every backend: the hooks' ones, each loaded now (quarantined when that fails), then those only libtgc knows
  (from $TGC_BACKEND_PATH). For `python -m tgc doctor`."""
  recs = [_load(r) for r in discovered()]
  extra = []
  for info in c_backends():
    if any((info["builtin"] and r.library is None and r.name == info["name"]) or _same_file(r.library, info["path"]) for r in recs): continue
    extra.append(BackendRecord(info["name"], "builtin" if info["builtin"] else "TGC_BACKEND_PATH", loaded=True).update(info))
  return recs + extra

# ---------------- devices ----------------

class Compiled:
  """A device (tinygrad's Compiled): Device["CPU"]. The handle is owned by libtgc and lives until process exit."""
  def __init__(self, ptr):
    self._ptr, p = ptr, ffi.new("const char **")
    check(lib().tg_device_name(ptr, p))
    self.name: str = _str(p[0])
  def __repr__(self): return f"<Device {self.name}>"
  def synchronize(self) -> None: check(lib().tg_device_synchronize(self._ptr))

  @property
  def backend(self) -> str:
    b = ffi.new("tg_backend **")
    check(lib().tg_device_backend(self._ptr, b))
    return _backend_info(b[0])["name"]

  @functools.cached_property
  def properties(self) -> dict[str, Any]:
    check(lib().tg_device_get_properties(self._ptr, p := _versioned("tg_device_properties")))
    return {"name": _str(p.name), "vendor": _str(p.vendor), "driver_version": _str(p.driver_version), "type": DEVICE_TYPES.get(p.type, str(p.type))}

  @functools.cached_property
  def caps(self) -> dict[str, Any]:
    check(lib().tg_device_get_caps(self._ptr, c := _versioned("tg_device_caps")))
    tcs = [c.tensor_cores[i] for i in range(c.n_tensor_cores)] if c.tensor_cores != ffi.NULL else []
    return {"dialect": _str(c.dialect), "arch": _str(c.arch), "dtypes": [n for v, n in DTYPE_NAMES.items() if c.dtypes >> v & 1],
            "alu_ops": [n for v, n in ALU_NAMES.items() if c.alu_ops >> v & 1], "has_local": bool(c.has_local), "has_shared": bool(c.has_shared),
            "has_threads": bool(c.has_threads), "vector_width": c.vector_width, "global_max": tuple(c.global_max), "local_max": tuple(c.local_max),
            "local_prod_max": c.local_prod_max, "alignment": c.alignment, "shared_max": c.shared_max, "mem_total": c.mem_total,
            "mem_max_alloc": c.mem_max_alloc,
            "tensor_cores": [{"dims": tuple(t.dims), "threads": t.threads, "elements_per_thread": tuple(t.elements_per_thread),
                              "dtype_in": DTYPE_NAMES.get(t.dtype_in, str(t.dtype_in)), "dtype_out": DTYPE_NAMES.get(t.dtype_out, str(t.dtype_out))}
                             for t in tcs]}

class _Device:
  """tinygrad's Device: Device.DEFAULT, Device.canonicalize("cuda:0") == "CUDA", Device["CPU"] -> Compiled (cached)."""
  def __init__(self): self._opened, self._default = {}, None

  @staticmethod
  def canonicalize(device: str) -> str:
    if not isinstance(device, str) or not device: raise ValueError(f"device name must be a non-empty str, got {device!r}")
    return re.sub(r":0$", "", (d := device.split(":", 1)[0].upper()) + device[len(d):])

  def __getitem__(self, ix: str) -> Compiled:
    name = self.canonicalize(ix)
    prefix = name.split(":", 1)[0]
    with _lock:
      if (dev := self._opened.get(name)) is not None: return dev
      recs = [r for r in discovered() if r.name == prefix]
      for r in recs: _load(r)
      if recs and all(r.state == "quarantined" for r in recs):
        raise UnavailableError(f"device {name!r}: backend {prefix} ({recs[0].source}) is quarantined: {recs[0].reason}")
      try: check(lib().tg_device_get(name.encode(), out := ffi.new("tg_device **")))
      except OutOfRangeError as e:   # tinygrad raises RuntimeError for a device it does not know
        known = sorted({r.name for r in discovered() if r.state != "quarantined"} | {i["name"] for i in c_backends() if i["state"] == "ready"})
        raise TgcError(f"no device named {ix!r} ({e}); backends: {', '.join(known)}", e.status) from None
      self._opened[name] = dev = Compiled(out[0])
      return dev

  @property
  def DEFAULT(self) -> str:
    """$DEV (DEV=CUDA, DEV=CUDA:1; read at each use, as libtgc reads it for a tensor without a device), else the ready
    backend of highest priority, else CPU."""
    if self._default is not None: return self._default
    if dev := os.environ.get("DEV"): return self.canonicalize(dev)
    return self._select_device
  @DEFAULT.setter
  def DEFAULT(self, v: str) -> None: self._default = self.canonicalize(v)
  @DEFAULT.deleter
  def DEFAULT(self) -> None: self._default = None

  @functools.cached_property
  def _select_device(self) -> str:
    for r in sorted(discovered(), key=lambda r: -r.priority):
      if _load(r).state == "ready": return r.name
    return "CPU"

Device = _Device()

def _device(d: str | Compiled) -> Compiled:
  if isinstance(d, Compiled): return d
  if isinstance(d, str): return Device[d]
  raise TypeError(f"expected a device name or Device[...], got {type(d).__name__} {d!r}")

# ---------------- buffers and programs ----------------

class _Handle:
  """An owned tg_buffer/tg_program: released by the GC, or now by .release(); using it afterwards raises."""
  _kind, _release_fn = "", ""
  def _own(self, raw) -> None: self._raw, self._gc, self._released = raw, ffi.gc(raw, getattr(lib(), self._release_fn)), False
  def _addr(self) -> str: return hex(int(ffi.cast("uintptr_t", self._raw)))
  def _handle(self):
    if self._released: raise InvalidHandleError(f"{self._kind} handle {self._addr()} ({self._desc()}) was already released")
    return self._gc
  def release(self) -> None:
    """Drop the reference now instead of at garbage collection."""
    self._handle()
    ffi.gc(self._gc, None)
    self._released = True
    check(getattr(lib(), self._release_fn)(self._raw))

class Buffer(_Handle):
  """nbytes of memory on a device: Buffer("CPU", 64).copyin(b"...").copyout() -> memoryview."""
  _kind, _release_fn = "buffer", "tg_buffer_release"
  def __init__(self, device: str | Compiled, nbytes: int):
    self.device = _device(device)
    if not isinstance(nbytes, int) or isinstance(nbytes, bool): raise TypeError(f"Buffer: nbytes must be int, got {type(nbytes).__name__} {nbytes!r}")
    # 0 and sizes above PTRDIFF_MAX are libtgc's to refuse; what cannot even cross as a size_t is refused here
    if not 0 <= nbytes < 2**64: raise InvalidArgumentError(f"Buffer: nbytes must be > 0 and < 2**63, got {nbytes} (on {self.device.name})")
    out = ffi.new("tg_buffer **")
    check(lib().tg_buffer_alloc(self.device._ptr, nbytes, out))
    self._own(out[0])
    self.nbytes = nbytes
  def _desc(self) -> str: return f"{self.nbytes} bytes on {self.device.name}"
  def __repr__(self): return f"<Buffer {self._desc()}{' released' if self._released else ''}>"

  def copyin(self, data, offset: int = 0) -> Buffer:
    """Copy bytes (bytes, bytearray, memoryview, numpy array: anything C-contiguous) into the buffer at byte `offset`."""
    mv = memoryview(data)
    if not mv.c_contiguous: raise ValueError(f"copyin: data must be C-contiguous, got a strided view of shape {mv.shape} strides {mv.strides}")
    if offset < 0: raise OutOfRangeError(f"copyin: offset {offset} is negative (buffer of {self.nbytes} bytes)")
    check(lib().tg_buffer_copyin(self._handle(), offset, ffi.from_buffer(mv.cast("B")), mv.nbytes))
    return self

  def copyout(self, nbytes: int | None = None, offset: int = 0) -> memoryview:
    """nbytes (default: to the end) from byte `offset` of the buffer, after the device's queued work."""
    h = self._handle()
    if nbytes is None: nbytes = self.nbytes - offset
    if offset < 0 or nbytes < 0 or offset + nbytes > self.nbytes:
      raise OutOfRangeError(f"copyout: bytes [{offset}, {offset + nbytes}) are not inside the buffer of {self.nbytes} bytes")
    check(lib().tg_buffer_copyout(h, offset, ffi.from_buffer(out := bytearray(nbytes)), nbytes))
    return memoryview(out)

def _dims(what: str, v) -> list[int]:
  t = tuple(v) if isinstance(v, (tuple, list)) else (v,)
  if not 1 <= len(t) <= 3 or not all(isinstance(x, int) and 0 <= x < 2**32 for x in t):
    raise InvalidArgumentError(f"{what} must be 1 to 3 ints in [1, 2**32), got {v!r}")
  return list(t) + [1] * (3 - len(t))

class Program(_Handle):
  """A raw kernel in the device's dialect (tinygrad's Program): Program("CPU", src, "add")(a, b, c, global_size=(n,1,1), wait=True).
  For the "c" dialect `name` is `void name(void *const *bufs, const int64_t *vals, const uint32_t gid[3])`, run once per grid point."""
  _kind, _release_fn = "program", "tg_program_release"
  def __init__(self, device: str | Compiled, source: str, name: str):
    self.device, self.source, self.name = _device(device), source, name
    out = ffi.new("tg_program **")
    check(lib().tg_program_compile(self.device._ptr, source.encode(), name.encode(), out))
    self._own(out[0])
  def _desc(self) -> str: return f"{self.name} on {self.device.name}"
  def __repr__(self): return f"<Program {self._desc()}{' released' if self._released else ''}>"

  def __call__(self, *bufs: Buffer, global_size=(1, 1, 1), local_size=(1, 1, 1), vals=(), wait: bool = False) -> float | None:
    """Launch over global_size with workgroups of local_size (None: 1,1,1). wait=True blocks and returns the seconds taken."""
    if bad := [b for b in bufs if not isinstance(b, Buffer)]: raise TypeError(f"{self.name}: arguments must be Buffers, got {bad!r}")
    vals = tuple(vals)
    if not all(isinstance(v, int) and -2**63 <= v < 2**63 for v in vals): raise InvalidArgumentError(f"{self.name}: vals must be int64, got {vals!r}")
    h = self._handle()
    bp = ffi.new("tg_buffer *[]", [b._handle() for b in bufs]) if bufs else ffi.NULL
    vp = ffi.new("int64_t[]", list(vals)) if vals else ffi.NULL
    g = ffi.new("uint32_t[3]", _dims("global_size", global_size))
    l = ffi.NULL if local_size is None else ffi.new("uint32_t[3]", _dims("local_size", local_size))
    st = time.perf_counter()
    check(lib().tg_program_launch(h, bp, len(bufs), vp, len(vals), g, l))
    if not wait: return None
    self.device.synchronize()
    return time.perf_counter() - st
