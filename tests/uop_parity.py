#!/usr/bin/env python3
"""Parity of the C UOp core (core/src/uop) with tinygrad 0.14.0: run by ctest as `uop_parity.py <path to test_uop>`.

Builds each graph of tests/c/internal/uop_dump.c again with tinygrad, prints repr(uop) (pretty_print), the dtype, the
shape (or the error tinygrad raises computing it) and, for bounds_* cases, vmin/vmax; then compares that with what
`test_uop --dump` prints for the same graphs built in C. The expected text comes from tinygrad at test time.
Exits 77 (ctest's skip code) when tinygrad 0.14.0 is not installed."""
import difflib, math, random, subprocess, sys

try:
  from importlib.metadata import version
  if version("tinygrad") != "0.14.0": raise ImportError(f"tinygrad {version('tinygrad')} installed, need 0.14.0")
  from tinygrad.uop.ops import UOp, Ops, AxisType, shape_to_shape_arg
  from tinygrad.dtype import dtypes, Invalid
except ImportError as e:
  print(f"SKIP: {e}")
  sys.exit(77)

f32 = dtypes.float
def sarg(*d): return shape_to_shape_arg(d)
def mop(op, x, *shape_args): return UOp(op, src=(x, *shape_args))
def param(slot, dt, *shape): return UOp.param(slot, dt, shape)
def c(v, dt): return UOp.const(v, dt)
def w(v): return UOp.const(v)  # weakint / weakfloat
def alu(op, *src, **kw): return UOp(op, src=src, **kw)
def rng(end): return UOp.range(end, 0)

def alu_promote():
  s = alu(Ops.ADD, c(3, dtypes.int32), w(4))
  return alu(Ops.ADD, UOp(Ops.CAST, src=(s,), arg=dtypes.half), alu(Ops.MUL, c(1.5, dtypes.half), c(2.0, dtypes.weakfloat)))
def alu_shared():
  s = alu(Ops.ADD, a := c(1.0, f32), a)
  return alu(Ops.MUL, s, s)
def alu_tree():
  a, b = c(1.0, f32), c(2.0, f32)
  s = alu(Ops.ADD, a, b)
  t = alu(Ops.MUL, s, b)
  return alu(Ops.MAX, alu(Ops.SUB, t, s), t)
def where():
  a, b = c(1, dtypes.int32), c(2, dtypes.int32)
  return alu(Ops.WHERE, alu(Ops.CMPLT, a, b), a, b)
def unary_float(): return alu(Ops.NEG, alu(Ops.SQRT, c(4, dtypes.int32)))
def cast_bitcast(): return UOp(Ops.BITCAST, src=(UOp(Ops.CAST, src=(param(0, f32, 4),), arg=dtypes.int32),), arg=dtypes.uint8)
def bitcast_half(): return UOp(Ops.BITCAST, src=(param(0, f32, 2, 4),), arg=dtypes.half)
def mov_chain():
  r = mop(Ops.RESHAPE, param(0, f32, 6), sarg(2, 3))
  pe = UOp(Ops.PERMUTE, src=(r,), arg=(1, 0))
  pd = mop(Ops.PAD, pe, sarg(1, 0), sarg(5, 2))
  sh = mop(Ops.SHRINK, pd, sarg(1, 0), sarg(3, 1))
  return mop(Ops.EXPAND, UOp(Ops.FLIP, src=(sh,), arg=(True, False)), sarg(4))
def mov_bad_reshape(): return mop(Ops.RESHAPE, param(0, f32, 2, 3), sarg(4))
def mov_neg_reshape(): return mop(Ops.RESHAPE, param(0, f32, 2, 3), sarg(-1, -6))
def mov_bad_permute(): return UOp(Ops.PERMUTE, src=(param(0, f32, 2, 3),), arg=(0, 0))
def mov_bad_pad(): return mop(Ops.PAD, param(0, f32, 2, 3), sarg(0, 1), sarg(2, 3))
def mov_bad_shrink(): return mop(Ops.SHRINK, param(0, f32, 4), sarg(2), sarg(3))
def mov_bad_flip(): return UOp(Ops.FLIP, src=(param(0, f32, 2, 3),), arg=(1, 0))
def mov_no_shape(): return mop(Ops.RESHAPE, UOp.sink(c(1.0, f32)), sarg(1))
def reduce(): return UOp(Ops.REDUCE, src=(UOp(Ops.REDUCE, src=(param(0, f32, 2, 3, 4),), arg=(Ops.ADD, 2)),), arg=(Ops.MAX, 0))
def reduce_bad(): return UOp(Ops.REDUCE, src=(param(0, f32, 2, 3),), arg=(Ops.ADD, 3))
def broadcast(): return alu(Ops.MUL, alu(Ops.ADD, param(0, f32, 2, 3), param(1, f32, 3)), c(2.0, f32))
def broadcast_bad(): return alu(Ops.ADD, param(0, f32, 2, 3), param(1, f32, 4))
def index(): return UOp(Ops.INDEX, src=(param(0, f32, 2, 3), UOp.range(2, 0)))
def stack():
  a = c(1, dtypes.int32)
  return UOp(Ops.STACK, src=(a, w(2), c(3, dtypes.int32), a))
def sink(): return UOp.sink(c(1.0, f32), c(1, dtypes.int32))
def tags(): return UOp(Ops.ADD, src=(c(1.0, f32).rtag(1), c(2.0, f32).rtag("hello")), tag=(1, "x"))
def custom_str(): return UOp(Ops.CUSTOM, dtypes.int32, src=(c(1, dtypes.int32),), arg="it's {0}\n")
def binary_bytes(): return UOp(Ops.BINARY, arg=b"\x00ab'\"\xff")
def variable(): return UOp.variable("x", 0, 10)
def consts_float():
  vals = [1.0, -0.0, 0.0, math.nan, math.inf, -math.inf, 0.1, 1e-7, 1e16, 1e15, 123456.789, 1e-5, 0.0001, 1.0/3, 5e-324,
          1.7976931348623157e308]
  return UOp.sink(*[c(v, dtypes.double) for v in vals])
def consts_dtypes():
  fds = [dtypes.half, dtypes.bfloat16, f32, dtypes.fp8e4m3, dtypes.fp8e5m2, dtypes.fp8e4m3fnuz, dtypes.fp8e5m2fnuz, dtypes.weakfloat]
  cs = [c(v, dt) for dt in fds for v in (0.1, 1e20, -0.0)]
  cs += [c(-5, dtypes.int8), c(300, dtypes.uint8), c(-2**63, dtypes.int64), c(7, dtypes.uint32), c(-2.7, dtypes.int16),
         c(2, dtypes.bool), UOp.const(Invalid), w(3)]
  return UOp.sink(*cs)
def negzero_distinct():
  s = alu(Ops.ADD, c(-0.0, f32), c(0.0, f32))
  return alu(Ops.MUL, s, alu(Ops.ADD, c(math.nan, f32), c(-math.nan, f32)))
def bounds_range(): return alu(Ops.ADD, alu(Ops.MUL, rng(10), w(4)), w(3))
def bounds_mod(): return alu(Ops.FLOORMOD, rng(10), w(4))
def bounds_div(): return alu(Ops.FLOORDIV, rng(10), w(-3))
def bounds_cmod(): return alu(Ops.CMOD, alu(Ops.ADD, rng(10), w(-5)), w(3))
def bounds_cmplt(): return alu(Ops.CMPLT, rng(10), w(20))
def bounds_cmpne(): return alu(Ops.CMPNE, rng(10), w(3))
def bounds_cast(): return UOp(Ops.CAST, src=(UOp(Ops.CAST, src=(rng(300),), arg=dtypes.int8),), arg=dtypes.uint8)
def bounds_cast_float(): return UOp(Ops.CAST, src=(rng(7),), arg=dtypes.half)
def bounds_variable(): return alu(Ops.MAX, alu(Ops.SHL, UOp.variable("n", 1, 8), w(2)), w(5))
def bounds_where():
  r = rng(10)
  return alu(Ops.WHERE, alu(Ops.CMPLT, r, w(5)), r, w(-1))
def bounds_int32(): return UOp(Ops.CAST, src=(alu(Ops.TRUNC, c(3, dtypes.int32)),), arg=dtypes.int32)
def sym_param(slot=0): return param(slot, f32, UOp.variable("n", 1, 8), 3)
def sym_reshape(): return mop(Ops.RESHAPE, sym_param(), sarg(3, UOp.variable("n", 1, 8)))
def sym_broadcast(): return alu(Ops.ADD, sym_param(), param(1, f32, 3))
def sym_shrink(): return mop(Ops.SHRINK, sym_param(), sarg(0, 1), sarg(UOp.variable("n", 1, 8), 2))
def misc_stage(): return UOp(Ops.STAGE, src=(param(0, f32, 3), UOp.range(4, 0), UOp.range(5, 1)))
def misc_wmma():
  return UOp(Ops.WMMA, src=(param(0, dtypes.half, 2, 8), param(1, dtypes.half, 1, 8), param(2, f32, 2, 4)),
             arg=((8, 16, 16), dtypes.half, "CUDA", 32, None))
def misc_unshard(): return UOp(Ops.UNSHARD, src=(param(0, f32, 2, 3), UOp.range(4, -1, AxisType.DEVICE)), arg=(0,))
def misc_gettuple(): return UOp(Ops.GETTUPLE, src=(UOp.maketuple(param(0, f32, 2, 3), c(1, dtypes.int32)),), arg=1)
def misc_custom(): return UOp(Ops.CUSTOMI, dtypes.int32, src=(param(0, f32, 2, 3), param(1, f32, 3)), arg="{0}+{1}")
def misc_custom_void(): return UOp(Ops.CUSTOM, src=(param(0, f32, 2, 3),), arg="x")
def misc_index2(): return UOp(Ops.INDEX, src=(param(0, f32, 2, 3), UOp.range(2, 0), UOp.range(3, 1)))
def misc_bitcast_grow(): return UOp(Ops.BITCAST, src=(param(0, dtypes.half, 2, 4),), arg=dtypes.int32)
def misc_stack_shaped(): return UOp(Ops.STACK, src=(param(0, f32, 3), param(1, f32, 3)))
def misc_copy(): return UOp(Ops.COPY, src=(UOp(Ops.CONTIGUOUS, src=(param(0, f32, 2, 3),)),), arg="CPU")
def misc_call(): return UOp(Ops.CALL, src=(UOp.sink(param(0, f32, 2)),))
def misc_reduce_tuple1(): return UOp(Ops.REDUCE, src=(param(0, f32, 2),), arg=(Ops.MAX,))
def misc_detach_load(): return UOp(Ops.LOAD, src=(UOp(Ops.DETACH, src=(param(0, f32, 2),)),))
def misc_image_index(): return UOp(Ops.INDEX, src=(param(0, dtypes.half, 2, 3, 4), UOp.range(2, 0)))
def bounds_and_bool(): return alu(Ops.AND, alu(Ops.CMPLT, rng(10), w(5)), UOp.const(True))

CASES = {k: v for k, v in globals().items() if callable(v) and v.__module__ == "__main__" and k not in
         {"sarg", "mop", "param", "c", "w", "alu", "rng", "dump_python", "split", "main", "rand_node", "rand_graph", "encode",
          "bounds_cases", "check_bounds", "minmax", "same"}}

def dump_python() -> str:
  out = []
  for name in sorted(CASES):
    out.append(f"=== {name}")
    try: u = CASES[name]()
    except Exception as e:
      out.append(f"BUILD ERR {e}")
      continue
    out += [repr(u), f"--- dtype {u.dtype!r}"]
    try: out.append("--- shape None" if (s := u._shape) is None else f"--- shape {s}")
    except Exception as e: out.append(f"--- shape ERR {e}")
    out.append(" ".join(["--- toposort", *[x.op.name for x in u.toposort()]]))
    if name.startswith("bounds_"): out.append(f"--- bounds {u.vmin!r} {u.vmax!r}")
  return "\n".join(out) + "\n"

def split(text: str) -> dict[str, str]:
  blocks: dict[str, list[str]] = {}
  cur = None
  for line in text.splitlines():
    if line.startswith("=== "): blocks[cur := line[4:]] = []
    elif cur is not None: blocks[cur].append(line)
  return {k: "\n".join(v) for k, v in blocks.items()}

# ---- random int graphs: vmin/vmax of every node against `test_uop --bounds` ----

INTS = [dtypes.int32, dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.uint32]
CASTS = INTS + [dtypes.bool, dtypes.float32, dtypes.half, dtypes.int64]
BINARY = [Ops.ADD, Ops.SUB, Ops.MUL, Ops.MAX, Ops.CDIV, Ops.CMOD, Ops.FLOORDIV, Ops.FLOORMOD, Ops.XOR, Ops.AND, Ops.OR,
          Ops.SHL, Ops.SHR, Ops.CMPLT, Ops.CMPNE]

def rand_node(rnd: random.Random, pool: list) -> UOp:
  ints = [u for u in pool if dtypes.is_int(u.dtype)] or pool
  bools = [u for u in pool if u.dtype == dtypes.bool]
  a, b = rnd.choice(ints), rnd.choice(ints)
  match rnd.randrange(8):
    case 0: return UOp(Ops.CAST, src=(a,), arg=rnd.choice(CASTS))
    case 1 if bools: return UOp(rnd.choice([Ops.AND, Ops.OR]), src=(rnd.choice(bools), rnd.choice(bools)))
    case 2 if bools: return UOp(Ops.WHERE, src=(rnd.choice(bools), a, UOp(Ops.CAST, src=(b,), arg=a.dtype)))
    case 3: return UOp(Ops.XOR, src=(a, UOp.const(-1, a.dtype)))
    case 4: return UOp(rnd.choice([Ops.SHL, Ops.SHR]), src=(a, UOp.const(rnd.randint(0, 5), a.dtype)))
    case 5: return UOp(rnd.choice([Ops.CDIV, Ops.CMOD, Ops.FLOORDIV, Ops.FLOORMOD]), src=(a, UOp.const(rnd.choice([-7, -2, 3, 4]), a.dtype)))
    case 6: return UOp(Ops.NEG, src=(a,))
  return UOp(rnd.choice(BINARY), src=(a, b))

def rand_graph(rnd: random.Random) -> UOp:
  pool = []
  for _ in range(rnd.randint(2, 4)):
    k = rnd.random()
    if k < 0.35: pool.append(UOp.const(rnd.randint(-20, 20), dtypes.int32))
    elif k < 0.7: pool.append(UOp.range(rnd.randint(1, 40), rnd.randint(0, 3), dtype=dtypes.int32))
    else: pool.append(UOp.variable("v", lo := rnd.randint(-10, 10), lo + rnd.randint(0, 20), dtype=dtypes.int32))
  for _ in range(rnd.randint(1, 8)):
    try: pool.append(rand_node(rnd, pool))
    except Exception: pass  # a dtype rule said no (e.g. a shift of a bool): tinygrad would not build it either
  return UOp.sink(*pool)

def encode(u: UOp, idx: dict) -> str|None:
  if u.op is Ops.CONST: arg = f"b{int(u.arg)}" if isinstance(u.arg, bool) else f"i{u.arg}"
  elif u.op is Ops.RANGE: arg = f"r{u.arg[0]}"
  elif u.op is Ops.CAST: arg = f"d{repr(u.arg)[7:]}"
  elif u.op is Ops.BUFFER: arg = f"v{u.arg.vmin_vmax[0]},{u.arg.vmin_vmax[1]}"
  elif u.arg is None: arg = "-"
  else: return None
  return " ".join([u.op.name, repr(u.dtype)[7:], arg, *[str(idx[s]) for s in u.src]])

def minmax(u: UOp):
  try: return (u.vmin, u.vmax)
  except Exception: return None  # tinygrad raises here (min() of an empty STACK): "?" matches whatever C says

def same(want: str, got: str) -> bool:
  w, g = want.splitlines(), got.splitlines()
  return len(w) == len(g) and all(a == "?" or a == b for a, b in zip(w, g))

def bounds_cases(n: int, seed: int = 1234) -> tuple[str, str, list[str]]:
  rnd, text, want, graphs = random.Random(seed), [], [], []
  while len(graphs) < n:
    nodes = list(rand_graph(rnd).toposort())
    vals = [minmax(u) for u in nodes]
    if vals[-2] is None: continue  # the last value node raises in tinygrad (a negative shift count)
    if any(isinstance(v, int) and abs(v) >= 2**120 for vv in vals if vv for v in vv): continue  # beyond 127-bit ints
    lines = [encode(u, {x: i for i, x in enumerate(nodes)}) for u in nodes]
    if None in lines: continue
    graphs.append("\n".join(lines))
    text += lines + [""]
    want += [f"{vv[0]!r} {vv[1]!r}" if vv else "?" for vv in vals] + [""]
  return "\n".join(text) + "\n", "\n".join(want) + "\n", graphs

def check_bounds(exe: str, n: int = 3000) -> int:
  text, want, graphs = bounds_cases(n)
  proc = subprocess.run([exe, "--bounds"], input=text, capture_output=True, text=True, timeout=300)
  if proc.returncode != 0: print(proc.stderr[-2000:]); return 1
  wg, gg = want.split("\n\n"), proc.stdout.split("\n\n")
  bad = [i for i in range(len(graphs)) if i >= len(gg) or not same(wg[i], gg[i])]
  for i in bad[:5]:
    print(f"--- bounds graph {i}: tinygrad (-) vs C (+)\n{graphs[i]}")
    print("\n".join(difflib.unified_diff(wg[i].splitlines(), gg[i].splitlines() if i < len(gg) else [], lineterm="", n=1)))
  print(f"{len(graphs)} random bounds graphs ({text.count(chr(10)) - len(graphs)} nodes), {len(bad)} differ")
  return 1 if bad else 0

def main() -> int:
  if len(sys.argv) != 2: sys.exit("usage: uop_parity.py <test_uop executable>")
  proc = subprocess.run([sys.argv[1], "--dump"], capture_output=True, text=True, timeout=120)
  if proc.returncode != 0: print(proc.stdout, proc.stderr); return 1
  want, got = split(dump_python()), split(proc.stdout)
  bad = sorted(set(want) ^ set(got))
  if bad: print(f"cases only on one side: {bad}")
  for name in sorted(set(want) & set(got)):
    if want[name] == got[name]: continue
    bad.append(name)
    print(f"--- {name}: tinygrad (-) vs C (+)")
    print("\n".join(difflib.unified_diff(want[name].splitlines(), got[name].splitlines(), lineterm="", n=2)))
  print(f"{len(want)} cases, {len(bad)} differ")
  return (1 if bad or len(want) < 30 else 0) | check_bounds(sys.argv[1])

if __name__ == "__main__": sys.exit(main())
