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

# `DEV=VULKAN python -m pytest tests/test_ops_torch.py ...` runs the tensor tests below on that device, as tinygrad's test suite
# runs on $DEV; every other test runs with DEV unset, since it checks defaults, CPU kernels or tinygrad's CPU graphs.
TEST_DEV = os.environ.get("DEV")
ON_DEV = {"test_ops_torch", "test_tensor_api", "test_autograd", "test_nn", "test_indexing", "test_conv", "test_ops_dtype", "test_jit",
          "test_state", "test_resnet18", "test_torch_load", "test_fuzz"}

if TEST_DEV:  # tinygrad 0.14.0, the reference the tests compare with, runs on CPU: it reads DEV once, when imported
  os.environ["DEV"] = os.environ.get("TINYGRAD_DEV", "CPU")  # CPU:X86 where there is no clang (scripts/gpu/vulkan_h200.sh)
  try: import tinygrad  # noqa: F401
  except ImportError: pass
  os.environ["DEV"] = TEST_DEV

@pytest.fixture(autouse=True)
def _no_dev(request, monkeypatch):
  if TEST_DEV and request.module.__name__.rsplit(".", 1)[-1] in ON_DEV: monkeypatch.setenv("DEV", TEST_DEV)
  else: monkeypatch.delenv("DEV", raising=False)
