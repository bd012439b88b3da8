"""Training-step benchmark (issue 4, item 6): an MLP 784-512-512-10 with ReLU, sparse cross-entropy and Adam at batch
128, one step = forward + backward + optimizer update, realized. tgc and tinygrad 0.14.0 (DEV=CPU) each run the step
under their TinyJit; torch (CPU) runs it eagerly. Same machine, same process, interleaved rounds; min and median per step.
Run: python bench/bench_train.py   (ROUNDS=, STEPS= to change; nothing here asserts a time)."""
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

def main():
  runs = {"tgc": make_tinylike("tgc"), "tinygrad": make_tinylike("tinygrad")}
  try: runs["torch"] = make_torch()
  except ImportError: pass
  for r in runs.values():
    for i in range(3): r(i)  # run, capture, first replay
  ts = {k: [] for k in runs}
  for _ in range(ROUNDS):
    for k, r in runs.items():
      t = time.perf_counter()
      for i in range(STEPS): r(i)
      ts[k].append((time.perf_counter() - t) / STEPS)
  print(f"MLP 784-512-512-10 Adam training step, batch {B} (ms per step, min / median of {ROUNDS} rounds of {STEPS})")
  for k, v in ts.items():
    ratio = f"   tinygrad / tgc {min(ts['tinygrad']) / min(v):.2f}x" if k == "tgc" else ""
    print(f"  {k:9s} {min(v) * 1e3:8.2f} / {statistics.median(v) * 1e3:8.2f}{ratio}")

if __name__ == "__main__":
  main()
