"""Side-by-side engine benchmarks on this machine, one process, same inputs: tgc vs tinygrad 0.14.0 (DEV=CPU, its default
heuristics, no BEAM) vs numpy. Run: python bench/bench_engine.py   (not run by the tests; nothing here asserts a time)

  eager    (a+b).realize() on 512x512 float32 after warm-up, per call (tinygrad's and tgc's full eager path)
  eager16  the same on 16x16: the kernel is negligible, so this is the per-call overhead alone
  matmul   1024x1024 float32 a@b, realized, GFLOPS (2*n^3 / time)
  elemwise (a*b+1).relu() on 16M float32, GB/s counting 2 reads + 1 write
then bench/bench_lowering.py (issue 3 item 6b): schedule + codegen only, 50-layer MLP and 20-block ResNet-style graphs."""
import os, statistics, time
os.environ.setdefault("DEV", "CPU")
import numpy as np

ROUNDS = int(os.environ.get("ROUNDS", "7"))

def once(fn, inner=1):
  t = time.perf_counter()
  for _ in range(inner): fn()
  return (time.perf_counter() - t) / inner

def cases(lib_name):
  """name -> (callable, inner repeats), inputs already realized; each call does the full eager path (result dropped)."""
  if lib_name == "numpy":
    a, b = np.ones((512, 512), np.float32), np.ones((512, 512), np.float32)
    m1, m2 = np.random.rand(1024, 1024).astype(np.float32), np.random.rand(1024, 1024).astype(np.float32)
    e1, e2 = np.random.rand(1 << 24).astype(np.float32), np.random.rand(1 << 24).astype(np.float32)
    s1, s2 = np.ones((16, 16), np.float32), np.ones((16, 16), np.float32)
    return {"eager": (lambda: a + b, 50), "eager16": (lambda: s1 + s2, 200), "matmul": (lambda: m1 @ m2, 1),
            "elemwise": (lambda: np.maximum(e1 * e2 + 1, 0), 1)}
  T = __import__(lib_name).Tensor
  a, b = T(np.ones((512, 512), np.float32)).realize(), T(np.ones((512, 512), np.float32)).realize()
  m1, m2 = T(np.random.rand(1024, 1024).astype(np.float32)).realize(), T(np.random.rand(1024, 1024).astype(np.float32)).realize()
  e1, e2 = T(np.random.rand(1 << 24).astype(np.float32)).realize(), T(np.random.rand(1 << 24).astype(np.float32)).realize()
  s1, s2 = T(np.ones((16, 16), np.float32)).realize(), T(np.ones((16, 16), np.float32)).realize()
  return {"eager": (lambda: (a + b).realize(), 50), "eager16": (lambda: (s1 + s2).realize(), 200), "matmul": (lambda: (m1 @ m2).realize(), 1),
          "elemwise": (lambda: (e1 * e2 + 1).relu().realize(), 1)}

def run(libs=("tgc", "tinygrad", "numpy")):
  """Interleaved: each round times every case of every library back to back, so load on the (shared) machine hits all alike."""
  libs = tuple(libs)
  cs = {lib: cases(lib) for lib in libs}
  for lib in libs:
    for fn, _ in cs[lib].values(): fn(); fn()  # warm-up: compile, fill the caches
  ts = {lib: {k: [] for k in cs[lib]} for lib in libs}
  for r in range(ROUNDS):
    for k in ("eager", "eager16", "matmul", "elemwise"):
      # the order rotates each round: whoever runs right after numpy's matmul shares the cores with OpenBLAS's spinning threads
      for lib in libs[r % len(libs):] + libs[:r % len(libs)]: ts[lib][k].append(once(*cs[lib][k]))
  return ts

if __name__ == "__main__":
  ts = run()
  for stat, f in (("min", min), ("median", statistics.median)):
    res = {lib: {k: f(v) for k, v in d.items()} for lib, d in ts.items()}
    print(f"{stat + ' of ' + str(ROUNDS):10s} {'tgc':>12s} {'tinygrad':>12s} {'numpy':>12s}   tgc vs tinygrad")
    e = {k: v["eager"] * 1e6 for k, v in res.items()}
    print(f"{'eager us':10s} {e['tgc']:12.1f} {e['tinygrad']:12.1f} {e['numpy']:12.1f}   {e['tinygrad'] / e['tgc']:.1f}x lower overhead")
    e = {k: v["eager16"] * 1e6 for k, v in res.items()}
    print(f"{'eager16 us':10s} {e['tgc']:12.1f} {e['tinygrad']:12.1f} {e['numpy']:12.1f}   {e['tinygrad'] / e['tgc']:.1f}x lower overhead")
    g = {k: 2 * 1024**3 / v["matmul"] / 1e9 for k, v in res.items()}
    print(f"{'matmul GF':10s} {g['tgc']:12.1f} {g['tinygrad']:12.1f} {g['numpy']:12.1f}   {g['tgc'] / g['tinygrad']:.2f}x")
    w = {k: 3 * 4 * (1 << 24) / v["elemwise"] / 1e9 for k, v in res.items()}
    print(f"{'elem GB/s':10s} {w['tgc']:12.1f} {w['tinygrad']:12.1f} {w['numpy']:12.1f}   {w['tgc'] / w['tinygrad']:.2f}x")
  import sys
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import bench_lowering
  print()
  bench_lowering.main()
