"""Shared by the tgc-metal tests: the installed plugin (not the source tree's package), a C compiler, the fake objc/Metal
layer built from tests/fake_metal.c, and a helper that runs Python code in a child with the plugin pointed at it (the
library reads TGC_METAL_OBJC/TGC_METAL_FRAMEWORK once, when it first loads, so each configuration gets its own process)."""
import os, sys, shutil, pathlib, platform, subprocess, importlib.resources
import pytest
import tgc_metal

HERE = pathlib.Path(__file__).resolve().parent
if not os.path.isfile(tgc_metal.library()):
  pytest.exit(f"tgc_metal imported from {os.path.dirname(tgc_metal.__file__)} has no {tgc_metal.library()}: install the plugin (pip install "
              "./plugins/tgc-metal) and run pytest from outside plugins/tgc-metal", returncode=2)

def cc() -> list[str] | None:
  c = os.environ.get("TGC_CC", "cc").split()
  return c if c and shutil.which(c[0]) else None

def tgc_include() -> str: return str(importlib.resources.files("tgc") / "include")

def build(out: pathlib.Path, *srcs: str, shared: bool = False, flags: tuple[str, ...] = ()) -> str:
  if cc() is None: pytest.skip("no C compiler (cc or $TGC_CC)")
  cmd = [*cc(), "-O1", "-Wall", "-Wextra", "-Werror", f"-I{tgc_include()}", *flags, "-o", str(out), *srcs, "-ldl", "-lpthread"]
  if shared: cmd[1:1] = ["-shared", "-fPIC", "-fvisibility=hidden"]
  r = subprocess.run(cmd, capture_output=True, text=True, check=False)
  if r.returncode != 0: pytest.fail(f"{' '.join(cmd)} failed:\n{r.stderr}")
  return str(out)

FAKE_OK = platform.system() == "Linux" and platform.machine() == "x86_64"

@pytest.fixture(scope="session")
def fake_metal(tmp_path_factory) -> str:
  """libobjc + Metal.framework stand-in (one library: both variables point at it)."""
  if not FAKE_OK: pytest.skip(f"the fake objc runtime's objc_msgSend is written for Linux x86-64, not {platform.system()} {platform.machine()}")
  return build(tmp_path_factory.mktemp("fake") / "libfakemetal.so", str(HERE / "fake_metal.c"), shared=True)

CLEAN = ("DEV", "TGC_BACKEND_PATH", "TGC_METAL_OBJC", "TGC_METAL_FRAMEWORK", "FAKE_METAL_LOG", "FAKE_METAL_DEVICE", "FAKE_METAL_FAMILY",
         "FAKE_METAL_MEM", "FAKE_METAL_MAX_THREADS", "FAKE_METAL_FAIL")

def run_py(code: str, env: dict | None = None, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
  e = {k: v for k, v in os.environ.items() if k not in CLEAN}
  e.update(env or {})
  cmd = [sys.executable, *(args or ("-c", code))]
  return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=300, cwd=str(HERE.parent.parent.parent / "tests"), check=False)
