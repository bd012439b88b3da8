"""The Python foundation over tg.h: error funnel, Device, Buffer, Program (hand-written "c" kernels on CPU), doctor."""
import os, re, gc, json, shutil
import numpy as np
import pytest
import tgc
from tgc import Device, Buffer, Program
from tgc._ffi import ffi, lib, check, error_class, STATUS, TgcError, CompileError, InvalidHandleError
from conftest import requires_cc, run_py

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def kernel(name: str, body: str, includes: str = "") -> str:
  return f"#include <stdint.h>\n{includes}void {name}(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {{\n{body}\n}}\n"

def to_buf(a: np.ndarray, dev: str = "CPU") -> Buffer: return Buffer(dev, a.nbytes).copyin(np.ascontiguousarray(a))
def to_np(b: Buffer, dtype, shape=(-1,)) -> np.ndarray: return np.frombuffer(b.copyout(), dtype=dtype).reshape(shape)
def live_handles() -> int:
  check(lib().tg_debug_live_handles(n := ffi.new("size_t *")))
  return n[0]

def header_enum(enum: str) -> dict[str, int]:
  """{NAME: value} of an enum, read straight from include/tg_backend.h (independent of the cdef and of tgc's own mapping)."""
  with open(os.path.join(REPO, "include", "tg_backend.h")) as f: text = f.read()
  body = re.search(rf"typedef enum {enum} \{{(.*?)\}}", text, re.S).group(1)
  return {k: int(v) for k, v in re.findall(r"(TG_\w+)\s*=\s*(\d+)", body)}

# ---------------- import and the error funnel ----------------

def test_import_loads_no_library():
  code = ("import tgc; from tgc import Device; Device.canonicalize('cpu'); m0 = open('/proc/self/maps').read()\n"
          "Device['CPU']; m1 = open('/proc/self/maps').read(); print(int('libtgc' in m0), int('libtgc' in m1))")
  r = run_py(code)
  assert r.returncode == 0, r.stderr
  assert r.stdout.split() == ["0", "1"], f"libtgc mapped after import / after Device['CPU']: {r.stdout!r}"

@pytest.mark.parametrize("name,bases", [("TG_ERR_INVALID_ARGUMENT", (ValueError,)), ("TG_ERR_NULL_POINTER", (ValueError,)),
  ("TG_ERR_SHAPE", (ValueError,)), ("TG_ERR_DTYPE", (ValueError,)), ("TG_ERR_OUT_OF_RANGE", (IndexError,)), ("TG_ERR_OUT_OF_MEMORY", (MemoryError,)),
  ("TG_ERR_UNSUPPORTED", (NotImplementedError,)), ("TG_ERR_COMPILE", (CompileError,)), ("TG_ERR_INVALID_HANDLE", ()), ("TG_ERR_DEVICE", ()),
  ("TG_ERR_CORRUPT", (ValueError,))])
def test_error_classes(name, bases):
  cls = error_class(STATUS[name])
  assert issubclass(cls, TgcError) and issubclass(cls, RuntimeError) and all(issubclass(cls, b) for b in bases), (name, cls.__mro__)

def test_unknown_status_is_tgc_error(): assert error_class(max(STATUS.values()) + 100) is TgcError

def test_check_raises_with_last_error():
  with pytest.raises(ValueError, match="NULL") as e: check(lib().tg_buffer_alloc(ffi.NULL, 8, ffi.new("tg_buffer **")))
  assert e.value.status == STATUS["TG_ERR_NULL_POINTER"] and e.value.status_name == "TG_ERR_NULL_POINTER"
  check(STATUS["TG_OK"])

def test_tgc_library_override(tmp_path):
  from tgc import _ffi
  shutil.copy(_ffi.library_path(), alt := str(tmp_path / "libtgc.so"))
  r = run_py(["-m", "tgc", "doctor", "--json"], env={"TGC_LIBRARY": alt})
  rep = json.loads(r.stdout)
  assert rep["libtgc"]["path"] == alt and next(b for b in rep["backends"] if b["name"] == "CPU")["state"] == "ready", rep["libtgc"]
  r = run_py("from tgc import Device; Device['CPU']", env={"TGC_LIBRARY": "/nonexistent/libtgc.so"})
  assert r.returncode != 0 and "LoadError" in r.stderr and "/nonexistent/libtgc.so" in r.stderr, r.stderr
  r = run_py(["-m", "tgc", "doctor"], env={"TGC_LIBRARY": "/nonexistent/libtgc.so"})
  assert r.returncode == 1 and "NOT LOADED" in r.stdout and "/nonexistent/libtgc.so" in r.stdout, r.stdout + r.stderr

# ---------------- devices ----------------

@pytest.mark.parametrize("raw,canon", [("cpu", "CPU"), ("CPU", "CPU"), ("CUDA:0", "CUDA"), ("cuda:1", "CUDA:1"), ("gpu:0:x", "GPU:0:x")])
def test_canonicalize(raw, canon): assert Device.canonicalize(raw) == canon

def test_default_device():
  assert run_py("from tgc import Device; print(Device.DEFAULT)", env={"DEV": "cuda:1"}).stdout.strip() == "CUDA:1"
  assert run_py("from tgc import Device; print(Device.DEFAULT)", env={"DEV": "cpu"}).stdout.strip() == "CPU"
  ready = [r for r in tgc.backends() if r.state == "ready"]
  best = max(r.priority for r in ready)
  assert Device.DEFAULT in [r.name for r in ready if r.priority == best]
  if [r.name for r in ready] == ["CPU"]: assert Device.DEFAULT == "CPU"

def test_cpu_device():
  d = Device["cpu"]
  assert d is Device["CPU"] and d is Device["CPU:0"] and d.name == "CPU" and d.backend == "CPU"
  assert d.properties["type"] == "CPU" and isinstance(d.properties["name"], str)
  caps = d.caps
  assert caps["dialect"] == "c" and {"float32", "int32"} <= set(caps["dtypes"]) and "ADD" in caps["alu_ops"]
  assert len(caps["global_max"]) == 3 and all(g >= 1 for g in caps["global_max"]) and caps["alignment"] & (caps["alignment"] - 1) == 0
  # names derived from the enums: compare with the raw bit masks decoded through the header itself
  check(lib().tg_device_get_caps(d._ptr, raw := ffi.new("tg_device_caps *", {"struct_size": ffi.sizeof("tg_device_caps")})))
  dt, alu = header_enum("tg_dtype"), header_enum("tg_alu_op")
  assert caps["dtypes"] == [n[3:].lower() for n, v in sorted(dt.items(), key=lambda x: x[1]) if v < dt["TG_DTYPE_COUNT"] and raw.dtypes >> v & 1]
  assert caps["alu_ops"] == [n[7:] for n, v in sorted(alu.items(), key=lambda x: x[1]) if n != "TG_ALU_COUNT" and raw.alu_ops >> v & 1]
  assert d.synchronize() is None

@pytest.mark.parametrize("name", ["NOPE", "nope:3", "CPU:7"])
def test_unknown_device(name):
  with pytest.raises(RuntimeError, match=f"no device named '{name}'"): Device[name]

def test_bad_device_argument():
  with pytest.raises(ValueError, match="''"): Device[""]
  with pytest.raises(TypeError, match="int 3"): Buffer(3, 8)

# ---------------- buffers ----------------

def test_buffer_roundtrip():
  rng = np.random.default_rng(0)
  data = rng.integers(0, 256, 100, dtype=np.uint8).tobytes()
  b = Buffer("CPU", 100).copyin(data)
  assert b.nbytes == 100 and bytes(b.copyout()) == data
  patch = bytes(range(10))
  b.copyin(patch, offset=37)
  ref = bytearray(data)
  ref[37:47] = patch
  assert bytes(b.copyout()) == bytes(ref) and bytes(b.copyout(10, offset=37)) == patch and bytes(b.copyout(offset=90)) == bytes(ref[90:])
  a = rng.standard_normal((3, 5)).astype(np.float32)
  np.testing.assert_array_equal(to_np(to_buf(a), np.float32, a.shape), a)

@pytest.mark.parametrize("n", [0, -5, -(2**70)])
def test_buffer_bad_size(n):
  with pytest.raises(ValueError, match=rf"(?<![\d-]){re.escape(str(n))}(?!\d)"): Buffer("CPU", n)

def test_buffer_size_type():
  with pytest.raises(TypeError, match="float"): Buffer("CPU", 8.0)

def test_copy_out_of_range():
  b = Buffer("CPU", 16)
  with pytest.raises(IndexError, match=r"12.*8.*16"): b.copyin(b"x" * 8, offset=12)
  with pytest.raises(IndexError, match=r"20.*16"): b.copyin(b"x" * 20)
  with pytest.raises(IndexError, match="-1"): b.copyin(b"x", offset=-1)
  with pytest.raises(IndexError, match=r"10.*26.*16"): b.copyout(16, offset=10)
  with pytest.raises(ValueError, match="C-contiguous"): b.copyin(np.zeros((4, 4), np.uint8)[:, ::2])

def test_use_after_release():
  b = Buffer("CPU", 24)
  raw, addr = b._raw, hex(int(ffi.cast("uintptr_t", b._raw)))
  b.release()
  for op in (lambda: b.copyin(b"abc"), lambda: b.copyout(), b.release):
    with pytest.raises(InvalidHandleError, match=f"buffer handle {addr} .*24 bytes on CPU.* released"): op()
  assert isinstance(InvalidHandleError("x"), RuntimeError)
  # libtgc itself rejects the stale handle (its handle table), naming it
  with pytest.raises(RuntimeError, match=f"{addr}.*released") as e: check(lib().tg_buffer_copyin(raw, 0, b"abc", 3))
  assert e.value.status == STATUS["TG_ERR_INVALID_HANDLE"]

def test_buffers_freed_by_gc():
  gc.collect()  # garbage from earlier tests (tensors hold handles too) must not be collected in the middle of the count
  n0 = live_handles()
  bufs = [Buffer("CPU", 64) for _ in range(5)]
  assert live_handles() == n0 + 5
  bufs[0].release()
  assert live_handles() == n0 + 4
  del bufs
  gc.collect()
  assert live_handles() == n0

# ---------------- programs: hand-written "c" kernels ----------------

@requires_cc
def test_vector_add():
  rng = np.random.default_rng(1)
  n = 1037
  a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
  out = Buffer("CPU", a.nbytes)
  prg = Program("CPU", kernel("vadd", "float *o = bufs[0]; const float *a = bufs[1], *b = bufs[2]; o[gid[0]] = a[gid[0]] + b[gid[0]];"), "vadd")
  t = prg(out, to_buf(a), to_buf(b), global_size=(n, 1, 1), wait=True)
  assert isinstance(t, float) and t >= 0
  np.testing.assert_array_equal(to_np(out, np.float32), a + b)

@requires_cc
@pytest.mark.parametrize("ctype,dtype", [("float", np.float32), ("int32_t", np.int32), ("double", np.float64)])
def test_strided_reduction(ctype, dtype):
  rng = np.random.default_rng(2)
  rows, cols = 13, 37
  x = (rng.standard_normal((rows, cols)) * 100).astype(dtype)
  body = (f"{ctype} *o = bufs[0]; const {ctype} *x = bufs[1]; {ctype} acc = 0;\n"
          f"for (int64_t i = 0; i < vals[0]; i++) acc += x[i * vals[1] + gid[0]];\n o[gid[0]] = acc;")
  out = Buffer("CPU", cols * x.itemsize)
  Program("CPU", kernel("colsum", body), "colsum")(out, to_buf(x), global_size=(cols,), vals=(rows, cols), wait=True)
  np.testing.assert_allclose(to_np(out, dtype), x.sum(axis=0, dtype=dtype), rtol=1e-5)

@requires_cc
def test_launch_split_across_threads():
  n = 64
  cnt, who, tid = Buffer("CPU", 4 * n).copyin(np.zeros(n, np.int32)), Buffer("CPU", 4 * n), Buffer("CPU", 8 * n)
  # chunks go to whichever thread claims them first, so each point waits (2 s at most) until another thread has recorded
  # itself: without that the launching thread may run all 64 before a worker wakes
  body = ("int32_t *cnt = bufs[0], *who = bufs[1]; uint64_t *tid = bufs[2], me = (uint64_t)pthread_self();\n"
          "cnt[gid[0]] += 1; who[gid[0]] = (int32_t)(gid[0] + 1000 * (gid[1] + gid[2]));\n"
          "__atomic_store_n(&tid[gid[0]], me, __ATOMIC_RELEASE);\n"
          "struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC, &t0);\n"
          "for (int other = 0; !other;) {\n"
          "  for (int k = 0; k < 64 && !other; k++) { uint64_t v = __atomic_load_n(&tid[k], __ATOMIC_ACQUIRE); other = v != 0 && v != me; }\n"
          "  clock_gettime(CLOCK_MONOTONIC, &t); if (t.tv_sec - t0.tv_sec > 2) break; sched_yield();\n"
          "}")
  tid.copyin(np.zeros(n, np.uint64))
  Program("CPU", kernel("once", body, "#include <pthread.h>\n#include <sched.h>\n#include <time.h>\n"), "once")(cnt, who, tid, global_size=(n, 1, 1), wait=True)
  np.testing.assert_array_equal(to_np(cnt, np.int32), np.ones(n, np.int32))
  np.testing.assert_array_equal(to_np(who, np.int32), np.arange(n, dtype=np.int32))
  caps, threads = Device["CPU"].caps, len(set(to_np(tid, np.uint64).tolist()))
  if caps["has_threads"] and caps["global_max"][0] > 1: assert 1 < threads <= caps["global_max"][0], f"{threads} threads ran 64 points"

@requires_cc
def _ready_devices() -> list[str]:
  from tgc.device import backends
  return sorted({r.name for r in backends() if r.state == "ready"} | {"CPU"})

def test_copies_between_every_pair_of_devices():
  """Tensor.to between any two ready devices (through host memory when neither is the host), values exact, both ways,
  with a kernel on each side. Runs with whatever plugins are installed: CI runs it again with VULKAN and WEBGPU."""
  devs = _ready_devices()
  if len(devs) < 2: pytest.skip(f"only {devs} ready here: no pair of devices to copy between")
  a = np.random.default_rng(7).standard_normal((33, 65)).astype(np.float32)
  for src in devs:
    for dst in devs:
      if src == dst: continue
      x = tgc.Tensor(a, device=src) * 2        # computed on src
      y = x.to(dst)
      assert y.device == dst, (src, dst, y.device)
      z = (y - 1).to(src)                       # computed on dst, back to src
      assert z.device == src
      np.testing.assert_array_equal(z.numpy(), a * 2 - 1, err_msg=f"{src} -> {dst} -> {src}")
      i = tgc.Tensor(np.arange(1000, dtype=np.int32), device=src).to(dst).reshape(10, 100)[3:7].to(src)
      np.testing.assert_array_equal(i.numpy(), np.arange(1000, dtype=np.int32).reshape(10, 100)[3:7], err_msg=f"int32 {src} -> {dst}")

def test_launch_3d_grid():
  g = (5, 3, 2)
  n = g[0] * g[1] * g[2]
  out = Buffer("CPU", 4 * n).copyin(np.zeros(n, np.int32))
  body = "int32_t *o = bufs[0]; int64_t i = ((int64_t)gid[2] * vals[1] + gid[1]) * vals[0] + gid[0]; o[i] += (int32_t)(i + 1);"
  Program("CPU", kernel("grid3", body), "grid3")(out, global_size=g, vals=g[:2], wait=True)
  np.testing.assert_array_equal(to_np(out, np.int32), np.arange(1, n + 1, dtype=np.int32))

@requires_cc
def test_compile_error():
  with pytest.raises(CompileError, match="undeclared_tgc_symbol") as e: Program("CPU", kernel("bad", "undeclared_tgc_symbol = 1;"), "bad")
  assert isinstance(e.value, RuntimeError) and e.value.status_name == "TG_ERR_COMPILE"

@requires_cc
def test_program_errors():
  src = kernel("k", "(void)bufs; (void)vals; (void)gid;")
  with pytest.raises(RuntimeError, match="no_such_kernel"): Program("CPU", src, "no_such_kernel")
  prg, b = Program("CPU", src, "k"), Buffer("CPU", 4)
  with pytest.raises(TypeError, match="Buffers"): prg(b, 3)
  with pytest.raises(ValueError, match=r"\(0, ?1, ?1\)"): prg(b, global_size=(0, 1, 1))
  with pytest.raises(ValueError, match="-2"): prg(b, global_size=(-2,))
  with pytest.raises(ValueError, match="2\\*\\*64|18446744073709551616"): prg(b, vals=(2**64,))
  assert prg(b, global_size=(3,)) is None
  prg.release()
  with pytest.raises(InvalidHandleError, match="program handle 0x[0-9a-f]+ \\(k on CPU\\) was already released"): prg(b)

# ---------------- the command line ----------------

def test_cli_help_version():
  r = run_py(["-m", "tgc", "--help"])
  assert r.returncode == 0 and "doctor" in r.stdout, r.stderr
  r = run_py(["-m", "tgc", "--version"])
  assert r.returncode == 0 and r.stdout.strip() == f"tgc {tgc.__version__}", r.stdout + r.stderr

def test_doctor_json():
  r = run_py(["-m", "tgc", "doctor", "--json"])
  assert r.returncode == 0, r.stderr
  rep = json.loads(r.stdout)
  cpu = next(b for b in rep["backends"] if b["name"] == "CPU")
  assert cpu["state"] == "ready" and cpu["device_count"] >= 1 and cpu["source"] == "builtin" and cpu["caps"]["dialect"] == "c", cpu
  assert rep["libtgc"]["error"] is None and cpu["abi"].split(".")[0] == rep["backend_abi"].split(".")[0], (rep["backend_abi"], cpu["abi"])
  assert rep["c_compiler"]["ok"] == (rep["c_compiler"]["path"] is not None), rep["c_compiler"]

def test_doctor_text():
  r = run_py(["-m", "tgc", "doctor"])
  assert r.returncode == 0, r.stderr
  row = next(l for l in r.stdout.splitlines() if l.startswith("CPU "))
  assert row.split()[1] == "ready" and int(row.split()[5]) >= 1, r.stdout

def test_doctor_no_compiler():
  r = run_py(["-m", "tgc", "doctor", "--json"], env={"TGC_CC": "/nonexistent/tgc-cc"})
  assert r.returncode == 0, r.stderr
  cc = json.loads(r.stdout)["c_compiler"]
  assert not cc["ok"] and "/nonexistent/tgc-cc" in cc["message"] and "ziglang" in cc["message"], cc
