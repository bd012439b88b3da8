"""Autograd (core/src/tensor/gradient.c, tinygrad 0.14.0's mixin/gradient.py): Tensor.gradient and Tensor.backward.

Three checks per differentiable op, all against references computed during the test run:
  graph   the backward graph equals tinygrad's, UOp for UOp (repr of tinygrad's uop vs tgc's graph printed by uoptool)
  values  forward and gradients realized by tgc equal tinygrad's (DEV=CPU), and the kernel count of the gradient too
  numeric the gradient of a float64 graph agrees with central finite differences computed with numpy"""
import os
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
from conftest import requires_dtypes
tinygrad = pytest.importorskip("tinygrad")
import tinygrad as tg
import tgc
from test_tensor_graph import helper_graph

RNG = np.random.default_rng(1)
def pos(*s): return (RNG.random(s) + 0.5).astype(np.float32)
def anyf(*s): return RNG.standard_normal(s).astype(np.float32)

# name: (fn(x, *others) -> tensor, inputs). The first input is differentiated, and all the others too.
CASES = {
  "add": (lambda x, y: x + y, [anyf(3, 4), anyf(3, 4)]),
  "sub": (lambda x, y: x - y, [anyf(3, 4), anyf(3, 4)]),
  "mul": (lambda x, y: x * y, [anyf(3, 4), anyf(3, 4)]),
  "div": (lambda x, y: x / y, [anyf(3, 4), pos(3, 4)]),
  "broadcast": (lambda x, y: x * y + x, [anyf(3, 4), anyf(1, 4)]),
  "scalar": (lambda x: x * 3 - 0.5, [anyf(5)]),
  "neg": (lambda x: -x, [anyf(5)]),
  "reciprocal": (lambda x: x.reciprocal(), [pos(5)]),
  "sqrt": (lambda x: x.sqrt(), [pos(5)]),
  "rsqrt": (lambda x: x.rsqrt(), [pos(5)]),
  "exp": (lambda x: x.exp(), [anyf(5)]),
  "exp2": (lambda x: x.exp2(), [anyf(5)]),
  "log": (lambda x: x.log(), [pos(5)]),
  "log2": (lambda x: x.log2(), [pos(5)]),
  "sin": (lambda x: x.sin(), [anyf(5)]),
  "cos": (lambda x: x.cos(), [anyf(5)]),
  "tanh": (lambda x: x.tanh(), [anyf(5)]),
  "sigmoid": (lambda x: x.sigmoid(), [anyf(5)]),
  "relu": (lambda x: x.relu(), [anyf(8)]),
  "silu": (lambda x: x.silu(), [anyf(8)]),
  "abs": (lambda x: x.abs(), [anyf(8)]),
  "square": (lambda x: x.square(), [anyf(8)]),
  "pow": (lambda x, y: x ** y, [pos(6), anyf(6)]),
  "pow_scalar": (lambda x: x ** 3, [anyf(6)]),
  "maximum": (lambda x, y: x.maximum(y), [anyf(6), anyf(6)]),
  "minimum": (lambda x, y: x.minimum(y), [anyf(6), anyf(6)]),
  "where": (lambda x, y: (x > 0).where(x, y), [anyf(6), anyf(6)]),
  "sum": (lambda x: x.sum(1), [anyf(3, 5)]),
  "sum_keepdim": (lambda x: x.sum(0, keepdim=True) * x, [anyf(3, 5)]),
  "max": (lambda x: x.max(1), [anyf(3, 5)]),
  "min": (lambda x: x.min(0), [anyf(3, 5)]),
  "prod": (lambda x: x.prod(1), [anyf(3, 4)]),
  "mean": (lambda x: x.mean(), [anyf(3, 4)]),
  "matmul": (lambda x, w: x @ w, [anyf(4, 6), anyf(6, 3)]),
  "mlp": (lambda x, w1, w2: ((x @ w1).relu() @ w2).sigmoid(), [anyf(4, 6), anyf(6, 5), anyf(5, 2)]),
  "softmax_like": (lambda x: (x - x.max(1, keepdim=True)).exp() / (x - x.max(1, keepdim=True)).exp().sum(1, keepdim=True), [anyf(3, 5)]),
  "reshape": (lambda x: x.reshape(6, 2) * 2, [anyf(3, 4)]),
  "permute": (lambda x: x.permute(1, 0) * anyf_fixed, [anyf(3, 4)]),
  "expand": (lambda x: x.reshape(3, 1).expand(3, 4) * 2, [anyf(3)]),
  "pad": (lambda x: x.pad(((1, 2), (0, 1))) * 2, [anyf(3, 3)]),
  "shrink": (lambda x: x.shrink(((1, 3), (0, 2))) * 3, [anyf(4, 4)]),
  "flip": (lambda x: x.flip(0) * anyf_fixed, [anyf(4, 3)]),
  "cast_half": (lambda x: (x.cast("float16") * 2).cast("float32"), [anyf(5)]),
  "contiguous": (lambda x: (x * 2).contiguous() * x, [anyf(5)]),
}
anyf_fixed = None  # set per library in _grads (a constant tensor of the right shape)

def _grads(lib, name):
  global anyf_fixed
  fn, inputs = CASES[name]
  ts = [lib.Tensor(x).realize() for x in inputs]
  anyf_fixed = lib.Tensor(np.arange(12, dtype=np.float32).reshape(4, 3) / 7).realize()
  out = fn(*ts)
  loss = (out * lib.Tensor(np.linspace(-1, 1, int(np.prod(out.shape)), dtype=np.float32).reshape(out.shape))).sum()
  gs = loss.gradient(*ts)
  lib.GlobalCounters.reset()
  lib.Tensor.realize(*gs)
  k = lib.GlobalCounters.kernel_count
  return out.numpy(), [g.numpy() for g in gs], k

@pytest.mark.parametrize("name", list(CASES))
def test_gradient_values_and_kernels_match_tinygrad(name):
  want_out, want, want_k = _grads(tg, name)
  got_out, got, got_k = _grads(tgc, name)
  tol = dict(rtol=2e-3, atol=2e-3) if name == "cast_half" else dict(rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(got_out, want_out, **tol)
  for g, w in zip(got, want):
    assert g.shape == w.shape and g.dtype == w.dtype
    np.testing.assert_allclose(g, w, **tol)
  assert got_k == want_k, f"{name}: tgc ran {got_k} kernels for the gradients, tinygrad {want_k}"

GRAPHS = {
  "mul_add": lambda T, d: (lambda x: (x * x + x).sum().gradient(x)[0])(T.empty(2, 3)),
  "matmul": lambda T, d: (lambda x, w: (x @ w).relu().sum().gradient(w)[0])(T.empty(4, 5), T.empty(5, 3)),
  "reduce_max": lambda T, d: (lambda x: x.max(1).sum().gradient(x)[0])(T.empty(3, 4)),
  "reduce_prod": lambda T, d: (lambda x: x.prod(0).sum().gradient(x)[0])(T.empty(3, 4)),
  "exp_log_sqrt": lambda T, d: (lambda x: (x.exp() + x.log() + x.sqrt()).sum().gradient(x)[0])(T.empty(6)),
  "sin_pow": lambda T, d: (lambda x, y: (x.sin() * x.pow(y)).sum().gradient(x, y)[1])(T.empty(6), T.empty(6)),
  "movement": lambda T, d: (lambda x: x.permute(1, 0).pad(((1, 1), (0, 2))).shrink(((0, 3), (1, 4))).flip(1).sum().gradient(x)[0])(T.empty(3, 4)),
  "broadcast": lambda T, d: (lambda x, b: (x + b).square().mean().gradient(b)[0])(T.empty(4, 3), T.empty(3)),
  "maximum_where": lambda T, d: (lambda x, y: ((x > y).where(x, y) + x.maximum(y)).sum().gradient(x)[0])(T.empty(5), T.empty(5)),
  "given_gradient": lambda T, d: (lambda x: (x * 2).gradient(x, gradient=T.empty(3, 3))[0])(T.empty(3, 3)),
}

@pytest.mark.parametrize("name", list(GRAPHS))
def test_backward_graph_equals_tinygrads(name): helper_graph(GRAPHS[name])

@requires_dtypes("float64")  # central differences need double precision
def test_gradient_against_finite_differences():
  x0, w0 = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))
  def f(x, w): return np.sum(np.tanh(x @ w) ** 2) + np.sum(np.exp(x) * 0.1)
  x, w = tgc.Tensor(x0, dtype="float64").realize(), tgc.Tensor(w0, dtype="float64").realize()
  gx, gw = ((x @ w).tanh().square().sum() + (x.exp() * 0.1).sum()).gradient(x, w)
  for g, a, which in ((gx.numpy(), x0, 0), (gw.numpy(), w0, 1)):
    num = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
      e = np.zeros_like(a); e[idx] = 1e-6
      args_p, args_m = [x0, w0], [x0, w0]
      args_p[which], args_m[which] = a + e, a - e
      num[idx] = (f(*args_p) - f(*args_m)) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)

def test_backward_fills_and_accumulates_grad_like_tinygrad():
  res = {}
  for lib in (tg, tgc):
    x, w = lib.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).realize(), lib.Tensor([[1.0, -1.0], [2.0, 0.0], [0.5, 3.0]]).realize()
    i = lib.Tensor([1, 2, 3])  # an int tensor gets no grad
    (x @ w).relu().sum().backward()
    (x * i.reshape(1, 3)).sum().backward()  # accumulates into x.grad
    res[lib.__name__] = (x.grad.numpy(), w.grad.numpy(), i.grad)
  for a, b in zip(res["tgc"], res["tinygrad"]):
    if b is None: assert a is None
    else: np.testing.assert_allclose(a, b)

def test_gradient_errors_match_tinygrad():
  for lib in (tg, tgc):
    x = lib.Tensor([1.0, 2.0]).realize()
    with pytest.raises(AssertionError, match="backward must be called on a scalar tensor"): (x * 2).backward()
    with pytest.raises(RuntimeError, match="only float Tensors have gradient"): (lib.Tensor([1, 2]) * 2).sum().gradient(lib.Tensor([1, 2]))
    z = (x * 0).sum().gradient(lib.Tensor([3.0, 4.0]).realize())[0]  # not in the graph: zeros
    np.testing.assert_array_equal(z.numpy(), [0.0, 0.0])
