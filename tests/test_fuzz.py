"""Bad input, fuzzed (issue 3): seeded random op sequences run through tgc and through tinygrad 0.14.0 (DEV=CPU), the oracle.

Each sequence starts from a random input tensor (0-4 dims, size-0 and size-1 dims, eight dtypes) and applies a few ops
picked at random: elementwise unary/binary/ternary (other tensors or weak Python scalars, broadcast or not), cast, the
six movement ops, reductions, contiguous, matmul/dot and realize, each with arguments that are sometimes invalid. Both
libraries run the same steps in lockstep; after every step either both raise (tgc's exception an instance of tinygrad's
type) or both succeed with the same shape and dtype. Sequences that survive are realized in batches (Tensor.realize(*ts))
and compared by value (NaN positions equal, floats within a per-dtype tolerance).

The default run is sized to about a minute; TGC_FUZZ_N=<sequences> runs more, TGC_FUZZ_SEED=<base> picks other seeds.
Every failure prints its seed and the op sequence as code; `python tests/test_fuzz.py SEED [SEED...]` replays cases verbosely.
Chunks run in child processes so that a crash reports the seed and steps it died on instead of killing pytest."""
import os, sys, json, math, random, shutil, subprocess
os.environ.setdefault("DEV", "CPU")
import numpy as np

DTYPES = ["float32", "int32", "bool", "float16", "int8", "uint8", "int64", "float64"]
FLOATS, INTS = {"float32", "float16", "float64"}, {"int32", "int8", "uint8", "int64", "int16", "uint16", "uint32", "uint64"}
TOL = {"float16": (1e-2, 1e-2), "float32": (1e-4, 1e-5), "float64": (1e-9, 1e-12)}

# ---------------- steps: a method call on the current tensor X, or on an input In(k), written as code ----------------

class In:
  def __init__(self, k): self.k = k
  def __repr__(self): return f"in{self.k}"
class _X:
  def __repr__(self): return "x"
X = _X()

def _resolve(a, x, ins):
  if isinstance(a, In): return ins[a.k]
  if a is X: return x
  if isinstance(a, tuple): return tuple(_resolve(v, x, ins) for v in a)
  return a

class Step:
  def __init__(self, recv, meth, *args, **kw): self.recv, self.meth, self.args, self.kw = recv, meth, args, kw
  def __repr__(self):
    a = [repr(v) for v in self.args] + [f"{k}={v!r}" for k, v in self.kw.items()]
    return f"x = {self.recv!r}.{self.meth}({', '.join(a)})"
  def apply(self, x, ins):
    r = _resolve(self.recv, x, ins)
    return getattr(r, self.meth)(*[_resolve(a, x, ins) for a in self.args], **{k: _resolve(v, x, ins) for k, v in self.kw.items()})

# ---------------- random data ----------------

def rand_array(rng: random.Random, shape, dtype: str, nonzero=False, lo=None, hi=None) -> np.ndarray:
  n = math.prod(shape)
  if dtype == "bool": vals = [True] * n if nonzero else [rng.random() < 0.5 for _ in range(n)]
  elif dtype in FLOATS:
    specials = [float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1.0, -1.0, 0.5]
    vals = [rng.choice(specials) if rng.random() < 0.1 else rng.gauss(0, 3) for _ in range(n)]
    if nonzero: vals = [v if v != 0 else 1.5 for v in vals]
  else:
    info = np.iinfo(dtype)
    if lo is None: lo, hi = (max(info.min, -100), min(info.max, 100)) if rng.random() < 0.8 else (info.min, info.max)
    vals = [rng.randint(lo, hi) for _ in range(n)]
    # integer division by 0 (and INT_MIN / -1) is undefined behaviour in C: both libraries trap or differ, so divisors avoid them
    if nonzero: vals = [v if v not in (0, -1) else 3 for v in vals]
  return np.array(vals, dtype=dtype).reshape(shape)

def rand_shape(rng: random.Random, ndim=None):
  ndim = rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 4]) if ndim is None else ndim
  return tuple(rng.choice([0, 1, 1, 2, 2, 3, 3, 4]) if rng.random() < 0.97 else 0 for _ in range(ndim))

def factorizations(rng: random.Random, n: int):
  """A random shape of 0-4 dims with numel n."""
  if n == 0: dims = [rng.choice([0, 1, 2, 3]) for _ in range(rng.randint(1, 3))]; dims[rng.randrange(len(dims))] = 0; return tuple(dims)
  dims, rest = [], n
  for _ in range(rng.randint(0, 3)):
    ds = [d for d in range(1, rest + 1) if rest % d == 0]
    d = rng.choice(ds); dims.append(d); rest //= d
  if rest != 1 or not dims or rng.random() < 0.3: dims.append(rest)
  rng.shuffle(dims)
  return tuple(dims)

# ---------------- the generator: picks the next step from the current (oracle) shape and dtype ----------------

UNARY = ["neg", "reciprocal", "sqrt", "rsqrt", "exp2", "log2", "exp", "log", "sin", "cos", "trunc", "floor", "ceil", "round", "abs",
         "sign", "relu", "sigmoid", "tanh", "square", "logical_not", "bitwise_not", "isnan", "isinf", "isfinite"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "__lt__", "__gt__", "__le__", "__ge__", "eq", "ne", "pow", "mod", "fmod",
          "floordiv", "truncdiv", "bitwise_and", "bitwise_or", "bitwise_xor", "lshift", "rshift"]
DIVLIKE = {"mod", "fmod", "floordiv", "truncdiv"}
REDUCE = ["sum", "max", "min", "prod", "mean"]

class Gen:
  def __init__(self, seed):
    self.rng, self.seed = random.Random(seed), seed
    self.inputs: list[np.ndarray] = []

  def new_input(self, shape, dtype, **kw) -> In:
    self.inputs.append(rand_array(self.rng, shape, dtype, **kw))
    return In(len(self.inputs) - 1)

  def first(self) -> In: return self.new_input(rand_shape(self.rng), self.rng.choice(DTYPES))

  def bshape(self, shape):
    """A shape that broadcasts with `shape` (mostly), or a random one that may not."""
    r = self.rng
    if r.random() < 0.15: return rand_shape(r)
    s = list(shape[r.randint(0, len(shape)):] if r.random() < 0.3 else shape)
    s = [1 if r.random() < 0.3 else d for d in s]
    if r.random() < 0.15: s = [r.choice([1, 2, 3])] + s
    return tuple(s)

  def scalar(self, dtype):
    r = self.rng
    kind = r.random()
    if kind < 0.45: return r.choice([0, 1, 2, 3, -1, -2, 7, 100, 300, -129])
    if kind < 0.9: return r.choice([0.0, 0.5, 1.5, -2.25, 3.0, float("inf"), float("nan"), 1e5])
    return r.choice([True, False])

  def axis(self, ndim, allow_bad=True):
    r = self.rng
    if allow_bad and r.random() < 0.12: return r.choice([ndim, -ndim - 1, ndim + 2])
    return r.randint(-max(ndim, 1), max(ndim, 1) - 1)

  def step(self, shape, dtype) -> Step:
    r, nd = self.rng, len(shape)
    kind = r.choices(["unary", "binary", "where", "cast", "reshape", "permute", "expand", "pad", "shrink", "flip", "reduce", "contiguous",
                      "dot", "realize"], weights=[8, 14, 4, 4, 7, 5, 5, 5, 5, 4, 8, 2, 4, 1])[0]
    bad = r.random() < 0.15  # ask for a deliberately invalid argument where the op has one
    if kind == "unary":
      op = r.choice(UNARY)
      # bitwise_not of a float is XOR with -1: refused only by tinygrad's realize-time check (see bitwise ops below)
      return Step(X, "neg" if op == "bitwise_not" and dtype in FLOATS else op)
    if kind == "binary":
      op, rev = r.choice(BINARY), r.random() < 0.25
      is_int = dtype in INTS or dtype == "bool"
      if op.startswith("bitwise_") and (not is_int or r.random() < 0.5):
        # tinygrad builds AND/OR/XOR of floats and refuses them only in its realize-time graph check, which size-0 graphs may
        # skip: bitwise ops get int/bool operands here (tgc's own check of the float case is tested in tests/test_realize.py)
        other = r.choice([0, 1, 5, -3, True]) if r.random() < 0.5 else self.new_input(self.bshape(shape), r.choice(["int32", "bool", "uint8", "int8"]))
        return Step(X, op, other) if is_int else Step(X, r.choice(["add", "mul", "maximum"]), other)
      if op in ("lshift", "rshift"):
        # shifts by >= the bit width or by negative amounts are undefined in C: keep amounts in [0, 3]
        other = r.randint(0, 3) if r.random() < 0.6 else self.new_input(self.bshape(shape), r.choice(["int32", "uint8", "int8", "float32"]), lo=0, hi=3)
        if isinstance(other, int) and r.random() < 0.1: other = 1.5
        return Step(X, op, other)
      if op in DIVLIKE:
        # integer division by a tensor holding 0 traps (SIGFPE) in both libraries: tensor divisors are nonzero, never x itself
        if r.random() < 0.5: other = self.new_input(self.bshape(shape), r.choice(DTYPES), nonzero=True)
        else:
          other = r.choice([2, 3, -2, 5, 1.5, -0.75, 0.0, True])
          if is_int and other == 0.0 and r.random() < 0.7: other = 3
        meth, kw = {"floordiv": ("div", {"rounding_mode": "floor"}), "truncdiv": ("div", {"rounding_mode": "trunc"})}.get(op, (op, {}))
        return Step(X, meth, other, **kw)
      other = self.scalar(dtype) if r.random() < 0.4 else self.new_input(self.bshape(shape), r.choice(DTYPES))
      if op.startswith("bitwise_") and (isinstance(other, float) or (isinstance(other, In) and self.inputs[other.k].dtype.kind == "f")):
        other = r.choice([1, 6, True])
      if op == "pow" and isinstance(other, In): return Step(X, op, other)  # tensor exponent; reverse pow of tensors is plain pow
      if op == "pow" and isinstance(other, (int, float)) and not isinstance(other, bool): other = r.choice([0, 1, 2, 3, -1, -2, 0.5, 2.0, -1.5])
      if op in ("add", "sub", "mul", "div", "maximum", "minimum", "pow", "bitwise_and", "bitwise_or", "bitwise_xor") and rev and op not in ("maximum", "minimum"):
        return Step(X, op, other, reverse=True)
      return Step(X, op, other)
    if kind == "where":
      cshape = self.bshape(shape)
      cond = self.new_input(cshape, "bool" if r.random() < 0.85 else r.choice(DTYPES))
      y = self.scalar(dtype) if r.random() < 0.5 else self.new_input(self.bshape(shape), r.choice(DTYPES))
      return Step(cond, "where", X, y) if r.random() < 0.7 else Step(cond, "where", y, X)
    if kind == "cast": return Step(X, "cast", r.choice(DTYPES))
    if kind == "reshape":
      n = math.prod(shape)
      if bad:
        ns = r.choice([rand_shape(r), (-1, -1), (n + 1,), (-2, -n if n else -1)])
      else:
        ns = list(factorizations(r, n))
        if ns and r.random() < 0.3 and n > 0: ns[r.randrange(len(ns))] = -1
        ns = tuple(ns)
      return Step(X, "reshape", ns)
    if kind == "permute":
      order = list(range(nd)); r.shuffle(order)
      order = [o - nd if r.random() < 0.2 else o for o in order]
      if bad:
        choice = r.random()
        if choice < 0.3 and order: order[0] = order[-1] if len(order) > 1 else nd + 1
        elif choice < 0.6: order = order + [0]
        elif choice < 0.8 and order: order = order[:-1]
        else: order = [nd + r.randint(0, 2)] + order[1:]
      return Step(X, "permute", tuple(order))
    if kind == "expand":
      ns = [r.choice([2, 3, 0]) if d == 1 and r.random() < 0.6 else (-1 if r.random() < 0.2 else d) for d in shape]
      if r.random() < 0.3: ns = [r.choice([1, 2, 3])] + ns
      if bad:
        choice = r.random()
        if choice < 0.5 and ns: i = r.randrange(len(ns)); ns[i] = (shape[i - (len(ns) - nd)] if i >= len(ns) - nd else 1) + r.choice([1, 2])
        elif ns: ns = ns[1:]
        else: ns = [r.choice([-1, 0])]
      return Step(X, "expand", tuple(ns))
    if kind == "pad":
      lo = -2 if r.random() < 0.3 else 0
      pads = [(r.randint(lo, 2), r.randint(lo, 2)) for _ in shape]
      if bad:
        if r.random() < 0.5: pads = pads + [(1, 1)]
        else: pads = [(-(d + 1), 0) for d in shape] or [(1, 1)]
      value = r.choice([0.0, 0.0, 1.5, -1, True, float("nan"), float("-inf")])
      if r.random() < 0.25: return Step(X, "pad", tuple(v for p in reversed(pads) for v in p), value=value)  # torch-style flat pads
      return Step(X, "pad", tuple(None if r.random() < 0.1 else p for p in pads), value=value)
    if kind == "shrink":
      arg = []
      for d in shape:
        s = r.randint(0, d); e = r.randint(s, d)
        arg.append(None if r.random() < 0.15 else (s, e))
      if bad:
        choice = r.random()
        if choice < 0.3: arg = arg + [(0, 1)]
        elif shape:
          i = r.randrange(nd)
          arg[i] = r.choice([(0, shape[i] + 1), (-1, shape[i]), (min(1, shape[i]) + 1, 1)])
        else: arg = [(0, 1)]
      return Step(X, "shrink", tuple(arg))
    if kind == "flip":
      axes = tuple(self.axis(nd, allow_bad=bad) for _ in range(r.randint(1, max(1, nd))))
      if bad and r.random() < 0.5 and nd > 0: axes = axes + axes[:1]
      return Step(X, "flip", axes)
    if kind == "reduce":
      op = r.choice(REDUCE)
      c = r.random()
      if c < 0.25: axis = None
      elif c < 0.7: axis = self.axis(nd, allow_bad=bad)
      else: axis = tuple(self.axis(nd, allow_bad=bad) for _ in range(r.randint(0, max(1, nd))))
      return Step(X, op, axis=axis, keepdim=r.random() < 0.4)
    if kind == "contiguous": return Step(X, "contiguous")
    if kind == "dot":
      # inner dim matches shape[-1] unless bad; w is 1-D, 2-D or batched 3-D
      k = shape[-1] if shape else r.choice([1, 2])
      if bad: k = k + r.choice([1, 2])
      wnd = r.choice([1, 2, 2, 3])
      wshape = (k,) if wnd == 1 else (k, r.choice([1, 2, 3])) if wnd == 2 else (r.choice([1, 2]), k, r.choice([1, 3]))
      if bad and r.random() < 0.3: wshape = ()
      w = self.new_input(wshape, dtype if r.random() < 0.7 else r.choice(DTYPES))
      return Step(X, "matmul", w) if r.random() < 0.8 else Step(w, "dot", X)
    return Step(X, "realize")

# ---------------- running one sequence in both libraries in lockstep ----------------

def _run_step(lib_state, step, x):
  try:
    y = step.apply(x, lib_state)
    return y, (y.shape, str(y.dtype)), None
  except Exception as e: return None, None, e

class Case:
  """One sequence: its steps as code, then either an error both raised, a mismatch, or a (tinygrad, tgc) pair to realize."""
  def __init__(self, seed): self.seed, self.steps, self.result, self.problem = seed, [], None, None
  def code(self, inputs) -> str:
    lines = [f"# seed {self.seed}"] + [f"in{i} = Tensor(np.array({a.tolist()!r}, dtype='{a.dtype}'))  # {a.shape}" for i, a in enumerate(inputs)]
    return "\n".join(lines + ["x = in0"] + [repr(s) for s in self.steps])

def build_case(seed, tg, tgc, max_steps=5, trace=None) -> tuple[Case, list]:
  g = Gen(seed)
  case = Case(seed)
  x0 = g.first()
  tins, cins = [tg.Tensor(a) for a in g.inputs], [tgc.Tensor(a) for a in g.inputs]
  tx, cx = tins[0], cins[0]
  for _ in range(g.rng.randint(1, max_steps)):
    step = g.step(tx.shape, _np_name(tx.dtype))
    case.steps.append(step)
    if trace: trace(f"  {step!r}")
    # the step may have made new inputs
    tins += [tg.Tensor(a) for a in g.inputs[len(tins):]]
    cins += [tgc.Tensor(a) for a in g.inputs[len(cins):]]
    ty, tmeta, te = _run_step(tins, step, tx)
    cy, cmeta, ce = _run_step(cins, step, cx)
    if te is not None or ce is not None:
      if te is None: case.problem = f"tgc raised {type(ce).__name__}: {ce}; tinygrad gives shape {tmeta[0]} {tmeta[1]}"
      elif ce is None: case.problem = f"tinygrad raised {type(te).__name__}: {te}; tgc gives shape {cmeta[0]} {cmeta[1]}"
      elif not isinstance(ce, type(te)): case.problem = f"exception types differ: tinygrad {type(te).__name__}: {te}; tgc {type(ce).__name__}: {ce}"
      return case, g.inputs
    if tmeta != cmeta:
      case.problem = f"shape/dtype differ: tinygrad {tmeta}, tgc {cmeta}"
      return case, g.inputs
    tx, cx = ty, cy
  case.result = (tx, cx)
  return case, g.inputs

def _np_name(dt) -> str:
  """numpy's name for a tinygrad dtype (weak ones as their strong dtype)."""
  return {"weakint": "int32", "weakfloat": "float32"}.get(dt.name) or np.dtype(dt.fmt).name

def compare(want: np.ndarray, got: np.ndarray) -> str | None:
  if want.shape != got.shape or want.dtype != got.dtype: return f"value shape/dtype differ: tinygrad {want.shape} {want.dtype}, tgc {got.shape} {got.dtype}"
  if want.dtype.kind == "f":
    rtol, atol = TOL[str(want.dtype)]
    w, g = want.astype(np.float64), got.astype(np.float64)
    if not np.array_equal(np.isnan(w), np.isnan(g)): return f"NaN positions differ:\n tinygrad {want!r}\n tgc      {got!r}"
    if not np.array_equal(np.where(np.isinf(w), np.sign(w), 0), np.where(np.isinf(g), np.sign(g), 0)): return f"inf positions differ:\n tinygrad {want!r}\n tgc      {got!r}"
    fin = np.isfinite(w)
    if not np.allclose(w[fin], g[fin], rtol=rtol, atol=atol): return f"values differ:\n tinygrad {want!r}\n tgc      {got!r}"
    return None
  if not np.array_equal(want, got): return f"values differ:\n tinygrad {want!r}\n tgc      {got!r}"
  return None

def _values(ts) -> list:
  """numpy values of the tensors realized together, or None when that realize raised."""
  try:
    ts[0].realize(*ts[1:])
    return [t.numpy() for t in ts]
  except Exception: return None

def _value(t):
  try: return t.realize().numpy()
  except Exception as e: return e

class Excluded(Exception): pass

def _check_values(case, inputs, w, g) -> str | None:
  # tinygrad's own kernel failing to compile (e.g. clang refusing its float -> half vector cast) is tinygrad's bug, not an answer
  if isinstance(w, subprocess.CalledProcessError): raise Excluded
  if isinstance(w, Exception) or isinstance(g, Exception):
    if isinstance(w, Exception) and isinstance(g, type(w)): return None
    return f"realize: tinygrad {type(w).__name__ + ': ' + str(w) if isinstance(w, Exception) else 'ok'}; " \
           f"tgc {type(g).__name__ + ': ' + str(g) if isinstance(g, Exception) else 'ok'}\n{case.code(inputs)}"
  msg = compare(w, g)
  return f"{msg}\n{case.code(inputs)}" if msg else None

# tinygrad's realize costs tens of milliseconds per kernel, so the default run compares values for a fixed fifth of the sequences
# that build (all of them are compared for errors, shapes and dtypes); TGC_FUZZ_REALIZE=1 compares every value.
REALIZE = float(os.environ.get("TGC_FUZZ_REALIZE", "0.2"))
def realize_seed(seed) -> bool: return random.Random(seed * 7919 + 1).random() < REALIZE

def run_seeds(seeds, trace=None, batch=64) -> tuple[list[str], dict]:
  """Runs the sequences for these seeds; returns (failure reports, counters). Surviving sequences are realized `batch` at a time."""
  import tinygrad as tg, tgc
  fails, stats, done = [], {"sequences": 0, "raised": 0, "realized": 0, "unrealized": 0, "excluded": 0}, []
  def flush():
    if not done: return
    if trace: trace(f"realize {[c.seed for c, _ in done]}")
    want, got = _values([c.result[0] for c, _ in done]), _values([c.result[1] for c, _ in done])
    if want is None or got is None:
      # a realize that raised leaves tinygrad's tensors half-realized (buffers assigned, kernels not run): rebuild each case alone
      for c, _ in done:
        if trace: trace(f"realize alone {c.seed}")
        c2, inputs = build_case(c.seed, tg, tgc)
        try:
          if msg := _check_values(c2, inputs, _value(c2.result[0]), _value(c2.result[1])): fails.append(msg)
          stats["realized"] += 1
        except Excluded: stats["excluded"] += 1
    else:
      fails.extend(m for (c, inputs), w, g in zip(done, want, got) if (m := _check_values(c, inputs, w, g)))
      stats["realized"] += len(done)
    done.clear()
  for seed in seeds:
    if trace: trace(f"seed {seed}")
    case, inputs = build_case(seed, tg, tgc, trace=trace)
    stats["sequences"] += 1
    if case.problem: fails.append(f"{case.problem}\n{case.code(inputs)}")
    elif case.result is None: stats["raised"] += 1
    elif realize_seed(seed): done.append((case, inputs))
    else: stats["unrealized"] += 1
    if len(done) >= batch: flush()
  flush()
  return fails, stats

# ---------------- pytest: chunks in child processes ----------------

N = int(os.environ.get("TGC_FUZZ_N", "2000"))
BASE = int(os.environ.get("TGC_FUZZ_SEED", "0"))
CHUNKS = 4

def _child(first, count):
  def trace(s): print(s, flush=True)
  fails, stats = run_seeds(range(first, first + count), trace=trace)
  print("RESULT " + json.dumps({"fails": fails, "stats": stats}), flush=True)

def test_fuzz_ops_against_tinygrad():
  import pytest
  pytest.importorskip("tinygrad", reason="tinygrad==0.14.0 (the oracle) is in the test extra")
  per = -(-N // CHUNKS)
  fails, total = [], {}
  env = {**os.environ, "DEV": "CPU"}
  # tinygrad's CPU backend compiles with clang; compiling tgc's kernels with the same compiler keeps C's undefined corners
  # (float -> int casts of NaN/inf/out-of-range values) from reading as engine differences. gcc 12 also miscompiles some
  # float16 kernels on AVX512-FP16 machines (binutils refuses its masked vmovsh).
  if "TGC_CC" not in env and shutil.which("clang"): env["TGC_CC"] = "clang"
  for c in range(CHUNKS):
    first, count = BASE * 1_000_000 + c * per, min(per, N - c * per)
    if count <= 0: break
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(first), str(count)], env=env, capture_output=True, text=True, timeout=900)
    res = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    if p.returncode != 0 or not res:
      tail = "\n".join(p.stdout.splitlines()[-40:])
      fails.append(f"child for seeds {first}..{first + count - 1} died (rc {p.returncode}); last lines:\n{tail}\n{p.stderr[-3000:]}")
      continue
    r = json.loads(res[-1][7:])
    fails += r["fails"]
    for k, v in r["stats"].items(): total[k] = total.get(k, 0) + v
  print(f"fuzz: {total}")
  assert not fails, f"{len(fails)} failing sequences:\n\n" + "\n\n".join(fails[:30])

if __name__ == "__main__":
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from tg_emulate import emulate_tinygrad_cpu
  if not emulate_tinygrad_cpu():  # conftest's switch, which a child process does not get: no clang -> tinygrad's Python emulator
    from cstyle_wrap import wrap_tinygrad_cpu
    wrap_tinygrad_cpu()  # tinygrad's clang kernels with tgc's narrow-int wraps (tests/cstyle_wrap.py): the oracle computes numpy's
  if len(sys.argv) >= 4 and sys.argv[1] == "--child": _child(int(sys.argv[2]), int(sys.argv[3]))
  else:
    fails, stats = run_seeds([int(s) for s in sys.argv[1:]], trace=print)
    print("\n\n".join(fails) or "ok", stats)
