"""Shared by the tgc-hip tests: the installed plugin (not the source tree's package), a C compiler, the fake HIP runtime
built from tests/fake_hip.c, and a helper that runs Python code in a child with the plugin pointed at a runtime (the
library reads TGC_HIP_PATH once, when it first loads, so each configuration gets its own process)."""
import os, sys, shutil, pathlib, subprocess, importlib.resources
import pytest
import tgc_hip

HERE = pathlib.Path(__file__).resolve().parent
if not os.path.isfile(tgc_hip.library()):
  pytest.exit(f"tgc_hip imported from {os.path.dirname(tgc_hip.__file__)} has no {tgc_hip.library()}: install the plugin (pip install "
              "./plugins/tgc-hip) and run pytest from outside plugins/tgc-hip", returncode=2)

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

@pytest.fixture(scope="session")
def fake_hip(tmp_path_factory) -> str:
  """libamdhip64 stand-in with ROCm 5's hipDeviceProp_t (and hiprtc inside, as ROCm 5 ships it)."""
  return build(tmp_path_factory.mktemp("fake") / "libfakehip.so", str(HERE / "fake_hip.c"), shared=True)

@pytest.fixture(scope="session")
def fake_hip_r0600(tmp_path_factory) -> str:
  """The same with ROCm 6's hipGetDevicePropertiesR0600 (gcnArchName at another offset)."""
  return build(tmp_path_factory.mktemp("fake6") / "libfakehip6.so", str(HERE / "fake_hip.c"), shared=True, flags=("-DFAKE_R0600",))

CLEAN = ("DEV", "TGC_BACKEND_PATH", "TGC_HIP_PATH", "TGC_HIPRTC_PATH", "FAKE_HIP_LOG", "FAKE_HIP_DEVICES", "FAKE_HIP_ARCH", "FAKE_HIP_MEM",
         "FAKE_HIP_FAIL")

def run_py(code: str, env: dict | None = None, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
  e = {k: v for k, v in os.environ.items() if k not in CLEAN}
  e.update(env or {})
  cmd = [sys.executable, *(args or ("-c", code))]
  return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=300, cwd=str(HERE.parent.parent.parent / "tests"), check=False)
