"""tinygrad 0.14.0's TinyJit over libtgc's capture/replay (tg_jit_* in include/tg.h).

The first call runs the function; the second runs it while capturing every kernel its realizes would launch (nothing
runs during capture; reading tensor data raises), then runs the captured kernels once; later calls skip the Python
function and replay the kernels with the new input tensors bound in place of the captured ones. Inputs are the Tensor
arguments (positional, keyword, and tensors inside list/tuple/dict arguments, one level deep); their shapes, dtypes and
devices must not change after capture (JitError). The returned tensors are the same objects on every replay, rewritten in
place, as in tinygrad. JIT=0 turns capturing off."""
from __future__ import annotations
import functools, os
from typing import Any, Callable
from tgc._ffi import ffi, lib, TgcError
from tgc.tensor import Tensor, JitError

def _inputs(args, kwargs) -> tuple[list, list[Tensor]]:
  named = [(n, t) for n, t in list(enumerate(args)) + sorted(kwargs.items()) if isinstance(t, Tensor)]
  names, tensors = [n for n, _ in named], [t for _, t in named]
  for x in args + tuple(kwargs.values()):
    it = x if isinstance(x, (tuple, list)) else x.values() if isinstance(x, dict) else []
    tensors += [t for t in it if isinstance(t, Tensor) and not any(t is y for y in tensors)]
  return names, tensors

def _ret_tensors(ret) -> list[Tensor]:
  if isinstance(ret, Tensor): return [ret]
  if isinstance(ret, (list, tuple)): return [t for x in ret for t in _ret_tensors(x)]
  if isinstance(ret, dict): return [t for x in ret.values() for t in _ret_tensors(x)]
  return []

def _handles(ts: list[Tensor]): return ffi.new("tg_tensor *[]", [t._h for t in ts] or [ffi.NULL])

class TinyJit:
  def __init__(self, fxn: Callable | None = None, prune: bool = False):
    if fxn is None: raise JitError("TinyJit needs a function")
    self.fxn, self.cnt, self._jit, self._ret, self._names = fxn, 0, None, None, None
    functools.update_wrapper(self, fxn)
  def reset(self):
    self._release()
    self.cnt, self._ret, self._names = 0, None, None
  def _release(self):
    if self._jit is not None: lib().tg_jit_release(self._jit)
    self._jit = None
  def __del__(self):
    try: self._release()
    except Exception: pass
  def __get__(self, obj, objtype): return functools.partial(self.__call__, obj)  # instance methods

  def __call__(self, *args, **kwargs) -> Any:
    names, inputs = _inputs(args, kwargs)
    if len(set(id(t) for t in inputs)) != len(inputs): raise JitError("duplicate inputs to JIT")
    if os.environ.get("JIT", "1") == "0" or self.cnt == 0:
      if (todo := [t for t in inputs]): Tensor.realize(*todo)
      ret = self.fxn(*args, **kwargs)
      if (outs := _ret_tensors(ret)): Tensor.realize(*outs)
    elif self.cnt == 1:
      if inputs: Tensor.realize(*inputs)
      try: _check(lib().tg_jit_capture_begin())
      except TgcError as e: raise RuntimeError(str(e)) from None
      try:
        ret = self.fxn(*args, **kwargs)
        if (outs := _ret_tensors(ret)): Tensor.realize(*outs)
      except BaseException:
        lib().tg_jit_capture_end(ffi.NULL, 0, ffi.new("tg_jit **"))
        raise
      out = ffi.new("tg_jit **")
      st = lib().tg_jit_capture_end(_handles(inputs), len(inputs), out)
      if st: raise JitError(_msg())
      self._jit, self._ret, self._names = out[0], ret, names
      self._run(inputs)
    else:
      if names != self._names: raise JitError(f"args mismatch in JIT: captured with tensor arguments {self._names}, called with {names}")
      self._run(inputs)
      ret = self._ret
    self.cnt += 1
    return ret

  def _run(self, inputs: list[Tensor]):
    if lib().tg_jit_run(self._jit, _handles(inputs), len(inputs)): raise JitError(_msg())

def _msg() -> str: return ffi.string(lib().tg_last_error()).decode(errors="replace")
def _check(st: int):
  from tgc._ffi import check
  check(st)
