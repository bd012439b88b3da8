"""Every kernel the engine's test graphs produce (tests/test_codegen.py's KERNELS, scheduled by tinygrad 0.14.0), rendered
in a GPU dialect, for the plugins' compile-only and CPU-emulation checks (plugins/tgc-hip, plugins/tgc-metal).

Source of the rendering: tgc's own renderer for the dialect (tests/c/tools/codegentool with CODEGENTOOL_GPU=<dialect>,
which gives GPU caps with that dialect) when the core has it, else tinygrad's renderer for the same AST (HIPRenderer,
MetalRenderer), so the compile/shim/run machinery is proven before the core's dialect lands. TGC_GPU_RENDER=tgc|tinygrad
forces one. Needs tinygrad==0.14.0 and, for "tgc", the C tools (TGC_BUILD_DIR)."""
from __future__ import annotations
import os, sys, json, pathlib, functools, subprocess
from dataclasses import dataclass

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE) not in sys.path: sys.path.insert(0, str(HERE))

def _import_test_codegen():
  """test_codegen does `from conftest import ...` meaning tests/conftest.py; a plugin's test session has its own conftest
  module under that name, so the repository's is put there for the import and the plugin's put back after it."""
  import importlib.util
  if "test_codegen" in sys.modules: return sys.modules["test_codegen"]
  theirs = sys.modules.get("conftest")
  spec = importlib.util.spec_from_file_location("tgc_tests_conftest", HERE / "conftest.py")
  ours = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(ours)
  sys.modules["conftest"] = ours
  try: import test_codegen  # noqa: E402  (sets tinygrad's DEV=CPU: the references run on tinygrad's CPU device)
  finally:
    if theirs is not None: sys.modules["conftest"] = theirs
  return test_codegen

tc = _import_test_codegen()
from tinygrad.helpers import Target, Context  # noqa: E402
from tinygrad.renderer.cstyle import HIPRenderer, MetalRenderer  # noqa: E402
from tinygrad.uop.ops import UOp, Ops  # noqa: E402
from tinygrad.engine.realize import run_linear  # noqa: E402
import tinygrad.codegen as tg_codegen  # noqa: E402
from tinygrad_ir import to_json, tool  # noqa: E402
from cstyle_wrap import wrapping  # noqa: E402

KERNELS = tc.KERNELS

@dataclass
class Prog:
  graph: str
  index: int
  name: str
  source: str
  global_size: tuple[int, int, int]
  local_size: tuple[int, int, int]
  globals: list[int]
  outs: list[int]
  vals: list[int]
  renderer: str          # "tgc" or "tinygrad"

class _NoCompiler:
  def compile_cached(self, src: str) -> bytes: return b""   # rendering only: no vendor compiler on this machine

@functools.cache
def _tinygrad_renderer(dialect: str, arch: str):
  cls = {"hip": HIPRenderer, "metal": MetalRenderer}[dialect]
  r = cls.__new__(cls)      # skips __init__, which opens the vendor compiler (comgr, MTLCompiler)
  r.target, r.compiler, r.tensor_cores = Target("", "", arch), _NoCompiler(), []
  if cls is HIPRenderer and not r.is_cdna4(arch):
    from tinygrad.renderer.cstyle import pm_manual_bf16_cast
    r.extra_matcher = cls.extra_matcher + pm_manual_bf16_cast
  return wrapping(r)   # tgc's narrow-int wraps (tests/cstyle_wrap.py), so both renderers compute the same values

@functools.cache
def core_has(dialect: str) -> bool:
  """Whether tgc's codegentool renders the dialect (the core's renderer for it has landed)."""
  try: exe = tool("codegentool")
  except FileNotFoundError: return False
  _, calls = tc.schedule("add_mul")
  r = subprocess.run([str(exe), "render"], input=to_json(calls[0].src[0]), capture_output=True, text=True, timeout=120,
                     env={**os.environ, "CODEGENTOOL_GPU": dialect})
  return r.returncode == 0

def which(dialect: str) -> str:
  forced = os.environ.get("TGC_GPU_RENDER")
  if forced in ("tgc", "tinygrad"): return forced
  return "tgc" if core_has(dialect) else "tinygrad"

def _ours(ast: UOp, dialect: str) -> dict:
  r = subprocess.run([str(tool("codegentool")), "render"], input=to_json(ast), capture_output=True, text=True, timeout=300,
                     env={**os.environ, "CODEGENTOOL_GPU": dialect})
  if r.returncode != 0: raise RuntimeError(f"codegentool render ({dialect}) failed: {r.stderr.strip()}")
  p = json.loads(r.stdout)
  return {"name": p["name"], "source": p["source"], "global_size": p["global_size"], "local_size": p["local_size"], "globals": p["globals"],
          "outs": p["outs"], "vals": [v["vmin"] for v in p["vars"]]}

def _theirs(ast: UOp, dialect: str, arch: str) -> dict:
  prg = tg_codegen.to_program(ast, _tinygrad_renderer(dialect, arch))
  info = prg.arg
  src = next(u.arg for u in prg.src if u.op is Ops.SOURCE)
  vals = [v.vmin for v in info.vars] if hasattr(info, "vars") else []
  return {"name": info.function_name, "source": src, "global_size": list(info.global_size), "local_size": list(info.local_size or (1, 1, 1)),
          "globals": list(info.globals), "outs": list(info.outs), "vals": vals}

def programs(graph: str, dialect: str, arch: str, noopt: int = 0) -> list[Prog]:
  """The kernels of one graph in `dialect` (tinygrad's scheduler, then tgc's or tinygrad's codegen + renderer)."""
  _, calls = tc.schedule(graph)
  how = which(dialect)
  out = []
  with Context(NOOPT=noopt):
    for i, call in enumerate(calls):
      p = _ours(call.src[0], dialect) if how == "tgc" else _theirs(call.src[0], dialect, arch)
      out.append(Prog(graph, i, p["name"], p["source"], tuple(p["global_size"]), tuple(p["local_size"]), p["globals"], p["outs"], p["vals"], how))
  return out

def with_reference(graph: str, noopt: int = 0):
  """(calls, the bytes of each call's buffers before it runs, after tinygrad's CPU ran it) for value checks."""
  _, calls = tc.schedule(graph)
  runs = []
  for call in calls:
    bufs = [s.buffer for s in call.src[1:]]
    before = [tc.buf_bytes(x) for x in bufs]
    with Context(NOOPT=noopt): run_linear(UOp(Ops.LINEAR, src=(call,)))
    runs.append((bufs, before, [tc.buf_bytes(x) for x in bufs]))
  return runs
