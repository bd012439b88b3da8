"""Train a small MLP on scikit-learn's bundled 8x8 digits (no download) with tgc: nn.Linear layers, Adam, autograd.

  pip install . scikit-learn && python examples/train_mlp.py [--epochs 20] [--batch 64] [--seed 0]

Prints a progress bar per epoch and a final test accuracy line; on a 2-core machine it takes well under 2 minutes."""
import argparse, sys, time
import numpy as np
from tgc import Tensor, nn
from tgc.nn.optim import Adam

class MLP:
  def __init__(self, sizes):
    self.layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
  def __call__(self, x: Tensor) -> Tensor:
    for i, l in enumerate(self.layers):
      x = l(x)
      if i < len(self.layers) - 1: x = x.relu()
    return x

def load_digits_split(seed: int):
  try:
    from sklearn.datasets import load_digits
  except ImportError:
    sys.exit("this example needs scikit-learn for its bundled digits dataset: pip install scikit-learn")
  d = load_digits()
  x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int32)
  idx = np.random.default_rng(seed).permutation(len(x))
  n_test = len(x) // 5
  return x[idx[n_test:]], y[idx[n_test:]], x[idx[:n_test]], y[idx[:n_test]]

def bar(done: int, total: int, width: int = 30) -> str:
  k = int(width * done / total)
  return "[" + "#" * k + "." * (width - k) + f"] {done}/{total}"

def main(argv=None) -> float:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--epochs", type=int, default=20)
  ap.add_argument("--batch", type=int, default=64)
  ap.add_argument("--lr", type=float, default=3e-3)
  ap.add_argument("--seed", type=int, default=0)
  args = ap.parse_args(argv)
  Tensor.manual_seed(args.seed)
  xtr, ytr, xte, yte = load_digits_split(args.seed)
  model = MLP([64, 128, 64, 10])
  opt = Adam(nn.state.get_parameters(model), lr=args.lr)
  rng = np.random.default_rng(args.seed)
  steps = (len(xtr) + args.batch - 1) // args.batch
  t0 = time.perf_counter()
  with Tensor.train():
    for epoch in range(1, args.epochs + 1):
      perm, total = rng.permutation(len(xtr)), 0.0
      for s in range(steps):
        b = perm[s * args.batch:(s + 1) * args.batch]
        loss = model(Tensor(xtr[b])).sparse_categorical_crossentropy(Tensor(ytr[b]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        print(f"\repoch {epoch:3d} {bar(s + 1, steps)} loss {total / (s + 1):.4f}", end="", flush=True)
      print()
  acc = float((model(Tensor(xte)).argmax(1).numpy() == yte).mean())
  print(f"test accuracy {acc * 100:.2f}% ({len(yte)} digits) after {args.epochs} epochs in {time.perf_counter() - t0:.1f} s")
  return acc

if __name__ == "__main__":
  main()
