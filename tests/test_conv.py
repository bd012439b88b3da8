"""Convolutions and pools (issue 4): Tensor.conv2d, conv_transpose2d, avg_pool2d, max_pool2d and nn.Conv1d/Conv2d/
ConvTranspose1d/ConvTranspose2d against tinygrad 0.14.0 (DEV=CPU) in the same run: the UOp graph (helper_graph), values,
output dtype and kernel count after realize, gradients, layers with equal seeds, a small CNN trained a few steps, and the
errors tinygrad raises for bad input (type and message)."""
import os, zlib
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
from conftest import requires_dtypes
tinygrad = pytest.importorskip("tinygrad")
import tinygrad as tg
import tinygrad.nn as tnn
from tinygrad.helpers import Context
import tgc
import tgc.nn as cnn
from test_tensor_graph import helper_graph

RNG = np.random.default_rng(11)

# name -> (x shape, weight shape or None, bias shape or None, fn(x, w, b)); x's dtype int32 where the name ends in _int
CASES = {
  "conv2d": ((2, 3, 7, 7), (4, 3, 3, 3), (4,), lambda x, w, b: x.conv2d(w, b)),
  "conv2d_nobias_pad": ((1, 2, 6, 5), (3, 2, 3, 3), None, lambda x, w, b: x.conv2d(w, padding=1)),
  "conv2d_stride_dil": ((2, 2, 9, 8), (4, 2, 3, 2), (4,), lambda x, w, b: x.conv2d(w, b, stride=2, dilation=(2, 1), padding=(1, 2))),
  "conv2d_groups": ((2, 4, 6, 6), (6, 2, 3, 3), (6,), lambda x, w, b: x.conv2d(w, b, groups=2, stride=(1, 2))),
  "conv2d_depthwise": ((1, 3, 5, 5), (3, 1, 3, 3), None, lambda x, w, b: x.conv2d(w, groups=3, padding=1)),
  "conv2d_flat_pad": ((1, 1, 5, 6), (2, 1, 2, 3), None, lambda x, w, b: x.conv2d(w, padding=(1, 0, 2, 1))),
  "conv2d_neg_pad": ((1, 1, 7, 7), (1, 1, 3, 3), None, lambda x, w, b: x.conv2d(w, padding=(-1, 1, 0, -2))),
  "conv2d_1x1": ((2, 4, 3, 3), (5, 4, 1, 1), (5,), lambda x, w, b: x.conv2d(w, b)),
  "conv2d_acc_dtype": ((1, 2, 4, 4), (2, 2, 2, 2), None, lambda x, w, b: x.conv2d(w, dtype="float64")),
  "conv2d_int": ((1, 2, 5, 5), (3, 2, 3, 3), None, lambda x, w, b: x.conv2d(w)),
  "conv1d": ((2, 3, 10), (4, 3, 3), (4,), lambda x, w, b: x.conv2d(w, b, stride=2, padding=1)),
  "conv3d": ((1, 2, 4, 5, 6), (3, 2, 2, 3, 2), (3,), lambda x, w, b: x.conv2d(w, b, stride=(1, 2, 2), padding=1)),
  "conv_transpose2d": ((2, 4, 4, 4), (4, 3, 3, 3), (3,), lambda x, w, b: x.conv_transpose2d(w, b)),
  "conv_transpose2d_stride": ((1, 2, 3, 4), (2, 3, 3, 2), None, lambda x, w, b: x.conv_transpose2d(w, stride=2, padding=1, output_padding=1)),
  "conv_transpose2d_groups": ((1, 4, 3, 3), (4, 2, 3, 3), (4,), lambda x, w, b: x.conv_transpose2d(w, b, groups=2, stride=(2, 1), dilation=2)),
  "conv_transpose1d": ((2, 3, 5), (3, 2, 4), (2,), lambda x, w, b: x.conv_transpose2d(w, b, stride=3, padding=2)),
  "avg_pool2d": ((2, 3, 6, 6), None, None, lambda x, w, b: x.avg_pool2d()),
  "avg_pool2d_stride_pad": ((1, 2, 7, 7), None, None, lambda x, w, b: x.avg_pool2d((3, 3), stride=2, padding=1)),
  "avg_pool2d_no_count_pad": ((1, 2, 7, 7), None, None, lambda x, w, b: x.avg_pool2d(3, stride=2, padding=1, count_include_pad=False)),
  "avg_pool2d_ceil": ((1, 2, 7, 7), None, None, lambda x, w, b: x.avg_pool2d(3, stride=2, ceil_mode=True)),
  "avg_pool2d_ceil_pad": ((1, 1, 6, 7), None, None, lambda x, w, b: x.avg_pool2d((2, 3), stride=2, padding=(1, 1), ceil_mode=True)),
  "avg_pool2d_ceil_nocount": ((1, 1, 5, 5), None, None, lambda x, w, b: x.avg_pool2d(2, ceil_mode=True, count_include_pad=False)),
  "avg_pool1d": ((2, 3, 9), None, None, lambda x, w, b: x.avg_pool2d((3,), stride=2)),
  "max_pool2d": ((2, 3, 6, 6), None, None, lambda x, w, b: x.max_pool2d()),
  "max_pool2d_stride_pad_dil": ((1, 2, 8, 8), None, None, lambda x, w, b: x.max_pool2d(3, stride=2, padding=1, dilation=2)),
  "max_pool2d_ceil": ((1, 2, 7, 7), None, None, lambda x, w, b: x.max_pool2d(3, stride=2, ceil_mode=True)),
  "max_pool2d_int": ((1, 2, 5, 5), None, None, lambda x, w, b: x.max_pool2d(2, padding=1)),
  "max_pool3d": ((1, 1, 4, 4, 4), None, None, lambda x, w, b: x.max_pool2d((2, 2, 2))),
  "max_pool2d_indices": ((2, 2, 6, 6), None, None, lambda x, w, b: x.max_pool2d(return_indices=True)[1]),
  "max_pool2d_indices_ceil": ((1, 2, 5, 5), None, None, lambda x, w, b: x.max_pool2d(3, stride=2, padding=1, ceil_mode=True, return_indices=True)[1]),
}
# every case's graph is compared (cheap); values and gradients on a representative subset (each compiles kernels twice)
VALUE_CASES = ["conv2d", "conv2d_stride_dil", "conv2d_groups", "conv2d_neg_pad", "conv2d_acc_dtype", "conv2d_int", "conv1d", "conv3d",
               "conv_transpose2d_stride", "conv_transpose2d_groups", "avg_pool2d_no_count_pad", "avg_pool2d_ceil_pad", "max_pool2d_stride_pad_dil",
               "max_pool2d_int", "max_pool2d_indices_ceil"]
GRAD_CASES = ["conv2d", "conv2d_stride_dil", "conv2d_groups", "conv1d", "conv_transpose2d_stride", "avg_pool2d_ceil_pad",
              "avg_pool2d_no_count_pad", "max_pool2d_stride_pad_dil"]

def _empty(T, d, shape, name): return T.empty(*shape, dtype=d.int32 if name.endswith("_int") else d.float32) if shape else None

@pytest.mark.parametrize("name", list(CASES))
def test_graph_equals_tinygrad(name):
  xs, ws, bs, fn = CASES[name]
  helper_graph(lambda T, d: fn(_empty(T, d, xs, name), _empty(T, d, ws, name), _empty(T, d, bs, name)))

def _data(name):
  xs, ws, bs, _ = CASES[name]
  rng = np.random.default_rng(zlib.crc32(name.encode()))
  if name.endswith("_int"): return [rng.integers(-5, 6, s).astype(np.int32) if s else None for s in (xs, ws, bs)]
  return [rng.standard_normal(s).astype(np.float32) if s else None for s in (xs, ws, bs)]

def _tensors(lib, arrays): return [lib.Tensor(a).realize() if a is not None else None for a in arrays]

@pytest.mark.parametrize("name", [pytest.param(n, marks=requires_dtypes("float64")) if n == "conv2d_acc_dtype" else n for n in VALUE_CASES])
def test_values_dtype_and_kernels(name):
  arrays, res = _data(name), []
  for lib in (tg, tgc):
    out = CASES[name][3](*_tensors(lib, arrays))
    lib.GlobalCounters.reset()
    out.realize()
    res.append((out.numpy(), lib.GlobalCounters.kernel_count, repr(out.dtype)))
  (want, wk, wdt), (got, gk, gdt) = res
  assert gdt == wdt and got.shape == want.shape and got.dtype == want.dtype
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  assert gk == wk, f"{name}: tgc {gk} kernels, tinygrad {wk}"

def _check_gradients(name):
  arrays, res = _data(name), []
  for lib in (tgc, tg):
    ts = _tensors(lib, arrays)
    targets = [t for t in ts if t is not None]
    res.append([g.numpy() for g in CASES[name][3](*ts).square().sum().gradient(*targets)])
  for g, w in zip(*res): np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)

@pytest.mark.parametrize("name", GRAD_CASES)
def test_gradients(name): _check_gradients(name)

# This conv3d backward used to fail in codegen (a STORE GROUP of more than 16 sources overflowed the linearizer).
def test_gradients_conv3d(): _check_gradients("conv3d")

def test_gradient_graph_equals_tinygrad():
  def fn(T, d):
    x, w = T.empty(1, 2, 4, 5, 6), T.empty(3, 2, 2, 3, 2)
    return x.conv2d(w, stride=(1, 2, 2), padding=1).square().sum().gradient(x)[0]
  helper_graph(fn)

LAYERS = {
  "conv2d_args": (lambda nn: nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2), (2, 4, 7, 7)),
  "conv2d_same": (lambda nn: nn.Conv2d(2, 3, 4, padding="same", dilation=2, bias=False), (1, 2, 9, 8)),
  "conv_transpose2d": (lambda nn: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), (1, 4, 3, 3)),
  "conv_transpose1d": (lambda nn: nn.ConvTranspose1d(2, 4, 4, stride=2, groups=2), (2, 2, 5)),
}

@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_match_tinygrad(name):
  make, shape = LAYERS[name]
  x0, res = RNG.standard_normal(shape).astype(np.float32), []
  for lib, nn in ((tg, tnn), (tgc, cnn)):
    lib.Tensor.manual_seed(5)
    layer = make(nn)
    x = lib.Tensor(x0).realize()
    out = layer(x)
    params = nn.state.get_parameters(layer)
    res.append([out.numpy()] + [p.numpy() for p in params] + [g.numpy() for g in out.square().sum().gradient(x, *params)])
  assert len(res[0]) == len(res[1])
  for g, w in zip(res[1], res[0]): np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)

def test_layer_graphs_equal_tinygrad():
  """Conv1d, and padding="same" with an even kernel and dilation (tinygrad pairs dilation with the reversed kernel: kept)."""
  def fn(T, d):
    nn = tnn if T is tg.Tensor else cnn
    T.manual_seed(0)
    y = nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2))(T.empty(1, 2, 7, 6))
    return nn.Conv1d(3, 2, 3, stride=2, padding=1)(y.reshape(1, 3, -1))
  helper_graph(fn)

class _CNN:
  """conv -> relu -> max_pool -> conv -> avg_pool -> linear, as a small image classifier."""
  def __init__(self, nn):
    self.c1, self.c2, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 6, 2, groups=2), nn.Linear(6, 3)
  def __call__(self, x):
    x = self.c1(x).relu().max_pool2d()
    x = self.c2(x).relu().avg_pool2d(kernel_size=(2, 2))
    return self.fc(x.flatten(1))

def test_small_cnn_trains_like_tinygrad():
  """One SGD step through both libraries gives the same loss and parameters; then tgc alone keeps lowering the loss."""
  xb, yb = RNG.standard_normal((4, 1, 6, 6)).astype(np.float32), RNG.integers(0, 3, 4).astype(np.int32)
  res = []
  for lib, nn in ((tg, tnn), (tgc, cnn)):
    lib.Tensor.manual_seed(1)
    model = _CNN(nn)
    opt = nn.optim.SGD(nn.state.get_parameters(model), lr=0.1)
    x, y, losses = lib.Tensor(xb), lib.Tensor(yb), []
    with (Context(TRAINING=1) if lib is tg else tgc.Tensor.train()):
      for _ in range(1 if lib is tg else 4):
        opt.zero_grad()
        loss = model(x).sparse_categorical_crossentropy(y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if len(losses) == 1: params = [p.numpy() for p in nn.state.get_parameters(model)]
    res.append((losses, params))
  np.testing.assert_allclose(res[1][0][0], res[0][0][0], rtol=1e-5)
  for g, w in zip(res[1][1], res[0][1]): np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
  assert res[1][0][-1] < res[1][0][0]

ERRORS = {
  "channels": lambda T: T.empty(1, 3, 5, 5).conv2d(T.empty(4, 2, 3, 3)),
  "rank": lambda T: T.empty(1, 2, 5).conv2d(T.empty(4, 2, 3, 3)),
  "kernel_bigger_than_input": lambda T: T.empty(1, 1, 2, 2).conv2d(T.empty(1, 1, 3, 3)),
  "padding_length": lambda T: T.empty(1, 1, 5, 5).conv2d(T.empty(1, 1, 3, 3), padding=(1, 2, 3)),
  "stride_length": lambda T: T.empty(1, 1, 5, 5).conv2d(T.empty(1, 1, 3, 3), stride=(1,)),
  "groups_not_dividing_cout": lambda T: T.empty(1, 4, 5, 5).conv2d(T.empty(3, 2, 3, 3), groups=2),
  "groups_zero": lambda T: T.empty(1, 4, 5, 5).conv2d(T.empty(3, 2, 3, 3), groups=0),
  "input_1d": lambda T: T.empty(4).conv2d(T.empty(3, 2, 3, 3)),
  "transpose_channels": lambda T: T.empty(1, 3, 5, 5).conv_transpose2d(T.empty(4, 2, 3, 3)),
  "transpose_padding_too_big": lambda T: T.empty(1, 4, 1, 1).conv_transpose2d(T.empty(4, 2, 3, 3), padding=3),
  "max_pool_kernel_bigger": lambda T: T.empty(1, 1, 2, 2).max_pool2d(3),
  "max_pool_too_few_dims": lambda T: T.empty(4).max_pool2d(),
  "avg_pool_padding_length": lambda T: T.empty(1, 1, 4, 4).avg_pool2d(padding=(1, 1, 1)),
  "avg_pool_dilation_length": lambda T: T.empty(1, 1, 4, 4).avg_pool2d(dilation=(1, 2, 3)),
}

@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_tinygrad(name):
  res = []
  for T in (tg.Tensor, tgc.Tensor):
    with pytest.raises(Exception) as e: ERRORS[name](T).shape
    res.append((type(e.value), str(e.value)))
  assert res[1] == res[0]

@pytest.mark.parametrize("kw", [{"padding": "valid"}, {"padding": "same", "stride": 2}])
def test_conv2d_layer_padding_errors(kw):
  res = []
  for nn in (tnn, cnn):
    with pytest.raises(ValueError) as e: nn.Conv2d(1, 1, 3, **kw)
    res.append(str(e.value))
  assert res[1] == res[0]
