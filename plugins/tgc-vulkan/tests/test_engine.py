"""The engine on Vulkan: tgc.Tensor kernels rendered by core's glsl dialect (core/src/renderer/glsl.c), compiled by the plugin's
glslang and run on the device (lavapipe in CI, a GPU's driver elsewhere; skipped without one, with the reason). The whole
tensor suite runs there too (ci.sh: DEV=VULKAN over tests/test_ops_torch.py ...); these are the Vulkan-specific cases: what
the renderer emits, DEV picking the device, copies between CPU and VULKAN, and what is refused with a clear error (a
buffer above the storage-buffer limit, a dtype the device lacks)."""
import os, re, sys, subprocess
import numpy as np
import pytest
import tgc
from tgc import Tensor, dtypes
from tgc import device as tgdev
from tgc._ffi import UnsupportedError

def run_child(code: str, env: dict) -> subprocess.CompletedProcess:
  """python -c code in a fresh process with env added, from a neutral directory (not the source tree)."""
  return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
                        cwd=os.path.dirname(os.path.abspath(__file__)), check=False)

def _status() -> tuple[bool, str]:
  rec = next((r for r in tgdev.backends() if r.name == "VULKAN"), None)
  if rec is None: return False, "the VULKAN backend was not discovered"
  return rec.state == "ready" and rec.device_count > 0, f"VULKAN: {rec.status}"

READY, WHY = _status()
pytestmark = pytest.mark.skipif(not READY, reason=f"no Vulkan device ({WHY})")
DEV = f"VULKAN:{os.environ['TGC_VULKAN_DEVICE']}" if os.environ.get("TGC_VULKAN_DEVICE") else "VULKAN"

def caps() -> dict: return tgc.Device[DEV].caps

def test_elementwise_reduce_matmul_on_the_device():
  rng = np.random.default_rng(0)
  a, b = rng.standard_normal((33, 65)).astype(np.float32), rng.standard_normal((65, 17)).astype(np.float32)
  ta, tb = Tensor(a, device=DEV), Tensor(b, device=DEV)
  assert ta.device == tb.device == tgc.Device.canonicalize(DEV)
  np.testing.assert_allclose((ta @ tb).numpy(), a @ b, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(ta.sum(1).numpy(), a.sum(1), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose((ta.exp() * 2 - ta.sin()).numpy(), np.exp(a) * 2 - np.sin(a), rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal((ta > 0).numpy(), a > 0)

def test_copies_between_cpu_and_vulkan():
  x = np.arange(1000, dtype=np.int32)
  v = Tensor(x, device="CPU").to(DEV)
  assert v.device == tgc.Device.canonicalize(DEV)
  back = (v * 3).to("CPU")
  assert back.device == "CPU"
  np.testing.assert_array_equal((back + 1).numpy(), x * 3 + 1)
  np.testing.assert_array_equal((Tensor(x, device="CPU") + back.to(DEV).to("CPU")).numpy(), x * 4)

def test_dev_picks_vulkan_for_tensors_without_a_device():
  """DEV=VULKAN as in tinygrad: Device.DEFAULT, tensors made without a device, and the plugin loaded on first use."""
  r = run_child("from tgc import Tensor, Device\nt = Tensor([1.0, 2.0]) * 2\n"
                "print(Device.DEFAULT, t.device, t.numpy().tolist(), Tensor.ones(3).contiguous().device)", {"DEV": DEV})
  assert r.returncode == 0, r.stderr
  d = tgc.Device.canonicalize(DEV)
  assert r.stdout.splitlines()[0] == f"{d} {d} [2.0, 4.0] {d}"

def test_rendered_source_is_the_glsl_dialect():
  """DEBUG=4 prints each kernel's source: #version 450, std430 buffers by binding, bool stored as uint8_t, the workgroup size
  from specialization constants, gl_WorkGroupID/gl_LocalInvocationID, precise floats."""
  code = ("from tgc import Tensor\nimport numpy as np\n"
          "a = Tensor(np.arange(64, dtype=np.float32).reshape(8, 8))\nprint((a.sum(1) > 100).numpy().tolist())")
  r = run_child(code, {"DEV": DEV, "DEBUG": "4"})
  assert r.returncode == 0, r.stderr
  src = r.stdout + r.stderr
  assert "#version 450" in src and "layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;" in src
  assert re.search(r"layout\(std430, binding = 0\) buffer B0 \{ uint8_t data0_\w+\[\]; \};", src), src
  assert re.search(r"layout\(std430, binding = 1\) readonly buffer B1 \{ precise float data1_\w+\[\]; \};", src), src
  assert "gl_WorkGroupID" in src or "gl_LocalInvocationID" in src
  assert "[False, False, True, True, True, True, True, True]" in r.stdout  # row sums 64 * i + 28 > 100

@pytest.mark.parametrize("dt", ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "float32", "float64"])
def test_every_declared_dtype_computes(dt):
  if dt not in caps()["dtypes"]: pytest.skip(f"{DEV} lacks {dt}")
  x = np.array([0, 1, 2, 3, 5, 7, 100, 120], dtype=np.float64)
  if dt == "bool": x = x > 3
  t = Tensor(x.astype(dt), device=DEV)
  want = x.astype(dt)
  got = t.where(t, t) if dt == "bool" else (t * 2 + t) // 3 if "int" in dt else t * 2 + t
  exp = want if dt == "bool" else (want * 2 + want) // 3 if "int" in dt else (want * 2 + want)
  np.testing.assert_array_equal(got.numpy(), exp.astype(dt))
  np.testing.assert_array_equal(t.cast(dtypes.float32).numpy(), x.astype(dt).astype(np.float32))

def test_signed_remainder_is_cs():
  """tinygrad's CMOD is C's remainder (sign of the dividend); GLSL's % on ints is OpSMod (sign of the divisor)."""
  a, b = np.array([-7, 7, -7, 7, -1, 0], np.int32), np.array([2, -2, -2, 2, 3, 5], np.int32)
  np.testing.assert_array_equal(Tensor(a, device=DEV).fmod(Tensor(b, device=DEV)).numpy(), np.fmod(a, b))
  np.testing.assert_array_equal((Tensor(a, device=DEV) % Tensor(b, device=DEV)).numpy(), np.mod(a, b))

def test_buffer_above_the_storage_buffer_limit_is_refused():
  """One storage buffer holds at most mem_max_alloc bytes (maxStorageBufferRange: 128 MiB on lavapipe): a tensor larger than
  that is refused before anything runs, naming the sizes; the device stays usable."""
  limit = caps()["mem_max_alloc"]
  if limit > 1 << 30: pytest.skip(f"{DEV}: mem_max_alloc is {limit} bytes; not filled here")
  n = limit // 4 + 1
  with pytest.raises(MemoryError, match=rf"tg_buffer_alloc: {n * 4} bytes exceeds VULKAN's largest allocation of {limit} bytes"):
    (Tensor.ones(n, device=DEV).contiguous() + 1).realize()
  at = (Tensor.ones(limit // 4, device=DEV).contiguous() + 1).realize()  # exactly the limit: runs
  assert at.sum().item() == 2 * (limit // 4)

def test_dtype_the_device_lacks_is_refused_before_launch():
  if "bfloat16" in caps()["dtypes"]: pytest.skip(f"{DEV} declares bfloat16")
  t = Tensor([1.0, 2.0], device=DEV).cast(dtypes.bfloat16)
  with pytest.raises(UnsupportedError, match=r"VULKAN does not support dtypes\.bfloat16 \(its dtypes: "): (t * 2).realize()
  np.testing.assert_array_equal((Tensor([1.0, 2.0], device=DEV) * 2).numpy(), [2.0, 4.0])  # still usable
