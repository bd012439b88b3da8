"""GPU benchmarks (issue 6, item 5): tgc on a GPU backend vs torch on the same GPU, same process, same inputs.
Run on a machine with the GPU and the plugin installed:  DEV=CUDA python bench/bench_gpu.py   (DEV=VULKAN / WEBGPU too)

  matmul_fp32  4096x4096 @ 4096x4096 float32, TFLOP/s (2*n^3 / time), tgc as a fraction of torch (cuBLAS; TF32 off)
  matmul_fp16  the same in float16 (torch: cuBLAS with tensor cores; tgc declares no tensor cores yet)
  elementwise  (a*b+1).relu() on 256M float32, GB/s counting 2 reads + 1 write, as a fraction of the measured device
               copy bandwidth (torch's dst.copy_(src) of 1 GiB, counting read + write)
  resnet18     ResNet-18 forward (examples/resnet18.py, the same random weights), batch 64, 224x224, ms per batch;
               tgc under TinyJit, torch eager under no_grad

tinygrad 0.14.0 on the same device is a second peer for the matmuls and the elementwise case where its CUDA backend loads
(DEV=CUDA; NVRTC_PATH is pointed at tgc-cuda's NVRTC when unset); its column reads "-" otherwise, with the reason printed.

Each case: warm-up, then the minimum of ROUNDS timed runs; tgc is timed to Device.synchronize(), torch to
torch.cuda.synchronize(), tinygrad to its Device[...].synchronize(). torch runs on "cuda" only when DEV=CUDA; for VULKAN/WEBGPU the torch column is still CUDA
(the same GPU through another API). Nothing here asserts a time; SKIP=resnet18,... skips cases."""
import os, sys, time, pathlib
import numpy as np

DEV = os.environ.get("DEV", "CUDA")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
SKIP = set(filter(None, os.environ.get("SKIP", "").split(",")))

def best(fn, sync, rounds=ROUNDS):
  fn(); sync()
  ts = []
  for _ in range(rounds):
    t = time.perf_counter(); fn(); sync(); ts.append(time.perf_counter() - t)
  return min(ts)

def tinygrad_peer():
  """tinygrad's CUDA device as (tinygrad module, device name), or None after printing why not."""
  if DEV != "CUDA" or "tinygrad" in SKIP: return None
  try:
    if not os.environ.get("NVRTC_PATH"):
      import tgc_cuda
      if p := tgc_cuda.nvrtc_path(): os.environ["NVRTC_PATH"] = str(p)
    import tinygrad
    tinygrad.Device["CUDA"]
    (tinygrad.Tensor([1.0, 2.0], device="CUDA") + 1).realize().numpy()
    return tinygrad, "CUDA"
  except Exception as e:
    print(f"tinygrad peer unavailable: {type(e).__name__}: {str(e)[:200]}", flush=True)
    return None

def main():
  import torch
  from tgc import Tensor, Device, TinyJit, dtypes
  tdev = torch.device("cuda")
  torch.backends.cuda.matmul.allow_tf32 = False
  sync_t, sync_g = torch.cuda.synchronize, Device[DEV].synchronize
  peer = tinygrad_peer()
  if peer: tg, tgdev = peer; sync_tg = tg.Device[tgdev].synchronize
  rows = []
  rng = np.random.default_rng(0)
  def row(name, ours, theirs, unit, frac_of=None, note="", tiny=None):
    rows.append((name, ours, theirs, unit, frac_of if frac_of is not None else ours / theirs, note))
    t = f"tinygrad {tiny:10.3f} (tgc/tinygrad {ours / tiny:.3f})" if tiny else "tinygrad          -"
    print(f"{name:14s} tgc {ours:10.3f} {unit:8s} torch {theirs:10.3f} {unit:8s} ratio {rows[-1][4]:.3f}  {t}  {note}", flush=True)

  n = 4096
  for dt_name, tdt, gdt in (("fp32", torch.float32, dtypes.float32), ("fp16", torch.float16, dtypes.float16)):
    if f"matmul_{dt_name}" in SKIP: continue
    a_np, b_np = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
    a, b = Tensor(a_np, device=DEV).cast(gdt).realize(), Tensor(b_np, device=DEV).cast(gdt).realize()
    ta, tb = torch.tensor(a_np, device=tdev).to(tdt), torch.tensor(b_np, device=tdev).to(tdt)
    flops = 2 * n ** 3
    t_ours = best(lambda: (a @ b).realize(), sync_g)
    t_them = best(lambda: ta @ tb, sync_t)
    got, want = (a @ b).float().numpy()[:4, :4], (ta @ tb).float().cpu().numpy()[:4, :4]
    note = f"(max abs diff on a corner {np.abs(got - want).max():.3g})"
    tiny = None
    if peer:
      gdt_tg = getattr(tg.dtypes, gdt.name)
      ga, gb = tg.Tensor(a_np, device=tgdev).cast(gdt_tg).realize(), tg.Tensor(b_np, device=tgdev).cast(gdt_tg).realize()
      tiny = flops / best(lambda: (ga @ gb).realize(), sync_tg) / 1e12
    row(f"matmul_{dt_name}", flops / t_ours / 1e12, flops / t_them / 1e12, "TFLOP/s", note=note, tiny=tiny)

  if "elementwise" not in SKIP:
    m = 256 << 20
    x_np = rng.standard_normal(m, dtype=np.float32)
    a, b = Tensor(x_np, device=DEV).realize(), Tensor(x_np[::-1].copy(), device=DEV).realize()
    ta, tb = torch.tensor(x_np, device=tdev), torch.flip(torch.tensor(x_np, device=tdev), (0,))
    t_ours = best(lambda: (a * b + 1).relu().realize(), sync_g)
    t_them = best(lambda: torch.relu(ta * tb + 1), sync_t)
    src, dst = torch.empty(1 << 28, device=tdev), torch.empty(1 << 28, device=tdev)
    t_copy = best(lambda: dst.copy_(src), sync_t)
    copy_bw = 2 * src.numel() * 4 / t_copy / 1e9
    gb = 3 * m * 4 / 1e9
    ours, theirs = gb / t_ours, gb / t_them
    tiny = None
    if peer:
      ga, gb_ = tg.Tensor(x_np, device=tgdev).realize(), tg.Tensor(x_np[::-1].copy(), device=tgdev).realize()
      tiny = gb / best(lambda: (ga * gb_ + 1).relu().realize(), sync_tg)
      del ga, gb_
    row("elementwise", ours, theirs, "GB/s", frac_of=ours / copy_bw, note=f"(fraction of copy bandwidth {copy_bw:.0f} GB/s; torch's is {theirs / copy_bw:.3f})", tiny=tiny)

  if "resnet18" not in SKIP:
    import importlib.util
    spec = importlib.util.spec_from_file_location("resnet18", pathlib.Path(__file__).parents[1] / "examples" / "resnet18.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    torch.manual_seed(0)
    tm = ex.torch_resnet18().eval()
    ex.randomize_bn(tm)
    sd = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    import tgc.nn as tnn
    model = ex.ResNet18()
    tnn.state.load_state_dict(model, {k: Tensor(v, device=DEV) for k, v in sd.items()}, strict=True, verbose=False)
    x_np = rng.standard_normal((64, 3, 224, 224)).astype(np.float32)
    x = Tensor(x_np, device=DEV).realize()
    fwd = TinyJit(lambda t: model(t).realize())
    tm = tm.to(tdev)
    tx = torch.tensor(x_np, device=tdev)
    def trun():
      with torch.no_grad(): return tm(tx)
    t_ours = best(lambda: fwd(x), sync_g)
    t_them = best(trun, sync_t)
    got, want = fwd(x).numpy(), trun().cpu().numpy()
    note = f"(logits max rel diff {np.abs(got - want).max() / np.abs(want).max():.2g})"
    row("resnet18_b64", t_ours * 1e3, t_them * 1e3, "ms", frac_of=t_them / t_ours, note=note)

  print(f"\n{DEV} vs torch on {torch.cuda.get_device_name()}; ratio = tgc/torch throughput (for resnet18: torch time / tgc time; "
        f"for elementwise: fraction of copy bandwidth)")

if __name__ == "__main__":
  sys.exit(main())
