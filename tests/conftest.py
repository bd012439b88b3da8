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

# DEV=WEBGPU (or any device) runs tgc's tensors there, as tinygrad's DEV does: libtgc and tgc.Device read $DEV, which each test
# keeps. tinygrad, the oracle most tests compare with in the same process, stays on CPU: its DEV is read once, here, as CPU.
# Without DEV each test runs with DEV unset (subprocesses pick their own). TEST_DEV: the device tgc's tensors default to.
TEST_DEV = os.environ.get("DEV", "") or "CPU"
if TEST_DEV.split(":")[0].upper() != "CPU":
  os.environ["DEV"] = "CPU"
  try: import tinygrad.helpers  # noqa: F401  (tinygrad reads DEV once, when imported)
  except ImportError: pass
  os.environ["DEV"] = TEST_DEV
  from tgc import Device
  TEST_DEV = Device.canonicalize(TEST_DEV)
else: TEST_DEV = "CPU"

# tinygrad's CPU device on its Python emulator where there is no clang (tg_emulate.py says why)
from tg_emulate import emulate_tinygrad_cpu
TINYGRAD_EMULATED = emulate_tinygrad_cpu()

@pytest.fixture(autouse=True)
def _no_dev(monkeypatch):
  if TEST_DEV != "CPU": monkeypatch.setenv("DEV", TEST_DEV)
  else: monkeypatch.delenv("DEV", raising=False)

# ---------------- dtypes the test device lacks (tinygrad's is_dtype_supported) ----------------
# A test parametrized by a dtype the device does not declare (WebGPU: no int64/uint64/float64/bfloat16/fp8, WGSL having no
# 64-bit types) is skipped with that reason, visibly; a test that needs such a dtype inside uses requires_dtypes.
_DT_ALIASES = {"long": "int64", "ulong": "uint64", "double": "float64", "float64": "float64", "int64": "int64", "uint64": "uint64",
               "bfloat16": "bfloat16", "half": "float16", "float16": "float16", "fp8e4m3": "fp8e4m3", "fp8e5m2": "fp8e5m2",
               "fp8e4m3fnuz": "fp8e4m3fnuz", "fp8e5m2fnuz": "fp8e5m2fnuz",
               "F64": "float64", "I64": "int64", "U64": "uint64", "BF16": "bfloat16", "F16": "float16"}   # safetensors' names

def device_dtypes(device: str | None = None) -> set[str]:
  from tgc import Device
  return set(Device[device or TEST_DEV].caps["dtypes"])

def unsupported_reason(names) -> str | None:
  """The skip reason when the test device lacks one of the dtypes named (aliases as tinygrad spells them), else None."""
  if TEST_DEV == "CPU": return None
  have = device_dtypes()
  lack = sorted({_DT_ALIASES[n] for n in names if n in _DT_ALIASES} - have)
  return f"{TEST_DEV} does not support {', '.join(lack)} (its dtypes: {' '.join(sorted(have))})" if lack else None

def requires_dtypes(*names):
  """Skip (with the reason) unless the test device holds every dtype named."""
  return pytest.mark.skipif(bool(r := unsupported_reason(names)), reason=r or "")

def pytest_collection_modifyitems(config, items):
  if TEST_DEV == "CPU": return
  import re
  for it in items:
    cs = getattr(it, "callspec", None)
    if cs is None: continue
    words = [cs.id, *map(str, cs.params.values())]
    toks = {t for w in words for t in re.split(r"\W+", w)}   # whole words: "long", "int64"; and canonical names inside ids: "int64_index"
    toks |= {t for w in words for t in re.split(r"[\W_]+", w) if t in _DT_ALIASES.values()}
    if r := unsupported_reason(toks): it.add_marker(pytest.mark.skip(reason=r))

def pytest_report_header(config):
  emu = " (tinygrad's CPU emulated by its Python device: no clang here)" if TINYGRAD_EMULATED else ""
  return f"tgc tensors on {TEST_DEV} (DEV); tinygrad, the reference, on CPU{emu}" if TEST_DEV != "CPU" or emu else None
