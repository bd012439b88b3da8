"""The Tensor API against PyTorch (CPU), forward and backward, one line per case, in the style of tinygrad's
helper_test_op: the same random inputs go to torch and to tgc; outputs (values, shapes) and the gradients of
sum(out * w) with respect to every float input are compared. torch==2.13.0 (CPU) is in the test extra."""
import math
import numpy as np
import pytest
torch = pytest.importorskip("torch", reason="torch==2.13.0 (CPU) is in the test extra")
import tgc
from tgc import Tensor

def _np_inputs(shapes, low, high, dtype, seed):
  rng = np.random.default_rng(seed)
  out = []
  for s in shapes:
    if dtype == np.float32: out.append(np.asarray(rng.random(s) * (high - low) + low, dtype=np.float32))
    else: out.append(np.asarray(rng.integers(low, high, s), dtype=dtype))
  return out

def helper_test_op(shapes, torch_fxn, tgc_fxn=None, atol=1e-6, rtol=1e-3, grad_atol=1e-4, grad_rtol=1e-3, low=-2.0, high=2.0,
                   forward_only=False, dtype=np.float32, seed=0):
  tgc_fxn = tgc_fxn or torch_fxn
  xs = _np_inputs(shapes, low, high, dtype, seed)
  ts = [torch.tensor(x, requires_grad=(dtype == np.float32 and not forward_only)) for x in xs]
  cs = [Tensor(x).realize() for x in xs]
  want = torch_fxn(*ts)
  got = tgc_fxn(*cs)
  assert tuple(got.shape) == tuple(want.shape), f"shape {got.shape} != torch {tuple(want.shape)}"
  np.testing.assert_allclose(got.numpy(), want.detach().numpy(), atol=atol, rtol=rtol, equal_nan=True)
  if forward_only or dtype != np.float32 or not want.dtype.is_floating_point: return
  w = np.asarray(np.random.default_rng(seed + 1).random(tuple(want.shape)) + 0.5, dtype=np.float32)
  (want * torch.tensor(w)).sum().backward()
  grads = (got * Tensor(w)).sum().gradient(*cs)
  for t, g in zip(ts, grads):
    if t.grad is None: continue
    np.testing.assert_allclose(g.numpy(), t.grad.numpy(), atol=grad_atol, rtol=grad_rtol)

S = [(45, 65)]
UNARY = {
  "neg": (lambda x: -x, {}), "relu": (lambda x: x.relu(), {}), "abs": (lambda x: x.abs(), {}), "exp": (lambda x: x.exp(), {}),
  "log": (lambda x: x.log(), {"low": 0.1, "high": 3}), "log2": (lambda x: x.log2(), {"low": 0.1, "high": 3}),
  "sqrt": (lambda x: x.sqrt(), {"low": 0.1, "high": 3}), "rsqrt": (lambda x: x.rsqrt(), {"low": 0.2, "high": 3}),
  "reciprocal": (lambda x: x.reciprocal(), {"low": 0.5, "high": 3}), "sin": (lambda x: x.sin(), {}), "cos": (lambda x: x.cos(), {}),
  "tan": (lambda x: x.tan(), {"low": -1.2, "high": 1.2}), "sigmoid": (lambda x: x.sigmoid(), {}), "tanh": (lambda x: x.tanh(), {}),
  "square": (lambda x: x.square(), {}), "exp2": (lambda x: x.exp2(), {}), "trunc": (lambda x: x.trunc(), {"forward_only": True}),
  "floor": (lambda x: x.floor(), {"forward_only": True}), "ceil": (lambda x: x.ceil(), {"forward_only": True}),
  "sign": (lambda x: x.sign(), {"forward_only": True}), "silu": ((lambda x: torch.nn.functional.silu(x)), {"tgc": lambda x: x.silu()}),
  "gelu": ((lambda x: torch.nn.functional.gelu(x, approximate="tanh")), {"tgc": lambda x: x.gelu()}),
  "leaky_relu": ((lambda x: torch.nn.functional.leaky_relu(x, 0.1)), {"tgc": lambda x: x.leaky_relu(0.1)}),
  "softmax": ((lambda x: x.softmax(-1)), {"tgc": lambda x: x.softmax()}), "log_softmax": ((lambda x: x.log_softmax(1)), {"tgc": lambda x: x.log_softmax(1)}),
  "softmax0": ((lambda x: x.softmax(0)), {"tgc": lambda x: x.softmax(0)}), "logsumexp": ((lambda x: x.logsumexp(1)), {"tgc": lambda x: x.logsumexp(1)}),
  "isnan": ((lambda x: x.isnan()), {"tgc": lambda x: x.isnan(), "forward_only": True}),
  "isfinite": ((lambda x: x.isfinite()), {"tgc": lambda x: x.isfinite(), "forward_only": True}),
  "logical_not": ((lambda x: (x > 0).logical_not()), {"tgc": lambda x: (x > 0).logical_not(), "forward_only": True}),
  "clamp": ((lambda x: x.clamp(-0.5, 0.7)), {"tgc": lambda x: x.clamp(-0.5, 0.7)}),
  "contiguous": (lambda x: x.contiguous(), {}), "cast_half": ((lambda x: x.half().float()), {"tgc": lambda x: x.half().float(), "atol": 2e-3}),
}
UNARY_SHAPES = [(45, 65), (3, 1, 7), (0, 4), ()]

_AXIS1 = ("softmax0", "log_softmax", "logsumexp")  # these reduce axis 1 (or 0 of a 2-d input): not for 0-d/1-d shapes
@pytest.mark.parametrize("name,shape", [(n, s) for n in UNARY for s in UNARY_SHAPES if not (n in _AXIS1 and len(s) < 2)], ids=str)
def test_unary(name, shape):
  f, kw = UNARY[name]
  kw = dict(kw)
  t = kw.pop("tgc", None)
  helper_test_op([shape], f, t, **kw)

BINARY = {
  "add": (lambda x, y: x + y, {}), "sub": (lambda x, y: x - y, {}), "mul": (lambda x, y: x * y, {}),
  "div": (lambda x, y: x / y, {"low": 0.5, "high": 3}), "pow": (lambda x, y: x ** y, {"low": 0.5, "high": 2}),
  "maximum": (lambda x, y: torch.maximum(x, y), {"tgc": lambda x, y: x.maximum(y)}),
  "minimum": (lambda x, y: torch.minimum(x, y), {"tgc": lambda x, y: x.minimum(y)}),
  "lt": (lambda x, y: x < y, {"forward_only": True}), "ge": (lambda x, y: x >= y, {"forward_only": True}),
  "eq": (lambda x, y: x == y, {"forward_only": True, "tgc": lambda x, y: x.eq(y)}),
  "where": (lambda x, y: torch.where(x > y, x, y), {"tgc": lambda x, y: (x > y).where(x, y)}),
  "where_scalar": (lambda x, y: torch.where(x > 0, x, 2.0), {"tgc": lambda x, y: (x > 0).where(x, 2.0)}),
  "mul_scalar": (lambda x, y: x * 3.5 + y * -2, {}), "rsub_scalar": (lambda x, y: 2 - x + 1 / y, {"low": 0.5, "high": 2}),
  "lerp_like": (lambda x, y: x + (y - x) * 0.3, {}),
}
BINARY_SHAPES = [((45, 65), (45, 65)), ((45, 1), (1, 65)), ((3, 4, 5), (5,)), ((1,), (7, 1)), ((0, 3), (1, 3)), ((), (4,))]

@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary(name, shapes):
  f, kw = BINARY[name]
  kw = dict(kw)
  t = kw.pop("tgc", None)
  helper_test_op(list(shapes), f, t, **kw)

REDUCE = {
  "sum": (lambda x, a, k: x.sum(a, keepdim=k), None), "mean": (lambda x, a, k: x.mean(a, keepdim=k), None),
  "max": (lambda x, a, k: x.amax(a, keepdim=k), lambda x, a, k: x.max(a, keepdim=k)),
  "min": (lambda x, a, k: x.amin(a, keepdim=k), lambda x, a, k: x.min(a, keepdim=k)),
  "prod": (lambda x, a, k: x.prod(a, keepdim=k), None), "var": (lambda x, a, k: x.var(a, keepdim=k), None),
  "std": (lambda x, a, k: x.std(a, keepdim=k), None),
  "argmax": (lambda x, a, k: x.argmax(a, keepdim=k).int(), lambda x, a, k: x.argmax(a, keepdim=k)),
}

@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce(name, axis, keepdim):
  tf, cf = REDUCE[name]
  cf = cf or tf
  kw = {"low": 0.5, "high": 1.5} if name == "prod" else {}
  helper_test_op([(4, 7, 5)], lambda x: tf(x, axis, keepdim), lambda x: cf(x, axis, keepdim), forward_only=(name == "argmax"), **kw)

def test_reduce_all_axes():
  for name in ("sum", "mean", "max"):
    tf = {"sum": lambda x: x.sum(), "mean": lambda x: x.mean(), "max": lambda x: x.max()}[name]
    helper_test_op([(6, 9)], tf)

MOVE = {
  "reshape": (lambda x: x.reshape(6, 20), None), "reshape_infer": (lambda x: x.reshape(-1, 4), None),
  "permute": (lambda x: x.permute(2, 0, 1), None), "transpose": (lambda x: x.transpose(0, 2), None),
  "expand": (lambda x: x[:, :1].expand(3, 5, 8), None), "flip": (lambda x: x.flip(1), lambda x: x.flip(1)),
  "flip_all": (lambda x: x.flip((0, 1, 2)), lambda x: x.flip(0, 1, 2)),
  "pad": (lambda x: torch.nn.functional.pad(x, (1, 2, 0, 3)), lambda x: x.pad(((0, 0), (0, 3), (1, 2)))),
  "shrink": (lambda x: x[1:3, 2:5, :], lambda x: x.shrink(((1, 3), (2, 5), None))),
  "getitem_int": (lambda x: x[1], None), "getitem_slice_step": (lambda x: x[::2, 1::3, -1], None),
  "getitem_neg_step": (lambda x: x.flip(1)[:, ::2], lambda x: x[:, ::-2]),  # torch has no negative steps "getitem_none": (lambda x: x[None, :, 2, None], None),
  "getitem_ellipsis": (lambda x: x[..., 1:3], None), "squeeze_unsqueeze": (lambda x: x[:1].squeeze(0).unsqueeze(-1), None),
  "flatten": (lambda x: x.flatten(1), None), "repeat": (lambda x: x.repeat(2, 1, 3), None),
  "cat": (lambda x: torch.cat([x, x * 2], 1), lambda x: x.cat(x * 2, dim=1)),
  "cat_unequal": (lambda x: torch.cat([x, x[:, :2]], 1), lambda x: x.cat(x[:, :2], dim=1)),
  "stack": (lambda x: torch.stack([x, -x], 2), lambda x: x.stack(-x, dim=2)),
  "split": (lambda x: x.split(2, 1)[1] * 3, lambda x: x.split(2, 1)[1] * 3),
  "chunk": (lambda x: x.chunk(3, 2)[2], lambda x: x.chunk(3, 2)[2]),
}

@pytest.mark.parametrize("name", list(MOVE))
def test_movement(name):
  tf, cf = MOVE[name]
  helper_test_op([(3, 5, 8)], tf, cf)

MATMUL_SHAPES = [((4, 6), (6, 5)), ((6,), (6, 3)), ((4, 6), (6,)), ((2, 3, 4, 6), (6, 2)), ((3, 4, 6), (3, 6, 5)), ((1, 6), (6, 1)),
                 ((65, 45), (45, 33))]

@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes): helper_test_op(list(shapes), lambda x, y: x @ y, atol=1e-4)

def test_linear_and_layernorm():
  helper_test_op([(4, 6), (5, 6), (5,)], lambda x, w, b: torch.nn.functional.linear(x, w, b), lambda x, w, b: x.linear(w.T, b), atol=1e-5)
  helper_test_op([(4, 6)], lambda x: torch.nn.functional.layer_norm(x, (6,)), lambda x: x.layernorm(), atol=1e-5)

LOSSES = {
  "sparse_ce": (lambda x, y: torch.nn.functional.cross_entropy(x, y), lambda x, y: x.sparse_categorical_crossentropy(y)),
  "sparse_ce_smooth": (lambda x, y: torch.nn.functional.cross_entropy(x, y, label_smoothing=0.2),
                       lambda x, y: x.sparse_categorical_crossentropy(y, label_smoothing=0.2)),
  "cross_entropy_sum": (lambda x, y: torch.nn.functional.cross_entropy(x, y, reduction="sum"), lambda x, y: x.cross_entropy(y, reduction="sum")),
}

@pytest.mark.parametrize("name", list(LOSSES))
def test_losses(name):
  tf, cf = LOSSES[name]
  x0 = np.random.default_rng(4).standard_normal((8, 5)).astype(np.float32)
  y0 = np.random.default_rng(5).integers(0, 5, 8)
  xt = torch.tensor(x0, requires_grad=True)
  want = tf(xt, torch.tensor(y0))
  want.backward()
  xc = Tensor(x0).realize()
  got = cf(xc, Tensor(y0.astype(np.int32)))
  np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(got.gradient(xc)[0].numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)

INT_OPS = {
  "add": lambda x, y: x + y, "mul": lambda x, y: x * y, "floordiv": lambda x, y: x // y, "mod": lambda x, y: x % y,
  "and": lambda x, y: x & y, "or": lambda x, y: x | y, "xor": lambda x, y: x ^ y, "lshift": lambda x, y: x << (y % 4),
  "max": lambda x, y: torch.maximum(x, y),
}

@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int16, np.uint8])
@pytest.mark.parametrize("name", list(INT_OPS))
def test_int_ops_forward(name, dtype):
  f = INT_OPS[name]
  c = {"max": lambda x, y: x.maximum(y)}.get(name, f)
  low, high = (1, 50) if name in ("floordiv", "mod") or dtype == np.uint8 else (-50, 50)
  helper_test_op([(9, 7), (9, 7)], f, c, dtype=dtype, low=low, high=high, forward_only=True)
