"""TinyJit (core/tgc/jit.py over tg_jit_* in C): capture on the second call, replay with new inputs after, checked
against tinygrad 0.14.0's TinyJit (DEV=CPU) and against running the same function without the JIT."""
import os
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
tinygrad = pytest.importorskip("tinygrad")
import tinygrad as tg
import tgc

def _series(lib, fn, n=5):
  outs, calls = [], [0]
  def body(a, b):
    calls[0] += 1
    return fn(a, b)
  jf = lib.TinyJit(body)
  rng = np.random.default_rng(0)
  for i in range(n):
    a, b = rng.standard_normal((4, 6)).astype(np.float32), rng.standard_normal((6, 3)).astype(np.float32)
    outs.append(jf(lib.Tensor(a), lib.Tensor(b)).numpy().copy())
  return outs, calls[0]

@pytest.mark.parametrize("name,fn", [("matmul_relu", lambda a, b: (a @ b).relu()), ("reduce", lambda a, b: (a * 2).sum(1) + b.max()),
                                     ("two_kernels", lambda a, b: (a @ b).contiguous().exp().sum(0))])
def test_replay_matches_tinygrad_and_skips_the_function(name, fn):
  (want, wcalls), (got, gcalls) = _series(tg, fn), _series(tgc, fn)
  assert gcalls == wcalls == 2  # run, capture; then replays only
  for g, w in zip(got, want): np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
  assert not np.allclose(got[3], got[4])  # new inputs, new values

def test_jitted_training_step_equals_unjitted():
  from tgc import nn
  from tgc.nn.optim import Adam
  X = np.random.default_rng(1).standard_normal((16, 5)).astype(np.float32)
  Y = (X.sum(1) > 0).astype(np.int32)
  results = []
  for use_jit in (False, True):
    tgc.Tensor.manual_seed(3)
    l1, l2 = nn.Linear(5, 8), nn.Linear(8, 2)
    opt = Adam(nn.state.get_parameters([l1, l2]), lr=0.05)
    def step(x, y):
      loss = l2(l1(x).relu()).sparse_categorical_crossentropy(y)
      opt.zero_grad()
      loss.backward()
      opt.step()
      return loss
    f = tgc.TinyJit(step) if use_jit else step
    with tgc.Tensor.train():
      losses = [f(tgc.Tensor(X), tgc.Tensor(Y)).item() for _ in range(6)]
    results.append((losses, l1.weight.numpy(), l2.bias.numpy()))
  np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5)
  for g, w in zip(results[1][1:], results[0][1:]): np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)

def test_changed_shape_dtype_or_arity_is_refused():
  f = tgc.TinyJit(lambda a: a * 2)
  for _ in range(3): f(tgc.Tensor.ones(3, 2).contiguous())
  with pytest.raises(tgc.JitError, match="args mismatch in JIT.*\\(3, 2\\).*\\(4, 2\\)"): f(tgc.Tensor.ones(4, 2).contiguous())
  with pytest.raises(tgc.JitError, match="args mismatch in JIT.*int"): f(tgc.Tensor.ones(3, 2, dtype="int32").contiguous())
  with pytest.raises(tgc.JitError, match="args mismatch"): f(a=tgc.Tensor.ones(3, 2).contiguous())
  np.testing.assert_array_equal(f(tgc.Tensor.full((3, 2), 4.0).contiguous()).numpy(), np.full((3, 2), 8.0))  # still usable

def test_capture_errors():
  def reads(a):
    b = a * 2
    return b.numpy()  # reading data while capturing bakes the value in: refused
  f = tgc.TinyJit(reads)
  f(tgc.Tensor.ones(2).contiguous())
  with pytest.raises(tgc.JitError, match="during JIT capture"): f(tgc.Tensor.ones(2).contiguous())
  g = tgc.TinyJit(lambda a: 3)
  g(tgc.Tensor.ones(2).contiguous())
  with pytest.raises(tgc.JitError, match="didn't JIT anything"): g(tgc.Tensor.ones(2).contiguous())
  a = tgc.Tensor.ones(2).contiguous()
  h = tgc.TinyJit(lambda x, y: x + y)
  with pytest.raises(tgc.JitError, match="duplicate inputs"): h(a, a)
