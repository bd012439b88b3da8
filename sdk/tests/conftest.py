"""Fixtures for the tgc-sdk tests: backend libraries built with cc (the core's CPU plugin and planted-defect backends from
the repository, the SDK's own crash/hang/leak backends from tests/data), and a generated backend built and installed into
a private directory, which the tests put on the path (so the machine's site-packages is left alone)."""
import os, sys, json, shutil, subprocess, importlib.util, importlib.resources
from pathlib import Path
import pytest
from click.testing import CliRunner
from tgc_sdk.cli import main

SDK = Path(__file__).resolve().parent.parent
REPO = SDK.parent
DATA = Path(__file__).resolve().parent / "data"
INCLUDE = Path(str(importlib.resources.files("tgc") / "include"))
CC = os.environ.get("CC", "cc")
DEFECTS = ["mini", "null_fn", "caps_local", "caps_dialect", "old_abi", "bad_magic", "bad_major", "no_entry", "no_manifest", "entry_fails",
           "newer_minor", "unavailable"]

def cc(out: Path, *args: str) -> Path:
  r = subprocess.run([CC, "-shared", "-fPIC", "-fvisibility=hidden", "-O1", "-o", str(out), *args], capture_output=True, text=True)
  if r.returncode != 0: pytest.fail(f"building {out.name} failed:\n{r.stderr}")
  return out

@pytest.fixture(scope="session")
def core_libs(tmp_path_factory) -> dict[str, Path]:
  """libtgc_cpu_plugin.so and the planted-defect backends of tests/c/backends: from $TGC_BUILD_DIR (a CMake build with
  -DBUILD_TESTS=ON) when it has them, else compiled here from the repository's sources."""
  if (b := os.environ.get("TGC_BUILD_DIR")) and (Path(b) / "libtgc_cpu_plugin.so").is_file():
    return {"cpu": Path(b) / "libtgc_cpu_plugin.so", **{n: Path(b) / "test_backends" / f"lib{n}.so" for n in DEFECTS}}
  if not (REPO / "core/src/runtime/cpu.c").is_file(): pytest.skip("not in the tgc repository and no TGC_BUILD_DIR: no CPU plugin to test")
  d = tmp_path_factory.mktemp("core_libs")
  libs = {"cpu": cc(d / "libtgc_cpu_plugin.so", "-DTG_CPU_AS_PLUGIN=1", f"-I{REPO / 'include'}", f"-I{REPO / 'core/src'}",
                    str(REPO / "core/src/runtime/cpu.c"), str(REPO / "core/src/helpers.c"), "-lpthread", "-ldl", "-lm")}
  for n in DEFECTS: libs[n] = cc(d / f"lib{n}.so", f"-I{REPO / 'include'}", f"-I{REPO / 'tests/c'}", str(REPO / "tests/c/backends" / f"{n}.c"))
  return libs

@pytest.fixture(scope="session")
def planted(tmp_path_factory) -> dict[str, Path]:
  """tests/data/*_backend.c: good, crash, hang, crash_alloc, leaky."""
  d = tmp_path_factory.mktemp("planted")
  return {src.stem.removesuffix("_backend"): cc(d / f"lib{src.stem}.so", f"-I{INCLUDE}", f"-I{DATA}", str(src)) for src in DATA.glob("*_backend.c")}

LIES = ["F64", "GLOBAL", "LOCAL", "THREADS", "SHARED", "ALIGN", "RULES", "UNDECLARED", "SQRT"]

@pytest.fixture(scope="session")
def liars(tmp_path_factory) -> dict[str, Path]:
  """tests/data/lying_cpu.c built once per LIE_<X>: the CPU backend with one planted lie in its caps (compiled in parallel)."""
  if not (REPO / "core/src/runtime/cpu.c").is_file(): pytest.skip("not in the tgc repository: no cpu.c to wrap")
  d = tmp_path_factory.mktemp("liars")
  args = [f"-I{REPO / 'include'}", f"-I{REPO / 'core/src'}", str(DATA / "lying_cpu.c"), str(REPO / "core/src/helpers.c"), "-lpthread", "-ldl", "-lm"]
  procs = {lie: subprocess.Popen([CC, "-shared", "-fPIC", "-fvisibility=hidden", "-O1", f"-DLIE_{lie}", "-o", str(d / f"liar_{lie.lower()}.so"),
                                  *args], stderr=subprocess.PIPE, text=True) for lie in LIES}
  for lie, p in procs.items():
    if p.wait() != 0: pytest.fail(f"building lying_cpu.c with -DLIE_{lie} failed:\n{p.stderr.read()}")
  return {lie: d / f"liar_{lie.lower()}.so" for lie in LIES}

def pip_install(project: Path, target: Path) -> None:
  """pip install the project into `target` (no dependencies: tgc is already here). Without build isolation when
  scikit-build-core is importable (pip install tgc-sdk[test]), so no index is needed."""
  args = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(project)]
  if importlib.util.find_spec("scikit_build_core") is not None: args.insert(5, "--no-build-isolation")
  r = subprocess.run(args, capture_output=True, text=True, timeout=600)
  if r.returncode != 0: pytest.fail(f"pip install {project} failed:\n{r.stdout}\n{r.stderr}")

@pytest.fixture(scope="session")
def acme(tmp_path_factory) -> dict[str, Path]:
  """`tgc-sdk new-backend acme`, built and installed into a private site directory: {"project", "site"}."""
  root = tmp_path_factory.mktemp("acme")
  r = CliRunner().invoke(main, ["new-backend", "acme", "--output", str(root / "tgc-acme")])
  assert r.exit_code == 0, r.output
  pip_install(root / "tgc-acme", root / "site")
  return {"project": root / "tgc-acme", "site": root / "site"}

@pytest.fixture
def with_site(monkeypatch, acme):
  """The installed acme on sys.path and PYTHONPATH (entry points are found through both)."""
  monkeypatch.syspath_prepend(str(acme["site"]))
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(acme["site"]), *filter(None, [os.environ.get("PYTHONPATH")])]))
  return acme

def cli(*args: str, env: dict | None = None):
  return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)

def conformance_json(tmp_path: Path, *args: str) -> tuple[int, dict, str]:
  out = tmp_path / "report.json"
  r = cli("conformance", *args, "--json", str(out))
  return r.exit_code, json.loads(out.read_text()), r.output

def statuses(rep: dict) -> dict[str, str]: return {c["case"]: c["status"] for t in rep["tiers"].values() for c in t["cases"]}

def which_sdk() -> str | None: return shutil.which("tgc-sdk")

def run_json(*args: str, env: dict | None = None) -> tuple[int, dict, str]:
  """A tgc-sdk command with --json: (exit code, the JSON it printed, stderr)."""
  r = CliRunner(env=env).invoke(main, [*args, "--json"], catch_exceptions=False)
  return r.exit_code, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr
