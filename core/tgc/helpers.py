"""tinygrad's helpers that tgc mirrors: GlobalCounters (the engine's counters live in libtgc)."""
from tgc._ffi import ffi, lib, check

def _counters():
  c = ffi.new("tg_counters *")
  c.struct_size = ffi.sizeof("tg_counters")
  check(lib().tg_counters_get(c))
  return c

class _GlobalCountersMeta(type):
  @property
  def kernel_count(cls) -> int: return _counters().kernel_count
  @property
  def compile_count(cls) -> int: return _counters().compile_count
  @property
  def copy_count(cls) -> int: return _counters().copy_count

class GlobalCounters(metaclass=_GlobalCountersMeta):
  """tinygrad's GlobalCounters: kernel_count (kernels run since reset), plus tgc's compile_count and copy_count."""
  @staticmethod
  def reset() -> None: check(lib().tg_counters_reset())
