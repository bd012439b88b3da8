#!/usr/bin/env python3
"""Parity of tgc's symbolic rewriter (core/src/uop/symbolic.rules, rewrite.c, alu.c) with tinygrad 0.14.0.

Run by ctest as `symbolic_parity.py <path to symtool>`. Every case builds a graph with tinygrad, rewrites it with
tinygrad's own matcher (graph_rewrite(g, symbolic) etc.) and compares repr() of the result (tinygrad's pretty_print)
with what tests/c/tools/symtool prints for the same graph handed over as JSON (tests/tinygrad_ir.py). Expectations come
from tinygrad at test time, never from this file. Also compared: exec_alu over a grid of ops, dtypes and values, and
a few hundred random index expressions. A case that is expected to differ names the tinygrad rule we lack (xfail);
an xfail that passes is an error, so the list stays honest. Exits 77 (ctest's skip code) without tinygrad 0.14.0."""
import math, random, struct, subprocess, sys, pathlib

try:
  from importlib.metadata import version
  if version("tinygrad") != "0.14.0": raise ImportError(f"tinygrad {version('tinygrad')} installed, need 0.14.0")
  from tinygrad.uop.ops import UOp, Ops, graph_rewrite, exec_alu
  from tinygrad.uop import symbolic as S
  from tinygrad.uop.divandmod import div_and_mod_symbolic
  from tinygrad.uop.movement import mop_cleanup
  from tinygrad.dtype import dtypes, Invalid, ConstFloat
except ImportError as e:
  print(f"SKIP: {e}")
  sys.exit(77)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from tinygrad_ir import to_json

PMS = {"sym": S.sym, "symbolic_simple": S.symbolic_simple, "symbolic": S.symbolic, "pm_data_invalid": S.pm_data_invalid, "mop_cleanup": mop_cleanup,
       "commutative": S.commutative, "div_and_mod_symbolic": div_and_mod_symbolic}

r0, r1, r2 = UOp.range(10, 0), UOp.range(8, 1), UOp.range(13, 2)
g0 = UOp.special(16, "gidx0")
n = UOp.variable("n", 1, 10)
i32, i64, f32, f16, b = dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float16, dtypes.bool
def c(v, dt=None): return UOp.const(v, dt)
def alu(op, *src): return UOp(op, src=src)
def v32(name, lo, hi): return UOp.variable(name, lo, hi, dtypes.int32)
x32, y32 = v32("x", -100, 100), v32("y", 0, 50)
xf = x32.cast(f32)
lt5 = r0 < 5

# (name, graph, matcher, bottom_up, xfail reason naming the tinygrad rule we lack or None)
CASES = [
  # ---- symbolic_simple: self folding
  ("add_zero", r0 + 0, "symbolic_simple"), ("zero_add", alu(Ops.ADD, c(0), r0), "symbolic_simple"),
  ("xor_zero_or_zero", (r0 ^ 0) | 0, "symbolic_simple"), ("shl_zero", alu(Ops.SHL, x32, c(0, i32)), "symbolic_simple"),
  ("mul_one", r0 * 1, "symbolic_simple"), ("div_self", r0 // r0, "symbolic_simple"), ("div_one", r0 // 1, "symbolic_simple"),
  ("div_neg_one", r0 // -1, "symbolic_simple"), ("xor_xor", (r0 ^ r1) ^ r1, "symbolic_simple"),
  ("mod_mod", (r0 % r1) % r1, "symbolic_simple"), ("divmod_recombine", (r0 % 4) + (r0 // 4) * 4, "symbolic_simple"),
  ("divmod_recombine_scaled", (r0 % 4) * 3 + (r0 // 4) * 12 + r1, "symbolic_simple"),
  ("bool_and_const", lt5 & True, "symbolic_simple"), ("bool_or_const", lt5 | True, "symbolic_simple"),
  ("bool_ne_false", lt5.ne(False), "symbolic_simple"), ("idempotent", r0.maximum(r0), "symbolic_simple"),
  ("not_not", lt5.logical_not().logical_not(), "symbolic_simple"), ("where_true_false", lt5.where(True, False), "symbolic_simple"),
  ("where_false_true", lt5.where(False, True), "symbolic_simple"), ("bool_cast_ne", lt5.cast(i32).ne(1), "symbolic_simple"),
  ("trunc_int", alu(Ops.TRUNC, x32), "symbolic_simple"),
  # ---- zero folding
  ("lt_self", r0 < r0, "symbolic_simple"), ("mod_self", r0 % r0, "symbolic_simple"), ("xor_self", x32 ^ x32, "symbolic_simple"),
  ("and_zero", x32 & 0, "symbolic_simple"), ("mask_shift", (x32 & -256) >> 8, "symbolic_simple"),
  ("mask_div", (r0 & -4) // 4, "symbolic_simple"), ("ne_self", r0.ne(r0), "symbolic_simple"),
  # ---- constant folding
  ("fold_int32_nowrap", c(2**31 - 1, i32) + c(1, i32), "symbolic_simple"), ("fold_uint8", c(200, dtypes.uint8) * c(2, dtypes.uint8), "symbolic_simple"),
  ("fold_cdiv", alu(Ops.CDIV, c(-7, i32), c(2, i32)), "symbolic_simple"), ("fold_cmod", alu(Ops.CMOD, c(-7, i32), c(2, i32)), "symbolic_simple"),
  ("fold_floordiv_zero", alu(Ops.FLOORDIV, c(7, i32), c(0, i32)), "symbolic_simple"),
  ("fold_sqrt", c(4.0, f32).sqrt(), "symbolic_simple"), ("fold_log2_zero", alu(Ops.LOG2, c(0.0, f32)), "symbolic_simple"),
  ("fold_recip_negzero", alu(Ops.RECIPROCAL, c(-0.0, f32)), "symbolic_simple"), ("fold_half", c(1.5, f16) + c(1e-4, f16), "symbolic_simple"),
  ("fold_cast", c(3, i32).cast(f32), "symbolic_simple"), ("fold_cast_trunc", c(-2.7, f32).cast(i32), "symbolic_simple"),
  ("fold_bitcast", UOp(Ops.BITCAST, f32, (c(1065353216, i32),), f32), "symbolic_simple"),
  ("fold_where", alu(Ops.WHERE, c(True), c(1, i32), c(2, i32)), "symbolic_simple"), ("fold_stack", UOp.const((1, 2), i32) + UOp.const((3, 4), i32), "symbolic_simple"),
  ("fold_weak_expr", (c(2) * 3) + (c(9) // 2), "symbolic_simple"), ("nan_times_zero", c(math.nan, f32) * c(0.0, f32), "symbolic_simple"),
  ("fold_max_nan", alu(Ops.MAX, c(math.nan, f32), c(1.0, f32)), "symbolic_simple"), ("fold_cmpne_nan", alu(Ops.CMPNE, c(math.nan, f32), c(math.nan, f32)), "symbolic_simple"),
  ("bool_mul", lt5 * (r1 < 3), "symbolic_simple"), ("bool_add", alu(Ops.ADD, lt5, r1 < 3), "symbolic_simple"),
  # ---- div, cast, pow, where
  ("zero_div_zero", c(0.0, f32) / 0, "symbolic_simple"), ("div_self_float", xf / xf, "symbolic_simple"),
  ("mul_div", (xf * c(3.0, f32)) / c(3.0, f32), "symbolic_simple"), ("mul_zero", r0 * 0, "symbolic_simple"),
  ("cast_same", UOp(Ops.CAST, i32, (x32,), i32), "symbolic_simple"), ("cast_cast_lossless", x32.cast(i64).cast(i32), "symbolic_simple"),
  ("cast_bool", x32.cast(b), "symbolic_simple"), ("pow_two", xf.alu(Ops.POW, c(2.0, f32)), "symbolic_simple"),
  ("pow_half", xf.alu(Ops.POW, c(0.5, f32)), "symbolic_simple"), ("pow_neg", xf.alu(Ops.POW, c(-1.0, f32)), "symbolic_simple"),
  ("pow_three", xf.alu(Ops.POW, c(3.0, f32)), "symbolic_simple"), ("two_pow_x", c(2.0, f32).alu(Ops.POW, xf), "symbolic_simple"),
  ("where_same", lt5.where(r1, r1), "symbolic_simple"), ("where_nested_and", lt5.where((r1 < 3).where(r0, r2), r2), "symbolic_simple"),
  ("where_nested_or", lt5.where(r0, (r1 < 3).where(r0, r2)), "symbolic_simple"),
  ("invalid_add", lt5.where(r0, UOp.invalid()) + 1, "symbolic_simple"), ("invalid_gate_normalize", lt5.where(UOp.invalid(), r0), "symbolic_simple"),
  ("invalid_unary", alu(Ops.NEG, UOp.invalid()), "symbolic_simple"),
  # ---- symbolic: combining terms, lt, divmod
  ("combine_terms", r0 * 4 + r0 * 3, "symbolic"), ("x_plus_x", r0 + r0, "symbolic"), ("consts_to_end", (r0 + 3) + 4, "symbolic"),
  ("add_chain", (r0 + 3) + r1 + 5, "symbolic"), ("neg_sum", -1 * (r0 + 3), "symbolic"), ("distribute", 3 * (r0 + 2), "symbolic"),
  ("divmod_1", (r0 * 4 + 3) // 4, "symbolic"), ("divmod_2", (r0 * 4 + 3) % 4, "symbolic"), ("divmod_3", (r0 + 10) // 5, "symbolic"),
  ("div_const_range", r0 // 10, "symbolic"), ("split_div", (r0 * 8 + r1) // 8, "symbolic"), ("split_mod", (r0 * 8 + r1) % 8, "symbolic"),
  ("gcd_div", (r0 * 4 + r1 * 6) // 2, "symbolic"), ("gcd_mod", (r0 * 4 + r1 * 6 + 3) % 2, "symbolic"),
  ("nest_by_factor", (r0 * 6 + r1 * 4 + r2) // 12, "symbolic"), ("nested_div", (r0 % 12) // 4, "symbolic"),
  ("nested_mod", (r0 % 12 + r1) % 4, "symbolic"), ("div_div", (r0 // 3) // 4, "symbolic"), ("div_plus_div", (r0 // 3 + 2) // 4, "symbolic"),
  ("var_denominator", (r0 * r1 + r1) // r1, "symbolic"), ("mod_range_end", r0 % 10, "symbolic"), ("div_range_end", r0 // 10, "symbolic"),
  ("lt_const", r0 < 20, "symbolic"), ("lt_shift", (r0 + 5) < 10, "symbolic"), ("lt_div", (r0 // 4) < 2, "symbolic"),
  ("lt_mul", (r0 * 3) < 7, "symbolic"), ("lt_folding", (r0 * 4 + r1 % 4) < 8, "symbolic"), ("lt_neg", (r0 * -1) < (r1 * -1), "symbolic"),
  ("max_fold", r0.maximum(20), "symbolic"), ("max_where", (c(3) < r0).where(r0, 3), "symbolic"),
  ("commutative_flip", r1 + r0, "symbolic"), ("commutative_const", alu(Ops.MUL, c(3), r0), "symbolic"),
  ("not_where", lt5.logical_not().where(r0, r1), "symbolic"), ("where_closure", lt5.where(lt5.where(r0, r1), r2), "symbolic"),
  ("where_alu", lt5.where(r0, 1) + lt5.where(r1, 2), "symbolic"), ("x_or_not_x", lt5 | lt5.logical_not(), "symbolic"),
  ("special", (g0 * 4 + 3) // 4, "symbolic"), ("variable", (n * 2) // 2, "symbolic"), ("variable_lt", (n + 2) < 13, "symbolic"),
  ("long_to_int", UOp(Ops.CAST, i64, (r0,), i64) + c(1, i64), "symbolic"), ("weak_cast", (r0 + 3).cast(i32), "symbolic"),
  ("ints_cast_cast", x32.cast(i64).cast(dtypes.int16), "symbolic"), ("simplex", ((r0 * 2 + r1) < 1).ne(True), "symbolic"),
  ("two_stage_mul", (r0 * 3) * 4, "symbolic"), ("two_stage_max", r0.maximum(3).maximum(5), "symbolic"),
  ("sub_self", r0 - r0, "symbolic"), ("big_index", ((r0 * 64 + r1 * 8 + r2 % 8) // 8) % 8, "symbolic"),
  # ---- other matchers and the bottom-up driver
  ("bottom_up_simple", (r0 + 0) * 1, "symbolic_simple", True), ("bottom_up_symbolic", (r0 * 4 + 3) // 4, "symbolic", True),
  ("pm_div_and_mod", (r0 * 4 + 3) // 4, "div_and_mod_symbolic"), ("pm_commutative", r1 * r0, "commutative"),
  # ---- symbolic.py phase 3 (`sym`) is not part of uop/symbolic (codegen ports it, core/src/codegen/sym.rules) and symtool has no `sym`
  ("sym_simplify_valid", ((r0 < 5) & (r0 * 2 < 12)).where(r0 * 2, UOp.invalid()), "sym", False,
   "sym's pm_simplify_valid (parse_valid/uop_given_valid/simplify_valid/gated_given_valid) is not in uop/symbolic"),
  ("sym_reciprocal", (xf * c(2.0, f32)).reciprocal(), "sym", False, "sym's ((x*c).reciprocal() -> x.reciprocal()*c.reciprocal()) is not in uop/symbolic"),
]

def run_rewrites(tool, pm, bottom_up, graphs):
  r = subprocess.run([tool, "rewrite", pm] + (["bottom_up"] if bottom_up else []), input="".join(to_json(g) + "\n" for g in graphs),
                     capture_output=True, text=True, timeout=300)
  if r.returncode: raise RuntimeError(f"symtool failed ({r.returncode}): {r.stderr}")
  return [x.strip("\n") for x in r.stdout.split("\x1e")[:-1]]

def expected(g, pm, bottom_up):
  try: return repr(graph_rewrite(g, PMS[pm], bottom_up=bottom_up))
  except Exception as e: return f"ERROR: {type(e).__name__}"

def same(want, got):
  if want.startswith("ERROR") or got.startswith("ERROR"): return want.startswith("ERROR") and got.startswith("ERROR")
  return want == got

def check_cases(tool):
  fails, xfails = 0, 0
  groups = {}
  for case in CASES:
    name, g, pm, bu, why = tuple(case) + (False, None)[len(case) - 3:]
    groups.setdefault((pm, bool(bu)), []).append((name, g, why))
  for (pm, bu), items in groups.items():
    got = run_rewrites(tool, pm, bu, [g for _, g, _ in items])
    for (name, g, why), out in zip(items, got):
      want = expected(g, pm, bu)
      ok = same(want, out)
      if why is not None:
        if ok: print(f"XPASS {name}: marked missing ({why}) but matches tinygrad: remove the mark"); fails += 1
        else: print(f"xfail {name}: {why}"); xfails += 1
      elif not ok:
        fails += 1
        print(f"FAIL {name} ({pm}{', bottom_up' if bu else ''}): {g.render(simplify=False)}\n--- tinygrad\n{want}\n--- tgc\n{out}\n")
  print(f"{len(CASES)} rewrite cases: {len(CASES) - fails - xfails} match tinygrad, {xfails} xfail, {fails} failed")
  return fails

# ---------------- random index expressions ----------------

WEAK_LEAVES = [lambda rnd: r0, lambda rnd: r1, lambda rnd: r2, lambda rnd: g0, lambda rnd: n, lambda rnd: c(rnd.randint(-8, 8))]
X32 = [v32(f"v{i}", -20 + i, 30) for i in range(3)]
INT32_LEAVES = [lambda rnd, i=i: X32[i] for i in range(3)] + [lambda rnd: c(rnd.randint(-8, 8), i32)]

def random_expr(rnd, depth, leaves):
  if depth == 0 or rnd.random() < 0.2: return rnd.choice(leaves)(rnd)
  k = rnd.randrange(13)
  a = lambda: random_expr(rnd, depth - 1, leaves)
  if k < 2: return a() + a()
  if k == 2: return a() - a()
  if k == 3: return a() * (rnd.randint(-4, 4) if rnd.random() < 0.5 else a())
  if k == 4: return a() // rnd.choice([1, 2, 3, 4, 5, 6, 8, 12, 16, -1, -2, -3])
  if k == 5: return a() % rnd.choice([1, 2, 3, 4, 5, 6, 8, 12, 16, -1, -2, -3])
  if k == 6: return a().maximum(a())
  if k == 7: return (a() < a()).where(a(), a())
  if k == 8: return a().ne(a()).where(a(), a())
  if k == 9: return ((a() < a()) & (a() < a())).where(a(), a())
  if k == 10: return ((a() < a()) | (a() < a()).logical_not()).where(a(), a())
  if k == 11: return a() * rnd.choice([2, 4, 8]) + a()
  return (a() < rnd.randint(-5, 20)).where(a(), rnd.randint(-3, 3))

def check_random(tool):
  fails = 0
  for kind, leaves, count, depth in (("weakint", WEAK_LEAVES, 400, 5), ("int32", INT32_LEAVES, 200, 4)):
    rnd = random.Random(1234)
    graphs = [random_expr(rnd, depth, leaves) for _ in range(count)]
    for pm in ("symbolic_simple", "symbolic"):
      got = run_rewrites(tool, pm, False, graphs)
      bad = [(g, w, o) for g, o in zip(graphs, got) if not same(w := expected(g, pm, False), o)]
      for g, w, o in bad[:3]: print(f"FAIL random {kind} ({pm}): {g.render(simplify=False)}\n--- tinygrad\n{w}\n--- tgc\n{o}\n")
      print(f"{count} random {kind} expressions through {pm}: {count - len(bad)} match tinygrad, {len(bad)} differ")
      fails += len(bad)
  return fails

# ---------------- exec_alu ----------------

def enc(v):
  if v is Invalid: return "v"
  if isinstance(v, bool): return f"b:{int(v)}"
  if isinstance(v, int): return f"i:{v}"
  return f"f:{struct.unpack('<Q', struct.pack('<d', v))[0]:016x}"

def dec(s):
  if s == "v": return Invalid
  k, v = s.split(":", 1)
  return bool(int(v)) if k == "b" else int(v) if k == "i" else struct.unpack("<d", struct.pack("<Q", int(v, 16)))[0]

def check_alu(tool):
  I = [-7, -1, 0, 1, 2, 7, 127, 128, 255, 2**31 - 1, -2**31, 40]
  F = [0.0, -0.0, 1.5, -2.5, 0.1, math.nan, math.inf, -math.inf, 1e30, 3.0]
  int_dts = [dtypes.int8, dtypes.uint8, dtypes.int32, dtypes.uint32, dtypes.int64, dtypes.weakint]
  flt_dts = [dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64, dtypes.weakfloat]
  binary = [Ops.ADD, Ops.SUB, Ops.MUL, Ops.CMPLT, Ops.CMPNE, Ops.CMPEQ, Ops.MAX, Ops.CDIV, Ops.CMOD, Ops.FLOORDIV, Ops.FLOORMOD, Ops.POW]
  lines = []
  for dt in int_dts:
    for op in binary + [Ops.XOR, Ops.OR, Ops.AND, Ops.SHL, Ops.SHR]:
      for a in I:
        for bb in I:
          if op is Ops.POW and not (0 <= bb <= 8): continue
          if op in (Ops.SHL, Ops.SHR) and not (0 <= bb < 40): continue
          if op is Ops.MUL and abs(a * bb) >= 2**62: continue
          lines.append((op, dt, [a, bb]))
    for op in (Ops.NEG, Ops.TRUNC): lines += [(op, dt, [a]) for a in I]
  for dt in flt_dts:
    for op in binary:
      lines += [(op, dt, [a, bb]) for a in F for bb in F]
    for op in (Ops.NEG, Ops.TRUNC, Ops.LOG2, Ops.EXP2, Ops.SQRT, Ops.RECIPROCAL, Ops.SIN): lines += [(op, dt, [a]) for a in F + [2.0, -1.0, 1000.0]]
  lines += [(Ops.WHERE, dtypes.int32, [cnd, 3, 4]) for cnd in (True, False)] + [(Ops.MULACC, dtypes.float32, [1.5, 2.0, 0.25])]
  lines += [(Ops.ADD, dtypes.int32, [Invalid, 1]), (Ops.CMPLT, dtypes.bool, [1, Invalid]), (Ops.ADD, dtypes.bool, [True, True]),
            (Ops.XOR, dtypes.bool, [True, True]), (Ops.AND, dtypes.bool, [True, False])]
  # CONSTs hold ConstFloat (NaN == NaN), which is what fold_const_alu hands to exec_alu
  todo = [(op, dt, [ConstFloat(v) if isinstance(v, float) else v for v in vals], tr) for op, dt, vals in lines for tr in (0, 1)]
  text = "".join(f"{op.name} {repr(dt)[7:]} {tr} {' '.join(enc(v) for v in vals)}\n" for op, dt, vals, tr in todo)
  r = subprocess.run([tool, "alu"], input=text, capture_output=True, text=True, timeout=300)
  got = r.stdout.splitlines()
  fails = 0
  for (op, dt, vals, tr), out in zip(todo, got, strict=True):
    try: want = exec_alu(op, dt, vals, bool(tr))
    except Exception as e: want = e
    if isinstance(want, BaseException): ok = out.startswith("ERROR")
    elif out.startswith("ERROR"): ok = False
    else:
      g = dec(out)
      if want is Invalid or g is Invalid: ok = want is g
      elif isinstance(want, float) and math.isnan(want): ok = isinstance(g, float) and math.isnan(g)
      else: ok = type(want) in (type(g), ConstFloat) and want == g and (not isinstance(want, float) or math.copysign(1, want) == math.copysign(1, g))
      if isinstance(want, int) and not isinstance(want, bool) and not -2**63 <= want < 2**63: ok = True  # beyond int64: ours wraps
    if not ok:
      fails += 1
      if fails <= 10: print(f"FAIL exec_alu({op.name}, {dt!r}, {vals}, truncate_output={bool(tr)}): tinygrad {want!r}, tgc {out}")
  print(f"{len(todo)} exec_alu cases: {len(todo) - fails} match tinygrad, {fails} differ")
  return fails

if __name__ == "__main__":
  if len(sys.argv) != 2: sys.exit("usage: symbolic_parity.py <path to symtool>")
  tool = sys.argv[1]
  failed = check_alu(tool) + check_cases(tool) + check_random(tool)
  sys.exit(1 if failed else 0)
