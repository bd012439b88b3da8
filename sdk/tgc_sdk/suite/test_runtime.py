"""Tier "runtime": the device API of tg_backend.h driven directly. Devices and their properties and caps, alloc/free
(zero-size, huge), copies at offsets with guard bytes on both sides, buffer views, compile/load (and their errors),
launches of hand-written "c" kernels (every grid point exactly once, at the declared limits, beyond them), synchronize,
events, error messages through host->set_error, and leaks. One backend load serves the whole tier; the last case
shuts it down."""
from __future__ import annotations
import os, math, struct, random
import pytest
from tgc_sdk.suite import kernels
from tgc_sdk.suite.abi import ffi, Session, BackendError, OK, STATUS, DTYPES, ALU_OPS, DEVICE_TYPES, DIALECTS, EVENTS, sname, size_to, text
from tgc_sdk.suite.plugin import not_run, not_supported, ENGINE

MIB = 1 << 20
COUNT_MAX = 1 << 24   # larger grids are checked by sums instead of one counter per point

class _NotStarted:
  """Stands in for the session when the backend did not start: runtime.device_count FAILs with why, the rest are NOT_RUN."""
  def __init__(self, why: str): self.why = why
  def close(self): pass

@pytest.fixture(scope="module")
def session(target):
  if not target.library: pytest.fail("no backend library given (--tgc-library)")
  try: s = Session(target.library)
  except BackendError as e: s = _NotStarted(str(e))
  yield s
  s.close()

@pytest.fixture
def dev(session) -> Session:
  if isinstance(session, _NotStarted): not_run(f"the backend did not start (runtime.device_count FAILs with the reason): {session.why}")
  if session.dev is None:
    why = f"{sname(session.count_status)}: {session.unavailable or 'no message'}"
    not_run(f"the backend reports no device: device_count gave {session.device_count} ({why})")
  return session

@pytest.fixture
def cdev(dev) -> Session:
  if (d := text(dev.caps.dialect)) != "c":
    not_run(f"the suite's hand-written kernels are in the \"c\" dialect; {d!r} kernels come from the engine's renderer ({ENGINE})")
  return dev

def expect_error(s: Session, st: int, what: str, since: int) -> str:
  """A bad call must fail (any status but TG_OK) and say why through set_error, with the same code (a message reported
  after the first `since`, i.e. by this call)."""
  assert st != OK, f"{what}: returned TG_OK, expected an error"
  msgs = [m for c, m in s.host.errors[since:] if c == st and m]
  assert msgs, f"{what}: returned {sname(st)} without a message through host->set_error"
  return msgs[-1]

def floats(b: bytes) -> list[float]: return list(struct.unpack(f"<{len(b) // 4}f", b))

# ---------------- devices ----------------

def test_device_count(session, detail):
  if isinstance(session, _NotStarted): raise BackendError(f"the backend did not start: {session.why}")
  detail("device_count", session.device_count)
  if session.count_status == STATUS["TG_ERR_UNAVAILABLE"]:
    not_run(f"the backend is installed but has no device here: {session.unavailable or '(no message)'}")
  assert session.count_status == OK, f"device_count returned {sname(session.count_status)}: {session.unavailable}"
  assert session.device_count >= 1, \
    f"device_count returned TG_OK with {session.device_count} devices: return TG_ERR_UNAVAILABLE with a reason instead"

def test_properties(dev, detail):
  p = dev.props
  detail("properties", {"name": text(p.name), "vendor": text(p.vendor), "driver_version": text(p.driver_version),
                        "type": DEVICE_TYPES.get(p.type, p.type)})
  assert ffi.sizeof("size_t") <= p.struct_size <= ffi.sizeof("tg_device_properties"), f"reported struct_size {p.struct_size}"
  if p.struct_size >= size_to("tg_device_properties", "name"): assert text(p.name), "empty device name"
  if p.struct_size >= size_to("tg_device_properties", "type"): assert p.type in DEVICE_TYPES, f"type {p.type} is not a tg_device_type"

def test_caps(dev, detail):
  """The rules libtgc checks at load, and a few more: dialect among the manifest's, no unknown dtype/ALU bits."""
  c = dev.caps
  detail("caps", {"dialect": text(c.dialect), "arch": text(c.arch), "dtypes": [n for v, n in DTYPES.items() if c.dtypes >> v & 1],
                  "alu_ops": [n for v, n in ALU_OPS.items() if c.alu_ops >> v & 1], "has_local": c.has_local, "has_shared": c.has_shared,
                  "has_threads": c.has_threads, "vector_width": c.vector_width, "global_max": list(c.global_max), "local_max": list(c.local_max),
                  "local_prod_max": c.local_prod_max, "alignment": c.alignment, "shared_max": c.shared_max, "mem_total": c.mem_total,
                  "mem_max_alloc": c.mem_max_alloc, "struct_size": c.struct_size})
  assert c.struct_size >= size_to("tg_device_caps", "local_max"), f"caps struct_size {c.struct_size} < {size_to('tg_device_caps', 'local_max')}"
  assert text(c.dialect) in DIALECTS, f"dialect {text(c.dialect)!r} is not one of the core's {DIALECTS}"
  manifest = [d.strip() for d in text(dev.lib.manifest().dialects).split(",")]
  assert text(c.dialect) in manifest, f"caps dialect {text(c.dialect)!r} is not among the manifest's dialects {manifest}"
  for d in range(3):
    assert c.global_max[d] >= 1 and c.local_max[d] >= 1, f"global_max[{d}]={c.global_max[d]}, local_max[{d}]={c.local_max[d]} must be >= 1"
    assert c.local_max[d] <= c.global_max[d], f"local_max[{d}]={c.local_max[d]} > global_max[{d}]={c.global_max[d]}"
  full = c.struct_size >= size_to("tg_device_caps", "alignment")
  if full:
    assert c.local_prod_max >= 1, "local_prod_max is 0"
    assert c.alignment and not c.alignment & (c.alignment - 1), f"alignment {c.alignment} is not a power of two"
  assert c.vector_width >= 1, "vector_width is 0"
  need = (1 << 11) | (1 << 5)
  assert c.dtypes & need == need, f"dtypes {c.dtypes:#x} lack float32 or int32"
  assert not c.dtypes >> len(DTYPES), f"dtypes {c.dtypes:#x} has bits beyond the {len(DTYPES)} tg_dtype values"
  assert not c.alu_ops >> len(ALU_OPS), f"alu_ops {c.alu_ops:#x} has bits beyond the {len(ALU_OPS)} tg_alu_op values"
  if c.struct_size >= size_to("tg_device_caps", "shared_max"):
    assert c.has_shared or not c.shared_max, f"shared_max {c.shared_max} without has_shared"
  if c.struct_size >= size_to("tg_device_caps", "mem_max_alloc") and c.mem_total and c.mem_max_alloc:
    assert c.mem_max_alloc <= c.mem_total, f"mem_max_alloc {c.mem_max_alloc} > mem_total {c.mem_total}"
  if c.struct_size >= size_to("tg_device_caps", "tensor_cores") and c.n_tensor_cores:
    assert c.tensor_cores != ffi.NULL, f"n_tensor_cores {c.n_tensor_cores} with tensor_cores NULL"

@pytest.mark.parametrize("fn", ["device_open", "device_properties", "device_caps"])
def test_bad_device_index(dev, fn, detail):
  """Indices -1 and device_count are errors with a message, not crashes."""
  msgs = []
  for idx in (-1, dev.device_count):
    if fn == "device_open": arg = ffi.new("tg_backend_device **")
    else: (arg := ffi.new(f"tg_device_{fn[7:]} *")).struct_size = ffi.sizeof(f"tg_device_{fn[7:]}")
    mark = len(dev.host.errors)
    msgs.append(expect_error(dev, int(getattr(dev.api, fn)(idx, arg)), f"{fn}({idx})", mark))
  detail("messages", msgs)

# ---------------- memory ----------------

def test_alloc_sizes(dev):
  """Buffers of assorted sizes are distinct and hold what is written into them."""
  sizes = [1, 7, 64, 4096, MIB + 3]
  bufs = [dev.alloc(n) for n in sizes]
  try:
    assert len({int(ffi.cast("uintptr_t", b)) for b in bufs}) == len(bufs), "alloc returned the same handle twice"
    for i, (b, n) in enumerate(zip(bufs, sizes)): dev.copyin(b, 0, bytes([i + 1]) * n)
    for i, (b, n) in enumerate(zip(bufs, sizes)): assert dev.copyout(b, 0, n) == bytes([i + 1]) * n, f"buffer of {n} bytes does not hold its data"
  finally:
    for b in bufs: dev.free(b)

def test_alloc_zero(dev):
  """alloc(0) returns a valid buffer, distinct from every other; 0-byte copies work."""
  a, b, one = dev.alloc(0), dev.alloc(0), dev.alloc(1)
  try:
    addrs = [int(ffi.cast("uintptr_t", x)) for x in (a, b, one)]
    assert 0 not in addrs, "alloc(0) returned TG_OK with a NULL buffer"
    assert len(set(addrs)) == 3, "alloc(0) returned a handle already in use"
    dev.copyin(a, 0, b"")
    assert dev.copyout(a, 0, 0) == b""
  finally:
    for x in (a, b, one): dev.free(x)

@pytest.mark.parametrize("nbytes", [2**62, 2**63, 2**64 - 1], ids=["2^62", "2^63", "SIZE_MAX"])
def test_alloc_huge(dev, nbytes, detail):
  """An impossible size is an error status with a message, and the backend keeps working."""
  out, mark = ffi.new("tg_backend_buffer **"), len(dev.host.errors)
  st = int(dev.api.alloc(dev.dev, nbytes, out))
  if st == OK: dev.api.free(dev.dev, out[0])
  detail("message", expect_error(dev, st, f"alloc({nbytes})", mark))
  dev.free(dev.alloc(16))

@pytest.mark.parametrize("n", [1, 13, 4096, MIB])
def test_copy_roundtrip(dev, n):
  data = random.Random(n).randbytes(n)
  b = dev.alloc(n)
  try:
    dev.copyin(b, 0, data)
    assert dev.copyout(b, 0, n) == data, f"{n} bytes came back different"
  finally: dev.free(b)

def test_copy_offsets(dev):
  """Copies at offsets change exactly their bytes; host guard bytes around every copyout survive."""
  size, rng = 1000, random.Random(7)
  model = bytearray(rng.randbytes(size))
  b = dev.alloc(size)
  try:
    dev.copyin(b, 0, bytes(model))
    for off, n in [(0, 1), (1, 7), (3, 64), (500, 499), (999, 1), (17, 0), (1000, 0), (0, size)]:
      chunk = rng.randbytes(n)
      dev.copyin(b, off, chunk)
      model[off:off + n] = chunk
      assert dev.copyout(b, 0, size) == bytes(model), f"copyin at offset {off} of {n} bytes changed other bytes or not its own"
      assert dev.copyout(b, off, n) == bytes(model[off:off + n]), f"copyout at offset {off} of {n} bytes"
  finally: dev.free(b)

def test_buffer_view(dev):
  """[optional] A view aliases its bytes of the parent, both ways."""
  if dev.api.get("buffer_view") is None: not_supported("buffer_view is NULL")
  b = dev.alloc(256)
  try:
    dev.copyin(b, 0, bytes(range(256)))
    v = dev.view(b, 64, 32)
    try:
      assert dev.copyout(v, 0, 32) == bytes(range(64, 96)), "the view does not show bytes 64..96 of its buffer"
      dev.copyin(v, 8, b"\xff" * 8)
      assert dev.copyout(b, 64, 32) == bytes(range(64, 72)) + b"\xff" * 8 + bytes(range(80, 96)), "a write through the view missed the buffer"
    finally: dev.free(v)
    dev.free(dev.view(b, 256, 0))
  finally: dev.free(b)

# ---------------- programs ----------------

def test_compile_load(cdev):
  blob = cdev.compile(*kernels.VADD)
  p1, p2 = cdev.load(blob, kernels.VADD[1]), cdev.load(blob, kernels.VADD[1])
  assert p1 != p2, "two loads of one blob returned the same program handle"
  cdev.program_free(p1)
  cdev.program_free(p2)

def test_compile_deterministic(cdev):
  """compile is pure: the same source gives the same bytes (the host caches blobs by source)."""
  assert cdev.compile(*kernels.VADD) == cdev.compile(*kernels.VADD), "two compiles of one source gave different blobs"

def test_compile_error(cdev, detail):
  """Source that does not compile: TG_ERR_COMPILE with the compiler's log through set_error."""
  blob = ffi.new("tg_blob *")
  blob.struct_size, mark = ffi.sizeof("tg_blob"), len(cdev.host.errors)
  st = int(cdev.api.compile(cdev.dev, kernels.BROKEN[0].encode(), kernels.BROKEN[1].encode(), blob))
  if st == OK: cdev.api.blob_free(blob)
  msg = expect_error(cdev, st, "compile of broken source", mark)
  detail("message", msg[:500])
  assert st == STATUS["TG_ERR_COMPILE"], f"compile of broken source returned {sname(st)}, expected TG_ERR_COMPILE"
  assert "error" in msg.lower(), f"the message carries no compiler log: {msg[:300]!r}"

@pytest.mark.parametrize("case", ["missing_symbol", "garbage_blob"])
def test_load_error(cdev, case, detail):
  blob, name = (cdev.compile(*kernels.VADD), "tgc_no_such_kernel") if case == "missing_symbol" else (b"\x7fELF not a program" * 4, "tgc_vadd")
  out, data, mark = ffi.new("tg_backend_program **"), ffi.new("unsigned char[]", blob), len(cdev.host.errors)
  st = int(cdev.api.load(cdev.dev, data, len(blob), name.encode(), out))
  if st == OK: cdev.api.program_free(cdev.dev, out[0])
  detail("message", expect_error(cdev, st, f"load ({case})", mark))

# ---------------- launches ----------------

@pytest.mark.parametrize("n", [1, 7, 1024])
def test_launch_vector_add(cdev, n):
  a, b = [float(i) * 0.5 for i in range(n)], [float(n - i) for i in range(n)]
  bufs = [cdev.alloc(4 * n) for _ in range(3)]
  prog = cdev.program(*kernels.VADD)
  try:
    cdev.copyin(bufs[1], 0, struct.pack(f"<{n}f", *a))
    cdev.copyin(bufs[2], 0, struct.pack(f"<{n}f", *b))
    cdev.launch(prog, bufs, global_=(n, 1, 1))
    got = floats(cdev.copyout(bufs[0], 0, 4 * n))
    bad = [i for i in range(n) if got[i] != a[i] + b[i]]
    assert not bad, f"{len(bad)} of {n} sums wrong, first c[{bad[0]}]={got[bad[0]]} != {a[bad[0]] + b[bad[0]]}"
  finally:
    cdev.program_free(prog)
    for x in bufs: cdev.free(x)

def test_launch_vals(cdev):
  """Scalar values (tg_launch_params.vals) reach the kernel."""
  n = 100
  bufs = [cdev.alloc(4 * n) for _ in range(2)]
  prog = cdev.program(*kernels.AXPB)
  try:
    cdev.copyin(bufs[1], 0, struct.pack(f"<{n}i", *range(n)))
    cdev.launch(prog, bufs, vals=(3, -5), global_=(n, 1, 1))
    got = struct.unpack(f"<{n}i", cdev.copyout(bufs[0], 0, 4 * n))
    assert list(got) == [3 * i - 5 for i in range(n)], f"c[i] = a[i]*3 - 5 wrong, first values {got[:5]}"
  finally:
    cdev.program_free(prog)
    for x in bufs: cdev.free(x)

def grid_once(s: Session, grid: tuple[int, int, int], wait: int = 1) -> None:
  """Launch over `grid` and check that every point ran exactly once, and nothing outside it ran or was written."""
  n = grid[0] * grid[1] * grid[2]
  if n > COUNT_MAX:
    acc, prog = s.alloc(32), s.program(*kernels.SUMS)
    try:
      s.copyin(acc, 0, bytes(32))
      s.launch(prog, [acc], vals=(*grid, 0), global_=grid, wait=wait)
      if not wait: s.synchronize()
      cnt, sm, sq, bad = struct.unpack("<4Q", s.copyout(acc, 0, 32))
      assert bad == 0, f"grid {grid}: {bad} points outside the grid ran"
      assert (cnt, sm, sq) == kernels.expected_sums(n), f"grid {grid}: {cnt} of {n} points ran, or some twice (sums {sm}, {sq} differ)"
    finally:
      s.program_free(prog)
      s.free(acc)
    return
  g = 64
  counts, bad, prog = s.alloc(4 * (n + 2 * g)), s.alloc(4), s.program(*kernels.COUNT)
  try:
    s.copyin(counts, 0, bytes(4 * (n + 2 * g)))
    s.copyin(bad, 0, bytes(4))
    s.launch(prog, [counts, bad], vals=(*grid, g), global_=grid, wait=wait)
    if not wait: s.synchronize()
    c = struct.unpack(f"<{n + 2 * g}I", s.copyout(counts, 0, 4 * (n + 2 * g)))
    assert struct.unpack("<I", s.copyout(bad, 0, 4))[0] == 0, f"grid {grid}: points outside the grid ran"
    assert not any(c[:g]) and not any(c[g + n:]), f"grid {grid}: guard slots around the output were written"
    wrong = [i for i in range(n) if c[g + i] != 1]
    assert not wrong, f"grid {grid}: {len(wrong)} of {n} points ran {c[g + wrong[0]]} times (first at linear index {wrong[0]}), expected once each"
  finally:
    s.program_free(prog)
    s.free(counts)
    s.free(bad)

@pytest.mark.parametrize("grid", [(1, 1, 1), (7, 1, 1), (1024, 1, 1), (3, 5, 7)], ids=["1", "7", "1024", "3x5x7"])
def test_launch_grid(cdev, grid):
  """Every grid point runs exactly once."""
  if any(g > m for g, m in zip(grid, cdev.caps.global_max)) and not cdev.caps.has_threads:
    not_supported(f"grid {grid} exceeds global_max {tuple(cdev.caps.global_max)}")
  grid_once(cdev, grid)

@pytest.mark.parametrize("dim", [0, 1, 2], ids=["x", "y", "z"])
def test_launch_at_limit(cdev, dim, detail):
  """global_max[dim] points along one dimension, each exactly once."""
  grid = [1, 1, 1]
  grid[dim] = int(cdev.caps.global_max[dim])
  detail("grid", grid)
  grid_once(cdev, tuple(grid))

def test_launch_beyond_limit(cdev, detail):
  """Beyond global_max[0]: refused with a message, or (has_threads: a preference only) run with each point once."""
  gmax = int(cdev.caps.global_max[0])
  if cdev.caps.has_threads:
    detail("grid", [2 * gmax + 1, 1, 1])
    return grid_once(cdev, (2 * gmax + 1, 1, 1))
  if gmax >= 2**32 - 1: not_run("global_max[0] is the largest uint32: nothing lies beyond it")
  refused_launch(cdev, (gmax + 1, 1, 1), (1, 1, 1), f"global {gmax + 1} beyond global_max[0]={gmax}", detail)

def refused_launch(s: Session, grid, local, what: str, detail) -> None:
  prog, acc = s.program(*kernels.SUMS), s.alloc(32)
  try:
    s.copyin(acc, 0, bytes(32))
    p = ffi.new("tg_launch_params *")
    keep = (ffi.new("tg_backend_buffer *[]", [acc]), ffi.new("int64_t[]", [*grid, 0]))
    p.struct_size, p.bufs, p.n_bufs, p.vals, p.n_vals, p.wait = ffi.sizeof("tg_launch_params"), keep[0], 1, keep[1], 4, 1
    for i in range(3): getattr(p, "global")[i], getattr(p, "local")[i] = grid[i], local[i]
    mark = len(s.host.errors)
    detail("message", expect_error(s, int(s.api.launch(s.dev, prog, p)), f"launch with {what}", mark))
  finally:
    s.program_free(prog)
    s.free(acc)

def test_launch_local_beyond_limit(cdev, detail):
  """A workgroup larger than local_max[0] is refused with a message."""
  lmax = int(cdev.caps.local_max[0])
  if lmax >= 2**32 - 1: not_run("local_max[0] is the largest uint32")
  n = lmax + 1 if cdev.caps.has_threads else min(lmax + 1, int(cdev.caps.global_max[0]))
  refused_launch(cdev, (n, 1, 1), (lmax + 1, 1, 1), f"local {lmax + 1} beyond local_max[0]={lmax}", detail)

def test_launch_elapsed(cdev, detail):
  """wait=1 with elapsed_s: the backend fills a finite time >= 0."""
  prog, acc = cdev.program(*kernels.SUMS), cdev.alloc(32)
  try:
    cdev.copyin(acc, 0, bytes(32))
    t = cdev.launch(prog, [acc], vals=(64, 1, 1, 0), global_=(64, 1, 1), wait=1)
    detail("elapsed_s", t)
    assert t is not None, "launch with wait=1 did not fill *elapsed_s"
    assert math.isfinite(t) and 0 <= t < 600, f"elapsed_s {t} is not a plausible time"
  finally:
    cdev.program_free(prog)
    cdev.free(acc)

def test_synchronize(cdev):
  """A launch queued with wait=0 is complete after synchronize (and synchronize on an idle device is fine)."""
  cdev.synchronize()
  grid_once(cdev, (1000, 1, 1), wait=0)
  cdev.synchronize()

def test_events(dev, detail):
  """[optional] event_create/record/synchronize/elapsed/free: elapsed between two recorded events is >= 0."""
  have = [f for f in EVENTS if dev.api.get(f) is not None]
  detail("implemented", have)
  if not have: not_supported("no event entries (event_create .. event_free are NULL)")
  assert len(have) == len(EVENTS), f"a partial event set: {', '.join(sorted(set(EVENTS) - set(have)))} NULL while {', '.join(have)} are not"
  a, b = dev.event(), dev.event()
  buf = dev.alloc(4096)
  try:
    dev.call("event_record(start)", dev.api.event_record, dev.dev, a)
    dev.copyin(buf, 0, bytes(4096))
    dev.call("event_record(end)", dev.api.event_record, dev.dev, b)
    dev.call("event_synchronize(end)", dev.api.event_synchronize, dev.dev, b)
    t = ffi.new("double *", -1.0)
    dev.call("event_elapsed", dev.api.event_elapsed, dev.dev, a, b, t)
    detail("elapsed_s", t[0])
    assert math.isfinite(t[0]) and t[0] >= 0, f"event_elapsed gave {t[0]}"
  finally:
    dev.event_free(a)
    dev.event_free(b)
    dev.free(buf)

def test_transfer(dev):
  """[optional] Device-to-device copies between two devices of this backend."""
  if dev.api.get("transfer") is None: not_supported("transfer is NULL")
  if dev.device_count < 2: not_run(f"transfer needs two devices; the backend has {dev.device_count}")
  d1 = ffi.new("tg_backend_device **")
  dev.call("device_open(1)", dev.api.device_open, 1, d1)
  src, dst = dev.alloc(256), ffi.new("tg_backend_buffer **")
  try:
    dev.call("alloc on device 1", dev.api.alloc, d1[0], 256, dst)
    dev.copyin(src, 0, bytes(range(256)))
    dev.call("transfer", dev.api.transfer, d1[0], dst[0], dev.dev, src, 256)
    out = ffi.new("unsigned char[]", 256)
    dev.call("copyout on device 1", dev.api.copyout, d1[0], dst[0], 0, out, 256)
    assert bytes(ffi.buffer(out, 256)) == bytes(range(256)), "transfer changed the bytes"
    dev.api.free(d1[0], dst[0])
  finally:
    dev.free(src)
    dev.api.device_close(d1[0])

# ---------------- leaks (last: the final case shuts the backend down) ----------------

def rss() -> int:
  with open("/proc/self/statm") as f: return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def host_memory(dev) -> None:
  if DEVICE_TYPES.get(dev.props.type) != "CPU":
    not_run(f"device type {DEVICE_TYPES.get(dev.props.type, dev.props.type)}: its memory is not this process's, so the suite cannot see leaks; "
            "only its own alloc/free accounting is checked (runtime.shutdown_releases_everything)")

def test_leak_cycles(dev, detail):
  """Host-memory devices: 16 rounds of alloc + fill + free of 64 MiB leave the process no bigger."""
  host_memory(dev)
  src = ffi.new("unsigned char[]", 64 * MIB)
  ffi.memmove(src, b"\x5a" * (64 * MIB), 64 * MIB)
  before = rss()
  for _ in range(16):
    b = dev.alloc(64 * MIB)
    dev.call("copyin of 64 MiB", dev.api.copyin, dev.dev, b, 0, src, 64 * MIB)
    dev.free(b)
  grew = rss() - before
  detail("rss_growth_mib", round(grew / MIB, 1))
  assert grew < 128 * MIB, f"the process grew by {grew // MIB} MiB over 16 alloc/free rounds of 64 MiB: free() does not release buffers"

def test_shutdown_releases_everything(session, detail):
  """Every object the suite made was freed by it; shutdown releases what a host leaves behind (host-memory devices:
  four 64 MiB buffers never freed must be gone from the process after shutdown)."""
  if isinstance(session, _NotStarted): not_run(f"the backend did not start (runtime.device_count FAILs with the reason): {session.why}")
  s = session
  for addr, kind in list(s.counts.live.items()):   # left by failing cases: freed now, so the counts below add up
    p = ffi.cast({"buffer": "tg_backend_buffer *", "program": "tg_backend_program *", "event": "tg_backend_event *"}[kind], addr)
    {"buffer": s.free, "program": s.program_free, "event": s.event_free}[kind](p)
  c = s.counts
  detail("suite_counts", {"allocs": c.allocs, "frees": c.frees, "programs": c.programs, "program_frees": c.program_frees, "blobs": c.blobs,
                          "blob_frees": c.blob_frees, "events": c.events, "event_frees": c.event_frees})
  assert (c.allocs, c.programs, c.blobs, c.events) == (c.frees, c.program_frees, c.blob_frees, c.event_frees), "the suite's own accounting is off"
  if s.dev is None or DEVICE_TYPES.get(s.props.type) != "CPU" or s.api.get("shutdown") is None:
    detail("shutdown_check", "suite accounting only" + ("" if s.api.get("shutdown") else ": shutdown is NULL"))
    s.close()
    return
  src = ffi.new("unsigned char[]", 64 * MIB)
  ffi.memmove(src, b"\x3c" * (64 * MIB), 64 * MIB)
  for _ in range(4):
    out = ffi.new("tg_backend_buffer **")
    s.call("alloc of 64 MiB", s.api.alloc, s.dev, 64 * MIB, out)
    s.call("copyin of 64 MiB", s.api.copyin, s.dev, out[0], 0, src, 64 * MIB)
  before = rss()
  s.close()
  dropped = before - rss()
  detail("rss_drop_mib", round(dropped / MIB, 1))
  assert dropped >= 192 * MIB, f"shutdown released {dropped // MIB} MiB of the 256 MiB in buffers the host never freed: free them in shutdown"
