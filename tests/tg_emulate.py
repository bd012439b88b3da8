"""tinygrad's CPU device compiles with clang (even its own helper programs, when it opens). Where there is none (the GPU
machines of scripts/gpu/*_h200.sh have gcc alone), tinygrad's "CPU" is served by its Python emulator (ops_python): the same
graphs, device names and random streams, every kernel interpreted. TINYGRAD_EMULATE_CPU=1 forces it, =0 never.
Used by conftest.py and by test_fuzz.py's child processes (which conftest does not reach)."""
import os, shutil

def emulate_tinygrad_cpu() -> bool:
  """Switch tinygrad's CPU device to its Python emulator where there is no clang (or when forced); True when switched."""
  if os.environ.get("TINYGRAD_EMULATE_CPU", "" if shutil.which("clang") else "1") != "1": return False
  try:
    import tinygrad.runtime.ops_cpu as _tg_cpu, tinygrad.runtime.ops_python as _tg_py
    _tg_cpu.CPUDevice = type("CPUDevice", (_tg_py.PythonDevice,), {})
    return True
  except ImportError: return False
