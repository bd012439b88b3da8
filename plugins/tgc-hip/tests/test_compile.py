"""hiprtc compile-only, no GPU needed: every kernel the engine's test graphs produce (tests/test_codegen.py's KERNELS,
rendered in the "hip" dialect by tests/gpu_render.py) compiles through the plugin's own src/hiprtc.c -- built here into a
small tool -- to a code object for gfx90a and for gfx1030, and a compile error comes back with hiprtc's log.
Needs hiprtc (Debian: apt install libamdhip64-dev, whose libamdhip64.so.5 carries it) and tinygrad==0.14.0."""
import os, sys, ctypes, struct, hashlib, pathlib, subprocess
from concurrent.futures import ThreadPoolExecutor
import pytest
from conftest import HERE, build, cc

ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT / "tests"))

def _hiprtc_here() -> bool:
  for name in ("libhiprtc.so.6", "libhiprtc.so", "libamdhip64.so.5"):
    try: ctypes.CDLL(name)
    except OSError: continue
    return True
  return False

pytestmark = [pytest.mark.skipif(not _hiprtc_here(), reason="no hiprtc (apt install libamdhip64-dev, or ROCm's libhiprtc)"),
              pytest.mark.skipif(cc() is None, reason="no C compiler (cc or $TGC_CC) to build the hiprtc_co tool")]
gr = pytest.importorskip("gpu_render", reason="tinygrad==0.14.0 renders the graphs' kernels")

ARCHS = {"gfx90a": 0x3F, "gfx1030": 0x36}   # EF_AMDGPU_MACH_AMDGCN_* in the code object's e_flags
EM_AMDGPU = 224

@pytest.fixture(scope="session")
def tool(tmp_path_factory) -> str:
  return build(tmp_path_factory.mktemp("hiprtc") / "hiprtc_co", str(HERE / "hiprtc_co.c"), str(HERE.parent / "src" / "hiprtc.c"))

@pytest.fixture(scope="session")
def compiled(tool, tmp_path_factory):
  """{graph: [(prog, {arch: (ok, code object path or message)})]}: each distinct source compiled once per arch, the
  archs side by side (one hiprtc process each)."""
  d = tmp_path_factory.mktemp("kernels")
  graphs, files = {}, {}
  for g in gr.KERNELS:
    try: graphs[g] = gr.programs(g, "hip", "gfx90a")
    except Exception as e: graphs[g] = e
    for p in graphs[g] if isinstance(graphs[g], list) else []:
      files.setdefault(p.source, d / f"{p.name}.{hashlib.sha256(p.source.encode()).hexdigest()[:12]}.hip").write_text(p.source)
  def run(arch: str) -> str:
    r = subprocess.run([tool, arch, *map(str, files.values())], capture_output=True, text=True, timeout=1800, check=False)
    assert r.returncode in (0, 1), f"hiprtc_co {arch}: {r.stderr}"
    return r.stdout
  with ThreadPoolExecutor(len(ARCHS)) as ex: outs = dict(zip(ARCHS, ex.map(run, ARCHS)))
  results = {arch: _parse(out, files, arch) for arch, out in outs.items()}
  print(f"\nhiprtc: {len(files)} distinct kernels of {len(gr.KERNELS)} graphs (renderer: {gr.which('hip')}), archs {', '.join(ARCHS)}")
  return {g: ps if isinstance(ps, Exception) else [(p, {a: results[a][p.source] for a in ARCHS}) for p in ps] for g, ps in graphs.items()}

def _parse(out: str, files: dict, arch: str) -> dict:
  by_path, res, lines = {str(f): s for s, f in files.items()}, {}, out.splitlines()
  order = list(files.items())
  i = 0
  for src, f in order:   # the tool answers in argument order: "ok NAME SIZE" or "error NAME" + indented message lines
    line = lines[i]
    i += 1
    if line.startswith("ok "): res[src] = (True, str(f).replace(".hip", f".{arch}.co"))
    else:
      msg = []
      while i < len(lines) and lines[i].startswith("  "): msg.append(lines[i][2:]); i += 1
      res[src] = (False, "\n".join(msg))
  assert len(res) == len(by_path)
  return res

def _check_code_object(path: str, name: str, mach: int) -> None:
  co = pathlib.Path(path).read_bytes()
  assert co[:4] == b"\x7fELF" and co[4] == 2, f"{path}: not a 64-bit ELF"
  e_machine, = struct.unpack_from("<H", co, 18)
  e_flags, = struct.unpack_from("<I", co, 48)
  assert e_machine == EM_AMDGPU, f"{path}: e_machine {e_machine}, not AMDGPU"
  assert e_flags & 0xFF == mach, f"{path}: e_flags {e_flags:#x}: not the asked-for arch ({mach:#x})"
  assert f"{name}.kd".encode() in co, f"{path}: no kernel descriptor {name}.kd (the entry must be extern \"C\")"

@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("graph", list(gr.KERNELS) if gr else [])
def test_graph_kernels_compile(compiled, graph, arch):
  progs = compiled[graph]
  if isinstance(progs, Exception): pytest.fail(f"{graph}: rendering in the hip dialect failed: {type(progs).__name__}: {progs}")
  assert progs, f"{graph}: no kernel"
  for p, res in progs:
    ok, what = res[arch]
    assert ok, f"{graph} kernel {p.index} ({p.name}, rendered by {p.renderer}) does not compile for {arch}:\n{what}\n--- source ---\n{p.source}"
    _check_code_object(what, p.name, ARCHS[arch])

def test_compile_error_has_hiprtc_log(tool, tmp_path):
  (f := tmp_path / "broken.hip").write_text('extern "C" __attribute__((global)) void broken(float* out) {\n  out[0] = undefined_thing;\n}\n')
  r = subprocess.run([tool, "gfx90a", str(f)], capture_output=True, text=True, timeout=300, check=False)
  assert r.returncode == 1, r.stdout + r.stderr
  assert "cannot compile broken for gfx90a: HIPRTC_ERROR_COMPILATION" in r.stdout and "use of undeclared identifier 'undefined_thing'" in r.stdout, r.stdout

def test_target_too_new_for_this_hiprtc_is_refused(tool, tmp_path):
  """ROCm 5.2's hiprtc aborts the process on gfx1100 ("munmap_chunk(): invalid pointer"): the plugin refuses it first."""
  (f := tmp_path / "k.hip").write_text('extern "C" __attribute__((global)) void k(float* out) { out[0] = 1.0f; }\n')
  r = subprocess.run([tool, "gfx1100", str(f)], capture_output=True, text=True, timeout=300, check=False)
  if "ROCm 5." not in r.stderr: pytest.skip(f"this hiprtc is not ROCm 5's: {r.stderr.strip()}")
  assert r.returncode == 1 and "cannot target gfx1100: it needs hiprtc from ROCm 5.5 or newer" in r.stdout, r.stdout + r.stderr
