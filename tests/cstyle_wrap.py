"""tgc's departure from tinygrad 0.14.0's C-family renderers (core/src/renderer/cstyle.c, wraps_inline), applied to
tinygrad's renderer so that sources can still be compared byte for byte: an int8/uint8/int16/uint16 ADD, SUB, MUL, SHL,
NEG or signed CDIV that is inlined (one use, scalar) is cast back to its dtype, `((unsigned char)(a+b))`, because C
promotes its operands to int and a widening CAST or a compare would see the bits its dtype does not have. `unwrap` takes
those casts out again (the test that the departure is the only difference)."""
import functools
from collections import Counter
from tinygrad import dtypes
from tinygrad.uop.ops import Ops, UPat, PatternMatcher

NARROW = (dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.uint16)
SIGNED = (dtypes.int8, dtypes.int16)

def _wrap(ctx, x):
  l = ctx._tinygrad_rewrite.rewrite(x, ctx=ctx)
  wraps = x.op is not Ops.CDIV or x.dtype in SIGNED
  # inlined as tinygrad's CStyleLanguage._render inlines an ALU that is not a WHERE: one use, not a vector
  return f"(({ctx.render_dtype(x.dtype)}){l})" if l is not None and wraps and ctx._children[x] == 1 and x.max_numel() == 1 else l

WRAP = PatternMatcher([(UPat((Ops.ADD, Ops.SUB, Ops.MUL, Ops.SHL, Ops.NEG, Ops.CDIV), dtype=NARROW, name="x"), _wrap)])

@functools.cache
def _wrapping_class(cls):
  def _render(self, uops):
    self._children = Counter(v for u in uops for v in u.src)
    try: return cls._render(self, uops)
    finally: del self._children
  # a class of its own: tinygrad's to_program cache keys on type(renderer), so a plain renderer's program is never reused.
  # tinygrad pickles renderers (its disk cache): one is rebuilt from its tinygrad class, in any process
  return type(f"Wrapping{cls.__name__}", (cls,), {"_render": _render, "string_rewrite": WRAP + cls.string_rewrite,
                                                   "_tinygrad_rewrite": cls.string_rewrite, "__reduce__": lambda self: (_rebuild, (cls, dict(vars(self))))})

def _rebuild(cls, state):
  r = cls.__new__(cls)
  r.__dict__.update(state)
  r.__class__ = _wrapping_class(cls)
  return r

def wrapping(r):
  """Makes the tinygrad renderer `r` (an instance, its string_rewrite as its __init__ left it) print tgc's wraps; returns r."""
  if "string_rewrite" in vars(r): r._tinygrad_rewrite, r.string_rewrite = r.string_rewrite, WRAP + r.string_rewrite  # HIP on CDNA sets its own
  r.__class__ = _wrapping_class(type(r))
  return r

def _close(t: str, i: int) -> int:  # the index of the ")" closing the "(" at t[i]
  d = 0
  for j in range(i, len(t)):
    d += {"(": 1, ")": -1}.get(t[j], 0)
    if d == 0: return j
  raise ValueError(t[i:])

def _binary(e: str) -> bool:  # "(a+b)": one group whose content has an operator outside parentheses, not in front
  if not (e.startswith("(") and _close(e, 0) == len(e) - 1): return False
  d = 0
  for k, ch in enumerate(e[1:-1]):
    d += {"(": 1, ")": -1}.get(ch, 0)
    if d == 0 and k > 0 and ch in "+-*/<": return True
  return False

def unwrap(src: str, type_names) -> str:
  """The wraps `((T)(a+b))`, `((T)-x)` taken out of src, innermost last, then the wraps an ADD/MUL/... chain stripped of
  their parentheses as tinygrad strips an operand of the same op, `((T)(a+b)+c)` -> `(a+b+c)`. A CAST `((T)(x))` or
  `((T)((a+b)))` stays."""
  for t in type_names:
    head = f"(({t})"
    i = src.find(head)
    while i >= 0:
      e = _close(src, i)
      inner = src[i + len(head):e]
      if inner.startswith("-") or _binary(inner): return unwrap(src[:i] + inner + src[e + 1:], type_names)
      i = src.find(head, i + 1)
  for t in type_names:
    head = f"({t})("
    i = src.find(head)
    while i >= 0:
      o = i + len(head) - 1
      e = _close(src, o)
      if _binary(src[o:e + 1]): return unwrap(src[:i] + src[o + 1:e] + src[e + 1:], type_names)
      i = src.find(head, i + 1)
  return src

def wrap_tinygrad_cpu():
  """tinygrad's CPU device (its ClangRenderer) as an oracle of values: given the same wraps, so that it computes numpy's
  narrow-int results as tgc does (tinygrad's own clang kernels widen uint8 200+100 to 300). No-op on its Python emulator."""
  from tinygrad import Device
  from tinygrad.renderer.cstyle import CStyleLanguage
  r = Device["CPU"].renderer
  if isinstance(r, CStyleLanguage) and not hasattr(r, "_tinygrad_rewrite"): wrapping(r)
