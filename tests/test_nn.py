"""nn layers, losses and optimizers (issue 4), against tinygrad 0.14.0 (DEV=CPU) in the same run. tgc's random streams
equal tinygrad's, so the same seed gives both libraries the same initial weights: forward values, gradients and the
parameters after optimizer steps are compared directly. Also: the digits example trains to >= 95% test accuracy."""
import os
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
tinygrad = pytest.importorskip("tinygrad")
import tinygrad as tg
import tinygrad.nn as tnn
import tinygrad.nn.optim as toptim
from tinygrad.helpers import Context
import tgc
import tgc.nn as cnn
import tgc.nn.optim as coptim

RNG = np.random.default_rng(3)
X = RNG.standard_normal((6, 10)).astype(np.float32)
Y = RNG.integers(0, 4, 6).astype(np.int32)

FUNCS = {
  "softmax": lambda x, y: x.softmax(), "log_softmax": lambda x, y: x.log_softmax(0), "logsumexp": lambda x, y: x.logsumexp(1),
  "softmin": lambda x, y: x.softmin(), "argmax": lambda x, y: x.argmax(1), "argmin": lambda x, y: x.argmin(0),
  "argmax_flat": lambda x, y: x.argmax(), "var": lambda x, y: x.var(1), "std": lambda x, y: x.std(0, keepdim=True),
  "layernorm": lambda x, y: x.layernorm(), "one_hot": lambda x, y: y.one_hot(5),
  "sparse_ce": lambda x, y: x[:, :4].sparse_categorical_crossentropy(y),
  "sparse_ce_smooth": lambda x, y: x[:, :4].sparse_categorical_crossentropy(y, label_smoothing=0.1),
  "sparse_ce_ignore": lambda x, y: x[:, :4].sparse_categorical_crossentropy(y, ignore_index=2),
  "cross_entropy": lambda x, y: x[:, :4].cross_entropy(y), "cross_entropy_sum": lambda x, y: x[:, :4].cross_entropy(y, reduction="sum"),
  "leaky_relu": lambda x, y: x.leaky_relu(0.1), "gelu": lambda x, y: x.gelu(), "linear": lambda x, y: x.linear(x.T, x[:, 0]),
}

def _run(lib, name):
  x, y = lib.Tensor(X).realize(), lib.Tensor(Y).realize()
  out = FUNCS[name](x, y)
  lib.GlobalCounters.reset()
  out.realize()
  return out.numpy(), lib.GlobalCounters.kernel_count

@pytest.mark.parametrize("name", list(FUNCS))
def test_functional_values_dtypes_and_kernels(name):
  (want, wk), (got, gk) = _run(tg, name), _run(tgc, name)
  assert got.dtype == want.dtype and got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  assert gk == wk, f"{name}: tgc {gk} kernels, tinygrad {wk}"

@pytest.mark.parametrize("name", ["log_softmax", "logsumexp", "var", "layernorm", "sparse_ce", "cross_entropy", "gelu"])
def test_functional_gradients(name):
  res = []
  for lib in (tg, tgc):
    x, y = lib.Tensor(X).realize(), lib.Tensor(Y).realize()
    res.append(FUNCS[name](x, y).sum().gradient(x)[0].numpy())
  np.testing.assert_allclose(res[1], res[0], rtol=1e-5, atol=1e-6)

LAYERS = {
  "linear": (lambda nn: nn.Linear(10, 7), (4, 10)),
  "linear_nobias": (lambda nn: nn.Linear(10, 3, bias=False), (2, 10)),
  "layernorm": (lambda nn: nn.LayerNorm(10), (3, 10)),
  "groupnorm": (lambda nn: nn.GroupNorm(2, 4), (3, 4, 5)),
  "rmsnorm": (lambda nn: nn.RMSNorm(10), (3, 10)),
  "batchnorm": (lambda nn: nn.BatchNorm(4), (5, 4, 3)),
}

@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("training", [False, True])
def test_layers_match_tinygrad(name, training):
  make, shape = LAYERS[name]
  x0 = RNG.standard_normal(shape).astype(np.float32)
  res = []
  for lib, nn in ((tg, tnn), (tgc, cnn)):
    lib.Tensor.manual_seed(7)
    layer = make(nn)
    x = lib.Tensor(x0).realize()
    with (Context(TRAINING=int(training)) if lib is tg else tgc.Tensor.train(training)):
      out = layer(x)
      grads = out.square().sum().gradient(x, *[p for p in nn.state.get_parameters(layer) if p.is_param])
      res.append([out.numpy()] + [g.numpy() for g in grads] + ([layer.running_mean.numpy(), layer.running_var.numpy()] if name == "batchnorm" else []))
  for g, w in zip(res[1], res[0]): np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)

def test_embedding_values_and_gradient_match_tinygrad():
  res = []
  for lib, nn in ((tg, tnn), (tgc, cnn)):
    lib.Tensor.manual_seed(5)
    emb = nn.Embedding(7, 3)
    idx = lib.Tensor([[1, 2, 6], [0, 0, 3]])
    out = emb(idx)
    res.append((out.numpy(), (out * out).sum().gradient(emb.weight)[0].numpy()))
  for g, w in zip(res[1], res[0]): np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)

OPTIMS = {
  "sgd": lambda o, ps: o.SGD(ps, lr=0.1), "sgd_momentum": lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9),
  "sgd_nesterov_wd": lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
  "adam": lambda o, ps: o.Adam(ps, lr=0.01), "adamw": lambda o, ps: o.AdamW(ps, lr=0.01, weight_decay=0.1),
  "lamb": lambda o, ps: o.LAMB(ps, lr=0.01, weight_decay=0.01),
}

@pytest.mark.parametrize("name", list(OPTIMS))
def test_optimizer_steps_match_tinygrad(name):
  res = []
  for lib, nn, optim in ((tg, tnn, toptim), (tgc, cnn, coptim)):
    lib.Tensor.manual_seed(11)
    l1, l2 = nn.Linear(10, 8), nn.Linear(8, 4)
    opt = OPTIMS[name](optim, nn.state.get_parameters([l1, l2]))
    with (Context(TRAINING=1) if lib is tg else tgc.Tensor.train()):
      for _ in range(3):
        loss = l2(l1(lib.Tensor(X)).relu()).sparse_categorical_crossentropy(lib.Tensor(Y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    res.append([p.numpy() for p in (l1.weight, l1.bias, l2.weight, l2.bias)])
  for g, w in zip(res[1], res[0]): np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)

def test_optimizer_needs_training_and_gradients():
  p = tgc.Tensor([1.0, 2.0]).realize()
  opt = coptim.SGD([p], lr=0.1)
  with tgc.Tensor.train(False), pytest.raises(RuntimeError, match="training"): opt.step()
  with tgc.Tensor.train(), pytest.raises(RuntimeError, match="no gradient"): opt.step()
  with pytest.raises(ValueError): coptim.SGD([p], lr=-1)

def test_train_mlp_example_reaches_95_percent_on_digits():
  pytest.importorskip("sklearn", reason="the digits dataset ships with scikit-learn (in the test extra)")
  import importlib.util, pathlib
  spec = importlib.util.spec_from_file_location("train_mlp", pathlib.Path(__file__).parents[1] / "examples" / "train_mlp.py")
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  assert mod.main(["--epochs", "12"]) >= 0.95
