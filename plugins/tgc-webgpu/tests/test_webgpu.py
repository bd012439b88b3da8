"""On a WebGPU adapter (lavapipe in CI, a GPU's Vulkan driver elsewhere; skipped without one, with the reason): hand-written WGSL
kernels through tgc's public API (tgc.Program/tgc.Buffer over tg_program_compile/tg_program_launch), compared against numpy;
the caps against what wgpu-py reads from the same adapter; the error paths (naga's compile errors, launches the kernel cannot
take, allocations over the adapter's limit), each leaving the process usable; and, through the plugin's function table driven
directly, what tg.h does not expose yet: buffer views, blobs, the plugin's own refusals, timed launches."""
import gc, re, sys, json, ctypes, shutil, subprocess
import numpy as np
import pytest
import tgc, tgc_webgpu
from tgc import device as tgdev
from tgc._ffi import ffi, lib, host_abi, STATUS
from wgsl_kernels import KERNELS, BROKEN, F64, iota

def _status() -> tuple[bool, str]:
  rec = next((r for r in tgdev.backends() if r.name == "WEBGPU"), None)
  if rec is None: return False, "the WEBGPU backend was not discovered"
  return rec.state == "ready" and rec.device_count > 0, f"WEBGPU: {rec.status}"

READY, WHY = _status()
pytestmark = pytest.mark.skipif(not READY, reason=f"no WebGPU adapter ({WHY})")

def wbuf(arr: np.ndarray) -> tgc.Buffer: return tgc.Buffer("WEBGPU", arr.nbytes).copyin(np.ascontiguousarray(arr))
def read(b: tgc.Buffer, dtype) -> np.ndarray: return np.frombuffer(b.copyout(), dtype=dtype)
def prog(name: str, src: str | None = None) -> tgc.Program: return tgc.Program("WEBGPU", src or KERNELS[name], name)
def groups(n: int, local: int) -> int: return (n + local - 1) // local
def caps() -> dict: return tgc.Device["WEBGPU"].caps
def lavapipe() -> bool: return tgc.Device["WEBGPU"].properties["name"].startswith("llvmpipe")
def live_handles() -> int:
  lib().tg_debug_live_handles(n := ffi.new("size_t *"))
  return n[0]

def vadd_works(n: int = 4099) -> None:
  a, b = np.arange(n, dtype=np.float32), np.full(n, 0.5, np.float32)
  out = tgc.Buffer("WEBGPU", a.nbytes)
  prog("vadd")(out, wbuf(a), wbuf(b), global_size=groups(n, 256), local_size=256, vals=(n,), wait=True)
  np.testing.assert_array_equal(read(out, np.float32), a + b)

# ---------------- device description ----------------

ALU = {"EXP2", "LOG2", "SIN", "SQRT", "RECIPROCAL", "NEG", "TRUNC", "ADD", "SUB", "MUL", "CDIV", "CMOD", "SHL", "SHR", "CMPLT", "CMPNE",
       "CMPEQ", "AND", "OR", "XOR", "WHERE"}   # tinygrad 0.14.0's WGSLRenderer.code_for_op

def test_caps_and_properties():
  c, p = caps(), tgc.Device["WEBGPU"].properties
  assert (c["dialect"], c["has_local"], c["has_shared"], c["has_threads"], c["vector_width"], c["mem_total"]) == ("wgsl", True, True, False, 1, 0)
  assert set(c["alu_ops"]) == ALU and re.fullmatch(r"(vulkan|opengl|opengles)(,shader-f16)?", c["arch"]), c["arch"]
  want = {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "float32"} | ({"float16"} if "shader-f16" in c["arch"] else set())
  assert set(c["dtypes"]) == want   # never float64, int64: WGSL has no 64-bit types
  assert p["type"] in ("CPU", "GPU") and p["name"] and p["driver_version"].startswith("wgpu-native 29.0.1.1, "), p
  if lavapipe():   # Mesa lavapipe, as CI runs it: maxStorageBufferRange 2**27
    assert (p["type"], c["mem_max_alloc"], c["local_prod_max"], c["shared_max"]) == ("CPU", 128 << 20, 1024, 32768), (p, c)

def test_caps_agree_with_wgpu_py():
  code = ("import json, wgpu\nfor a in wgpu.gpu.enumerate_adapters_sync():\n  i = a.info\n"
          "  print(json.dumps({'device': i['device'], 'backend': i['backend_type'], 'limits': dict(a.limits), 'features': sorted(a.features)}))")
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
  if r.returncode != 0: pytest.skip(f"wgpu-py cannot enumerate adapters here: {r.stderr.strip().splitlines()[-1:]}")
  c, name = caps(), tgc.Device["WEBGPU"].properties["name"]
  mine = [a for a in map(json.loads, r.stdout.splitlines()) if a["device"] == name and a["backend"].lower() == c["arch"].split(",")[0]]
  assert mine, (name, r.stdout)
  lim = mine[0]["limits"]
  assert c["local_max"] == (lim["max-compute-workgroup-size-x"], lim["max-compute-workgroup-size-y"], lim["max-compute-workgroup-size-z"])
  assert c["global_max"] == (lim["max-compute-workgroups-per-dimension"],) * 3
  assert c["local_prod_max"] == lim["max-compute-invocations-per-workgroup"] and c["shared_max"] == lim["max-compute-workgroup-storage-size"]
  assert c["alignment"] == lim["min-storage-buffer-offset-alignment"]
  assert c["mem_max_alloc"] == min(lim["max-buffer-size"], lim["max-storage-buffer-binding-size"]) // 4 * 4
  assert ("float16" in c["dtypes"]) == ("shader-f16" in mine[0]["features"])

def test_default_device_stays_cpu_and_dev_selects_webgpu():
  code = "import tgc; print(tgc.Device.DEFAULT)"
  env = {k: v for k, v in __import__("os").environ.items() if k != "DEV"}
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, check=False)
  # priority -10: used when asked for, as in tinygrad (the default is CPU, or CUDA where tgc-cuda has a GPU)
  assert r.stdout.strip() in ("CPU", "CUDA"), r.stdout + r.stderr
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**env, "DEV": "WEBGPU"}, check=False)
  assert r.stdout.strip() == "WEBGPU", r.stdout + r.stderr

def test_doctor_ready():
  r = subprocess.run([sys.executable, "-m", "tgc", "doctor"], capture_output=True, text=True, timeout=300, check=False)
  assert r.returncode == 0, r.stderr
  assert re.search(r"^WEBGPU +ready +0\.1\.0 +1\.0 +wgsl +1 +entry point tgc-webgpu$", r.stdout, re.MULTILINE), r.stdout
  assert re.search(r"^WEBGPU: .+: dialect wgsl, arch \w+(,shader-f16)?, dtypes bool int8 uint8 int16 uint16 int32 uint32 (float16 )?float32, "
                   r"21 native ALU ops, has_local has_shared, vector 1, ", r.stdout, re.MULTILINE), r.stdout

# ---------------- kernels against numpy ----------------

def test_vector_add():
  n, rng = 1_000_003, np.random.default_rng(0)
  a, b = rng.standard_normal(n, np.float32), rng.standard_normal(n, np.float32)
  out = tgc.Buffer("WEBGPU", a.nbytes)
  secs = prog("vadd")(out, wbuf(a), wbuf(b), global_size=groups(n, 256), local_size=(256, 1, 1), vals=(n,), wait=True)
  assert secs > 0
  np.testing.assert_array_equal(read(out, np.float32), a + b)

@pytest.mark.parametrize("local", [64, 256])
def test_block_sum_workgroup_memory(local):
  n, rng = (1 << 18) + 5, np.random.default_rng(local)
  a = rng.standard_normal(n, np.float32)
  ng = groups(n, local)
  out = tgc.Buffer("WEBGPU", ng * 4)
  prog(f"block_sum_{local}")(out, wbuf(a), global_size=ng, local_size=local, vals=(n,), wait=True)
  ref = np.pad(a, (0, ng * local - n)).reshape(ng, local).sum(axis=1, dtype=np.float64)
  np.testing.assert_allclose(read(out, np.float32), ref, rtol=1e-5, atol=5e-5)

def test_launch_at_the_local_limit():
  c = caps()
  lim = min(c["local_max"][0], c["local_prod_max"])
  out = tgc.Buffer("WEBGPU", 8 * lim * 4)
  tgc.Program("WEBGPU", iota(lim), f"iota{lim}")(out, global_size=8, local_size=lim, wait=True)
  np.testing.assert_array_equal(read(out, np.int32), np.arange(8 * lim, dtype=np.int32))
  refused = rf"local size {lim + 1} threads exceeds WEBGPU's local_prod_max {c['local_prod_max']}|local\[0\]={lim + 1} exceeds"
  with pytest.raises(IndexError, match=refused):
    tgc.Program("WEBGPU", iota(lim), f"iota{lim}")(out, global_size=1, local_size=lim + 1)
  with pytest.raises(tgc.TgcError, match=rf"(?s)wgpuDeviceCreateComputePipeline: .*workgroup size \[{lim + 1}, 1, 1\]") as e:   # wgpu's own words
    tgc.Program("WEBGPU", iota(lim + 1), f"iota{lim + 1}")
  assert e.value.status_name == "TG_ERR_LOAD"
  vadd_works()

def test_3d_grid_and_workgroup():
  (gx, gy, gz), (lx, ly, lz) = (2, 3, 4), (8, 4, 2)
  nx, ny, nz = gx * lx, gy * ly, gz * lz
  out = tgc.Buffer("WEBGPU", nx * ny * nz * 4)
  prog("idx3d")(out, global_size=(gx, gy, gz), local_size=(lx, ly, lz), vals=(nx, ny), wait=True)
  z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
  np.testing.assert_array_equal(read(out, np.int32).reshape(nz, ny, nx), x + 1000 * y + 1000000 * z)

def test_float32():
  n = 10_001
  a = np.random.default_rng(3).uniform(-1e3, 1e3, n).astype(np.float32)
  out = tgc.Buffer("WEBGPU", a.nbytes)
  prog("f32_ops")(out, wbuf(a), global_size=groups(n, 64), local_size=64, vals=(n,), wait=True)
  np.testing.assert_allclose(read(out, np.float32), a * np.float32(2.5) - np.float32(1), rtol=2e-7, atol=0)

def test_int32():
  n, mul, add = 9_999, -3, 7
  a = np.random.default_rng(4).integers(-2**31, 2**31, n, dtype=np.int32)
  out = tgc.Buffer("WEBGPU", a.nbytes)
  prog("i32_ops")(out, wbuf(a), global_size=groups(n, 64), local_size=64, vals=(n, mul, add), wait=True)
  np.testing.assert_array_equal(read(out, np.int32), a * np.int32(mul) + np.int32(add))   # wraps around as WGSL's i32 does

def test_uint32():
  n = 7_777
  a = np.random.default_rng(5).integers(0, 2**32, n, dtype=np.uint32)
  out = tgc.Buffer("WEBGPU", a.nbytes)
  prog("u32_ops")(out, wbuf(a), global_size=groups(n, 64), local_size=64, vals=(n,), wait=True)
  np.testing.assert_array_equal(read(out, np.uint32), ((a ^ np.uint32(0xDEADBEEF)) >> np.uint32(3)) | (a << np.uint32(29)))

def test_float16():
  if "float16" not in caps()["dtypes"]: pytest.skip(f"the adapter lacks shader-f16 (arch {caps()['arch']})")
  n = 5_001   # odd: the buffer is 10002 bytes, the plugin rounds its allocation to whole words
  a = np.random.default_rng(6).uniform(-100, 100, n).astype(np.float16)
  out = tgc.Buffer("WEBGPU", a.nbytes)
  prog("f16_ops")(out, wbuf(a), global_size=groups(n, 64), local_size=64, vals=(n,), wait=True)
  np.testing.assert_array_equal(read(out, np.float16), a * np.float16(2) + np.float16(1))   # exact in half: *2 and +1 round once

@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint32, np.float16, np.int8, np.uint8, np.int16, np.uint16, np.bool_])
def test_dtype_bytes_round_trip(dtype):
  a = (np.random.default_rng(7).standard_normal(1001) * 100).astype(dtype)   # 1001 elements: odd byte counts for the small types
  np.testing.assert_array_equal(read(wbuf(a), dtype), a)

def test_infinity_nan_and_vals():
  out = tgc.Buffer("WEBGPU", 5 * 4)
  prog("specials")(out, global_size=1, local_size=1, vals=(-2**31, 2**31 - 1), wait=True)
  r = read(out, np.float32)
  assert r[0] == np.inf and r[1] == -np.inf and np.isnan(r[2]) and (r[3], r[4]) == (np.float32(-2**31), np.float32(2**31 - 1)), r

def test_same_buffer_twice():
  a = np.arange(1000, dtype=np.float32)
  x = wbuf(a)
  prog("vadd")(x, x, x, global_size=groups(1000, 256), local_size=256, vals=(1000,), wait=True)   # x = x + x in place
  np.testing.assert_array_equal(read(x, np.float32), a + a)

def test_copies_at_offsets():
  size, rng = 4099, np.random.default_rng(8)
  model = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
  b = tgc.Buffer("WEBGPU", size).copyin(bytes(model))
  for off, n in [(0, 1), (1, 7), (2, 1), (3, 2), (5, 2), (100, 1000), (4000, 96), (4098, 1), (4096, 3), (255, 257), (1, 4098)]:
    chunk = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    b.copyin(chunk, offset=off)
    model[off:off + n] = chunk
    assert bytes(b.copyout()) == bytes(model), (off, n)
  for off, n in [(0, 4099), (3, 5), (1000, 3000), (4098, 1), (4099, 0), (1, 2), (2, 2)]:
    assert bytes(b.copyout(n, offset=off)) == bytes(model[off:off + n])
  with pytest.raises(tgc.TgcError, match="outside the buffer of 4099 bytes"): b.copyin(b"12345", offset=4095)

# ---------------- errors: the right code and message, and the process stays usable ----------------

def test_allocation_over_the_adapter_limit():
  before, c = live_handles(), caps()
  with pytest.raises(MemoryError, match=rf"exceeds WEBGPU's largest allocation of {c['mem_max_alloc']} bytes") as e:
    tgc.Buffer("WEBGPU", c["mem_max_alloc"] + 1)   # on lavapipe: 128 MiB + 1
  assert e.value.status_name == "TG_ERR_OUT_OF_MEMORY"
  if c["mem_max_alloc"] <= 1 << 31:   # the largest one works, to its last element
    big = tgc.Buffer("WEBGPU", c["mem_max_alloc"])
    big.copyin(b"\x01\x02\x03\x04", offset=c["mem_max_alloc"] - 4)
    assert bytes(big.copyout(4, offset=c["mem_max_alloc"] - 4)) == b"\x01\x02\x03\x04"
    big.release()
  assert live_handles() == before
  vadd_works()

def test_compile_error_carries_naga_message():
  with pytest.raises(tgc.CompileError) as e: tgc.Program("WEBGPU", BROKEN, "broken")
  msg = str(e.value)
  assert msg.startswith("WEBGPU: compile failed: webgpu: compile broken: Validation Error"), msg
  assert "Shader 'broken' parsing error: no definition in scope for identifier: `undefined_thing`" in msg and "unknown identifier" in msg, msg
  with pytest.raises(tgc.CompileError, match=r"(?s)Shader validation error: .*Using `f64` values requires the `naga::valid::Capabilities::FLOAT64`"):
    tgc.Program("WEBGPU", F64, "f64k")   # no float64 in WebGPU: refused before anything runs
  vadd_works()

def test_sources_outside_the_abi():
  with pytest.raises(tgc.CompileError, match=r"@group\(1\) @binding\(0\): the WGSL dialect binds only @group\(0\) @binding\(n\)"):
    tgc.Program("WEBGPU", "@group(1) @binding(0) var<storage, read_write> a: array<f32>;\n@compute @workgroup_size(1) fn k() { a[0] = 1.0; }", "k")
  with pytest.raises(tgc.CompileError, match=r"@binding\(1\): only var<storage, read_write>, var<storage, read> and var<uniform> .*\(got var<>\)"):
    tgc.Program("WEBGPU", "@group(0) @binding(1) var t: texture_2d<f32>;\n@compute @workgroup_size(1) fn k() { }", "k")
  with pytest.raises(tgc.TgcError, match=r"entry point 'nope' not found: the kernel must be `@compute @workgroup_size\(\.\.\.\) fn nope") as e:
    tgc.Program("WEBGPU", KERNELS["vadd"], "nope")
  assert e.value.status_name == "TG_ERR_LOAD"
  # comments are not code, and a read-only storage binding works
  src = ("/* @group(3) @binding(9) var<private> x: f32; */ // fn ro(\n@group(0) @binding(1) var<storage, read_write> o: array<f32>;\n"
         "@group(0) @binding(2) var<storage, read> i: array<f32>;\n@compute @workgroup_size(4) fn ro(@builtin(local_invocation_id) l: vec3<u32>) "
         "{ o[l.x] = i[l.x] * 2.0; }")
  out, a = tgc.Buffer("WEBGPU", 16), np.array([1, 2, 3, 4], np.float32)
  tgc.Program("WEBGPU", src, "ro")(out, wbuf(a), global_size=1, local_size=4, wait=True)
  np.testing.assert_array_equal(read(out, np.float32), a * 2)

def test_launches_the_kernel_cannot_take():
  out = tgc.Buffer("WEBGPU", 1024 * 4)
  with pytest.raises(ValueError, match=r"vadd: local \(128,1,1\) differs from the kernel's @workgroup_size\(256,1,1\)"):
    prog("vadd")(out, out, out, global_size=1, local_size=128, vals=(1,))
  with pytest.raises(ValueError, match=r"declares @binding\(4\), but the launch passes 2 buffers \+ 1 vals"):
    prog("vadd")(out, out, global_size=1, local_size=256, vals=(1,))
  with pytest.raises(ValueError, match=r"@binding\(4\) is var<uniform> in the kernel, but the launch puts a buffer there \(binding 0 is INFINITY, "
                                       r"then 4 buffers, then 0 vals\)"):
    prog("vadd")(out, out, out, out, global_size=1, local_size=256)
  with pytest.raises(IndexError, match=r"vals\[0\] = 2147483648 does not fit the WGSL dialect's i32"):
    prog("vadd")(out, out, out, global_size=1, local_size=256, vals=(2**31,))
  with pytest.raises(IndexError, match=rf"global\[0\]={caps()['global_max'][0] + 1} exceeds WEBGPU's global_max\[0\]"):
    prog("vadd")(out, out, out, global_size=caps()["global_max"][0] + 1, local_size=256, vals=(1,))
  vadd_works()

# ---------------- the function table directly: views, blobs, the plugin's own checks ----------------

ST = STATUS

class Direct:
  """The plugin driven as libtgc drives it, from a private copy of the library (its own state, not libtgc's instance)."""
  def __init__(self, path: str):
    self._dl = ctypes.CDLL(path)
    entry = ffi.cast("tg_backend_entry_fn", ctypes.cast(self._dl.tg_backend_entry_v1, ctypes.c_void_p).value)
    self.errors: list[tuple[int, str]] = []
    self._cb = (ffi.callback("void(void *, tg_status, const char *)", lambda ctx, code, msg: self.errors.append((code, ffi.string(msg).decode()))),
                ffi.callback("void(void *, tg_log_level, const char *)", lambda ctx, lvl, msg: None))
    major, minor = host_abi()
    self.host = ffi.new("tg_backend_host *", {"struct_size": ffi.sizeof("tg_backend_host"), "abi_major": major, "abi_minor": minor,
                                              "set_error": self._cb[0], "log": self._cb[1]})
    out = ffi.new("const tg_backend_api **")
    assert entry(self.host, out) == ST["TG_OK"]
    self.api = out[0]
    d = ffi.new("tg_backend_device **")
    self.ok(self.api.device_open(0, d))
    self.dev = d[0]

  def ok(self, st: int) -> None: assert st == ST["TG_OK"], f"status {st}: {self.errors[-1:]}"
  def fails(self, st: int, code: str) -> str:
    assert st == ST[code], f"expected {code}, got {st}: {self.errors[-1:]}"
    return self.errors[-1][1]
  def alloc(self, arr: np.ndarray):
    b = ffi.new("tg_backend_buffer **")
    self.ok(self.api.alloc(self.dev, arr.nbytes, b))
    self.ok(self.api.copyin(self.dev, b[0], 0, ffi.from_buffer(arr), arr.nbytes))
    return b[0]
  def read(self, buf, like: np.ndarray) -> np.ndarray:
    out = np.empty_like(like)
    self.ok(self.api.copyout(self.dev, buf, 0, ffi.from_buffer(out), out.nbytes))
    return out
  def compile(self, name: str) -> bytes:
    blob = ffi.new("tg_blob *", {"struct_size": ffi.sizeof("tg_blob")})
    self.ok(self.api.compile(self.dev, KERNELS[name].encode(), name.encode(), blob))
    data = ffi.buffer(blob.data, blob.size)[:]
    self.api.blob_free(blob)
    return data
  def load(self, blob: bytes, name: str):
    p = ffi.new("tg_backend_program **")
    return self.api.load(self.dev, ffi.from_buffer(blob), len(blob), name.encode(), p), p[0]
  def launch(self, prog, bufs, vals, global_size, local_size, wait=0, elapsed=ffi.NULL) -> int:
    keep = (ffi.new("tg_backend_buffer *[]", bufs), ffi.new("int64_t[]", list(vals) or [0]))
    p = ffi.new("tg_launch_params *", {"struct_size": ffi.sizeof("tg_launch_params"), "bufs": keep[0], "n_bufs": len(bufs), "vals": keep[1],
                                       "n_vals": len(vals), "global": global_size, "local": local_size, "wait": wait, "elapsed_s": elapsed})
    return self.api.launch(self.dev, prog, p)

@pytest.fixture(scope="module")
def direct(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("direct") / "libtgc_webgpu_direct.so")
  shutil.copy(tgc_webgpu.library(), path)
  d = Direct(path)
  yield d
  d.api.device_close(d.dev)
  d.api.shutdown()

def test_buffer_view(direct):
  n, align = 4096, caps()["alignment"]
  whole, ones = direct.alloc(np.zeros(n, np.float32)), direct.alloc(np.ones(1024, np.float32))
  v = ffi.new("tg_backend_buffer **")
  direct.ok(direct.api.buffer_view(direct.dev, whole, 1024 * 4, 1024 * 4, v))
  st, prg = direct.load(direct.compile("vadd"), "vadd")
  direct.ok(st)
  direct.ok(direct.launch(prg, [v[0], ones, ones], [1024], [4, 1, 1], [256, 1, 1], wait=1))
  want = np.zeros(n, np.float32)
  want[1024:2048] = 2
  np.testing.assert_array_equal(direct.read(whole, want), want)
  chunk = np.arange(3, dtype=np.float32)
  direct.ok(direct.api.copyin(direct.dev, v[0], 8, ffi.from_buffer(chunk), chunk.nbytes))   # copies through a view land at its offset
  want[1026:1029] = chunk
  np.testing.assert_array_equal(direct.read(whole, want), want)
  msg = direct.fails(direct.api.buffer_view(direct.dev, whole, align + 4, 8, ffi.new("tg_backend_buffer **")), "TG_ERR_INVALID_ARGUMENT")
  assert f"must be a multiple of minStorageBufferOffsetAlignment {align}" in msg, msg
  assert "out of range" in direct.fails(direct.api.buffer_view(direct.dev, whole, n * 4 - 4, 8, v), "TG_ERR_OUT_OF_RANGE")
  direct.api.free(direct.dev, v[0])   # a view frees nothing of its parent
  np.testing.assert_array_equal(direct.read(whole, want), want)
  for b in (whole, ones): direct.api.free(direct.dev, b)
  direct.api.program_free(direct.dev, prg)

def test_blobs_and_timed_launch(direct):
  wgsl = direct.compile("vadd")
  assert wgsl == KERNELS["vadd"].encode() + b"\0"   # the blob is the WGSL text: compile only validates
  st, prg = direct.load(wgsl.rstrip(b"\0"), "vadd")   # a host cache may hand back the text without its NUL
  direct.ok(st)
  n = 1 << 16
  a = direct.alloc(np.ones(n, np.float32))
  t = ffi.new("double *", -1.0)
  direct.ok(direct.launch(prg, [a, a, a], [n], [n // 256, 1, 1], [256, 1, 1], wait=1, elapsed=t))
  assert 0 < t[0] < 60, t[0]
  np.testing.assert_array_equal(direct.read(a, np.ones(n, np.float32)), np.full(n, 2, np.float32))
  empty = direct.api.load(direct.dev, ffi.from_buffer(b"x"), 0, b"vadd", ffi.new("tg_backend_program **"))
  assert "the blob is empty" in direct.fails(empty, "TG_ERR_CORRUPT")
  assert "not WGSL text" in direct.fails(direct.load(b"\x7fELF\0\0\0\x01", "vadd")[0], "TG_ERR_CORRUPT")
  direct.api.free(direct.dev, a)
  direct.api.program_free(direct.dev, prg)

def test_plugin_refuses_what_the_adapter_cannot_hold(direct):
  limit = caps()["mem_max_alloc"]
  msg = direct.fails(direct.api.alloc(direct.dev, limit + 1, ffi.new("tg_backend_buffer **")), "TG_ERR_OUT_OF_MEMORY")
  assert re.search(rf"webgpu: alloc of {limit + 1} bytes exceeds .+'s largest storage buffer of {limit} bytes \(min of maxBufferSize \d+ and "
                   rf"maxStorageBufferBindingSize \d+\)", msg), msg
  b = ffi.new("tg_backend_buffer **")
  direct.ok(direct.api.alloc(direct.dev, 0, b))   # 0 bytes: a valid, distinct buffer
  direct.api.free(direct.dev, b[0])

def test_process_still_usable_and_no_leaks():
  gc.collect()
  before = live_handles()
  vadd_works(1 << 20)
  gc.collect()
  assert live_handles() == before
