"""Probes of `tgc-sdk validate`: each capability the device declares, proven by using it (and the undeclared ones tried,
so that "works but not declared" shows). Run like a conformance tier (`runner.run_tier("validate", ...)`): one child
process under the watchdog, so a probe that crashes or hangs the backend is a CRASH/TIMEOUT, not a dead run.

Outcomes: PASS (declared and works; with detail "undeclared" when it works without being declared), FAIL (declared
but fails), NOT_SUPPORTED (not declared and does not work: consistent), NOT_RUN (cannot be probed here, with why).
The kernels are hand-written in the "c" dialect (suite/probes.py); devices of other dialects get NOT_RUN for every
probe that needs a kernel: their kernels come from the engine's renderers (issue 3). The declared caps themselves are
checked by rules in the parent (tgc_sdk/validate.py) on what validate.caps records."""
from __future__ import annotations
import struct
import pytest
from tgc_sdk.suite import kernels, probes
from tgc_sdk.suite.abi import ffi, Session, BackendError, DTYPES, ALU_OPS, DEVICE_TYPES, text
from tgc_sdk.suite.plugin import not_run, not_supported, ENGINE

N_ELEMS, GUARD = 64, 64
DTYPE_BIT = {n: v for v, n in DTYPES.items()}
OP_BIT = {n: v for v, n in ALU_OPS.items()}

class _NotStarted:
  def __init__(self, why: str): self.why = why
  def close(self): pass

@pytest.fixture(scope="module")
def session(target):
  if not target.library: pytest.fail("no backend library given (--tgc-library)")
  try: s = Session(target.library)
  except BackendError as e: s = _NotStarted(str(e))
  s.blobs = {}   # dtype name -> (blob or None, compile error)
  yield s
  s.close()

@pytest.fixture
def dev(session) -> Session:
  if isinstance(session, _NotStarted): not_run("the backend did not start (validate.caps FAILs with the reason)")
  if session.dev is None: not_run(f"the backend reports no device here ({session.unavailable or 'device_count 0'}): nothing can be probed")
  return session

def need_c(s: Session, what: str = "this probe") -> None:
  if (d := text(s.caps.dialect)) != "c":
    not_run(f"{what} needs a kernel; validate's probe kernels are written in the \"c\" dialect and {d!r} kernels come from the engine's "
            f"renderer ({ENGINE})")

def first_line(e: BaseException) -> str: return str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__

def verdict(declared: bool, what: str, probe, detail) -> None:
  """Run probe(); map (declared, works) to FAIL / NOT_SUPPORTED / PASS (+ "undeclared")."""
  try: probe()
  except AssertionError as e:   # BackendError is one
    if declared: raise AssertionError(f"declared but fails: {what}: {e}") from None
    not_supported(f"not declared, and does not work: {first_line(e)}")
  if not declared: detail("undeclared", f"{what} works but is not declared")

def elems(s: Session) -> int: return N_ELEMS if s.caps.has_threads else max(1, min(N_ELEMS, int(s.caps.global_max[0])))

def blob_for(s: Session, dt: probes.DT, name: str, src: str) -> bytes:
  """One compile per dtype (every probe kernel of it in one source); a kernel of a dtype whose source does not compile is
  compiled alone, so that the error is its own."""
  if dt.name not in s.blobs:
    ks = [probes.copy_kernel(dt)] + ([] if dt.kind == "fp8" else [probes.op_kernel(o, dt) for o in probes.ops_for(dt)])
    try: s.blobs[dt.name] = (s.compile(probes.source(ks), f"tgc_v_{dt.name}"), "")
    except BackendError as e: s.blobs[dt.name] = (None, str(e))
  blob, _ = s.blobs[dt.name]
  return blob if blob is not None else s.compile(probes.source([(name, src)]), name)

def run(s: Session, blob: bytes, name: str, out_dt: probes.DT, ins: list[tuple[probes.DT, list]], vals=()) -> list:
  """Launch kernel `name` over len(ins[0]) points; returns the output elements. Guard bytes after the output must survive."""
  n = len(ins[0][1])
  nbytes = n * out_dt.size
  bufs = []
  try:
    bufs.append(s.alloc(nbytes + GUARD))
    s.copyin(bufs[0], 0, b"\xa5" * (nbytes + GUARD))
    for dt, xs in ins:
      raw = probes.pack(dt, xs)
      bufs.append(s.alloc(len(raw)))
      s.copyin(bufs[-1], 0, raw)
    prog = s.load(blob, name)
    try: s.launch(prog, bufs, vals=vals, global_=(n, 1, 1), what=f"launch of {name}")
    finally: s.program_free(prog)
    raw = s.copyout(bufs[0], 0, nbytes + GUARD)
    if raw[nbytes:] != b"\xa5" * GUARD: raise BackendError(f"{name} over {n} points wrote past its {n} output elements (guard bytes changed)")
    return probes.unpack(out_dt, raw[:nbytes])
  finally:
    for b in bufs: s.free(b)

# ---------------- the declared caps, recorded for the parent's rules ----------------

def test_caps(session, detail):
  if isinstance(session, _NotStarted): raise BackendError(f"the backend did not start: {session.why}")
  if session.dev is None: not_run(f"the backend reports no device here ({session.unavailable or 'device_count 0'})")
  c, p = session.caps, session.props
  tcs = [{"dims": list(t.dims), "threads": t.threads, "elements_per_thread": list(t.elements_per_thread), "dtype_in": t.dtype_in,
          "dtype_out": t.dtype_out} for t in (c.tensor_cores[i] for i in range(min(c.n_tensor_cores, 64)))] if c.tensor_cores != ffi.NULL else []
  detail("caps", {"struct_size": c.struct_size, "dialect": text(c.dialect), "arch": text(c.arch), "dtypes_mask": c.dtypes, "alu_ops_mask": c.alu_ops,
                  "dtypes": [n for v, n in DTYPES.items() if c.dtypes >> v & 1], "alu_ops": [n for v, n in ALU_OPS.items() if c.alu_ops >> v & 1],
                  "has_local": c.has_local, "has_shared": c.has_shared, "has_threads": c.has_threads, "vector_width": c.vector_width,
                  "global_max": list(c.global_max), "local_max": list(c.local_max), "local_prod_max": c.local_prod_max, "alignment": c.alignment,
                  "shared_max": c.shared_max, "mem_total": c.mem_total, "mem_max_alloc": c.mem_max_alloc, "n_tensor_cores": c.n_tensor_cores,
                  "tensor_cores_null": c.tensor_cores == ffi.NULL, "tensor_cores": tcs})
  detail("properties", {"name": text(p.name), "vendor": text(p.vendor), "driver_version": text(p.driver_version),
                        "type": DEVICE_TYPES.get(p.type, str(p.type))})
  detail("manifest_dialects", [d.strip() for d in text(session.lib.manifest().dialects).split(",") if d.strip()])
  detail("device_count", session.device_count)

# ---------------- dtypes and ALU ops ----------------

@pytest.mark.parametrize("dtype", list(DTYPES.values()))
def test_dtype(dev, dtype, detail):
  """The dtype round-trips through alloc/copyin/copyout, and a kernel reads and writes it (a reversed copy)."""
  declared, dt = bool(dev.caps.dtypes >> DTYPE_BIT[dtype] & 1), probes.DTS[dtype]
  if dt.kind == "fp8" and not declared: not_supported("not declared (a c kernel could only copy fp8 bytes, which proves nothing about fp8)")
  need_c(dev, f"a {dtype} kernel")
  def probe():
    n = elems(dev)
    xs = probes.copy_inputs(dt, n)
    raw, b = probes.pack(dt, xs), dev.alloc(n * dt.size)
    try:
      dev.copyin(b, 0, raw)
      if dev.copyout(b, 0, len(raw)) != raw: raise BackendError(f"{n} {dtype} elements came back different from copyout")
    finally: dev.free(b)
    name, src = probes.copy_kernel(dt)
    got = run(dev, blob_for(dev, dt, name, src), name, dt, [(dt, xs)], vals=(n,))
    if bad := probes.mismatches(None, dt, [xs[::-1]], got, xs[::-1]): raise AssertionError(f"the kernel's reversed copy is wrong: {'; '.join(bad)}")
  verdict(declared, dtype, probe, detail)
  if dt.kind == "fp8": detail("note", "storage only: the c dialect has no fp8 type, so the kernel copies bytes")

def alu_probe(s: Session, op: probes.Op, dt: probes.DT) -> None:
  n = elems(s)
  xs = probes.op_inputs(op, dt, n)
  name, src = probes.op_kernel(op, dt)
  got = run(s, blob_for(s, dt, name, src), name, probes.DTS["bool"] if op.bool_out else dt, list(zip(probes.input_dtypes(op, dt), xs)))
  if bad := probes.mismatches(op, dt, xs, got, probes.expected(op, dt, xs)): raise AssertionError("; ".join(bad))

@pytest.mark.parametrize("op", list(ALU_OPS.values()))
def test_alu(dev, op, detail):
  """A declared op on every declared dtype of its domain, against Python; an undeclared one on float32 or int32."""
  declared, o = bool(dev.caps.alu_ops >> OP_BIT[op] & 1), probes.OPS[op]
  if op in probes.NO_C:
    if not declared: not_supported("not declared")
    need_c(dev, op)
    not_run(probes.NO_C[op])
  need_c(dev, f"an {op} kernel")
  dts = [d for d in o.domain if dev.caps.dtypes >> DTYPE_BIT[d] & 1] if declared else [probes.representative(o)]
  results = {}
  for d in dts:
    try: alu_probe(dev, o, probes.DTS[d]); results[d] = "ok"
    except AssertionError as e: results[d] = str(e)
  detail("dtypes", results)
  failed = {d: r for d, r in results.items() if r != "ok"}
  if declared and failed: raise AssertionError(f"declared but fails on {', '.join(failed)}: " + " | ".join(f"{d}: {r}" for d, r in failed.items()))
  if failed: not_supported(f"not declared, and does not work on {dts[0]}: {first_line(AssertionError(failed[dts[0]]))}")
  if not declared: detail("undeclared", f"{op} works on {dts[0]} but is not declared (the core decomposes it; declare it if the device has it)")

VEC = "#include <stdint.h>\ntypedef float tgc_vec __attribute__((vector_size({bytes})));\n" \
      "void tgc_v_vec(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {{\n  (void)vals;\n" \
      "  tgc_vec *o = bufs[0];\n  const tgc_vec *a = bufs[1], *b = bufs[2];\n  o[gid[0]] = a[gid[0]] + b[gid[0]];\n}}\n"

def test_vector_width(dev, detail):
  """float vectors of vector_width lanes (C vector types, as tinygrad's C renderer emits float4) load, add and store."""
  need_c(dev, "a vector kernel")
  vw, n = int(dev.caps.vector_width), 16
  detail("vector_width", vw)
  if vw & (vw - 1) or not 1 <= vw <= 64: raise AssertionError(f"vector_width {vw}: C vector types need a power of two in 1..64")
  a, b = [float(i) for i in range(n * vw)], [0.5 * i for i in range(n * vw)]
  prog = dev.program(VEC.format(bytes=4 * vw), "tgc_v_vec")
  bufs = [dev.alloc(4 * n * vw) for _ in range(3)]
  try:
    dev.copyin(bufs[1], 0, struct.pack(f"<{n * vw}f", *a))
    dev.copyin(bufs[2], 0, struct.pack(f"<{n * vw}f", *b))
    dev.launch(prog, bufs, global_=(n, 1, 1))
    got = struct.unpack(f"<{n * vw}f", dev.copyout(bufs[0], 0, 4 * n * vw))
    assert list(got) == [x + y for x, y in zip(a, b)], f"float{vw} adds are wrong: first values {got[:4]}"
  finally:
    dev.program_free(prog)
    for x in bufs: dev.free(x)

# ---------------- launch limits ----------------

def run_grid(s: Session, grid, local=(1, 1, 1)) -> str | None:
  """Launch the counting kernel over grid (with local); None when every point ran once, else what went wrong."""
  n = grid[0] * grid[1] * grid[2]
  prog, acc = s.program(*kernels.SUMS), s.alloc(32)
  try:
    s.copyin(acc, 0, bytes(32))
    s.launch(prog, [acc], vals=(*grid, 0), global_=tuple(grid), local=tuple(local))
    cnt, sm, sq, bad = struct.unpack("<4Q", s.copyout(acc, 0, 32))
    if bad: return f"{bad} points outside the grid ran"
    if (cnt, sm, sq) != kernels.expected_sums(n): return f"{cnt} of {n} points ran (or some twice)"
    return None
  except BackendError as e: return first_line(e)
  finally:
    s.program_free(prog)
    s.free(acc)

def largest(ok, hi: int) -> int:
  """The largest n in 1..hi with ok(n) (0 if none), assuming ok is monotonic: log2(hi) tries."""
  lo = 0
  while lo < hi:
    mid = (lo + hi + 1) // 2
    if ok(mid): lo = mid
    else: hi = mid - 1
  return lo

def along(dim: int, n: int) -> list[int]: return [n if d == dim else 1 for d in range(3)]

@pytest.mark.parametrize("dim", [0, 1, 2], ids=["x", "y", "z"])
def test_global(dev, dim, detail):
  """global_max[dim] points along one dimension launch and run once each; if not, the largest size that does is found."""
  need_c(dev, "a launch")
  n = int(dev.caps.global_max[dim])
  detail("declared", n)
  if (err := run_grid(dev, along(dim, n))) is None: return
  best = largest(lambda m: run_grid(dev, along(dim, m)) is None, n - 1)
  detail("largest_launchable", best)
  raise AssertionError(f"declared global_max[{dim}]={n}, but a launch of {n} along {'xyz'[dim]} fails ({err}); "
                       f"the largest that launches and runs every point once is {best}")

def test_global_beyond(dev, detail):
  """has_threads: any global size must work (global_max is a preference). Otherwise twice global_max[0] should be
  refused: a device that runs it declares less than it has."""
  need_c(dev, "a launch")
  n, threads = int(dev.caps.global_max[0]), bool(dev.caps.has_threads)
  m = 2 * n + 1 if threads else 2 * n
  if m > 2**32 - 1: not_run(f"twice global_max[0]={n} is beyond a uint32 grid")
  detail("tried", m)
  err = run_grid(dev, (m, 1, 1))
  if threads and err: raise AssertionError(f"declared has_threads, so launch must accept any global size, but {m} points fail: {err}")
  if threads: return
  if err: not_supported(f"refuses {m} points, beyond the declared global_max[0]={n}, as it should")
  detail("undeclared", f"runs {m} points along x, beyond the declared global_max[0]={n}: declare the real limit")

@pytest.mark.parametrize("dim", [0, 1, 2], ids=["x", "y", "z"])
def test_local(dev, dim, detail):
  """A workgroup of local_max[dim] along one dimension launches; if not, the largest that does is found."""
  need_c(dev, "a launch")
  n = int(dev.caps.local_max[dim])
  detail("declared", n)
  if (err := run_grid(dev, along(dim, n), along(dim, n))) is None: return
  best = largest(lambda m: run_grid(dev, along(dim, m), along(dim, m)) is None, n - 1)
  detail("largest_launchable", best)
  raise AssertionError(f"declared local_max[{dim}]={n}, but a workgroup of {n} along {'xyz'[dim]} fails ({err}); the largest that launches is {best}")

def test_local_prod(dev, detail):
  """A workgroup of local_prod_max threads (spread over the dimensions within local_max) launches."""
  need_c(dev, "a launch")
  p, lm = int(dev.caps.local_prod_max), [int(x) for x in dev.caps.local_max]
  l0 = min(lm[0], p)
  l1 = min(lm[1], p // max(l0, 1))
  l2 = min(lm[2], p // max(l0 * l1, 1))
  local = (max(l0, 1), max(l1, 1), max(l2, 1))
  detail("local", list(local))
  if (err := run_grid(dev, local, local)) is not None:
    raise AssertionError(f"declared local_prod_max={p}, but a workgroup {local} fails: {err}")

def test_shared(dev, detail):
  """Shared memory needs workgroup kernels: the c dialect's signature (bufs, vals, gid) has no workgroup, hence none."""
  if not dev.caps.has_shared: not_supported("not declared")
  need_c(dev, "a shared-memory kernel")
  raise AssertionError(f"declared but fails: has_shared with shared_max {dev.caps.shared_max}, but a \"c\" kernel is called once per grid "
                       "point with (bufs, vals, gid): it has no workgroup, so no memory is shared between its threads")

# Each grid point records the address of a thread-local; point 0 then waits (1 s at most) until another point has recorded
# a different one: a pool whose launching thread also takes chunks may otherwise finish a short launch before a worker
# wakes. A backend that runs everything on one thread costs the probe one second per try.
THREADS = "#include <stdint.h>\n#include <sched.h>\n#include <time.h>\nstatic __thread char tgc_tls;\n" \
          "void tgc_v_threads(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {\n" \
          "  uint64_t *out = bufs[0], me = (uint64_t)(uintptr_t)&tgc_tls;\n" \
          "  __atomic_store_n(&out[gid[0]], me, __ATOMIC_RELEASE);\n" \
          "  struct timespec t0, t;\n  clock_gettime(CLOCK_MONOTONIC, &t0);\n" \
          "  for (int other = gid[0] != 0; !other;) {\n" \
          "    for (int64_t k = 0; k < vals[0] && !other; k++) { uint64_t v = __atomic_load_n(&out[k], __ATOMIC_ACQUIRE); other = v && v != me; }\n" \
          "    clock_gettime(CLOCK_MONOTONIC, &t);\n    if (t.tv_sec - t0.tv_sec > 1) break;\n    sched_yield();\n  }\n}\n"

def test_threads(dev, detail):
  """has_threads: grid points run on several host threads (each point records the address of a thread-local)."""
  need_c(dev, "a thread probe")
  declared, gmax = bool(dev.caps.has_threads), int(dev.caps.global_max[0])
  if declared and gmax < 2: not_run(f"has_threads with global_max[0]={gmax}: one thread, nothing to spread")
  n = min(4096, 16 * gmax) if declared else max(1, min(64, gmax))
  prog, out = dev.program(THREADS, "tgc_v_threads"), dev.alloc(8 * n)
  try:
    seen = 0
    for _ in range(3):   # a pool may start lazily: give it three tries before calling it single-threaded
      dev.copyin(out, 0, bytes(8 * n))
      dev.launch(prog, [out], vals=(n,), global_=(n, 1, 1))
      seen = max(seen, len(set(struct.unpack(f"<{n}Q", dev.copyout(out, 0, 8 * n)))))
      if seen > 1: break
  finally:
    dev.program_free(prog)
    dev.free(out)
  detail("threads_seen", seen)
  if declared and seen < 2:
    raise AssertionError(f"declared has_threads (global_max[0]={gmax} threads), but all {n} grid points ran on one thread, three times")
  if not declared and seen < 2: not_supported("not declared, and grid points run on one thread")
  if not declared: detail("undeclared", f"grid points ran on {seen} threads but has_threads is not declared")

ADDRS = "#include <stdint.h>\nvoid tgc_v_addrs(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {\n" \
        "  (void)gid;\n  for (int64_t i = 0; i < vals[0]; i++) ((uint64_t *)bufs[0])[i] = (uint64_t)(uintptr_t)bufs[1 + i];\n}\n"

def test_alignment(dev, detail):
  """Buffer base addresses, as a kernel sees them, are multiples of the declared alignment."""
  need_c(dev, "an address kernel")
  align, sizes = int(dev.caps.alignment), [1, 3, 17, 100, 4096, 65537, (1 << 20) + 7, 24, 8, 1000, 5, 333, 2048 + 1, 12, 64, 7]
  bufs = [dev.alloc(8 * len(sizes))] + [dev.alloc(n) for n in sizes]
  prog = dev.program(ADDRS, "tgc_v_addrs")
  try:
    dev.launch(prog, bufs, vals=(len(sizes),))
    addrs = struct.unpack(f"<{len(sizes)}Q", dev.copyout(bufs[0], 0, 8 * len(sizes)))
  finally:
    dev.program_free(prog)
    for b in bufs: dev.free(b)
  observed = min(min(a & -a for a in addrs if a) if any(addrs) else 1 << 20, 1 << 20)
  detail("declared", align)
  detail("observed", observed)
  if off := [(n, hex(a)) for n, a in zip(sizes, addrs) if align and a % align]:
    raise AssertionError(f"declared alignment {align}, but {len(off)} of {len(sizes)} buffers are not {align}-aligned (the least aligned "
                         f"is only {observed}-aligned), e.g. a {off[0][0]}-byte buffer at {off[0][1]}")

def test_tensor_cores(dev, detail):
  if not dev.caps.n_tensor_cores: not_supported("no tensor cores declared")
  not_run(f"{dev.caps.n_tensor_cores} tensor core shape(s) declared: proving them needs WMMA kernels rendered by the engine ({ENGINE})")
