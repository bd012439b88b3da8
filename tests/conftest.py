import os, sys, shlex, shutil, subprocess
import pytest

def c_compiler() -> list[str] | None:
  """The C compiler command the CPU backend (and the fake plugin build) uses: $TGC_CC or cc, None if not on PATH."""
  cmd = shlex.split(os.environ.get("TGC_CC") or "cc")
  return cmd if cmd and shutil.which(cmd[0]) else None

requires_cc = pytest.mark.skipif(c_compiler() is None, reason="no C compiler: neither $TGC_CC nor cc is on PATH (install gcc or clang)")

def run_py(code_or_args: str | list[str], env: dict | None = None, **kw) -> subprocess.CompletedProcess:
  """Run python in a fresh process (DEV unset unless given), from a neutral directory so the source tree is not on sys.path."""
  e = {k: v for k, v in os.environ.items() if k not in ("DEV", "TGC_BACKEND_PATH")}
  e.update(env or {})
  args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
  cwd = kw.pop("cwd", os.path.dirname(os.path.abspath(__file__)))
  return subprocess.run([sys.executable, *args], env=e, check=False, capture_output=True, text=True, timeout=300, cwd=cwd, **kw)

# DEV=CUDA (any device but CPU) given to pytest runs tgc's tensors on that device: tgc's Device.DEFAULT is pinned to it,
# while DEV itself is set to CPU before the test modules import tinygrad, so the reference (tinygrad 0.14.0, DEV=CPU) stays
# on the CPU. Subprocesses (run_py) and each test still see no DEV.
TEST_DEV = os.environ.get("DEV") if os.environ.get("DEV", "CPU").split(":")[0].upper() != "CPU" else None
if TEST_DEV: os.environ["DEV"] = "CPU"

@pytest.fixture(autouse=True)
def _no_dev(monkeypatch):
  monkeypatch.delenv("DEV", raising=False)
  if TEST_DEV:
    from tgc.device import Device
    monkeypatch.setattr(Device, "DEFAULT", Device.canonicalize(TEST_DEV), raising=False)

def pytest_report_header(config):
  return f"tgc tensors on {TEST_DEV} (DEV); tinygrad, the reference, on CPU" if TEST_DEV else None
