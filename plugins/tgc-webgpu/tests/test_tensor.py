"""tgc.Tensor on WEBGPU (skipped without an adapter, with the reason): kernels the engine renders in the wgsl dialect
(core/src/renderer/wgsl.c) run on the adapter and agree with numpy and with the same computation on CPU; copies between CPU
and WEBGPU both ways; the packed small ints (int8/uint8/int16/uint16/bool live in atomic<u32> words: neighbouring elements
written by different invocations must not clobber each other); float16 where the adapter has shader-f16; DEV=WEBGPU picks the
device as tinygrad's DEV does; and what WebGPU cannot hold is refused before anything runs, with the reason: 64-bit dtypes
(WGSL has none) and buffers above mem_max_alloc (128 MiB of one storage buffer on lavapipe)."""
import os, sys, subprocess
import numpy as np
import pytest
import tgc
from tgc import Tensor, dtypes
from tgc import device as tgdev
from tgc._ffi import UnsupportedError, TgcMemoryError

def _status() -> tuple[bool, str]:
  rec = next((r for r in tgdev.backends() if r.name == "WEBGPU"), None)
  if rec is None: return False, "the WEBGPU backend was not discovered"
  return rec.state == "ready" and rec.device_count > 0, f"WEBGPU: {rec.status}"

READY, WHY = _status()
pytestmark = pytest.mark.skipif(not READY, reason=f"no WebGPU adapter ({WHY})")
RNG = np.random.default_rng(6)
def caps() -> dict: return tgc.Device["WEBGPU"].caps
def W(x, dtype=None) -> Tensor: return Tensor(x, device="WEBGPU", dtype=dtype)

@pytest.mark.parametrize("name,fn", [
  ("add_mul", lambda T: (T[0] * 2 + T[1]) / 3),
  ("exp_log_sqrt_sin", lambda T: (T[0].exp() + (T[1].abs() + 1).log() + T[1].abs().sqrt() + T[0].sin())),
  ("matmul", lambda T: T[0].reshape(8, 16) @ T[1].reshape(16, 8)),
  ("sum_max_axis", lambda T: T[0].reshape(16, 8).sum(1) + T[1].reshape(16, 8).max(0).sum()),
  ("softmax", lambda T: T[0].reshape(4, 32).softmax(-1)),
  ("where_cmp", lambda T: (T[0] < T[1]).where(T[0], T[1] * -1)),
  ("permute_pad", lambda T: T[0].reshape(4, 8, 4).permute(2, 0, 1).pad(((1, 0), (0, 2), (1, 1))).contiguous()),
  ("cumsum", lambda T: T[0].cumsum()),
])
def test_values_match_cpu(name, fn):
  a, b = RNG.standard_normal(128).astype(np.float32), RNG.standard_normal(128).astype(np.float32)
  got = fn([W(a), W(b)])
  assert got.device == "WEBGPU"
  want = fn([Tensor(a, device="CPU"), Tensor(b, device="CPU")]).numpy()
  np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)

def test_large_1d_grid():
  n = 70000 * 256   # beyond 65535 workgroups of one dimension (at 256 a workgroup): the grid is split over dimensions
  x = Tensor.full((n,), 3, device="WEBGPU", dtype=dtypes.int32) * Tensor.arange(n, dtype=dtypes.int32)
  got = x.numpy()
  assert got.shape == (n,) and got[-1] == (n - 1) * 3 and got[12345] == 12345 * 3

def test_reduction_over_workgroup_limit():
  a = RNG.standard_normal((300, 700)).astype(np.float32)
  np.testing.assert_allclose(W(a).sum(1).numpy(), a.sum(1), rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(W(a).sum().numpy(), a.sum(), rtol=1e-4, atol=1e-3)

@pytest.mark.parametrize("dt,np_dt", [(dtypes.int8, np.int8), (dtypes.uint8, np.uint8), (dtypes.int16, np.int16), (dtypes.uint16, np.uint16),
                                      (dtypes.bool, np.bool_)])
def test_packed_small_ints(dt, np_dt):
  n = 1027   # not a multiple of the 4 (or 2) elements of a word
  x = (np.arange(n) % 7 == 3) if np_dt is np.bool_ else (np.arange(n) * 37 - 500).astype(np_dt)
  t = W(x, dt)
  np.testing.assert_array_equal(t.numpy(), x)                   # a copy of packed bytes
  if np_dt is np.bool_:
    np.testing.assert_array_equal(t.logical_not().numpy(), ~x)  # every invocation writes one byte of a shared word
    np.testing.assert_array_equal((t & W(x[::-1].copy())).numpy(), x & x[::-1])
  else:
    np.testing.assert_array_equal((t + 3).numpy(), (x + np_dt(3)).astype(np_dt))
    np.testing.assert_array_equal(t.flip(0).contiguous().numpy(), x[::-1])
    np.testing.assert_array_equal(t.cast(dtypes.int32).numpy(), x.astype(np.int32))
    np.testing.assert_array_equal(W(x.astype(np.int32)).cast(dt).numpy(), x)

def test_float16():
  if "float16" not in caps()["dtypes"]: pytest.skip(f"this adapter has no shader-f16 (arch {caps()['arch']})")
  x = RNG.standard_normal(257).astype(np.float16)
  np.testing.assert_allclose((W(x) * 2 + 1).numpy(), x * 2 + 1, rtol=1e-3)
  np.testing.assert_array_equal(W(x).cast(dtypes.float32).numpy(), x.astype(np.float32))

def test_nan_inf():
  x = np.array([0.0, 1.0, -1.0, np.inf, -np.inf, np.nan], np.float32)
  np.testing.assert_array_equal(W(x).isnan().numpy(), np.isnan(x))
  np.testing.assert_array_equal(W(x).isinf().numpy(), np.isinf(x))
  np.testing.assert_array_equal((W(x) * 0 + float("inf")).numpy()[:3], np.full(3, np.inf, np.float32))

def test_copies_between_cpu_and_webgpu():
  a = RNG.standard_normal((5, 7)).astype(np.float32)
  c = Tensor(a, device="CPU")
  w = c.to("WEBGPU")
  assert w.device == "WEBGPU"
  back = (w * 2).to("CPU")
  assert back.device == "CPU"
  np.testing.assert_array_equal(back.numpy(), a * 2)
  np.testing.assert_array_equal((w + c.to("WEBGPU")).numpy(), a + a)
  np.testing.assert_allclose((Tensor(a, device="CPU") + 1).to("WEBGPU").exp().to("CPU").numpy(), np.exp(a + 1), rtol=1e-6)

def test_dev_env_picks_webgpu():
  code = "from tgc import Tensor, Device; t = Tensor([1.0, 2.0]) * 2; print(Device.DEFAULT, t.device, t.tolist())"
  env = {**os.environ, "DEV": "WEBGPU"}
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd="/", check=False)
  assert r.returncode == 0, r.stderr
  assert r.stdout.split() == ["WEBGPU", "WEBGPU", "[2.0,", "4.0]"]

@pytest.mark.parametrize("dt,name", [(dtypes.float64, "double"), (dtypes.int64, "long"), (dtypes.uint64, "ulong")])
def test_64bit_refused_before_launch(dt, name):
  with pytest.raises(UnsupportedError, match=rf"WEBGPU does not support dtypes\.{name} \(its dtypes: bool .*float\)"):
    Tensor([1, 2, 3], device="WEBGPU", dtype=dt).realize()
  with pytest.raises(UnsupportedError, match=r"does not support dtypes\."):   # a cast onto the device, a kernel's output
    (W([1.0, 2.0]).cast(dt) + 1).realize()
  np.testing.assert_array_equal((W([1.0, 2.0]) + 1).numpy(), [2.0, 3.0])        # and the device keeps working

def test_over_mem_max_alloc_refused():
  limit = caps()["mem_max_alloc"]
  if limit > 512 << 20: pytest.skip(f"mem_max_alloc is {limit} bytes here: too large to exceed in a test")
  n = limit // 4 + 1024   # float32 elements: a buffer just over the limit
  with pytest.raises(TgcMemoryError, match=rf"{4 * n} bytes exceeds WEBGPU's largest allocation of {limit} bytes"):
    Tensor(np.zeros(n, np.float32), device="WEBGPU").realize()   # the copy's destination
  with pytest.raises(TgcMemoryError, match=rf"exceeds WEBGPU's largest allocation of {limit} bytes"):
    (Tensor.ones(n, device="WEBGPU") + 1).realize()
  ok = Tensor.full((limit // 4,), 2.0, device="WEBGPU").contiguous().realize()   # exactly the limit still works
  assert ok.sum().item() == limit // 4 * 2
