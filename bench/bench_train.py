"""Model benchmarks (issue 4, item 6), tgc vs tinygrad 0.14.0 (DEV=CPU) vs torch (CPU), same machine, same process:
  train     an MLP 784-512-512-10 with ReLU, sparse cross-entropy and Adam at batch 128, one step = forward + backward +
            optimizer update, realized. tgc and tinygrad each run the step under their TinyJit; torch runs it eagerly.
  resnet18  ResNet-18 (examples/resnet18.py; the same weights in all three) forward at 224x224, batch 1 and 8, under
            TinyJit for tgc and tinygrad, torch.no_grad() eager for torch.
Interleaved rounds; min and median per step. Run: python bench/bench_train.py  (ROUNDS=, STEPS=; RESNET=0 skips it).
Nothing here asserts a time."""
import os, statistics, time
os.environ.setdefault("DEV", "CPU")
import numpy as np

ROUNDS, STEPS, B = int(os.environ.get("ROUNDS", "5")), int(os.environ.get("STEPS", "5")), 128
RNG = np.random.default_rng(0)
X = [RNG.standard_normal((B, 784)).astype(np.float32) for _ in range(4)]
Y = [RNG.integers(0, 10, B).astype(np.int32) for _ in range(4)]

def make_tinylike(lib_name):
  lib = __import__(lib_name)
  nn = __import__(f"{lib_name}.nn", fromlist=["nn"])
  optim = __import__(f"{lib_name}.nn.optim", fromlist=["optim"])
  T = lib.Tensor
  T.manual_seed(0)
  layers = [nn.Linear(784, 512), nn.Linear(512, 512), nn.Linear(512, 10)]
  opt = optim.Adam(nn.state.get_parameters(layers), lr=1e-3)
  def step(x, y):
    h = layers[1](layers[0](x).relu()).relu()
    loss = layers[2](h).sparse_categorical_crossentropy(y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss
  jstep = lib.TinyJit(step)
  if lib_name == "tinygrad":
    from tinygrad.helpers import Context
    ctx = lambda: Context(TRAINING=1)
  else: ctx = lambda: T.train()
  xs, ys = [T(x).realize() for x in X], [T(y).realize() for y in Y]
  def run(i):
    with ctx(): jstep(xs[i % 4], ys[i % 4]).realize()
  return run

def make_torch():
  import torch
  torch.manual_seed(0)
  model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  xs, ys = [torch.tensor(x) for x in X], [torch.tensor(y).long() for y in Y]
  def run(i):
    loss = torch.nn.functional.cross_entropy(model(xs[i % 4]), ys[i % 4])
    opt.zero_grad()
    loss.backward()
    opt.step()
  return run

def make_resnets(batch: int):
  import importlib.util, pathlib, torch
  spec = importlib.util.spec_from_file_location("resnet18", pathlib.Path(__file__).parents[1] / "examples" / "resnet18.py")
  ex = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(ex)
  torch.manual_seed(0)
  tm = ex.torch_resnet18().eval()
  ex.randomize_bn(tm)
  sd = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
  x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
  runs = {}
  for name in ("tgc", "tinygrad"):
    lib, nnm = __import__(name), __import__(f"{name}.nn", fromlist=["nn"])
    ex.Tensor, ex.nn = lib.Tensor, nnm  # the example's classes build with whichever library's nn they find
    model = ex.ResNet18()
    nnm.state.load_state_dict(model, {k: lib.Tensor(v) for k, v in sd.items()}, strict=True, verbose=False)
    fwd = lib.TinyJit(lambda t, m=model: m(t).realize())
    xt = lib.Tensor(x).realize()
    runs[name] = lambda i, f=fwd, t=xt: f(t)
  xt = torch.tensor(x)
  def trun(i):
    with torch.no_grad(): tm(xt)
  runs["torch"] = trun
  return runs

def timed(runs, label):
  for r in runs.values():
    for i in range(3): r(i)  # run, capture, first replay
  ts = {k: [] for k in runs}
  for _ in range(ROUNDS):
    for k, r in runs.items():
      t = time.perf_counter()
      for i in range(STEPS): r(i)
      ts[k].append((time.perf_counter() - t) / STEPS)
  print(f"{label} (ms, min / median of {ROUNDS} rounds of {STEPS})")
  for k, v in ts.items():
    ratio = f"   tinygrad / tgc {min(ts['tinygrad']) / min(v):.2f}x, torch / tgc {min(ts['torch']) / min(v):.2f}x" if k == "tgc" and "torch" in ts else ""
    print(f"  {k:9s} {min(v) * 1e3:9.2f} / {statistics.median(v) * 1e3:9.2f}{ratio}")

def main():
  runs = {"tgc": make_tinylike("tgc"), "tinygrad": make_tinylike("tinygrad")}
  try: runs["torch"] = make_torch()
  except ImportError: pass
  timed(runs, f"MLP 784-512-512-10 Adam training step, batch {B}")
  if os.environ.get("RESNET", "1") != "0":
    for batch in (1, 8): timed(make_resnets(batch), f"ResNet-18 forward 224x224, batch {batch}")

if __name__ == "__main__":
  main()
