"""Lowering only (issue 3, item 6b): the time to schedule a graph and generate the code of every kernel, with no C
compile and no run, tgc vs tinygrad 0.14.0 (DEV=CPU) in the same process, same graphs. Run: python bench/bench_lowering.py
(bench/bench_engine.py runs it too). Nothing here asserts a time.

  mlp50     a 50-layer MLP forward (256 wide, batch 64, Linear + ReLU) and a cross-entropy loss built from max/exp/log/sum
  resnet20  20 conv-free residual blocks: h + relu(norm(h) @ W1) @ W2, norm a layernorm built from mean/sqrt

tgc lowers with tg_tensor_lower (schedule + codegen, no cache, tensors untouched). tinygrad lowers with
Tensor.schedule_linear() followed by, for every kernel, full_rewrite_to_sink and the linearize/render rewrites of
to_program without its compile step. Each measurement builds the graph afresh from new Tensor.empty inputs; the best of
`reps` runs is kept, and the first (cold) run is printed too."""
import os, time
os.environ.setdefault("DEV", "CPU")

def mlp50(T, layers=50, width=256, batch=64, classes=10):
  x = T.empty(batch, width)
  for _ in range(layers): x = (x @ T.empty(width, width) + T.empty(width)).relu()
  logits = x @ T.empty(width, classes)
  m = logits.max(1, keepdim=True)
  lse = (logits - m).exp().sum(1, keepdim=True).log() + m
  onehot = T.empty(batch, classes)
  return (lse - (logits * onehot).sum(1, keepdim=True)).mean()

def resnet20(T, blocks=20, width=256, batch=64):
  h = T.empty(batch, width)
  for _ in range(blocks):
    mu = h.mean(1, keepdim=True)
    var = ((h - mu) * (h - mu)).mean(1, keepdim=True)
    n = (h - mu) / (var + 1e-5).sqrt()
    h = h + (n @ T.empty(width, width)).relu() @ T.empty(width, width)
  return h.sum()

GRAPHS = {"mlp50": mlp50, "resnet20": resnet20}

def tgc_lower(out) -> int:
  from tgc._ffi import ffi, lib
  n = ffi.new("size_t *")
  st = lib().tg_tensor_lower(ffi.new("tg_tensor *[]", [out._h]), 1, n)
  if st: raise RuntimeError(ffi.string(lib().tg_last_error()).decode())
  return n[0]

def tinygrad_lower(out) -> int:
  from tinygrad.uop.ops import Ops, UOp, PatternMatcher, graph_rewrite, ProgramInfo
  from tinygrad.codegen import full_rewrite_to_sink, pm_to_program
  from tinygrad.device import Device
  ren = Device["CPU"].renderer
  no_compile = PatternMatcher(pm_to_program.patterns[:-1])  # linearize, estimates, (assemble), render; not do_compile
  n = 0
  for call in out.schedule_linear().src:
    ast = call.src[0]
    if ast.op is not Ops.SINK: continue
    sink = full_rewrite_to_sink(ast, ren, optimize=ast.tag is None)
    prg = graph_rewrite(UOp(Ops.PROGRAM, src=(sink,), arg=ProgramInfo.from_sink(sink, ren.target)), no_compile, ctx=ren)
    assert prg.src[-1].op is Ops.SOURCE, "tinygrad's render step did not run"
    n += 1
  return n

def measure(lib_name: str, graph, reps: int = 3):
  lib = __import__(lib_name)
  lower = tgc_lower if lib_name == "tgc" else tinygrad_lower
  times, kernels = [], None
  for _ in range(reps):
    out = graph(lib.Tensor)
    t = time.perf_counter()
    kernels = lower(out)
    times.append(time.perf_counter() - t)
  return times[0], min(times), kernels

def main(reps: int = 3):
  print(f"lowering only (schedule + codegen, no compile), best of {reps} (first run in brackets)")
  print(f"{'':10s} {'tgc ms':>18s} {'tinygrad ms':>20s} {'kernels':>9s}   tinygrad / tgc")
  for name, g in GRAPHS.items():
    c0, c, kc = measure("tgc", g, reps)
    t0, t, kt = measure("tinygrad", g, reps)
    print(f"{name:10s} {c * 1e3:9.1f} [{c0 * 1e3:7.1f}] {t * 1e3:10.1f} [{t0 * 1e3:7.1f}] {kc:4d}/{kt:<4d}   {t / c:.1f}x faster")

if __name__ == "__main__":
  main()
