"""Tier "loader": the backend library as a host meets it, before any device work. Exported symbols and DT_NEEDED read
from the ELF file itself, the manifest symbol (read without running plugin code) against the wheel's JSON, version
negotiation against this host's minor, an older and a newer one and another major, host and out-struct size skew with
guard bytes, required and optional entries, double entry, and unload + reload."""
from __future__ import annotations
import os, re, json, ctypes
import pytest
from tgc_sdk.suite.abi import (ffi, Host, Library, Session, BackendError, OK, STATUS, ABI_MAJOR, ABI_MINOR, MAGIC, REQUIRED, OPTIONAL, API_MIN_SIZE,
                               DIALECTS, FLAVORS, ENTRY_SYMBOL, MANIFEST_SYMBOL, sname, size_to)
from tgc_sdk.suite.elf import Elf, ElfError
from tgc_sdk.suite.plugin import not_run

GUARD = 0xA5

@pytest.fixture
def lib_path(target) -> str:
  if not target.library: pytest.fail("no backend library given (--tgc-library)")
  if not os.path.isfile(target.library): pytest.fail(f"backend library {target.library} does not exist")
  return target.library

def elf_manifest(path: str) -> dict:
  """tg_backend_manifest as read from the file: no dlopen, no plugin code run."""
  try: raw = Elf(path).symbol_bytes(MANIFEST_SYMBOL)
  except ElfError as e: raise BackendError(str(e)) from None
  if len(raw) < size_to("tg_manifest", "dialects"):
    raise BackendError(f"{MANIFEST_SYMBOL} is {len(raw)} bytes, ABI 1.0's tg_manifest is {ffi.sizeof('tg_manifest')}")
  mem = ffi.new("unsigned char[]", raw[:ffi.sizeof("tg_manifest")].ljust(ffi.sizeof("tg_manifest"), b"\0"))   # kept alive while m is read
  m = ffi.cast("tg_manifest *", mem)
  raws = {f: bytes(ffi.buffer(getattr(m, f))) for f in ("name", "version", "flavor", "dialects")}
  return {"magic": m.magic, "struct_size": m.struct_size, "abi_major": m.abi_major, "abi_min_minor": m.abi_min_minor,
          "abi_max_minor": m.abi_max_minor,
          **{f: r.split(b"\0", 1)[0].decode(errors="replace") for f, r in raws.items()}, "terminated": {f: b"\0" in r for f, r in raws.items()},
          "symbol_size": len(raw)}

def entered(path: str, host: Host):
  """dlopen + entry that must succeed; returns (library, api)."""
  lib = Library(path)
  st, api, _ = lib.entry(host)
  if st != OK or api is None:
    lib.close()
    abi = f"{host.ptr.abi_major}.{host.ptr.abi_minor}"
    raise BackendError(f"{ENTRY_SYMBOL} refused host ABI {abi}: {sname(st)}: {host.last_error() or '(no message)'}")
  return lib, api

def leave(lib: Library, api) -> None:
  if api is not None and (fn := api.get("shutdown")) is not None: fn()
  lib.close()

# ---------------- the file ----------------

def test_exports(lib_path, detail):
  """Exactly the two symbols of tg_backend.h are exported: everything else is built with -fvisibility=hidden."""
  syms = Elf(lib_path).exported()
  detail("exported", [f"{s.name} ({s.type})" for s in syms])
  names = {s.name: s for s in syms}
  extra, missing = sorted(set(names) - {ENTRY_SYMBOL, MANIFEST_SYMBOL}), sorted({ENTRY_SYMBOL, MANIFEST_SYMBOL} - set(names))
  assert not missing, f"does not export {', '.join(missing)}"
  assert not extra, f"exports {len(extra)} symbol(s) besides the two of tg_backend.h: {', '.join(extra[:20])}: build with -fvisibility=hidden"
  assert names[ENTRY_SYMBOL].type in ("FUNC", "GNU_IFUNC"), f"{ENTRY_SYMBOL} is a {names[ENTRY_SYMBOL].type}, not a function"
  assert names[MANIFEST_SYMBOL].type == "OBJECT", f"{MANIFEST_SYMBOL} is a {names[MANIFEST_SYMBOL].type}, not a data object"

def test_links_no_libtgc(lib_path, detail):
  """A backend never links libtgc: the host opens it, not the other way round."""
  needed = Elf(lib_path).needed()
  detail("needed", needed)
  assert not [n for n in needed if n.startswith("libtgc")], f"links {[n for n in needed if n.startswith('libtgc')]}: a backend must not link libtgc"

def test_manifest(lib_path, detail):
  """tg_backend_manifest, read from the file: magic, sizes, ABI range, name, version, flavor, dialects."""
  m = elf_manifest(lib_path)
  detail("manifest", {k: v for k, v in m.items() if k != "terminated"})
  assert m["magic"] == MAGIC, f"magic {m['magic']:#010x}, expected {MAGIC:#010x} (\"TGCB\")"
  assert size_to("tg_manifest", "dialects") <= m["struct_size"] <= m["symbol_size"], \
    f"struct_size {m['struct_size']} must lie in [{size_to('tg_manifest', 'dialects')}, the symbol's {m['symbol_size']} bytes]"
  assert m["abi_major"] == ABI_MAJOR, f"built for backend ABI major {m['abi_major']}, this host speaks {ABI_MAJOR}"
  assert m["abi_min_minor"] <= m["abi_max_minor"], f"empty minor range {m['abi_min_minor']}..{m['abi_max_minor']}"
  assert m["abi_min_minor"] <= ABI_MINOR, f"requires host minor >= {m['abi_min_minor']}; this host speaks {ABI_MAJOR}.{ABI_MINOR}"
  assert all(m["terminated"].values()), f"strings not NUL-terminated within their arrays: {[k for k, v in m['terminated'].items() if not v]}"
  assert re.fullmatch(r"[A-Z][A-Z0-9_]*", m["name"]), f"name {m['name']!r} must be an upper-case identifier (ACME)"
  assert m["version"], "empty version"
  assert m["flavor"] in FLAVORS, f"flavor {m['flavor']!r} is not one of {FLAVORS}"
  dialects = [d.strip() for d in m["dialects"].split(",")]
  assert dialects and all(dialects), f"dialects {m['dialects']!r} must be a comma-separated non-empty list"
  assert any(d in DIALECTS for d in dialects), f"dialects {dialects} name none of the core's dialects {DIALECTS}"

def test_manifest_json(lib_path, target, detail):
  """The manifest JSON shipped in the wheel says what the library's symbol says (the host trusts it before dlopen)."""
  if not target.manifest: not_run("no manifest JSON: the backend was given by --library alone (pass --manifest to check one)")
  try:
    with open(target.manifest, encoding="utf-8") as f: js = json.load(f)
  except (OSError, ValueError) as e: raise BackendError(f"manifest {target.manifest} is unreadable: {e}") from None
  assert isinstance(js, dict), f"manifest {target.manifest}: top level must be an object, got {type(js).__name__}"
  m = elf_manifest(lib_path)
  want = {"name": m["name"], "version": m["version"], "abi_major": m["abi_major"], "abi_min_minor": m["abi_min_minor"],
          "abi_max_minor": m["abi_max_minor"], "flavor": m["flavor"], "dialects": [d.strip() for d in m["dialects"].split(",")]}
  detail("json", js)
  diff = {k: (js.get(k, "<missing>"), v) for k, v in want.items() if js.get(k, "<missing>") != v}
  assert not diff, "manifest JSON differs from the library's symbol: " + "; ".join(f"{k}: JSON {a!r}, library {b!r}" for k, (a, b) in diff.items())
  if target.name: assert m["name"] == target.name.upper(), f"asked for backend {target.name!r}, the library calls itself {m['name']!r}"

# ---------------- negotiation ----------------

def test_negotiate_host_minor(lib_path, detail):
  """This host's own ABI: accepted, answering min(backend max minor, host minor), with a complete table."""
  m = elf_manifest(lib_path)
  lib, api = entered(lib_path, Host())
  try:
    detail("answered_minor", api.minor)
    assert api.minor == min(m["abi_max_minor"], ABI_MINOR), f"answered minor {api.minor}, expected min({m['abi_max_minor']}, {ABI_MINOR})"
    assert api.size >= API_MIN_SIZE, f"function table struct_size {api.size} < ABI 1.0's {API_MIN_SIZE}"
  finally: leave(lib, api)

def test_negotiate_oldest_minor(lib_path, detail):
  """A host at the manifest's abi_min_minor is accepted with that minor; one below it is refused with TG_ERR_ABI."""
  m = elf_manifest(lib_path)
  lib, api = entered(lib_path, Host(minor=m["abi_min_minor"]))
  try: assert api.minor == m["abi_min_minor"], f"host minor {m['abi_min_minor']}: answered {api.minor}, expected {m['abi_min_minor']}"
  finally: leave(lib, api)
  if m["abi_min_minor"] == 0:
    detail("below_min", "abi_min_minor is 0: no older host to refuse")
    return
  refused(lib_path, Host(minor=m["abi_min_minor"] - 1), f"host minor {m['abi_min_minor'] - 1} below abi_min_minor")

def test_negotiate_newer_minor(lib_path, detail):
  """A newer host (minor above the backend's max) is accepted; the backend answers its own max minor."""
  m = elf_manifest(lib_path)
  lib, api = entered(lib_path, Host(minor=m["abi_max_minor"] + 7))
  try:
    detail("answered_minor", api.minor)
    assert api.minor == m["abi_max_minor"], \
      f"host minor {m['abi_max_minor'] + 7}: answered {api.minor}, expected the backend's max {m['abi_max_minor']}"
  finally: leave(lib, api)

def refused(path: str, host: Host, what: str) -> None:
  lib = Library(path)
  try:
    st, api, out = lib.entry(host)
    if st == OK:
      if api is not None and (fn := api.get("shutdown")) is not None: fn()
      raise BackendError(f"{what}: accepted (TG_OK), must be refused with TG_ERR_ABI")
    assert st == STATUS["TG_ERR_ABI"], f"{what}: returned {sname(st)}, expected TG_ERR_ABI"
    assert any(c == st and msg for c, msg in host.errors), f"{what}: refused without a message through host->set_error (got {host.errors})"
  finally: lib.close()

@pytest.mark.parametrize("delta", [1, -1], ids=["newer", "older"])
def test_negotiate_other_major(lib_path, delta, detail):
  """Another major is refused with TG_ERR_ABI and a message through set_error."""
  host = Host(major=ABI_MAJOR + delta)
  refused(lib_path, host, f"host ABI {ABI_MAJOR + delta}.{ABI_MINOR}")
  detail("message", host.errors[-1][1] if host.errors else "")

def test_host_struct_too_small(lib_path):
  """A host table whose struct_size does not cover `log` is refused (tg_backend_negotiate does this), never read past."""
  host = Host(struct_size=ffi.offsetof("tg_backend_host", "log"))
  lib = Library(lib_path)
  try:
    st, api, _ = lib.entry(host)
    if st == OK and api is not None and (fn := api.get("shutdown")) is not None: fn()
    assert st != OK, f"accepted a host table of {ffi.offsetof('tg_backend_host', 'log')} bytes that lacks log(): use tg_backend_negotiate()"
  finally: lib.close()

def test_host_struct_larger(lib_path):
  """A newer host's table, with fields appended beyond this ABI, is accepted."""
  leave(*entered(lib_path, Host(extra=64)))

# ---------------- function table ----------------

def test_required_entries(lib_path, detail):
  """The table covers ABI 1.0 up to synchronize and none of the required entries is NULL."""
  lib, api = entered(lib_path, Host())
  try:
    detail("struct_size", api.size)
    assert api.size >= API_MIN_SIZE, f"function table struct_size {api.size} < ABI 1.0's {API_MIN_SIZE}"
    missing = [f for f in REQUIRED if api.get(f) is None]
    assert not missing, f"required entries NULL: {', '.join(missing)}"
  finally: leave(lib, api)

def test_optional_entries(lib_path, detail):
  """Records which optional entries the backend leaves NULL (or outside its table): the host treats them as absent."""
  lib, api = entered(lib_path, Host())
  try:
    detail("implemented", [f for f in OPTIONAL if api.get(f) is not None])
    detail("absent", [f for f in OPTIONAL if api.get(f) is None])
  finally: leave(lib, api)

def test_double_entry(lib_path, detail):
  """Calling the entry twice gives consistent tables (same functions, same minor)."""
  lib = Library(lib_path)
  host = Host()
  api = None
  try:
    st1, api, _ = lib.entry(host)
    assert st1 == OK and api is not None, f"first entry: {sname(st1)}: {host.last_error() or '(no message)'}"
    mark = len(host.errors)
    st2, api2, _ = lib.entry(host)
    assert st2 == OK and api2 is not None, f"second entry: {sname(st2)}: {host.last_error(mark) or '(no message)'}"
    detail("same_table", api.ptr == api2.ptr)
    assert api.minor == api2.minor and api.size == api2.size, f"minor/size {api.minor}/{api.size} then {api2.minor}/{api2.size}"
    diff = [k for k, v in api.addresses().items() if api2.addresses().get(k) != v]
    assert not diff, f"the second table's entries differ: {', '.join(diff)}"
  finally: leave(lib, api)

def test_reload(lib_path, detail):
  """shutdown, dlclose, dlopen, entry: the backend starts again from scratch and works."""
  first = Session(lib_path)
  n1 = first.device_count
  first.close()
  try:
    h = ctypes.CDLL(lib_path, mode=os.RTLD_NOLOAD | os.RTLD_NOW)
    still = h._handle != 0
  except OSError: still = False
  detail("unloaded_by_dlclose", not still)
  again = Session(lib_path)
  try:
    assert again.device_count == n1, f"device_count {n1} before the reload, {again.device_count} after"
    if again.dev is not None: again.free(again.alloc(64))
  finally: again.close()

# ---------------- out-struct size skew ----------------

def _query(s: Session, what: str, cap: int) -> tuple[int, bytes]:
  """device_<what>(0) into a buffer of `cap` bytes (struct_size = cap) plus 64 guard bytes of 0xA5; zero within cap."""
  ctype = "tg_device_caps" if what == "caps" else "tg_device_properties"
  total = max(cap, ffi.sizeof(ctype)) + 64
  mem = ffi.new("unsigned char[]", total)
  ffi.memmove(mem, bytes(cap) + bytes([GUARD]) * (total - cap), total)
  ffi.cast("size_t *", mem)[0] = cap
  st = getattr(s.api, f"device_{what}")(0, ffi.cast(f"{ctype} *", mem))
  return int(st), bytes(ffi.buffer(mem, total))

def _skew(lib_path: str, what: str, caps: list[int], detail) -> None:
  s = Session(lib_path)
  try:
    if s.dev is None: not_run(f"the backend reports no device ({sname(s.count_status)}: {s.unavailable})")
    ctype = "tg_device_caps" if what == "caps" else "tg_device_properties"
    full = ffi.sizeof(ctype)
    mark = len(s.host.errors)
    st, ref = _query(s, what, full)
    assert st == OK, f"device_{what} with a full struct: {sname(st)}: {s.host.last_error(mark) or '(no message)'}"
    seen = []
    for cap in caps:
      mark = len(s.host.errors)
      st, raw = _query(s, what, cap)
      msg = s.host.last_error(mark) or "(no message)"
      assert st == OK, f"device_{what} refused an out-struct of capacity {cap} (of {full}): {sname(st)}: {msg}; write what fits"
      got = int.from_bytes(raw[:ffi.sizeof("size_t")], "little")
      seen.append((cap, got))
      assert ffi.sizeof("size_t") <= got <= cap, f"capacity {cap}: reported struct_size {got}, must lie in [{ffi.sizeof('size_t')}, {cap}]"
      assert raw[cap:] == bytes([GUARD]) * (len(raw) - cap), f"capacity {cap}: wrote past the host's struct (guard bytes at {cap}+ changed)"
      assert raw[got:cap] == bytes(cap - got), f"capacity {cap}: wrote bytes between its reported struct_size {got} and the capacity"
      n = min(got, full)
      assert raw[ffi.sizeof("size_t"):n] == ref[ffi.sizeof("size_t"):n], f"capacity {cap}: fields differ from a full-size query"
    detail("capacity_reported", seen)
  finally: s.close()

def test_caps_smaller_struct(lib_path, detail):
  """An older host's smaller tg_device_caps (cut at a field end and mid-field): filled as far as it fits, nothing beyond."""
  c = "tg_device_caps"
  _skew(lib_path, "caps", [ffi.sizeof("size_t"), size_to(c, "dialect"), size_to(c, "arch") - 5, size_to(c, "local_max"), size_to(c, "mem_max_alloc")],
        detail)

def test_caps_larger_struct(lib_path, detail):
  """A newer host's larger tg_device_caps: the backend writes only what it knows and says so in struct_size."""
  _skew(lib_path, "caps", [ffi.sizeof("tg_device_caps") + 48], detail)

def test_properties_smaller_struct(lib_path, detail):
  p = "tg_device_properties"
  _skew(lib_path, "properties", [ffi.sizeof("size_t"), size_to(p, "name") - 7, size_to(p, "vendor"), size_to(p, "type")], detail)

def test_properties_larger_struct(lib_path, detail):
  _skew(lib_path, "properties", [ffi.sizeof("tg_device_properties") + 48], detail)
