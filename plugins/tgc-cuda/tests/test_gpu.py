"""On a real NVIDIA GPU (skipped elsewhere, with the reason): hand-written CUDA kernels through tgc's public API
(tgc.Program/tgc.Buffer over tg_program_compile/tg_program_launch), compared against numpy; the error paths (out of memory,
compile errors with NVRTC's log, launches the kernel cannot take), each leaving the process usable; and, through the
plugin's function table driven directly, what tg.h does not expose yet: events, timed launches, buffer views, PTX blobs."""
import gc, re, sys, json, ctypes, shutil, subprocess
import numpy as np
import pytest
import tgc, tgc_cuda
from tgc import device as tgdev
from tgc._ffi import ffi, lib, host_abi, STATUS
from cuda_kernels import KERNELS, BROKEN

def _cuda_status() -> tuple[bool, str]:
  rec = next((r for r in tgdev.backends() if r.name == "CUDA"), None)
  if rec is None: return False, "the CUDA backend was not discovered"
  return rec.state == "ready" and rec.device_count > 0, f"CUDA: {rec.status}"

READY, WHY = _cuda_status()
pytestmark = pytest.mark.skipif(not READY, reason=f"no NVIDIA GPU ({WHY})")

def cuda_buf(arr: np.ndarray) -> tgc.Buffer: return tgc.Buffer("CUDA", arr.nbytes).copyin(np.ascontiguousarray(arr))
def read(b: tgc.Buffer, dtype) -> np.ndarray: return np.frombuffer(b.copyout(), dtype=dtype)
def prog(name: str) -> tgc.Program: return tgc.Program("CUDA", KERNELS[name].src, name)
def blocks(n: int, local: int) -> int: return (n + local - 1) // local
def cc() -> int: return int(tgc.Device["CUDA"].caps["arch"][3:])
def live_handles() -> int:
  lib().tg_debug_live_handles(n := ffi.new("size_t *"))
  return n[0]

def vadd_works(n: int = 4099) -> None:
  a, b = np.arange(n, dtype=np.float32), np.full(n, 0.5, np.float32)
  out = tgc.Buffer("CUDA", a.nbytes)
  prog("vadd")(out, cuda_buf(a), cuda_buf(b), global_size=blocks(n, 256), local_size=256, vals=(n,), wait=True)
  np.testing.assert_array_equal(read(out, np.float32), a + b)

# ---------------- device description ----------------

ALU = {"EXP2", "LOG2", "SIN", "SQRT", "RECIPROCAL", "NEG", "TRUNC", "ADD", "SUB", "MUL", "CDIV", "CMOD", "SHL", "SHR", "CMPLT", "CMPNE",
       "CMPEQ", "AND", "OR", "XOR", "WHERE", "FDIV"}   # tinygrad 0.14.0's CUDARenderer.code_for_op, and FDIV (src/cuda.c says why)

def test_caps_and_properties():
  dev = tgc.Device["CUDA"]
  c, p = dev.caps, dev.properties
  assert (c["dialect"], c["has_local"], c["has_shared"], c["has_threads"], c["vector_width"], c["alignment"]) == ("cuda", True, True, False, 4, 256)
  assert re.fullmatch(r"sm_\d{2,3}", c["arch"]) and set(c["alu_ops"]) == ALU
  assert (c["global_max"], c["local_max"], c["local_prod_max"]) == ((2**31 - 1, 65535, 65535), (1024, 1024, 64), 1024)
  assert c["shared_max"] >= 48 * 1024 and c["mem_total"] == c["mem_max_alloc"] > 2**30
  want = {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "float32", "float64"}
  want |= {"bfloat16"} if cc() >= 80 else set()
  want |= {"fp8e4m3", "fp8e5m2"} if cc() >= 89 else set()
  assert set(c["dtypes"]) == want
  assert p["vendor"] == "NVIDIA" and p["type"] == "GPU" and p["name"] and re.search(r"CUDA \d+\.\d+", p["driver_version"]), p
  try:
    with open("/proc/driver/nvidia/version") as f: kmod = re.search(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s", f.readline())
  except OSError: kmod = None
  if kmod: assert p["driver_version"].startswith(f"{kmod[1]} (CUDA "), (p["driver_version"], kmod[1])

def test_tensor_cores_declared():
  """tinygrad's CUDARenderer.tensor_cores for the arch (tc.get_cuda): sm_75 m16n8k8 f16; sm_80 + m16n8k16 f16/bf16, tf32;
  sm_89 + m16n8k32 fp8."""
  tcs = [(t["dims"], t["dtype_in"], t["dtype_out"]) for t in tgc.Device["CUDA"].caps["tensor_cores"]]
  sm75 = [((8, 16, 8), "float16", "float32"), ((8, 16, 8), "float16", "float16")]
  sm80 = [((8, 16, 16), "float16", "float32"), ((8, 16, 16), "bfloat16", "float32"), ((8, 16, 16), "float16", "float16")] + sm75 + \
         [((8, 16, 8), "float32", "float32")]
  sm89 = sm80 + [((8, 16, 32), "fp8e4m3", "float32"), ((8, 16, 32), "fp8e5m2", "float32")]
  assert tcs == (sm89 if cc() >= 89 else sm80 if cc() >= 80 else sm75 if cc() >= 75 else [])

TC_MATMULS = [(64, 64, 64, "float16", None), (256, 512, 128, "float16", None), (16, 16, 16, "float16", None), (64, 8, 64, "float16", None),
              (64, 64, 64, "float16", "float16"), (64, 64, 64, "float16", "float32"), (512, 512, 512, "bfloat16", None),
              (60, 60, 60, "float16", None)]

@pytest.mark.parametrize("m,k,n,dt,acc", TC_MATMULS, ids=[f"{m}x{k}x{n}-{dt}-{acc}" for m, k, n, dt, acc in TC_MATMULS])
def test_tensor_core_matmul(m, k, n, dt, acc):
  """The engine's matmul on the GPU with tensor cores (DEBUG=3 shows OptOps.TC, as tinygrad applies it), against numpy on
  the same rounded inputs. 60x60x60 is not a multiple of the TC dims: no TC there (TC_OPT=0), the plain kernel."""
  if dt == "bfloat16" and cc() < 80: pytest.skip("bfloat16 needs sm_80")
  code = (f"import numpy as np\nfrom tgc import Tensor, dtypes\nrng = np.random.default_rng(0)\n"
          f"a, b = Tensor(rng.standard_normal(({m}, {k})).astype(np.float32)).cast(dtypes.{dt}).realize(), "
          f"Tensor(rng.standard_normal(({k}, {n})).astype(np.float32)).cast(dtypes.{dt}).realize()\n"
          f"out = a.matmul(b, dtype={'None' if acc is None else 'dtypes.' + acc}).cast(dtypes.float).numpy()\n"
          f"ref = a.cast(dtypes.float).numpy() @ b.cast(dtypes.float).numpy()\n"
          f"print('ERR', float(np.abs(out - ref).max() / np.abs(ref).max()))\n")
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "DEV": "CUDA", "DEBUG": "3"})
  assert r.returncode == 0, r.stderr
  err = float(r.stdout.split("ERR")[1])
  assert err < (2e-2 if acc == "float16" or dt == "bfloat16" else 5e-3), (err, r.stderr[-2000:])
  tc = [ln for ln in r.stderr.split("\n") if "opts:" in ln and "OptOps.TC" in ln]
  assert bool(tc) == (m % 16 == 0 and n % 8 == 0 and k % 8 == 0), r.stderr[-3000:]

def test_caps_agree_with_torch():
  code = ("import json, torch; d = torch.cuda.get_device_properties(0); print(json.dumps({'name': d.name, 'cc': d.major * 10 + d.minor, "
          "'mem': d.total_memory}))")
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
  if r.returncode != 0: pytest.skip(f"torch with CUDA is not usable here: {r.stderr.strip().splitlines()[-1:]}")
  t = json.loads(r.stdout)
  dev = tgc.Device["CUDA"]
  assert (dev.properties["name"], dev.caps["arch"], dev.caps["mem_total"]) == (t["name"], f"sm_{t['cc']}", t["mem"])

def test_default_device_is_cuda():
  assert tgc.Device.DEFAULT == "CUDA"   # priority 20 > the CPU's 0

def test_doctor_with_gpu():
  r = subprocess.run([sys.executable, "-m", "tgc", "doctor"], capture_output=True, text=True, timeout=300, check=False)
  assert r.returncode == 0, r.stderr
  assert re.search(r"^CUDA +ready +\S+ +1\.0 +cuda +[1-9]", r.stdout, re.M), r.stdout
  assert re.search(r"^CUDA: .+ \(NVIDIA, GPU\): dialect cuda, arch sm_\d+, ", r.stdout, re.M), r.stdout

# ---------------- kernels against numpy ----------------

def test_vector_add():
  n, rng = 1_000_003, np.random.default_rng(0)
  a, b = rng.standard_normal(n, np.float32), rng.standard_normal(n, np.float32)
  out = tgc.Buffer("CUDA", a.nbytes)
  secs = prog("vadd")(out, cuda_buf(a), cuda_buf(b), global_size=blocks(n, 256), local_size=(256, 1, 1), vals=(n,), wait=True)
  assert secs > 0
  np.testing.assert_array_equal(read(out, np.float32), a + b)

def test_block_sum_shared_memory_256():
  n, rng = (1 << 20) + 5, np.random.default_rng(1)
  a = rng.standard_normal(n, np.float32)
  nb = blocks(n, 256)
  out = tgc.Buffer("CUDA", nb * 4)
  prog("block_sum")(out, cuda_buf(a), global_size=nb, local_size=256, vals=(n,), wait=True)
  ref = np.pad(a, (0, nb * 256 - n)).reshape(nb, 256).sum(axis=1, dtype=np.float64)
  np.testing.assert_allclose(read(out, np.float32), ref, rtol=1e-5, atol=5e-4)

def test_local_1024():
  out = tgc.Buffer("CUDA", 64 * 1024 * 4)
  prog("iota1024")(out, global_size=64, local_size=(1024, 1, 1), wait=True)
  np.testing.assert_array_equal(read(out, np.int32), np.arange(64 * 1024, dtype=np.int32))

def test_3d_grid_and_block():
  (gx, gy, gz), (lx, ly, lz) = (2, 3, 4), (8, 4, 2)
  nx, ny, nz = gx * lx, gy * ly, gz * lz
  out = tgc.Buffer("CUDA", nx * ny * nz * 4)
  prog("idx3d")(out, global_size=(gx, gy, gz), local_size=(lx, ly, lz), vals=(nx, ny), wait=True)
  z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
  np.testing.assert_array_equal(read(out, np.int32).reshape(nz, ny, nx), x + 1000 * y + 1000000 * z)

def test_int64_vals():
  n, alpha, beta = 1000, -3, 5_000_000_000_123
  a = np.arange(-500, 500, dtype=np.int32)
  out = tgc.Buffer("CUDA", n * 8)
  prog("axpb")(out, cuda_buf(a), global_size=blocks(n, 128), local_size=128, vals=(alpha, beta, n), wait=True)
  np.testing.assert_array_equal(read(out, np.int64), a.astype(np.int64) * alpha + beta)

def test_tinygrad_style_kernel():
  x = np.random.default_rng(2).uniform(-2, 2, 16 * 256).astype(np.float32)
  x[::17] = 0.0
  out = tgc.Buffer("CUDA", x.nbytes)
  prog("tiny_style")(out, cuda_buf(x), global_size=16, local_size=64, wait=True)
  got, v = read(out, np.float32).reshape(-1, 4), x.reshape(-1, 4)
  relu = np.maximum(v[:, 0], 0)
  np.testing.assert_array_equal(got[:, 0], np.where(relu == 0, -np.inf, relu))
  np.testing.assert_allclose(got[:, 1:], np.stack([np.exp2(v[:, 1]), np.log2(v[:, 2] ** 2 + 1), np.sin(v[:, 3])], 1), rtol=2e-6, atol=1e-6)

def test_half():
  n = 5000
  a = np.random.default_rng(3).uniform(0, 4, n).astype(np.float16)
  out = tgc.Buffer("CUDA", a.nbytes)
  prog("half_ops")(out, cuda_buf(a), global_size=blocks(n, 256), local_size=256, vals=(n,), wait=True)
  np.testing.assert_allclose(read(out, np.float16).astype(np.float32), (np.sqrt(a) * a + np.float16(1)).astype(np.float32), rtol=2e-3)

def test_float64():
  n = 3000
  a = np.random.default_rng(4).uniform(0, 10, n)
  out = tgc.Buffer("CUDA", a.nbytes)
  prog("f64_ops")(out, cuda_buf(a), global_size=blocks(n, 128), local_size=128, vals=(n,), wait=True)
  np.testing.assert_allclose(read(out, np.float64), np.exp2(a) + np.log2(a + 1) + np.sin(a) + np.sqrt(a), rtol=1e-13)

def test_bfloat16():
  if cc() < 80: pytest.skip("bfloat16 needs sm_80+")
  n = 4096
  bits = (np.random.default_rng(5).standard_normal(n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
  out = tgc.Buffer("CUDA", n * 2)
  prog("bf16_scale")(out, cuda_buf(bits), global_size=blocks(n, 256), local_size=256, vals=(n,), wait=True)
  want = ((bits.astype(np.uint32) << 16).view(np.float32) * 2).view(np.uint32) >> 16   # doubling is exact in bfloat16
  np.testing.assert_array_equal(read(out, np.uint16), want.astype(np.uint16))

def test_copies_at_offsets():
  size, rng = 4096, np.random.default_rng(6)
  model = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
  b = tgc.Buffer("CUDA", size).copyin(bytes(model))
  for off, n in [(0, 1), (1, 7), (100, 1000), (4000, 96), (4095, 1), (255, 257)]:
    chunk = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    b.copyin(chunk, offset=off)
    model[off:off + n] = chunk
  assert bytes(b.copyout()) == bytes(model)
  for off, n in [(0, 4096), (3, 5), (1000, 3000), (4095, 1), (4096, 0)]: assert bytes(b.copyout(n, offset=off)) == bytes(model[off:off + n])
  with pytest.raises(tgc.TgcError, match="outside the buffer of 4096 bytes"): b.copyin(b"12345", offset=4092)
  assert bytes(b.copyout()) == bytes(model)

# ---------------- errors: the right code and message, and the process stays usable ----------------

def test_out_of_memory():
  before, caps = live_handles(), tgc.Device["CUDA"].caps
  with pytest.raises(MemoryError, match=r"cuda: alloc of \d+ bytes on CUDA:0 .*cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY") as e:
    tgc.Buffer("CUDA", caps["mem_total"])   # passes the host's mem_max_alloc check, so the driver itself refuses
  assert e.value.status == STATUS["TG_ERR_OUT_OF_MEMORY"]
  with pytest.raises(MemoryError, match="exceeds CUDA's largest allocation"): tgc.Buffer("CUDA", caps["mem_max_alloc"] + 1)
  assert live_handles() == before
  vadd_works()

def test_compile_error_carries_nvrtc_log():
  with pytest.raises(tgc.CompileError) as e: tgc.Program("CUDA", BROKEN.src, BROKEN.name)
  msg = str(e.value)
  assert "cuda: compile broken: NVRTC " in msg and "NVRTC_ERROR_COMPILATION" in msg, msg
  assert 'broken.cu(3): error: identifier "undefined_thing" is undefined' in msg, msg
  vadd_works()

def test_kernel_name_not_found():
  with pytest.raises(tgc.TgcError, match=r"kernel 'nope' not found in the module \(declare it extern \"C\" __global__\)") as e:
    tgc.Program("CUDA", KERNELS["vadd"].src, "nope")
  assert e.value.status_name == "TG_ERR_LOAD"
  vadd_works()

def test_launches_the_kernel_cannot_take():
  out = tgc.Buffer("CUDA", 1024 * 4)
  with pytest.raises(IndexError, match="local_max"): prog("iota1024")(out, global_size=1, local_size=1025)
  with pytest.raises(IndexError, match=r"block_sum: local size \(512,1,1\) = 512 threads, but this kernel can run at most 256 threads"):
    prog("block_sum")(out, out, global_size=1, local_size=512, vals=(1,))
  with pytest.raises(ValueError, match=r"vadd: the kernel takes 4 parameters, the launch passes 2 buffers \+ 0 vals"):
    prog("vadd")(out, out, global_size=1, local_size=32)
  src = 'extern "C" __global__ void intval(float *out, int n) { if (threadIdx.x < n) out[threadIdx.x] = 1.0f; }'
  with pytest.raises(ValueError, match=r"parameter 1 is 4 bytes; the CUDA dialect passes .* long long"):
    tgc.Program("CUDA", src, "intval")(out, global_size=1, local_size=32, vals=(3,))
  vadd_works()

# ---------------- the function table directly: events, timing, views, PTX blobs ----------------

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
    self.ok(self.api.compile(self.dev, KERNELS[name].src.encode(), name.encode(), blob))
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
  def event(self):
    e = ffi.new("tg_backend_event **")
    self.ok(self.api.event_create(self.dev, e))
    return e[0]

@pytest.fixture(scope="module")
def direct(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("direct") / "libtgc_cuda_direct.so")
  shutil.copy(tgc_cuda.library(), path)
  d = Direct(path)
  yield d
  d.api.device_close(d.dev)
  d.api.shutdown()

def test_events_time_a_kernel(direct):
  n = 1 << 24
  a = np.ones(n, np.float32)
  out, x = direct.alloc(np.zeros(n, np.float32)), direct.alloc(a)
  st, prg = direct.load(direct.compile("vadd"), "vadd")
  direct.ok(st)
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

def test_buffer_view(direct):
  n = 4096
  whole, ones = direct.alloc(np.zeros(n, np.float32)), direct.alloc(np.ones(1024, np.float32))
  v = ffi.new("tg_backend_buffer **")
  direct.ok(direct.api.buffer_view(direct.dev, whole, 1024 * 4, 1024 * 4, v))
  st, prg = direct.load(direct.compile("vadd"), "vadd")
  direct.ok(st)
  direct.ok(direct.launch(prg, [v[0], ones, ones], [1024], [4, 1, 1], [256, 1, 1], wait=1))
  want = np.zeros(n, np.float32)
  want[1024:2048] = 2
  np.testing.assert_array_equal(direct.read(whole, want), want)
  assert "out of range" in direct.fails(direct.api.buffer_view(direct.dev, whole, n * 4 - 4, 8, v), "TG_ERR_OUT_OF_RANGE")
  direct.api.free(direct.dev, v[0])   # a view frees nothing of its parent
  np.testing.assert_array_equal(direct.read(whole, want), want)
  for b in (whole, ones): direct.api.free(direct.dev, b)
  direct.api.program_free(direct.dev, prg)

def test_ptx_blobs(direct):
  ptx = direct.compile("vadd")
  assert ptx.endswith(b"\0") and re.search(rb"^\.target sm_\d+", ptx, re.M)
  st, prg = direct.load(ptx.rstrip(b"\0"), "vadd")   # a host cache may hand back the text without its NUL
  direct.ok(st)
  direct.api.program_free(direct.dev, prg)
  too_new = re.sub(rb"^\.version \d+\.\d+", b".version 9.5", ptx, flags=re.M)   # what NVRTC 13.5 writes
  msg = direct.fails(direct.load(too_new, "vadd")[0], "TG_ERR_LOAD")
  assert "cuda: load vadd: cuModuleLoadDataEx: CUDA_ERROR_UNSUPPORTED_PTX_VERSION" in msg, msg
  assert "the PTX's ISA 9.5 is newer than this driver (CUDA " in msg and "pip install 'nvidia-cuda-nvrtc==" in msg, msg
  assert "cuda: load vadd: cuModuleLoadDataEx" in direct.fails(direct.load(b"this is not PTX\0", "vadd")[0], "TG_ERR_LOAD")
  assert "the blob is empty" in direct.fails(direct.api.load(direct.dev, ffi.from_buffer(b"x"), 0, b"vadd", ffi.new("tg_backend_program **")), "TG_ERR_CORRUPT")
  st, prg = direct.load(ptx, "vadd")   # still usable
  direct.ok(st)
  direct.api.program_free(direct.dev, prg)

def test_process_still_usable_and_no_leaks():
  gc.collect()
  before = live_handles()
  vadd_works(1 << 20)
  gc.collect()
  assert live_handles() == before
