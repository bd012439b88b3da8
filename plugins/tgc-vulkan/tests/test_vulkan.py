"""On a Vulkan device (lavapipe in CI, a GPU's driver elsewhere; skipped without one, with the reason): hand-written GLSL kernels
through tgc's public API (tgc.Program/tgc.Buffer over tg_program_compile/tg_program_launch), compared against numpy; the error
paths (allocations above the storage-buffer limit, compile errors with glslang's log, launches the kernel cannot take), each
leaving the process usable; and, through the plugin's function table, what tg.h does not expose yet: events, timed launches,
buffer views, SPIR-V blobs. Set TGC_VULKAN_DEVICE=N to run on VULKAN:N (default VULKAN, the first: GPUs sort before lavapipe)."""
import gc, os, re, sys, shutil, subprocess
import numpy as np
import pytest
import tgc, tgc_vulkan
from tgc import device as tgdev
from tgc._ffi import lib
from glsl_kernels import (ffi, Direct, DTYPES, vadd, block_sum, idx3d, IOTA_LOCAL, AXPB, FIXED64, BROKEN, BROKEN_NAME, dtype_kernel,
                          dtype_expected, dtype_input)

def _status() -> tuple[bool, str]:
  rec = next((r for r in tgdev.backends() if r.name == "VULKAN"), None)
  if rec is None: return False, "the VULKAN backend was not discovered"
  return rec.state == "ready" and rec.device_count > 0, f"VULKAN: {rec.status}"

READY, WHY = _status()
pytestmark = pytest.mark.skipif(not READY, reason=f"no Vulkan device ({WHY})")
DEV = f"VULKAN:{os.environ['TGC_VULKAN_DEVICE']}" if os.environ.get("TGC_VULKAN_DEVICE") else "VULKAN"
NESTED = os.environ.get("TGC_VULKAN_NESTED") == "1"

def caps() -> dict: return tgc.Device[DEV].caps
def val_t() -> str: return "int64_t" if "int64" in caps()["dtypes"] else "int"
def is_lavapipe() -> bool: return tgc.Device[DEV].properties["type"] == "CPU"
def vk_buf(arr: np.ndarray) -> tgc.Buffer: return tgc.Buffer(DEV, max(arr.nbytes, 1)).copyin(np.ascontiguousarray(arr))
def read(b: tgc.Buffer, dtype, n: int | None = None) -> np.ndarray: return np.frombuffer(b.copyout(), dtype=dtype)[:n]
def groups(n: int, local: int) -> int: return (n + local - 1) // local
def live_handles() -> int:
  lib().tg_debug_live_handles(n := ffi.new("size_t *"))
  return n[0]

def vadd_works(n: int = 4099) -> None:
  a, b = np.arange(n, dtype=np.float32), np.full(n, 0.5, np.float32)
  out = tgc.Buffer(DEV, a.nbytes)
  tgc.Program(DEV, vadd(val_t()), "vadd")(out, vk_buf(a), vk_buf(b), global_size=groups(n, 64), local_size=64, vals=(n,), wait=True)
  np.testing.assert_array_equal(read(out, np.float32), a + b)

# ---------------- device description ----------------

ALU = {"SQRT", "RECIPROCAL", "NEG", "TRUNC", "ADD", "SUB", "MUL", "CDIV", "CMOD", "SHL", "SHR", "CMPLT", "CMPNE", "CMPEQ", "AND", "OR", "XOR", "WHERE"}

def test_caps_and_properties():
  c, p = caps(), tgc.Device[DEV].properties
  assert (c["dialect"], c["has_local"], c["has_shared"], c["has_threads"], c["vector_width"]) == ("glsl", True, True, False, 1)
  assert c["arch"] in ("vulkan1.1", "vulkan1.2") and set(c["alu_ops"]) == ALU
  assert {"int32", "uint32", "float32"} <= set(c["dtypes"]) <= set(DTYPES), c["dtypes"]
  assert all(x >= 65535 for x in c["global_max"]) and c["local_prod_max"] >= 128 and c["local_max"][0] >= 128 and c["shared_max"] >= 16384
  assert c["alignment"] & (c["alignment"] - 1) == 0 and c["mem_max_alloc"] > 0 and c["mem_total"] > 0
  assert p["name"] and p["type"] in ("CPU", "GPU") and re.search(r"Vulkan 1\.\d+\.\d+", p["driver_version"]), p
  if is_lavapipe():   # Mesa's lavapipe: the numbers the plugin must respect there (reference/toolchains.md)
    assert p["vendor"] == "Mesa" and p["name"].startswith("llvmpipe")
    assert (c["mem_max_alloc"], c["shared_max"], c["local_prod_max"]) == (128 << 20, 32768, 1024)
    assert set(c["dtypes"]) == set(DTYPES) - {"bfloat16"}

def test_doctor_ready():
  r = subprocess.run([sys.executable, "-m", "tgc", "doctor"], capture_output=True, text=True, timeout=300, check=False, cwd=os.path.dirname(__file__))
  assert r.returncode == 0, r.stderr
  assert re.search(r"^VULKAN +ready +\S+ +1\.0 +glsl +[1-9]", r.stdout, re.M), r.stdout
  assert re.search(r"^VULKAN: .+ \(.*, (CPU|GPU)\): dialect glsl, arch vulkan1\.\d, ", r.stdout, re.M), r.stdout

# ---------------- kernels against numpy ----------------

def test_vector_add():
  n, rng = 1_000_003, np.random.default_rng(0)
  a, b = rng.standard_normal(n, np.float32), rng.standard_normal(n, np.float32)
  out = tgc.Buffer(DEV, a.nbytes)
  secs = tgc.Program(DEV, vadd(val_t()), "vadd")(out, vk_buf(a), vk_buf(b), global_size=groups(n, 256), local_size=(256, 1, 1), vals=(n,), wait=True)
  assert secs > 0
  np.testing.assert_array_equal(read(out, np.float32), a + b)

@pytest.mark.parametrize("local", [64, 256])
def test_block_sum_shared_memory(local):
  n, rng = (1 << 20) + 5, np.random.default_rng(local)
  a = rng.standard_normal(n, np.float32)
  ng = groups(n, local)
  out = tgc.Buffer(DEV, ng * 4)
  prg = tgc.Program(DEV, block_sum(val_t()), "block_sum")   # one program: the workgroup size is a specialization constant
  prg(out, vk_buf(a), global_size=ng, local_size=local, vals=(n,), wait=True)
  ref = np.pad(a, (0, ng * local - n)).reshape(ng, local).sum(axis=1, dtype=np.float64)
  np.testing.assert_allclose(read(out, np.float32), ref, rtol=1e-5, atol=5e-4)

def test_launch_at_the_local_limit():
  c = caps()
  prg = tgc.Program(DEV, IOTA_LOCAL, "iota_local")
  for local in [(c["local_prod_max"], 1, 1) if c["local_max"][0] >= c["local_prod_max"] else (c["local_max"][0], 1, 1),
                (1, min(c["local_max"][1], c["local_prod_max"]), 1), (1, 1, min(c["local_max"][2], c["local_prod_max"])),
                (c["local_max"][0] if c["local_max"][0] * 2 <= c["local_prod_max"] else c["local_prod_max"] // 2, 2, 1)]:
    threads, ng = local[0] * local[1] * local[2], 3
    out = tgc.Buffer(DEV, ng * threads * 4)
    prg(out, global_size=ng, local_size=local, wait=True)
    np.testing.assert_array_equal(read(out, np.uint32), np.tile(np.arange(1, threads + 1, dtype=np.uint32), ng), err_msg=str(local))
  with pytest.raises(IndexError, match="local_prod_max|local_max"): prg(out, global_size=1, local_size=(c["local_prod_max"] + 1, 1, 1))

def test_3d_grid_and_workgroup():
  (gx, gy, gz), (lx, ly, lz) = (2, 3, 4), (8, 4, 2)
  nx, ny, nz = gx * lx, gy * ly, gz * lz
  out = tgc.Buffer(DEV, nx * ny * nz * 4)
  tgc.Program(DEV, idx3d(val_t()), "idx3d")(out, global_size=(gx, gy, gz), local_size=(lx, ly, lz), vals=(nx, ny), wait=True)
  z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
  np.testing.assert_array_equal(read(out, np.int32).reshape(nz, ny, nx), x + 1000 * y + 1000000 * z)

def test_int64_vals():
  if "int64" not in caps()["dtypes"]: pytest.skip("no shaderInt64: vals are int32 push constants on this device")
  n, alpha, beta = 1000, -3, 5_000_000_000_123
  a = np.arange(-500, 500, dtype=np.int32)
  out = tgc.Buffer(DEV, n * 8)
  tgc.Program(DEV, AXPB, "axpb")(out, vk_buf(a), global_size=groups(n, 128), local_size=128, vals=(alpha, beta, n), wait=True)
  np.testing.assert_array_equal(read(out, np.int64), a.astype(np.int64) * alpha + beta)

def test_dtype_round_trips():
  declared, rng, n = caps()["dtypes"], np.random.default_rng(7), 4099
  assert set(declared) <= set(DTYPES), f"a declared dtype has no test: {set(declared) - set(DTYPES)}"
  for name in declared:
    a = dtype_input(name, n, rng)
    o0, o1 = tgc.Buffer(DEV, a.nbytes), tgc.Buffer(DEV, a.nbytes)
    tgc.Program(DEV, dtype_kernel(name, val_t()), f"rt_{name}")(o0, o1, vk_buf(a), global_size=groups(n, 64), local_size=64, vals=(n,), wait=True)
    np.testing.assert_array_equal(read(o0, a.dtype), a, err_msg=name)
    np.testing.assert_array_equal(read(o1, a.dtype), dtype_expected(name, a), err_msg=name)

def test_copies_at_offsets():
  size, rng = 4096, np.random.default_rng(6)
  model = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
  b = tgc.Buffer(DEV, size).copyin(bytes(model))
  for off, n in [(0, 1), (1, 7), (100, 1000), (4000, 96), (4095, 1), (255, 257)]:
    chunk = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    b.copyin(chunk, offset=off)
    model[off:off + n] = chunk
  assert bytes(b.copyout()) == bytes(model)
  for off, n in [(0, 4096), (3, 5), (1000, 3000), (4095, 1), (4096, 0)]: assert bytes(b.copyout(n, offset=off)) == bytes(model[off:off + n])
  with pytest.raises(tgc.TgcError, match="outside the buffer of 4096 bytes"): b.copyin(b"12345", offset=4092)
  assert bytes(b.copyout()) == bytes(model)

def test_large_copy_and_kernel_after_copy():
  n = (40 << 20) // 4 + 3   # 40 MiB: several staging chunks of 16 MiB where the device is not host-visible
  a = np.random.default_rng(8).standard_normal(n).astype(np.float32)
  buf = vk_buf(a)
  np.testing.assert_array_equal(read(buf, np.float32), a)
  out = tgc.Buffer(DEV, a.nbytes)
  tgc.Program(DEV, vadd(val_t()), "vadd")(out, buf, buf, global_size=groups(n, 256), local_size=256, vals=(n,))   # no wait: copyout orders
  np.testing.assert_array_equal(read(out, np.float32), a + a)

def test_largest_allocation():
  limit = caps()["mem_max_alloc"]
  if limit > 256 << 20: pytest.skip(f"mem_max_alloc {limit} bytes: not filled here")
  b = tgc.Buffer(DEV, limit)
  tail = np.arange(16, dtype=np.uint8)
  b.copyin(tail, offset=limit - 16)
  assert bytes(b.copyout(16, offset=limit - 16)) == tail.tobytes()

# ---------------- errors: the right code and message, and the process stays usable ----------------

def test_allocation_above_the_storage_buffer_limit():
  before, limit = live_handles(), caps()["mem_max_alloc"]
  with pytest.raises(MemoryError, match=rf"exceeds {DEV}'s largest allocation of {limit} bytes") as e: tgc.Buffer(DEV, limit + 1)
  assert e.value.status_name == "TG_ERR_OUT_OF_MEMORY"
  if is_lavapipe(): assert limit == 134217728
  assert live_handles() == before
  vadd_works()

def test_compile_error_carries_glslang_log():
  with pytest.raises(tgc.CompileError) as e: tgc.Program(DEV, BROKEN, BROKEN_NAME)
  msg = str(e.value)
  assert f"vulkan: compile {BROKEN_NAME}: glslang: " in msg, msg
  assert re.search(r"ERROR: 0:\d+: 'undefined_thing' : undeclared identifier", msg), msg
  assert e.value.status_name == "TG_ERR_COMPILE"
  vadd_works()

def test_launches_the_kernel_cannot_take():
  out = tgc.Buffer(DEV, 1024 * 4)
  prg = tgc.Program(DEV, vadd(val_t()), "vadd")
  with pytest.raises(ValueError, match=r"vadd: the kernel binds 3 storage buffers \(bindings 0..2\), the launch passes 2"):
    prg(out, out, global_size=1, local_size=32, vals=(1,))
  with pytest.raises(ValueError, match=r"vadd: the kernel's push-constant block is \d bytes, the launch passes 2 vals"):
    prg(out, out, out, global_size=1, local_size=32, vals=(1, 2))
  fixed = tgc.Program(DEV, FIXED64, "fixed64")
  with pytest.raises(ValueError, match=r"local \(128,1,1\), but the kernel fixes local_size \(64,1,1\); declare `layout\(local_size_x_id = 0"):
    fixed(out, global_size=1, local_size=128)
  fixed(out, global_size=16, local_size=64, wait=True)   # the size it was compiled with
  np.testing.assert_array_equal(read(out, np.uint32), np.arange(1024, dtype=np.uint32))
  vadd_works()

def test_process_still_usable_and_no_leaks():
  gc.collect()
  before = live_handles()
  vadd_works(1 << 20)
  gc.collect()
  assert live_handles() == before

@pytest.mark.skipif(NESTED, reason="already the staging run")
def test_staging_path():
  """The copy path discrete GPUs take (device-local buffers + a staging buffer), forced with TGC_VULKAN_STAGING=1 where buffers are
  host-visible (lavapipe): the kernel and copy tests again in a child process."""
  env = {**os.environ, "TGC_VULKAN_STAGING": "1", "TGC_VULKAN_NESTED": "1", "DEBUG": "2"}
  r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", __file__, "-k",
                      "vector_add or block_sum or dtype or offsets or large_copy or largest or 3d or int64 or direct"],
                     env=env, capture_output=True, text=True, timeout=600, check=False, cwd=os.path.dirname(__file__))
  assert r.returncode == 0 and " passed" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]
  assert "in device-local memory, copied through a staging buffer" in r.stdout + r.stderr, r.stdout[-3000:]

# ---------------- the function table directly: events, timing, views, SPIR-V blobs, the plugin's own limits ----------------

@pytest.fixture(scope="module")
def direct(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("direct") / "libtgc_vulkan_direct.so")
  shutil.copy(tgc_vulkan.library(), path)
  if os.environ.get("TGC_VULKAN_DEVICE", "0") != "0": pytest.skip("the function-table tests open device 0")
  d = Direct(path)
  yield d
  d.api.device_close(d.dev)
  d.api.shutdown()

def test_direct_events_time_kernels(direct):
  n = 1 << 20
  a = np.ones(n, np.float32)
  out, x = direct.alloc(np.zeros(n, np.float32)), direct.alloc(a)
  prg = direct.program(vadd(val_t()), "vadd")
  start, end, never = direct.event(), direct.event(), direct.event()
  direct.ok(direct.api.event_record(direct.dev, start))
  for _ in range(10): direct.ok(direct.launch(prg, [out, x, x], [n], [n // 256, 1, 1], [256, 1, 1]))
  direct.ok(direct.api.event_record(direct.dev, end))
  direct.ok(direct.api.event_synchronize(direct.dev, end))
  secs = ffi.new("double *")
  direct.ok(direct.api.event_elapsed(direct.dev, start, end, secs))
  assert 0 < secs[0] < 10, secs[0]
  assert "the end event was never recorded" in direct.fails(direct.api.event_elapsed(direct.dev, start, never, secs), "TG_ERR_INVALID_ARGUMENT")
  np.testing.assert_array_equal(direct.read(out, a), a + a)
  t = ffi.new("double *", -1.0)
  direct.ok(direct.launch(prg, [out, x, x], [n], [n // 256, 1, 1], [256, 1, 1], wait=1, elapsed=t))   # wait + elapsed_s
  assert 0 < t[0] < 10, t[0]
  for e in (start, end, never): direct.api.event_free(direct.dev, e)
  for b in (out, x): direct.api.free(direct.dev, b)
  direct.api.program_free(direct.dev, prg)

def test_direct_buffer_view(direct):
  n, align = 4096, caps()["alignment"]
  whole, ones = direct.alloc(np.zeros(n, np.float32)), direct.alloc(np.ones(1024, np.float32))
  v = ffi.new("tg_backend_buffer **")
  direct.ok(direct.api.buffer_view(direct.dev, whole, 1024 * 4, 1024 * 4, v))
  prg = direct.program(vadd(val_t()), "vadd")
  direct.ok(direct.launch(prg, [v[0], ones, ones], [1024], [4, 1, 1], [256, 1, 1], wait=1))
  want = np.zeros(n, np.float32)
  want[1024:2048] = 2
  np.testing.assert_array_equal(direct.read(whole, want), want)
  got = np.empty(4, np.float32)   # copies through a view land at its offset
  direct.ok(direct.api.copyout(direct.dev, v[0], 0, ffi.from_buffer(got), got.nbytes))
  np.testing.assert_array_equal(got, [2, 2, 2, 2])
  assert "out of range" in direct.fails(direct.api.buffer_view(direct.dev, whole, n * 4 - 4, 8, ffi.new("tg_backend_buffer **")), "TG_ERR_OUT_OF_RANGE")
  if align > 1:
    msg = direct.fails(direct.api.buffer_view(direct.dev, whole, align // 2, 8, ffi.new("tg_backend_buffer **")), "TG_ERR_INVALID_ARGUMENT")
    assert f"must start at a multiple of {align} bytes" in msg and "minStorageBufferOffsetAlignment" in msg, msg
  direct.api.free(direct.dev, v[0])   # a view frees nothing of its parent
  np.testing.assert_array_equal(direct.read(whole, want), want)
  for b in (whole, ones): direct.api.free(direct.dev, b)
  direct.api.program_free(direct.dev, prg)

def test_direct_alloc_above_the_limit_names_it(direct):
  limit = caps()["mem_max_alloc"]
  msg = direct.fails(direct.api.alloc(direct.dev, limit + 1, ffi.new("tg_backend_buffer **")), "TG_ERR_OUT_OF_MEMORY")
  assert f"vulkan: alloc of {limit + 1} bytes on VULKAN:0" in msg and f"larger than the {limit} bytes one storage buffer can hold" in msg, msg
  assert re.search(r"\((maxStorageBufferRange|maxMemoryAllocationSize)\); split the data", msg), msg
  if is_lavapipe(): assert "(maxStorageBufferRange)" in msg and limit == 128 << 20

def test_direct_spirv_blobs(direct):
  spv = direct.compile(vadd(val_t()), "vadd")
  assert len(spv) % 4 == 0 and spv[:4] == (0x07230203).to_bytes(4, "little")
  st, prg = direct.load(b"\0" + spv, "vadd")   # unaligned copy of the words: refused by size, not crashed on
  assert "whole number of 32-bit words" in direct.fails(st, "TG_ERR_CORRUPT")
  assert "not a SPIR-V module" in direct.fails(direct.load(b"this is not SPIR-V!!", "vadd")[0], "TG_ERR_CORRUPT")
  no_main = spv.replace(b"main\0", b"mlin\0", 1)
  assert 'no GLCompute entry point named "main"' in direct.fails(direct.load(no_main, "vadd")[0], "TG_ERR_LOAD")
  assert "whole number" in direct.fails(direct.api.load(direct.dev, ffi.from_buffer(b"x"), 0, b"vadd", ffi.new("tg_backend_program **")), "TG_ERR_CORRUPT")
  st, prg = direct.load(spv, "vadd")   # still usable
  direct.ok(st)
  direct.api.program_free(direct.dev, prg)

def test_direct_launch_limits(direct):
  c = caps()
  prg = direct.program(IOTA_LOCAL, "iota_local")
  out = direct.alloc(np.zeros(16, np.uint32))
  msg = direct.fails(direct.launch(prg, [out], [], [1, 1, 1], [c["local_prod_max"] + 1, 1, 1]), "TG_ERR_OUT_OF_RANGE")
  assert "maxComputeWorkGroupInvocations" in msg and "maxComputeWorkGroupSize" in msg, msg
  msg = direct.fails(direct.launch(prg, [out], [], [c["global_max"][0] + 1, 1, 1], [1, 1, 1]), "TG_ERR_OUT_OF_RANGE")
  assert "maxComputeWorkGroupCount" in msg, msg
  direct.fails(direct.launch(prg, [out], [], [0, 1, 1], [1, 1, 1]), "TG_ERR_INVALID_ARGUMENT")
  direct.ok(direct.launch(prg, [out], [], [1, 1, 1], [16, 1, 1], wait=1))
  np.testing.assert_array_equal(direct.read(out, np.zeros(16, np.uint32)), np.arange(1, 17, dtype=np.uint32))
  direct.api.free(direct.dev, out)
  direct.api.program_free(direct.dev, prg)
