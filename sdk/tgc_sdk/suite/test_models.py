"""Tier "models": small graphs end to end through tgc (Tensor, autograd, nn, optim), run on the backend's device and on
the built-in CPU device from the same weights, compared by values under the tolerance table's model entries.

The weights are made once per run on CPU after Tensor.manual_seed (nn.Linear / nn.Conv2d initialize them with the
seeded generator) and copied to each device, so both devices start from identical parameters; the inputs are fixed
too. Cases:

  mlp_training_step   nn.Linear 12-32-3 with relu, sparse categorical cross-entropy, 5 steps of nn.optim.Adam:
                      the loss after every step and every final parameter
  convnet_forward     nn.Conv2d 1->4 (3x3), relu, max_pool2d, nn.Conv2d 4->8 (3x3), relu, max_pool2d, nn.Linear 32->10 on
                      a batch of 3 14x14 images: the logits
  convnet_backward    the same net's cross-entropy loss, backward: the loss, the gradient of every parameter and of the input"""
from __future__ import annotations
import math, random
import pytest
from tgc_sdk.suite import engine as E
from tgc_sdk.suite.plugin import not_supported, not_run

MODELS = ["mlp_training_step", "convnet_forward", "convnet_backward"]

@pytest.fixture(scope="module")
def sut(target):
  if not target.library: pytest.fail("no backend library given (--tgc-library)")
  try: return E.open_sut(target.library)
  except Exception as e: return f"{type(e).__name__}: {e}"

@pytest.fixture
def dev(sut, detail) -> E.SUT:
  if isinstance(sut, str): pytest.fail(f"libtgc cannot run the backend's device: {sut}")
  for k, v in sut.detail().items(): detail(k, v)
  if sut.no_device: not_run(sut.no_device)
  if sut.no_renderer: not_run(sut.no_renderer)
  for dt in ("float32", "int32"):
    if dt not in sut.caps["dtypes"]: not_supported(f"the models run in float32 with int32 labels; the caps do not declare {dt}")
  return sut

def _flat(x) -> list[float]: return [v for r in x for v in _flat(r)] if isinstance(x, list) else [x]
def values(t) -> list[float]: return _flat(t.data().tolist())

def _on(layers: list, device: str) -> None:
  """Every weight and bias of the layers copied to device (realized there)."""
  for layer in layers:
    for k in ("weight", "bias"):
      if (p := getattr(layer, k, None)) is not None: setattr(layer, k, p.to(device).realize())

def _seeded(make):
  """make() under Tensor.manual_seed(0) with CPU as the default device: the same weights every call."""
  from tgc import Tensor
  from tgc.device import Device
  prev = Device.__dict__.get("DEFAULT")
  Device.DEFAULT = E.REFERENCE
  try:
    Tensor.manual_seed(0)
    return make()
  finally:
    if prev is None: del Device.DEFAULT
    else: Device.DEFAULT = prev

def _data(seed: str, shape: tuple, classes: int):
  rng = random.Random(seed)
  return [rng.uniform(-1.0, 1.0) for _ in range(math.prod(shape))], [rng.randrange(classes) for _ in range(shape[0])]

# ---------------- the models ----------------

def mlp_training_step(device: str) -> dict[str, list[float]]:
  from tgc import Tensor, nn
  l1, l2 = _seeded(lambda: (nn.Linear(12, 32), nn.Linear(32, 3)))
  _on([l1, l2], device)
  xs, ys = _data("mlp", (16, 12), 3)
  x, y = Tensor(xs, device=device).reshape(16, 12), Tensor(ys, device=device, dtype="int32")
  opt = nn.optim.Adam([l1.weight, l1.bias, l2.weight, l2.bias], lr=0.01)
  losses = []
  with Tensor.train():
    for _ in range(5):
      opt.zero_grad()
      loss = l2(l1(x).relu()).sparse_categorical_crossentropy(y)
      loss.backward()
      opt.step()
      losses.append(values(loss)[0])
  return {"loss": losses, "l1.weight": values(l1.weight), "l1.bias": values(l1.bias), "l2.weight": values(l2.weight), "l2.bias": values(l2.bias)}

def _convnet():
  from tgc import nn
  return _seeded(lambda: (nn.Conv2d(1, 4, 3), nn.Conv2d(4, 8, 3), nn.Linear(32, 10)))

def _convnet_forward(layers, x):
  c1, c2, fc = layers
  h = c1(x).relu().max_pool2d((2, 2))
  h = c2(h).relu().max_pool2d((2, 2))
  return fc(h.reshape(h.shape[0], -1))

def convnet_forward(device: str) -> dict[str, list[float]]:
  from tgc import Tensor
  layers = _convnet()
  _on(layers, device)
  xs, _ = _data("convnet", (3, 1, 14, 14), 10)
  return {"logits": values(_convnet_forward(layers, Tensor(xs, device=device).reshape(3, 1, 14, 14)))}

def convnet_backward(device: str) -> dict[str, list[float]]:
  from tgc import Tensor
  layers = _convnet()
  _on(layers, device)
  xs, ys = _data("convnet", (3, 1, 14, 14), 10)
  x = Tensor(xs, device=device).reshape(3, 1, 14, 14)
  params = [(f"{n}.{k}", getattr(l, k)) for n, l in zip(("conv1", "conv2", "fc"), layers) for k in ("weight", "bias")]
  loss = _convnet_forward(layers, x).sparse_categorical_crossentropy(Tensor(ys, device=device, dtype="int32"))
  grads = loss.gradient(*(p for _, p in params), x)
  out = {"loss": values(loss)}
  for (name, _), g in zip(params, grads[:-1]): out[f"grad {name}"] = values(g)
  out["grad input"] = values(grads[-1])
  return out

RUN = {"mlp_training_step": mlp_training_step, "convnet_forward": convnet_forward, "convnet_backward": convnet_backward}

def close(got: float, want: float, rtol: float, atol: float) -> bool:
  if math.isnan(got) or math.isnan(want): return math.isnan(got) and math.isnan(want)
  return got == want or abs(got - want) <= atol + rtol * abs(want)

@pytest.mark.parametrize("model", MODELS)
def test_model(model, dev, detail):
  rtol, atol = E.MODEL_TOLERANCE[model]
  detail("tolerance", {"rtol": rtol, "atol": atol, "version": E.TOLERANCE_VERSION})
  got, want = RUN[model](dev.device), RUN[model](E.REFERENCE)
  errs, worst = [], 0.0
  for k, w in want.items():
    g = got.get(k, [])
    if len(g) != len(w): errs.append(f"{k}: {len(g)} values, CPU has {len(w)}")
    for i, (a, b) in enumerate(zip(g, w)):
      if not math.isnan(a) and not math.isnan(b): worst = max(worst, abs(a - b) / (atol + rtol * abs(b)))
      if not close(a, b, rtol, atol): errs.append(f"{k}[{i}]: {a!r} != {b!r} (CPU)")
  detail("values", sum(len(v) for v in want.values()))
  detail("worst_error_over_tolerance", round(worst, 6))
  if "loss" in want: detail("loss_cpu", want["loss"])
  if errs: pytest.fail(f"{len(errs)} value(s) differ from the CPU device beyond rtol {rtol:g}, atol {atol:g}:\n" + "\n".join(errs[:12]))
