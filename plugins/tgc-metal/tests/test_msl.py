"""The MSL tgc writes, checked as far as a machine without macOS can: every kernel of the engine's test graphs
(tests/test_codegen.py's KERNELS, rendered in the "metal" dialect by tests/gpu_render.py with Metal's caps) compiles as
C++17 behind tests/msl_shim.h, and each kernel without a threadgroup barrier runs on the CPU over its whole grid (the
threads of a group one after another) on the same input bytes as tgc's CPU backend, whose outputs it must match
(tests/test_codegen.py's compare: exact for ints, per-dtype tolerance for floats, 1 ulp for bfloat16). Graphs that need
float64 must be refused before rendering (Metal has none). Needs tinygrad==0.14.0, a C++ compiler (clang++ for half)
and tgc's codegentool (TGC_BUILD_DIR) for tgc's renderer; without it tinygrad's MetalRenderer renders the same ASTs."""
import os, re, sys, json, ctypes, shutil, hashlib, functools, subprocess
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import pytest
from conftest import HERE

ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT / "tests"))

def _has_half(c: list[str]) -> bool:
  r = subprocess.run([*c, "-std=c++17", "-fsyntax-only", "-x", "c++", "-"], input="_Float16 h = 1; int main() { return (int)h; }",
                     capture_output=True, text=True, check=False)
  return r.returncode == 0

@functools.cache
def cxx() -> tuple[list[str] | None, bool]:
  """$TGC_CXX, else the first C++ compiler with _Float16 (MSL's half), else any (half kernels then fail to compile)."""
  found = [c.split() for c in (os.environ.get("TGC_CXX", ""), "clang++-15", "clang++-16", "clang++", "g++") if c and shutil.which(c.split()[0])]
  if os.environ.get("TGC_CXX") and found: return found[0], _has_half(found[0])
  for c in found:
    if _has_half(c): return c, True
  return (found[0], False) if found else (None, False)

pytestmark = pytest.mark.skipif(cxx()[0] is None, reason="no C++ compiler (clang++, g++ or $TGC_CXX)")
gr = pytest.importorskip("gpu_render", reason="tinygrad==0.14.0 schedules the graphs")
tc = gr.tc
from tinygrad.dtype import dtypes  # noqa: E402
from tinygrad.uop.ops import UOp, Ops  # noqa: E402
from tinygrad.helpers import Context  # noqa: E402
from tinygrad.engine.realize import run_linear  # noqa: E402

SIG = re.compile(r"kernel void (\w+)\((.*?)\) \{", re.S)

def wrapper(source: str) -> str:
  """The kernel, then an extern "C" entry that runs it at every point of the grid: tgc_run(bufs, vals, global, local)."""
  name, params = SIG.search(source).groups()
  args, pre, nb, nv = [], [], 0, 0
  for prm in params.split(", "):
    if prm.startswith("uint3 gid"): args.append("uint3(gx, gy, gz)")
    elif prm.startswith("uint3 lid"): args.append("uint3(lx, ly, lz)")
    elif "*" in prm: args.append(f"({prm.replace('device ', '').rsplit(' ', 1)[0]})bufs[{nb}]"); nb += 1
    elif prm.endswith("&") or "& " in prm:
      t = prm.replace("constant ", "").split("&")[0].strip()
      pre.append(f"  {t} v{nv} = ({t})vals[{nv}];"); args.append(f"v{nv}"); nv += 1
    else: raise ValueError(f"{name}: parameter '{prm}' is not one the metal renderer writes")
  body = source.replace("#include <metal_stdlib>", '#include "msl_shim.h"')
  loops = "".join(f"  for (unsigned {v} = 0; {v} < {d}; {v}++)\n" for v, d in
                  (("gz", "g[2]"), ("gy", "g[1]"), ("gx", "g[0]"), ("lz", "l[2]"), ("ly", "l[1]"), ("lx", "l[0]")))
  return (f"{body}\nextern \"C\" void tgc_run(void **bufs, const long long *vals, const unsigned *g, const unsigned *l) {{\n"
          + "\n".join(pre) + f"\n{loops}    {name}({', '.join(args)});\n}}\n")

def _render(ast):
  if gr.which("metal") == "tgc": return gr._ours(ast, "metal")
  return gr._theirs(ast, "metal", "Apple7")

def _needs_float64(ast) -> bool: return "dtypes.double" in str(ast) or "dtypes.float64" in str(ast)

@pytest.fixture(scope="session")
def kernels(tmp_path_factory):
  """{graph: ("refused", message) | [(call index, rendered program, .so path or compile error)]}: each distinct source
  compiled once, the compiles side by side."""
  d = tmp_path_factory.mktemp("msl")
  graphs, files = {}, {}
  for g in gr.KERNELS:
    _, calls = tc.schedule(g)
    progs = []
    for i, call in enumerate(calls):
      try: p = _render(call.src[0])
      except RuntimeError as e:
        graphs[g] = ("refused", str(e), _needs_float64(call.src[0]))
        break
      progs.append((i, p))
      files.setdefault(p["source"], d / f"{p['name']}_{hashlib.sha256(p['source'].encode()).hexdigest()[:12]}")
    else: graphs[g] = progs
  def build(item):
    src, base = item
    cpp = base.with_suffix(".cpp")
    try: cpp.write_text(wrapper(src))
    except ValueError as e: return src, (False, str(e))
    r = subprocess.run([*cxx()[0], *(["-DMSL_SHIM_HALF"] if cxx()[1] else []), "-std=c++17", "-O0", "-w", "-fno-strict-aliasing", "-shared", "-fPIC", f"-I{HERE}", "-o", str(base.with_suffix(".so")),
                        str(cpp)], capture_output=True, text=True, timeout=600, check=False)
    return src, (r.returncode == 0, str(base.with_suffix(".so")) if r.returncode == 0 else r.stderr[-4000:])
  with ThreadPoolExecutor(os.cpu_count() or 2) as ex: built = dict(ex.map(build, files.items()))
  print(f"\nmsl: {len(files)} distinct kernels of {len(gr.KERNELS)} graphs (renderer: {gr.which('metal')}), compiled with {cxx()[0][0]}{'' if cxx()[1] else ' (no _Float16: half kernels cannot compile)'}")
  return {g: v if isinstance(v, tuple) else [(i, p, built[p["source"]]) for i, p in v] for g, v in graphs.items()}

@pytest.mark.parametrize("graph", list(gr.KERNELS) if gr else [])
def test_graph_kernels_compile_as_cpp(kernels, graph):
  got = kernels[graph]
  if isinstance(got, tuple):
    _, msg, f64 = got
    assert f64 and "has no float64" in msg, f"{graph}: rendering in the metal dialect failed: {msg}"
    return
  assert got, f"{graph}: no kernel"
  for i, p, (ok, what) in got:
    assert ok, f"{graph} kernel {i} ({p['name']}) does not compile as C++ behind msl_shim.h:\n{what}\n--- source ---\n{p['source']}"

def _aligned(data: bytes) -> np.ndarray:
  raw = np.zeros(len(data) + 128, np.uint8)
  off = (-raw.ctypes.data) % 64
  a = raw[off:off + max(len(data), 1)]
  a[:len(data)] = np.frombuffer(data, np.uint8)
  return a

def _run_cpu_msl(so: str, p: dict, before: list[bytes]) -> dict[int, bytes]:
  f = ctypes.CDLL(so).tgc_run
  arrs = [_aligned(before[s]) for s in p["globals"]]
  bufs = (ctypes.c_void_p * max(1, len(arrs)))(*[a.ctypes.data for a in arrs])
  vals = (ctypes.c_longlong * max(1, len(p["vals"])))(*p["vals"])
  g, l = (ctypes.c_uint * 3)(*p["global_size"]), (ctypes.c_uint * 3)(*p["local_size"])
  f(bufs, vals, g, l)
  return {s: arrs[i][:len(before[s])].tobytes() for i, s in enumerate(p["globals"]) if s in p["outs"]}

@pytest.mark.parametrize("graph", list(gr.KERNELS) if gr else [])
def test_graph_kernels_run_on_cpu_like_the_cpu_backend(kernels, graph):
  got = kernels[graph]
  if isinstance(got, tuple): pytest.skip(f"refused in the metal dialect: {got[1]}")
  if tc.cc_missing() if hasattr(tc, "cc_missing") else shutil.which(os.environ.get("TGC_CC", "cc")) is None: pytest.skip("no C compiler for the CPU backend")
  _, calls = tc.schedule(graph)
  ran = 0
  for k, ((i, p, (ok, so)), call) in enumerate(zip(got, calls)):
    bufs = [s.buffer for s in call.src[1:]]
    before = [tc.buf_bytes(x) for x in bufs]
    if ok and "threadgroup_barrier" not in p["source"]:
      want = tc.run_ours(json.loads(tc.codegen(call.src[0], 0)), before)   # tgc's CPU backend, same bytes in
      mine = _run_cpu_msl(so, p, before)
      assert set(mine) == set(want), (graph, i, set(mine), set(want))
      for s, b in mine.items(): tc.compare(b, want[s], bufs[s].dtype, f"{graph} kernel {i} ({p['name']}) slot {s} (MSL on the CPU vs tgc's CPU backend)")
      ran += 1
    if k + 1 < len(calls):   # the next kernel's inputs, from tinygrad's CPU (whose clang may lack __bf16: never run after the last)
      with Context(NOOPT=0): run_linear(UOp(Ops.LINEAR, src=(call,)))
  if ran == 0: pytest.skip("every kernel of this graph has a threadgroup barrier (or did not compile: see the compile test)")
