"""The engine end to end: tgc.Tensor graphs realized through libtgc's scheduler, codegen and CPU backend, compared with
tinygrad 0.14.0 (DEV=CPU) for values AND for the number of kernels each graph schedules (issue 3, item 2)."""
import os
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
tinygrad = pytest.importorskip("tinygrad", reason="tinygrad==0.14.0 (the reference) is in the test extra")
import tinygrad as tg
import tgc

def _run(lib, fn, inputs):
  """Builds fn over the inputs with one library's Tensor, realizes, returns (numpy value, kernels scheduled)."""
  ts = [lib.Tensor(x).realize() for x in inputs]
  out = fn(lib.Tensor, *ts)
  lib.GlobalCounters.reset()
  out.realize()
  return out.numpy(), lib.GlobalCounters.kernel_count

RNG = np.random.default_rng(0)
def f32(*s): return RNG.standard_normal(s).astype(np.float32)
def i32(*s): return RNG.integers(-50, 50, s).astype(np.int32)

# name: (fn(Tensor, *inputs), inputs). Each is one realize; kernel counts must match tinygrad's exactly.
CASES = {
  "add": (lambda T, a, b: a + b, [f32(4, 4), f32(4, 4)]),
  "chain": (lambda T, a, b: ((a * b + 1).relu() - a / 2).exp2(), [f32(8, 8), f32(8, 8)]),
  "broadcast_row": (lambda T, a, b: a + b, [f32(4, 5), f32(1, 5)]),
  "broadcast_col": (lambda T, a, b: a * b, [f32(4, 5), f32(4, 1)]),
  "scalar_weak": (lambda T, a: a * 3 + 0.5, [f32(3, 3)]),
  "int_ops": (lambda T, a, b: (a * 3 - b) // 7 + (a % 5), [i32(6), i32(6)]),
  "compare_where": (lambda T, a, b: (a < b).where(a, b), [f32(5, 5), f32(5, 5)]),
  "maximum": (lambda T, a, b: a.maximum(b), [f32(10), f32(10)]),
  "sum_all": (lambda T, a: a.sum(), [f32(16, 16)]),
  "sum_axis0": (lambda T, a: a.sum(0), [f32(16, 8)]),
  "sum_axis1_keepdim": (lambda T, a: a.sum(1, keepdim=True), [f32(16, 8)]),
  "max_axis": (lambda T, a: a.max(1), [f32(7, 9)]),
  "prod": (lambda T, a: (a * 0.5).prod(0), [f32(3, 4)]),
  "mean": (lambda T, a: a.mean(), [f32(5, 6)]),
  "prologue_reduce": (lambda T, a, b: (a * b).sum(1), [f32(8, 8), f32(8, 8)]),
  "reduce_epilogue": (lambda T, a: a.sum(1) * 2 + 1, [f32(8, 8)]),
  "two_reduces": (lambda T, a: a.sum(1) + a.max(1), [f32(8, 8)]),
  "reduce_then_broadcast": (lambda T, a: a - a.max(1, keepdim=True), [f32(6, 6)]),
  "softmax_like": (lambda T, a: (a - a.max(1, keepdim=True)).exp2() / (a - a.max(1, keepdim=True)).exp2().sum(1, keepdim=True), [f32(4, 10)]),
  "matmul": (lambda T, a, b: a @ b, [f32(8, 16), f32(16, 4)]),
  "matmul_relu": (lambda T, a, b: (a @ b).relu(), [f32(16, 16), f32(16, 16)]),
  "matvec": (lambda T, a, b: a @ b, [f32(12, 7), f32(7)]),
  "permute": (lambda T, a: a.permute(1, 0) * 2, [f32(3, 5)]),
  "permute_contiguous": (lambda T, a: a.permute(1, 0).contiguous(), [f32(3, 5)]),
  "reshape": (lambda T, a: a.reshape(5, 3) + 1, [f32(3, 5)]),
  "expand": (lambda T, a: a.reshape(3, 1).expand(3, 4) * 2, [f32(3)]),
  "pad": (lambda T, a: a.pad(((1, 2), (0, 1))) + 1, [f32(3, 3)]),
  "shrink": (lambda T, a: a.shrink(((1, 3), (0, 2))) * 3, [f32(4, 4)]),
  "flip": (lambda T, a: a.flip(0) - a, [f32(4, 3)]),
  "movement_before_reduce": (lambda T, a: a.permute(1, 0).sum(1), [f32(5, 7)]),
  "movement_after_reduce": (lambda T, a: a.sum(1).reshape(1, 5).expand(3, 5) + 1, [f32(5, 7)]),
  "pad_then_sum": (lambda T, a: a.pad(((0, 0), (2, 2))).sum(1), [f32(4, 4)]),
  "flip_reduce": (lambda T, a: a.flip(1).max(1), [f32(4, 6)]),
  "cast_int_float": (lambda T, a: a.cast("float32") * 0.5, [i32(8)]),
  "cast_float_int": (lambda T, a: (a * 10).cast("int32"), [f32(8)]),
  "half": (lambda T, a: (a.cast("float16") * 2).cast("float32"), [f32(8)]),
  "double": (lambda T, a: a.cast("float64").sqrt(), [np.abs(f32(8))]),
  "uint8_wrap": (lambda T, a: a.cast("uint8") + 250, [np.arange(10, dtype=np.int32)]),
  "bool_ops": (lambda T, a, b: ((a > 0) & (b > 0)) | (a < -1), [f32(9), f32(9)]),
  "size1_dims": (lambda T, a: a.sum(0) + a.reshape(1, 1, 5).sum(1), [f32(1, 5)]),
  "arange_add": (lambda T, a: T.arange(6).reshape(2, 3) + a, [i32(2, 3)]),
  "ones_sum": (lambda T, a: T.ones(4, 4).sum(0) * a, [f32(4)]),
  "nan_inf": (lambda T, a: a.log2() + a.sqrt(), [np.array([0.0, -1.0, np.inf, np.nan, 4.0, 1e-30], np.float32)]),
  "contiguous_chain": (lambda T, a: (a + 1).contiguous() * 2, [f32(6)]),
  # assign: STORE + AFTER into the input's own buffer
  "assign_add": (lambda T, a, b: a.assign(a + b), [f32(4, 4), f32(4, 4)]),
  "assign_twice": (lambda T, a: a.assign(a * 2).assign(a + 1), [f32(5)]),
  "assign_scalar": (lambda T, a: a.assign(3.5), [f32(2, 3)]),
  "assign_broadcast": (lambda T, a, b: a.assign(b), [f32(3, 4), f32(1, 4)]),
  "assign_reduce": (lambda T, a, b: a.assign(b.sum(1, keepdim=True).expand(4, 4)), [f32(4, 4), f32(4, 4)]),
  "assign_int": (lambda T, a: a.assign(a * 3 - 1), [i32(7)]),
  "assign_shrink_view": (lambda T, a, b: (a.shrink(((1, 3), None)).assign(b), a)[1], [f32(4, 4), f32(2, 4)]),
  "assign_permute_view": (lambda T, a, b: (a.permute(1, 0).assign(b), a)[1], [f32(3, 5), f32(5, 3)]),
  "assign_pad_read": (lambda T, a, b: a.assign(b).pad(((1, 1),)) + 1, [f32(6), f32(6)]),
  "assign_then_read_in_matmul": (lambda T, a, b: a.assign(a * 0.5) @ b, [f32(4, 4), f32(4, 3)]),
  "assign_flip_self": (lambda T, a: a.assign(a.flip(0).contiguous()), [f32(6)]),
  "assign_flip_self_hazard": (lambda T, a: a.assign(a.flip(0)), [f32(6)]),
  "assign_transpose_self_hazard": (lambda T, a: a.assign(a.permute(1, 0)), [f32(4, 4)]),
}

@pytest.mark.parametrize("name", list(CASES))
def test_values_and_kernel_count(name):
  fn, inputs = CASES[name]
  want, want_k = _run(tg, fn, inputs)
  got, got_k = _run(tgc, fn, inputs)
  assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
  if np.issubdtype(want.dtype, np.floating): np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
  else: np.testing.assert_array_equal(got, want)
  assert got_k == want_k, f"{name}: tgc scheduled {got_k} kernels, tinygrad {want_k}"

def test_assign_read_of_the_old_value_in_the_same_kernel_is_refused_as_tinygrad_does():
  # c reads a before the assign, c + a reads it after, in one kernel: tinygrad refuses ("cycle detected while indexing")
  def fn(T, a, b):
    c = a + 1
    a.assign(b)
    return c + a
  inputs = [f32(5), f32(5)]
  with pytest.raises(RuntimeError) as want: _run(tg, fn, inputs)
  with pytest.raises(RuntimeError) as got: _run(tgc, fn, inputs)
  assert "cycle detected while indexing" in str(want.value) and "cycle detected while indexing" in str(got.value), got.value

def test_assign_errors_match_tinygrad():
  for lib in (tg, tgc):
    a = lib.Tensor([1.0, 2.0]).realize()
    with pytest.raises(RuntimeError, match="assign dtype mismatch dtypes.float != dtypes.int"): a.assign(lib.Tensor([1, 2]))
    with pytest.raises(ValueError): a.assign(lib.Tensor([1.0, 2.0, 3.0]))
    assert a.assign(a) is a
  t = tgc.Tensor(3)
  t.assign(5)
  assert t.item() == 5 and str(t.dtype) == str(tg.Tensor(3).assign(5).dtype)

_PAR = "import numpy as np; from tgc import Tensor, GlobalCounters; x = Tensor(np.arange(64, dtype=np.float32).reshape(8, 8)); " \
       "outs = [((x * (i + 1)).contiguous().sum(1) + i).contiguous() for i in range(6)]; Tensor.realize(*outs); " \
       "print(repr([o.numpy().tolist() for o in outs]), GlobalCounters.compile_count)"

def test_independent_kernels_compile_in_parallel_with_the_same_result():
  import subprocess, sys
  res = []
  for threads in ("1", "4"):
    env = {**os.environ, "TGC_CPU_NOCACHE": "1", "TGC_COMPILE_THREADS": threads}
    r = subprocess.run([sys.executable, "-c", _PAR], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    vals, compiles = r.stdout.rsplit(" ", 1)
    res.append((eval(vals), int(compiles)))
  assert res[0] == res[1] and res[0][1] >= 6
  x = np.arange(64, dtype=np.float32).reshape(8, 8)
  np.testing.assert_allclose(res[1][0], [(x * (i + 1)).sum(1) + i for i in range(6)], rtol=1e-6)

def test_lower_generates_every_kernel_without_compiling_or_running():
  from tgc._ffi import ffi, lib
  def graph(T):
    x, w = T(np.arange(32, dtype=np.float32).reshape(4, 8) / 10), T(np.ones((8, 8), np.float32))
    return ((x @ w).relu() @ w).sum(1) + x.max(1)
  want = graph(tg.Tensor).schedule_linear()
  want_k = sum(1 for c in want.src if c.src[0].op.name == "SINK")
  out = graph(tgc.Tensor)
  tgc.GlobalCounters.reset()
  compiles = tgc.GlobalCounters.compile_count  # process-wide: not reset
  n = ffi.new("size_t *")
  assert lib().tg_tensor_lower(ffi.new("tg_tensor *[]", [out._h]), 1, n) == 0
  assert n[0] == want_k and tgc.GlobalCounters.kernel_count == 0 and tgc.GlobalCounters.compile_count == compiles
  np.testing.assert_allclose(out.numpy(), graph(tg.Tensor).numpy(), rtol=1e-5)  # the tensor is untouched and still runs

def test_large_tensor_beyond_2_24_elements():
  n = (1 << 24) + 7
  if (gm := tgc.Device[tgc.Device.DEFAULT].caps["global_max"])[0] < n:   # WebGPU: 65535 workgroups a dimension
    pytest.skip(f"{n} = 113 * 148471 work items cannot be split into {tgc.Device.DEFAULT}'s launch dims {gm} (tinygrad's _split_dims raises the same)")
  a, b = np.arange(n, dtype=np.float32) % 1000, np.ones(n, dtype=np.float32)
  got = (tgc.Tensor(a) * 2 + tgc.Tensor(b)).numpy()
  np.testing.assert_array_equal(got, a * 2 + b)

def test_second_run_compiles_nothing():
  def graph(): return ((tgc.Tensor([1.0, 2.0, 3.0]) * 7).exp2() + 1).sum()
  graph().realize()
  before = tgc.GlobalCounters.compile_count
  graph().realize()
  assert tgc.GlobalCounters.compile_count == before

def test_tolist_item_data():
  t = tgc.Tensor([[1, 2], [3, 4]])
  assert (t * 2).tolist() == [[2, 4], [6, 8]]
  assert t.sum().item() == 10
  assert list((t + 1).data().cast("B").cast("i")) == [2, 3, 4, 5]
  assert tgc.Tensor(3).numpy() == 3 and tgc.Tensor.zeros(0, 3).numpy().shape == (0, 3)

def test_realized_tensor_reads_the_buffer():
  a = tgc.Tensor([1.0, 2.0]) + 1
  a.realize()
  tgc.GlobalCounters.reset()
  np.testing.assert_array_equal((a * 2).numpy(), [4.0, 6.0])
  assert tgc.GlobalCounters.kernel_count == 1  # a is not recomputed

_PROG = "import numpy as np; from tgc import Tensor; a = Tensor(np.arange(64*64, dtype=np.float32).reshape(64, 64) / 1000); " \
        "print(repr((a @ a).sum(1).numpy().tolist()))"

def _run_env(**env):
  import subprocess, sys
  r = subprocess.run([sys.executable, "-c", _PROG], capture_output=True, text=True, env={**os.environ, "TGC_CPU_NOCACHE": "1", **env}, timeout=300)
  assert r.returncode == 0, r.stderr
  return r.stdout, r.stderr

def test_debug4_prints_kernel_source_and_noopt_changes_it():
  out_opt, src_opt = _run_env(DEBUG="4", NOOPT="0")
  out_noopt, src_noopt = _run_env(DEBUG="4", NOOPT="1")
  # the kernel in the default device's dialect (DEV=WEBGPU: WGSL)
  marks = {"c": ("void r_", "const uint32_t gid[3]"), "wgsl": ("fn r_", "@compute @workgroup_size("),
           "cuda": (") r_", 'extern "C" __global__ void __launch_bounds__('), "hip": (") r_", 'extern "C" __attribute__((global))'),
           "metal": ("void r_", "kernel void"), "glsl": ("// r_", "void main()")}[tgc.Device[tgc.Device.DEFAULT].caps["dialect"]]
  for src in (src_opt, src_noopt): assert all(m in src for m in marks), src
  assert src_opt != src_noopt  # the heuristic opts (upcast/unroll/threads) change the kernel, NOOPT=1 turns them off
  np.testing.assert_allclose(eval(out_opt), eval(out_noopt), rtol=1e-5)
  a = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 1000
  np.testing.assert_allclose(eval(out_noopt), (a @ a).sum(1), rtol=1e-4)

def _live():
  from tgc._ffi import ffi, lib
  h, u = ffi.new("size_t *"), ffi.new("size_t *")
  lib().tg_debug_live_handles(h), lib().tg_debug_live_uops(u)
  return h[0], u[0]

def test_10000_eager_ops_leave_no_uops_or_buffers():
  import gc
  x = np.arange(16, dtype=np.float32)
  def step(): (tgc.Tensor(x) * 2 + 1).realize()
  for _ in range(3): step()  # warm up: the kernel is compiled and cached once
  gc.collect()
  base = _live()
  for _ in range(10_000): step()
  gc.collect()
  assert _live() == base

def test_bad_input_to_realize_and_data():
  from tgc._ffi import ffi, lib
  L, t = lib(), tgc.Tensor([1.0, 2.0, 3.0])
  buf = ffi.new("char[]", 64)
  assert L.tg_tensor_data(t._h, buf, 8) != 0 and "8 bytes asked, the tensor holds 12" in ffi.string(L.tg_last_error()).decode()
  assert L.tg_tensor_data(t._h, ffi.NULL, 12) != 0 and "dst is NULL for 12 bytes" in ffi.string(L.tg_last_error()).decode()
  assert L.tg_tensor_realize(ffi.NULL, 2) != 0 and "tensors is NULL with n=2" in ffi.string(L.tg_last_error()).decode()
  assert L.tg_tensor_realize(ffi.NULL, 0) == 0  # nothing to realize
  assert L.tg_counters_get(ffi.NULL) != 0 and "out is NULL" in ffi.string(L.tg_last_error()).decode()
  small = ffi.new("tg_counters *"); small.struct_size = 8
  assert L.tg_counters_get(small) != 0 and "struct_size 8" in ffi.string(L.tg_last_error()).decode()
  dead = tgc.Tensor([1.0])
  h = ffi.cast("tg_tensor *", dead._h)  # the raw handle, without the Python object's destructor
  ffi.gc(dead._h, None)
  assert L.tg_tensor_release(h) == 0
  arr = ffi.new("tg_tensor *[]", [h])
  assert L.tg_tensor_realize(arr, 1) != 0 and "released" in ffi.string(L.tg_last_error()).decode()
  with pytest.raises(ValueError): tgc.Tensor([1, 2]).reshape(3)  # tinygrad's error type for a bad graph, before any realize
