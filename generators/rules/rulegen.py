#!/usr/bin/env python3
"""rulegen -- compiles tgc's *.rules files (tinygrad's pattern matchers written as data) into C pattern tables.

  python generators/rules/rulegen.py core/src/uop/symbolic.rules            # writes core/src/uop/symbolic_rules.inc
  python generators/rules/rulegen.py --check core/src/uop/symbolic.rules    # exit 1 when the committed .inc is stale
  python generators/rules/rulegen.py --dump core/src/uop/symbolic.rules     # the parsed patterns as JSON (tests)
  python generators/rules/rulegen.py [--check] --all                        # every *.rules under core/src

Each rule is `PATTERN -> RESULT [if COND]`; see generators/rules/README.md for the language. Patterns follow tinygrad's
UPat operator semantics exactly (commutative operators try both orders, an ALU pattern takes its last source's dtype,
x - y is x + y*-1, ...). Results compile to calls of the C helpers in core/src/uop/rewrite.h; `@name(args)` calls a
hand-written C function of the file that includes the generated code. Op values and dtype ids are read from the headers
(core/src/uop/ops.h, include/tg_backend.h, core/src/dtype.h), so nothing here can drift from the C side.
Stdlib only.
"""
from __future__ import annotations
import argparse, difflib, json, math, os, re, sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- ops and dtypes, from the headers

def read_ops(root: Path) -> dict[str, int]:
  text = (root / "core/src/uop/ops.h").read_text()
  block = text[text.index("#define TG_OPS(X)"):text.index("typedef enum tg_op")]
  return {m.group(1): int(m.group(2)) for m in re.finditer(r"X\((\w+),\s*(\d+)\)", block)}

def read_dtypes(root: Path) -> dict[str, int]:
  text = (root / "include/tg_backend.h").read_text()
  block = text[text.index("typedef enum tg_dtype"):text.index("} tg_dtype;")]
  ids = {m.group(1).lower(): int(m.group(2)) for m in re.finditer(r"\bTG_(\w+)\s*=\s*(\d+)", block) if m.group(1) != "DTYPE_COUNT"}
  ids["void"] = int(re.search(r"#define TG_DT_VOID \(\(tg_dtype\)(\d+)\)", (root / "core/src/dtype.h").read_text()).group(1))
  return ids

OPS = read_ops(ROOT)
DTYPES = read_dtypes(ROOT)
DT_ALIASES = {"half": "float16", "float": "float32", "double": "float64", "uchar": "uint8", "ushort": "uint16", "uint": "uint32",
              "ulong": "uint64", "char": "int8", "short": "int16", "int": "int32", "long": "int64"}
# tinygrad's dtype tuples (dtypes.ints, dtypes.floats, ...)
_FP8 = ["fp8e4m3", "fp8e5m2", "fp8e4m3fnuz", "fp8e5m2fnuz"]
DT_GROUPS = {"uints": ["uint8", "uint16", "uint32", "uint64"], "sints": ["int8", "int16", "int32", "int64"],
             "floats": _FP8 + ["float16", "bfloat16", "float32", "float64"], "weaks": ["weakint", "weakfloat"], "fp8s": _FP8}
DT_GROUPS["ints"] = DT_GROUPS["uints"] + DT_GROUPS["sints"]
DT_GROUPS["all"] = DT_GROUPS["floats"] + DT_GROUPS["ints"] + ["bool"]
DT_FLOAT = set(DT_GROUPS["floats"]) | {"weakfloat"}
DT_INT = set(DT_GROUPS["ints"]) | {"weakint"}

# tinygrad's GroupOp (uop/__init__.py)
def _g(s): return s.split()
OP_GROUPS = {
  "Unary": _g("EXP2 LOG2 SIN SQRT RECIPROCAL NEG TRUNC"),
  "Binary": _g("ADD MUL CDIV MAX CMOD CMPLT CMPNE CMPEQ XOR SHL SHR OR AND THREEFRY SUB FDIV POW FLOORDIV FLOORMOD"),
  "Ternary": _g("WHERE MULACC"), "Defines": _g("PARAM BUFFER"), "Irreducible": _g("CONST SPECIAL RANGE PARAM GETADDR"),
  "Movement": _g("RESHAPE EXPAND PERMUTE PAD SHRINK FLIP"), "Commutative": _g("ADD MUL MAX CMPNE CMPEQ XOR AND OR"),
  "Associative": _g("ADD MUL AND OR MAX"), "Idempotent": _g("OR AND MAX"), "Reduce": _g("ADD MUL MAX"),
  "Comparison": _g("CMPLT CMPNE CMPEQ")}
OP_GROUPS["ALU"] = OP_GROUPS["Unary"] + OP_GROUPS["Binary"] + OP_GROUPS["Ternary"]
OP_GROUPS["Broadcastable"] = OP_GROUPS["Binary"] + OP_GROUPS["Ternary"]
OP_GROUPS["Elementwise"] = OP_GROUPS["ALU"] + ["CAST", "BITCAST"]
OP_GROUPS["All"] = list(OPS)
COMMUTATIVE = set(OP_GROUPS["Commutative"])

class RuleError(Exception): pass
RESERVED = {"rw", "ret", "T", "out", "fail", "none", "nan", "inf", "auto", "break", "case", "char", "const", "continue", "default", "do",
            "double", "else", "enum", "extern", "float", "for", "goto", "if", "int", "long", "register", "return", "short", "signed",
            "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while"}

# ---------------------------------------------------------------- tokens and AST

TOKEN = re.compile(r"""(?P<ws>[ \t]+)|(?P<num>0[xX][0-9a-fA-F]+|\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)|(?P<name>[A-Za-z_]\w*)|
  (?P<op>->|\.\.\.|//|<<|>>|<=|>=|==|!=|[-+*/%&|^~<>()\[\]{},.:@=])""", re.X)
KEYWORDS = {"if", "else", "and", "or", "not", "is", "in", "None", "True", "False", "Invalid"}

def tokenize(s: str, where: str) -> list[tuple[str, str]]:
  out, i = [], 0
  while i < len(s):
    m = TOKEN.match(s, i)
    if not m: raise RuleError(f"{where}: cannot read {s[i:i+20]!r}")
    i = m.end()
    if m.lastgroup != "ws": out.append((m.lastgroup, m.group()))
  return out + [("end", "")]

@dataclass
class N:  # one AST node: kind plus fields
  kind: str
  a: object = None
  b: object = None
  c: object = None
  kw: dict = field(default_factory=dict)

class Parser:
  """Python-like expressions, plus the pattern forms: name:annotation, name@pattern, OP(...), OP[...], {set}(...)."""
  def __init__(self, toks, where): self.t, self.i, self.where = toks, 0, where
  def peek(self, k=0): return self.t[self.i + k]
  def take(self, val=None):
    tok = self.t[self.i]
    if val is not None and tok[1] != val: raise RuleError(f"{self.where}: expected {val!r}, got {tok[1]!r}")
    self.i += 1
    return tok
  def at(self, *vals): return self.t[self.i][1] in vals and self.t[self.i][0] != "num"

  def expr(self):
    body = self.or_()
    if self.at("if"):
      self.take("if")
      cond = self.or_()
      if self.at("else"):
        self.take("else")
        return N("ifexp", body, cond, self.expr())
      return N("ifexp", body, cond, N("none"))
    return body
  def or_(self):
    x = self.and_()
    while self.at("or"): self.take(); x = N("boolop", "or", x, self.and_())
    return x
  def and_(self):
    x = self.not_()
    while self.at("and"): self.take(); x = N("boolop", "and", x, self.not_())
    return x
  def not_(self):
    if self.at("not"): self.take(); return N("not", self.not_())
    return self.compare()
  def compare(self):
    x = self.bor()
    if self.at("<", ">", "<=", ">=", "==", "!="):
      op = self.take()[1]
      return N("cmp", op, x, self.bor())
    if self.at("is"):
      self.take()
      op = "is not" if self.at("not") else "is"
      if op == "is not": self.take()
      return N("cmp", op, x, self.bor())
    if self.at("in") or (self.at("not") and self.peek(1)[1] == "in"):
      op = "in" if self.at("in") else "not in"
      self.take(); op == "not in" and self.take()
      return N("cmp", op, x, self.bor())
    return x
  def _binary(self, sub, ops):
    x = sub()
    while self.at(*ops): op = self.take()[1]; x = N("bin", op, x, sub())
    return x
  def bor(self): return self._binary(self.bxor, ("|",))
  def bxor(self): return self._binary(self.band, ("^",))
  def band(self): return self._binary(self.shift, ("&",))
  def shift(self): return self._binary(self.arith, ("<<", ">>"))
  def arith(self): return self._binary(self.term, ("+", "-"))
  def term(self): return self._binary(self.unary, ("*", "/", "//", "%"))
  def unary(self):
    if self.at("-"):
      self.take()
      if self.peek()[0] == "num":
        return self.postfix(self.literal_ann(N("num", -parse_num(self.take()[1]))))
      return N("unary", "-", self.unary())
    if self.at("~"): self.take(); return N("unary", "~", self.unary())
    return self.postfix(self.atom())
  def args(self, close):
    args, kw = [], {}
    while not self.at(close):
      if self.at("..."): self.take(); args.append(N("ellipsis"))
      elif self.at("*"): self.take(); args.append(N("star", self.expr()))
      elif self.peek()[0] == "name" and self.peek(1)[1] == "=": k = self.take()[1]; self.take("="); kw[k] = self.expr()
      else: args.append(self.expr())
      if not self.at(close): self.take(",")
    self.take(close)
    return args, kw
  def postfix(self, x):
    while True:
      if self.at("."):
        self.take()
        name = self.take()[1]
        if self.at("("):
          self.take("(")
          args, kw = self.args(")")
          x = N("call", x, name, args, kw)
        else: x = N("attr", x, name)
      elif self.at("[") and x.kind == "attr" and x.b == "src":
        self.take("[")
        idx = self.expr()
        self.take("]")
        x = N("index", x, idx)
      else: return x
  def literal_ann(self, lit):
    if not self.at(":"): return lit
    self.take(":")
    return N("litann", lit, self.annotation())
  def annotation(self):
    if self.at("{"): return self.setlit()
    return N("name", self.take()[1])
  def setlit(self):
    self.take("{")
    items = []
    while not self.at("}"):
      item = N("name", self.take()[1])
      while self.at("-"): self.take(); item = N("minus", item, N("name", self.take()[1]))
      items.append(item)
      if not self.at("}"): self.take(",")
    self.take("}")
    return N("set", items)
  def oppat(self, spec):
    dt = None
    if self.at(":"): self.take(); dt = self.annotation()
    if self.at("("):
      self.take("(")
      args, kw = self.args(")")
      return N("oppat", spec, dt, ("tuple", args), kw)
    if self.at("["):
      self.take("[")
      args, kw = self.args("]")
      return N("oppat", spec, dt, ("perm", args), kw)
    return N("oppat", spec, dt, ("none", []), {})
  def atom(self):
    kind, val = self.peek()
    if kind == "num":
      self.take()
      return self.literal_ann(N("num", parse_num(val)))
    if val == "(":
      self.take("(")
      x = self.expr()
      if self.at(","):  # a tuple
        items = [x]
        while self.at(","):
          self.take(",")
          if self.at(")"): break
          items.append(self.expr())
        self.take(")")
        return N("tuple", items)
      self.take(")")
      return x
    if val == "{":
      s = self.setlit()
      return self.oppat(s) if self.at("(", "[", ":") else s
    if val == "@":
      self.take("@")
      name = self.take()[1]
      self.take("(")
      args, kw = self.args(")")
      return N("helper", name, args, kw)
    if kind != "name": raise RuleError(f"{self.where}: unexpected {val!r}")
    self.take()
    if val in ("None",): return N("none")
    if val in ("True", "False"): return self.literal_ann(N("num", val == "True"))
    if val == "Invalid": return N("invalid")
    if self.at("@"):
      self.take("@")
      return N("as", val, self.postfix(self.atom()))
    if (val in OPS or val in OP_GROUPS) and (self.at("(", "[") or (self.at(":") and self.peek(1)[0] == "name" or self.at(":") and self.peek(1)[1] == "{")):
      return self.oppat(N("name", val))
    if val in OPS or val in OP_GROUPS: return N("opname", val)
    if self.at(":"):
      self.take(":")
      anns = [self.annotation()]
      if self.at(":"): self.take(":"); anns.append(self.annotation())
      return N("ann", val, anns)
    if self.at("("):  # builtin function
      self.take("(")
      args, kw = self.args(")")
      return N("func", val, args, kw)
    return N("name", val)

def parse_num(s: str):
  if s.lower().startswith("0x"): return int(s, 16)
  return float(s) if any(ch in s for ch in ".eE") else int(s)

# ---------------------------------------------------------------- patterns (tinygrad's UPat, as data)

@dataclass(eq=False)
class UP:
  ops: tuple | None = None         # op names
  dtypes: tuple | None = None      # dtype names
  src: list | None = None          # sub-patterns
  mode: str = "none"               # none tuple perm repeat any
  arg: object = None               # ("num", v) / ("invalid",) / ("op", name) / ("dtype", name); None = any
  name: str | None = None
  allow_any_len: bool = False
  tags: tuple | None = None
  def key(self):
    return (self.ops, self.dtypes, tuple(s.key() for s in self.src or []), self.mode, self.arg if self.arg is None else (self.arg[0], repr(self.arg[1:])),
            self.name, self.allow_any_len, self.tags)
  def dtype1(self): return self.dtypes[0] if self.dtypes else "void"  # UPat.dtype
  def named(self, name): return UP(self.ops, self.dtypes, self.src, self.mode, self.arg, name, self.allow_any_len, self.tags)

def up_var(name=None, dts=None): return UP(dtypes=dts, name=name)
def up_const(v, dts=None, name=None): return UP(ops=("CONST",), dtypes=dts, arg=v, name=name)
def up_alu(op, *src):
  """UPat.alu: commutative ops take a source list (every permutation); dtype from the last source (bool for CMPLT/CMPNE)."""
  dts = ("bool",) if op in ("CMPLT", "CMPNE") else src[-1].dtypes
  return up_make((op,), dts, list(src), "perm" if op in COMMUTATIVE else "tuple")
def up_make(ops, dts, src, mode, arg=None, name=None, allow_any_len=False, tags=None):
  if mode == "perm" and all(s.key() == src[0].key() for s in src): mode = "tuple"  # all_same: one permutation
  return UP(ops, dts, src, mode, arg, name, allow_any_len, tags)
def up_cast(x, dts=None, name=None):
  """UPat.cast: the pattern itself when it already has exactly that one dtype."""
  if dts is not None and len(dts) == 1 and x.dtypes == dts and name is None: return x
  return UP(("CAST",), dts, [x], "tuple", name=name)
def up_ne(x, y): return up_alu("CMPNE", x, y)
def up_logical_not(x): return up_ne(up_cast(x, ("bool",)), up_const(("num", True)))
def up_neg(x): return up_logical_not(x) if x.dtype1() == "bool" else up_alu("MUL", x, up_const(("num", -1)))

def dt_names(node, where) -> tuple:
  """A dtype annotation: a name, a group (ints, floats, ...), or {a, b, ...}."""
  names = []
  items = node.a if node.kind == "set" else [node]
  for it in items:
    if it.kind != "name": raise RuleError(f"{where}: bad dtype {it}")
    n = DT_ALIASES.get(it.a, it.a)
    if n in DT_GROUPS: names += DT_GROUPS[n]
    elif n in DTYPES: names.append(n)
    else: raise RuleError(f"{where}: unknown dtype {it.a!r}")
  return tuple(dict.fromkeys(names))

def op_names(node, where) -> tuple:
  def one(it):
    if it.kind == "minus": return [o for o in one(it.a) if o not in one(it.b)]
    if it.a in OP_GROUPS: return OP_GROUPS[it.a]
    if it.a in OPS: return [it.a]
    raise RuleError(f"{where}: unknown op or group {it.a!r}")
  items = node.a if node.kind == "set" else [node]
  return tuple(dict.fromkeys(o for it in items for o in one(it)))

class PatternCompiler:
  def __init__(self, where): self.where = where
  def err(self, msg): raise RuleError(f"{self.where}: {msg}")
  def num_arg(self, n):
    if n.kind == "num": return ("num", n.a)
    if n.kind == "invalid": return ("invalid",)
    if n.kind == "opname": return ("op", n.a)
    if n.kind == "name" and DT_ALIASES.get(n.a, n.a) in DTYPES: return ("dtype", DT_ALIASES.get(n.a, n.a))
    self.err(f"unsupported arg {n}")
  def ufix(self, n) -> UP:
    if n.kind in ("num", "invalid"): return up_const(self.num_arg(n))
    return self.pat(n)
  def pat(self, n) -> UP:
    k = n.kind
    if k == "name":
      return up_var(None if n.a == "_" else n.a)
    if k == "ann":
      kind, dts = "var", None
      for a in n.b:
        if a.kind == "name" and a.a in ("var", "cvar"): kind = a.a
        else: dts = dt_names(a, self.where)
      name = None if n.a == "_" else n.a
      return up_const(None, dts, name) if kind == "cvar" else up_var(name, dts)
    if k in ("num", "invalid"): return up_const(self.num_arg(n))
    if k == "litann": return up_const(self.num_arg(n.a), dt_names(n.b, self.where))
    if k == "set": return UP(ops=op_names(n, self.where))
    if k == "as": return self.pat(n.b).named(n.a)
    if k == "opname": return UP(ops=op_names(N("name", n.a), self.where))
    if k == "oppat": return self.oppat(n)
    if k == "bin":
      x, y = self.ufix(n.b), self.ufix(n.c)
      opmap = {"+": "ADD", "*": "MUL", "//": "FLOORDIV", "%": "FLOORMOD", "&": "AND", "|": "OR", "^": "XOR", "<<": "SHL", ">>": "SHR"}
      if n.a in opmap: return up_alu(opmap[n.a], x, y)
      if n.a == "-": return up_alu("ADD", x, up_neg(y))
      if n.a == "/":  # ElementwiseMixin.div: a * b.reciprocal() (an int/bool lhs is cast to the default float first)
        if x.dtype1() in DT_INT or x.dtype1() == "bool": x = up_cast(x, ("float32",))
        return up_alu("MUL", x, up_alu("RECIPROCAL", y))
      self.err(f"operator {n.a} in a pattern")
    if k == "cmp":
      x, y = self.ufix(n.b), self.ufix(n.c)
      if n.a == "<": return up_alu("CMPLT", x, y)
      if n.a == ">": return up_alu("CMPLT", y, x)
      if n.a == "!=": return up_ne(x, y)
      self.err(f"comparison {n.a} in a pattern (== is identity in tinygrad; use .eq())")
    if k == "unary":
      x = self.pat(n.b)
      if n.a == "-": return up_neg(x)
      if x.dtype1() == "bool": return up_logical_not(x)
      return up_alu("XOR", x, up_const(("num", -1)))
    if k == "call": return self.method(n)
    if k == "func" and n.a == "any": return UP(src=[self.pat(a) for a in n.b], mode="any")
    if k == "func" and n.a == "max": return up_alu("MAX", self.ufix(n.b[0]), self.ufix(n.b[1]))
    self.err(f"cannot use {k} {n.a!r} in a pattern")
  def method(self, n) -> UP:
    x, m, args, kw = self.pat(n.a), n.b, n.c, n.kw
    name = kw["name"].a if "name" in kw else None
    if m in ("cast", "bitcast"):
      d = dt_names(args[0], self.where) if args else None
      if m == "cast": return up_cast(x, d, name)
      return UP(("BITCAST",), d, [x], "tuple", name=name)
    if m == "where": return UP(("WHERE",), self.ufix(args[1]).dtypes, [x, self.ufix(args[0]), self.ufix(args[1])], "tuple")
    if m == "maximum": return up_alu("MAX", x, self.ufix(args[0]))
    if m == "ne": return up_ne(x, self.ufix(args[0]))
    if m == "eq": return up_logical_not(up_ne(x, self.ufix(args[0])))
    if m == "logical_not": return up_logical_not(x)
    if m in ("trunc", "reciprocal", "sqrt", "exp2", "log2", "sin"): return up_alu(m.upper(), x)
    if m == "alu":
      op = args[0].a
      return up_alu(op, x, *[self.ufix(a) for a in args[1:]])
    if m == "named": return x.named(args[0].a)
    if m == "broadcast": return UP(("STACK",), x.dtypes, [x], "repeat", name=name)
    if m == "or_casted":
      nm = args[0].a if args else name
      return UP(src=[x if nm is None else x.named(nm), UP(("CAST",), None, [x], "tuple", name=nm)], mode="any")
    if m == "or_after":
      nm = args[0].a if args else name
      return UP(src=[x if nm is None else x.named(nm), UP(("AFTER",), None, [x], "tuple", name=nm, allow_any_len=True)], mode="any")
    if m in ("index", "load", "store", "after", "end", "f"):
      if m == "f": return UP((args[0].a,), None, [x], "tuple", name=name)
      ops = {"index": "INDEX", "load": "LOAD", "store": "STORE", "after": "AFTER", "end": "END"}[m]
      dts = x.dtypes if m == "after" else None
      return UP((ops,), dts, [x] + [self.ufix(a) for a in args], "tuple", name=name, allow_any_len="allow_any_len" in kw)
    if m == "reduce":
      arg = ("tuple_op", kw["arg"].a) if "arg" in kw else None
      return UP(("REDUCE",), x.dtypes, [x] + [self.ufix(a) for a in args], "tuple", arg=arg, name=name, allow_any_len="allow_any_len" in kw)
    self.err(f"unknown pattern method .{m}()")
  def oppat(self, n) -> UP:
    ops = op_names(n.a, self.where)
    dts = dt_names(n.b, self.where) if n.b is not None else None
    mode, args = n.c
    kw = n.kw
    allow = any(a.kind == "ellipsis" for a in args)
    args = [a for a in args if a.kind != "ellipsis"]
    arg = self.num_arg(kw["arg"]) if "arg" in kw else None
    tags = tuple(self.num_arg(t) for t in (kw["tag"].a if kw["tag"].kind == "tuple" else [kw["tag"]])) if "tag" in kw else None
    if "dtype" in kw: dts = dt_names(kw["dtype"], self.where)
    if args and args[0].kind == "star":
      if len(args) != 1: self.err("OP(*p) takes exactly one repeated pattern")
      return UP(ops, dts, [self.ufix(args[0].a)], "repeat", arg, None, False, tags)
    if mode == "tuple" and not args and (allow or (kw and set(kw) - {"dtype"})):  # OP(...) or OP(arg=...): any sources (src=None)
      return UP(ops, dts, None, "none", arg, None, False, tags)
    if mode == "none": return UP(ops, dts, None, "none", arg, None, False, tags)
    return up_make(ops, dts, [self.ufix(a) for a in args], mode, arg, None, allow, tags)

# ---------------------------------------------------------------- results (C code over rewrite.h)

BINOPS = {"+": "ADD", "*": "MUL", "&": "AND", "|": "OR", "^": "XOR", "<<": "SHL", ">>": "SHR", "//": "FLOORDIV", "%": "FLOORMOD",
          "/": "FDIV", "-": "SUB", "**": "POW"}
UNARY_METHODS = {"reciprocal": "RECIPROCAL", "trunc": "TRUNC", "sqrt": "SQRT", "exp2": "EXP2", "log2": "LOG2", "sin": "SIN"}

@dataclass
class V:
  t: str   # U (tg_uop*, never NULL), N (tg_num), B (C int), D (dtype id), O (op), S (op or dtype set: C predicate maker), NONE
  c: str = ""

class BodyCompiler:
  """Compiles a result expression into the statements of a rule function. UOp values live in T[] (owned, released at
  the end) or are bindings (borrowed); every builder call is checked, so NULL never flows into the next one."""
  def __init__(self, where, slots, helpers):
    self.where, self.slots, self.helpers = where, slots, helpers
    self.lines, self.ntemp, self.nvar, self.ind = [], 0, 0, 1
    self.used, self.labels = set(), set()
  def err(self, msg): raise RuleError(f"{self.where}: {msg}")
  def emit(self, s): self.lines.append("  " * self.ind + s)
  def var(self, ctype, init):
    self.nvar += 1
    name = f"v{self.nvar}"
    self.emit(f"{ctype} {name} = {init};")
    return name
  def temp(self, call):
    t = f"T[{self.ntemp}]"
    self.ntemp += 1
    self.labels.add("fail")
    self.emit(f"if (!({t} = {call})) goto fail;")
    return V("U", t)
  def numop(self, op, a, b):
    out = self.var("tg_num", "tg_num_none()")
    self.labels.add("fail")
    self.emit(f"if (tg_num_binop(TG_OP_{op}, {a}, {b}, &{out})) goto fail;")
    return V("N", out)

  # conversions
  def as_uop(self, v: V) -> V:
    if v.t == "U": return v
    if v.t == "B": v = V("N", f"tg_num_b({v.c})")
    if v.t == "N": return self.temp(f"tg_um_ufix({v.c})")
    self.err(f"expected a UOp, got {v.t}")
  def as_num(self, v: V) -> V:
    if v.t == "N": return v
    if v.t == "B": return V("N", f"tg_num_b({v.c})")
    self.err(f"expected a number, got {v.t}")
  def truth(self, v: V) -> str:
    if v.t == "B": return v.c
    if v.t == "N": return f"tg_num_truthy({v.c})"
    if v.t == "U": self.err("truth value of a UOp (use `is not None`?)")
    self.err(f"truth value of {v.t}")
  def dtype_of(self, n) -> str:
    if n.kind == "name" and DT_ALIASES.get(n.a, n.a) in DTYPES: return str(DTYPES[DT_ALIASES.get(n.a, n.a)])
    if n.kind == "func" and n.a in ("weak_dtype", "strong_dtype"): return f"tg_dt_{n.a.split('_')[0]}((tg_dtype){self.dtype_of(n.b[0])})"
    v = self.ev(n)
    if v.t == "D": return v.c
    self.err(f"expected a dtype: {n}")

  def ty(self, n) -> str:
    """The type an expression will have, without emitting code (for the two branches of `a if c else b`)."""
    k = n.kind
    if k in ("num", "invalid"): return "N"
    if k == "none": return "NONE"
    if k == "name":
      if n.a in self.slots or n.a == "root": return "U"
      return "N" if n.a in ("nan", "inf") else "D"
    if k == "opname": return "O"
    if k == "cmp" and n.a in ("<", ">", "<=", ">=", "!=") and "U" in (self.ty(n.b), self.ty(n.c)): return "U"
    if k in ("boolop", "not", "cmp"): return "B"
    if k in ("bin", "unary"): return "U" if "U" in (self.ty(n.b), self.ty(n.c) if k == "bin" else "") else "N"
    if k == "ifexp":
      ts = {self.ty(n.a), self.ty(n.c)} - {"NONE"}
      return "U" if "U" in ts or not ts else "N" if "N" in ts else ts.pop()
    if k == "attr":
      if n.b in ("val", "vmin", "vmax", "min", "max"): return "N"
      return {"op": "O", "dtype": "D", "is_invalid": "B"}.get(n.b, "U")
    if k == "func":
      if n.a in ("isnan", "isinf", "isfloat", "can_lossless_cast", "is_int", "is_float", "is_unsigned"): return "B"
      return "U" if n.a == "const" else "N"
    if k == "helper": return {"uop": "U", "bool": "B", "num": "N"}[self.helpers[n.a]]
    return "U"

  def ev(self, n) -> V:
    k = n.kind
    if k == "num":
      v = n.a
      if isinstance(v, bool): return V("N", f"tg_num_b({int(v)})")
      if isinstance(v, int): return V("N", f"tg_num_i({v}ll)" if -2**63 <= v < 2**63 else self.err(f"int {v} out of range"))
      return V("N", f"tg_num_f({float_c(v)})")
    if k == "invalid": return V("N", "tg_num_invalid()")
    if k == "none": return V("NONE")
    if k == "name":
      if n.a in self.slots: self.used.add(n.a); return V("U", n.a)
      if n.a == "root": return V("U", "root_")
      if n.a in ("nan", "inf"): return V("N", f"tg_num_f({'NAN' if n.a == 'nan' else 'INFINITY'})")
      if DT_ALIASES.get(n.a, n.a) in DTYPES: return V("D", str(DTYPES[DT_ALIASES.get(n.a, n.a)]))
      self.err(f"unknown name {n.a!r}")
    if k == "opname": return V("O", f"TG_OP_{n.a}")
    if k == "set": return V("S", n)
    if k == "ifexp": return self.ifexp(n)
    if k == "boolop": return self.boolop(n)
    if k == "not": return V("B", f"!({self.truth(self.ev(n.a))})")
    if k == "cmp": return self.cmp(n)
    if k == "bin": return self.binop(n.a, self.ev(n.b), self.ev(n.c))
    if k == "unary":
      x = self.ev(n.b)
      if x.t == "U": return self.temp(f"tg_um_{'neg' if n.a == '-' else 'invert'}({x.c})")
      x = self.as_num(x)
      if n.a == "-": return V("N", f"tg_num_neg({x.c})")
      return self.numop("XOR", x.c, "tg_num_i(-1)")
    if k == "attr": return self.attr(n)
    if k == "index":
      x = self.ev(n.a.a)
      i = int(n.b.a)
      self.labels.add("fail")
      self.emit(f"if ({x.c}->nsrc <= {i}) {{ tg_err(TG_ERR_INTERNAL, \"IndexError: src[{i}] of %s\", tg_op_name((tg_op){x.c}->op)); goto fail; }}")
      return V("U", f"{x.c}->src[{i}]")
    if k == "call": return self.method(n)
    if k == "func": return self.func(n)
    if k == "helper":
      if n.a not in self.helpers: self.err(f"@{n.a} is not declared (helper {n.a}(...) -> uop|bool|num)")
      args = []
      for a in n.b:
        v = self.ev(a)
        args.append(v.c if v.t in ("U", "N", "D", "O") else self.as_num(v).c)
      call = f"{n.a}(rw{''.join(', ' + a for a in args)})"
      rt = self.helpers[n.a]
      if rt == "uop":
        t = f"T[{self.ntemp}]"
        self.ntemp += 1
        self.labels.update(("fail", "none"))
        self.emit(f"if (!({t} = {call})) {{ if (rw->failed) goto fail; goto none; }}")
        return V("U", t)
      out = self.var("int" if rt == "bool" else "tg_num", call)
      self.labels.add("fail")
      self.emit("if (rw->failed) goto fail;")
      return V("B" if rt == "bool" else "N", out)
    if k == "litann":
      v = self.as_num(self.ev(n.a))
      return self.temp(f"tg_um_const({DTYPES[dt_names(n.b, self.where)[0]]}, {v.c})")
    if k == "oppat":  # OP(src..., arg=...) builds UOp(op, src=..., arg=...) with the derived dtype
      ops = op_names(n.a, self.where)
      if len(ops) != 1 or n.c[0] != "tuple": self.err("building a UOp needs one op and (sources)")
      srcs = [self.as_uop(self.ev(a)) for a in n.c[1]]
      arg = "tg_arg_none()"
      if "arg" in n.kw:
        a = self.as_num(self.ev(n.kw["arg"]))
        arg = f"tg_num_to_arg({a.c})"
      dt = self.dtype_of(n.b) if n.b is not None else "TG_DT_AUTO"
      src = f"(tg_uop *[]){{{', '.join(x.c for x in srcs)}}}, {len(srcs)}" if srcs else "NULL, 0"
      return self.temp(f"tg_uop_new(TG_OP_{ops[0]}, {dt}, {src}, {arg})")
    self.err(f"cannot evaluate {k}")

  def ifexp(self, n) -> V:
    t = self.ty(n)
    c = self.truth(self.ev(n.b))
    out = self.var({"U": "tg_uop *", "N": "tg_num", "B": "int", "D": "int", "O": "tg_op"}[t], "NULL" if t == "U" else "tg_num_none()" if t == "N" else "0")
    self.emit(f"if ({c}) {{")
    self.ind += 1
    self.assign(out, n.a, t)
    self.ind -= 1
    self.emit("} else {")
    self.ind += 1
    self.assign(out, n.c, t)
    self.ind -= 1
    self.emit("}")
    return V(t, out)
  def assign(self, out, node, t):
    v = self.ev(node)
    if v.t == "NONE":
      self.labels.add("none")
      self.emit("goto none;")
    elif t == "U": self.emit(f"{out} = {self.as_uop(v).c};")
    elif t == "N": self.emit(f"{out} = {self.as_num(v).c};")
    else: self.emit(f"{out} = {v.c};")
  def boolop(self, n) -> V:
    out = self.var("int", self.truth(self.ev(n.b)))
    self.emit(f"if ({'!' if n.a == 'or' else ''}{out}) {{")
    self.ind += 1
    self.emit(f"{out} = {self.truth(self.ev(n.c))};")
    self.ind -= 1
    self.emit("}")
    return V("B", out)
  def cmp(self, n) -> V:
    a = self.ev(n.b)
    if n.a in ("in", "not in"):
      s = n.c
      if s.kind != "set": self.err("`in` needs a {set}")
      neg = "!" if n.a == "not in" else ""
      if a.t == "O":
        ops = op_names(s, self.where)
        return V("B", f"{neg}({' || '.join(f'{a.c} == TG_OP_{o}' for o in ops)})")
      if a.t == "D":
        dts = dt_names(s, self.where)
        return V("B", f"{neg}({' || '.join(f'{a.c} == {DTYPES[d]}' for d in dts)})")
      self.err("`in` works on .op and .dtype")
    b = self.ev(n.c)
    if a.t == "NONE" or b.t == "NONE":
      other = b if a.t == "NONE" else a
      eq = n.a in ("is", "==")
      return V("B", f"({other.c} {'==' if eq else '!='} NULL)")
    if (a.t == "U" or b.t == "U") and n.a in ("<", ">", "<=", ">=", "!="):
      # UOp comparisons build UOps, as the ElementwiseMixin operators do (== and `is` stay identity, as in Python)
      a, b = self.as_uop(a), self.as_uop(b)
      if n.a == "!=": return self.temp(f"tg_um_binop(TG_OP_CMPNE, {a.c}, {b.c})")
      x, y = (a, b) if n.a in ("<", ">=") else (b, a)
      lt = self.temp(f"tg_um_binop(TG_OP_CMPLT, {x.c}, {y.c})")
      return lt if n.a in ("<", ">") else self.temp(f"tg_um_logical_not({lt.c})")
    if a.t in ("U", "O", "D") or b.t in ("U", "O", "D"):
      if n.a not in ("is", "is not", "==", "!="): self.err(f"{n.a} between {a.t} and {b.t}")
      if a.t == "U" and b.t != "U": b = self.as_uop(b)
      return V("B", f"({a.c} {'==' if n.a in ('is', '==') else '!='} {b.c})")
    a, b = self.as_num(a), self.as_num(b)
    op = {"is": "==", "is not": "!="}.get(n.a, n.a)
    if op == "==": return V("B", f"tg_num_equal({a.c}, {b.c})")
    if op == "!=": return V("B", f"!tg_num_equal({a.c}, {b.c})")
    if op in ("<", ">"):
      x, y = (a, b) if op == "<" else (b, a)
      return V("B", f"tg_num_truthy({self.numop('CMPLT', x.c, y.c).c})")
    x, y = (a, b) if op == "<=" else (b, a)  # x <= y: x < y or x == y
    lt = self.numop("CMPLT", x.c, y.c)
    return V("B", f"(tg_num_truthy({lt.c}) || tg_num_equal({x.c}, {y.c}))")
  def binop(self, op, a: V, b: V) -> V:
    if a.t in ("U",) or b.t in ("U",):
      a, b = self.as_uop(a), self.as_uop(b)
      fn = {"-": "tg_um_sub", "/": "tg_um_div", "//": "tg_um_floordiv", "%": "tg_um_mod"}.get(op)
      if fn: return self.temp(f"{fn}({a.c}, {b.c})")
      return self.temp(f"tg_um_binop(TG_OP_{BINOPS[op]}, {a.c}, {b.c})")
    a, b = self.as_num(a), self.as_num(b)
    return self.numop(BINOPS[op], a.c, b.c)
  def attr(self, n) -> V:
    if n.a.kind == "attr" and n.a.b == "dtype" and n.b in ("min", "max"):
      return V("N", f"tg_num_dtype_bound({self.ev(n.a).c}, {int(n.b == 'max')})")
    x = self.ev(n.a)
    if x.t != "U": self.err(f".{n.b} of a {x.t}")
    if n.b == "val":
      self.labels.add("fail")
      self.emit(f"if ({x.c}->op != TG_OP_CONST) {{ tg_err(TG_ERR_INTERNAL, \"val is only for CONST, got %s\", tg_op_name((tg_op){x.c}->op)); goto fail; }}")
      return V("N", f"tg_uop_val({x.c})")
    if n.b in ("vmin", "vmax"): return V("N", self.var("tg_num", f"tg_uop_{n.b}({x.c})"))
    if n.b == "op": return V("O", f"(tg_op){x.c}->op")
    if n.b == "dtype": return V("D", f"(int){x.c}->dtype")
    if n.b == "is_invalid": return V("B", f"({x.c}->op == TG_OP_CONST && {x.c}->arg.kind == TG_ARG_INVALID)")
    self.err(f"unknown attribute .{n.b}")
  def method(self, n) -> V:
    m, args, kw = n.b, n.c, n.kw
    if m == "alu":
      x = self.as_uop(self.ev(n.a))
      op = self.ev(args[0])
      if op.t != "O": self.err(".alu needs an op")
      srcs = [x] + [self.as_uop(self.ev(a)) for a in args[1:]]
      return self.temp(f"tg_um_alu({op.c}, (tg_uop *[]){{{', '.join(s.c for s in srcs)}}}, {len(srcs)})")
    x = self.ev(n.a)
    if x.t != "U": self.err(f".{m}() of a {x.t}")
    ev_u = lambda a: self.as_uop(self.ev(a))
    if m == "const_like":
      v = self.as_num(self.ev(args[0]))
      dt = self.dtype_of(args[1]) if len(args) > 1 else f"{x.c}->dtype"
      return self.temp(f"tg_um_const({dt}, {v.c})")
    if m in ("cast", "bitcast"): return self.temp(f"tg_um_{m}({x.c}, {self.dtype_of(args[0])})")
    if m == "where": return self.temp(f"tg_um_where({x.c}, {ev_u(args[0]).c}, {ev_u(args[1]).c})")
    if m in ("maximum", "ne", "minimum", "eq"):
      y = ev_u(args[0])
      fn = {"maximum": "tg_um_binop(TG_OP_MAX, ", "ne": "tg_um_binop(TG_OP_CMPNE, ", "minimum": "tg_um_minimum(", "eq": "tg_um_eq("}[m]
      return self.temp(f"{fn}{x.c}, {y.c})")
    if m == "logical_not": return self.temp(f"tg_um_logical_not({x.c})")
    if m in UNARY_METHODS: return self.temp(f"tg_um_unary(TG_OP_{UNARY_METHODS[m]}, {x.c})")
    if m in ("usum", "uprod"):
      srcs = [x] + [ev_u(a) for a in args]
      return self.temp(f"tg_um_{m}((tg_uop *[]){{{', '.join(s.c for s in srcs)}}}, {len(srcs)})")
    if m == "replace":
      if set(kw) - {"src", "dtype"}: self.err(".replace() supports src= and dtype=")
      src = "NULL, 0"
      if "src" in kw:
        items = kw["src"].a if kw["src"].kind == "tuple" else [kw["src"]]
        srcs = [ev_u(a) for a in items]
        src = f"(tg_uop *[]){{{', '.join(s.c for s in srcs)}}}, {len(srcs)}"
        if not srcs: src = "NULL, 0"
      dt = self.dtype_of(kw["dtype"]) if "dtype" in kw else f"{x.c}->dtype"
      if "src" not in kw: src = f"{x.c}->src, {x.c}->nsrc"
      return self.temp(f"tg_uop_replace({x.c}, (tg_op){x.c}->op, {dt}, {src}, NULL, NULL)")
    self.err(f"unknown method .{m}()")
  def func(self, n) -> V:
    f, args = n.a, n.b
    if f in ("abs",): return V("N", f"tg_num_abs({self.as_num(self.ev(args[0])).c})")
    if f in ("min", "max"):
      a, b = self.as_num(self.ev(args[0])), self.as_num(self.ev(args[1]))
      if f == "max": return self.numop("MAX", a.c, b.c)
      lt = self.numop("CMPLT", b.c, a.c)  # min(a, b): b only if b < a
      return V("N", self.var("tg_num", f"tg_num_truthy({lt.c}) ? {b.c} : {a.c}"))
    if f == "gcd":
      out = self.var("tg_num", "tg_num_none()")
      self.labels.add("fail")
      self.emit(f"if (tg_num_gcd({self.as_num(self.ev(args[0])).c}, {self.as_num(self.ev(args[1])).c}, &{out})) goto fail;")
      return V("N", out)
    if f in ("isnan", "isinf"):
      a = self.as_num(self.ev(args[0]))
      return V("B", f"({a.c}.kind == TG_NUM_FLOAT && {f}({a.c}.f))")
    if f == "isfloat": return V("B", f"({self.as_num(self.ev(args[0])).c}.kind == TG_NUM_FLOAT)")
    if f == "can_lossless_cast": return V("B", f"tg_dt_can_lossless_cast((tg_dtype){self.dtype_of(args[0])}, (tg_dtype){self.dtype_of(args[1])})")
    if f in ("is_int", "is_float", "is_unsigned"): return V("B", f"tg_dt_{f}((tg_dtype){self.dtype_of(args[0])})")
    if f == "len":
      x = self.as_uop(self.ev(args[0].a if args[0].kind == "attr" and args[0].b == "src" else args[0]))
      return V("N", f"tg_num_i({x.c}->nsrc)")
    if f == "log2":
      out = self.var("tg_num", "tg_num_none()")
      self.labels.add("fail")
      arg = self.var("tg_num", self.as_num(self.ev(args[0])).c)
      self.emit(f"if (tg_exec_alu(TG_OP_LOG2, TG_WEAKFLOAT, &{arg}, 1, 0, &{out})) goto fail;")
      return V("N", out)
    if f == "const":
      v = self.as_num(self.ev(args[0]))
      dt = self.dtype_of(args[1]) if len(args) > 1 else "TG_DT_AUTO"
      return self.temp(f"tg_um_const({dt}, {v.c})")
    self.err(f"unknown function {f}()")

def float_c(v: float) -> str:
  if math.isnan(v): return "NAN"
  if math.isinf(v): return "INFINITY" if v > 0 else "-INFINITY"
  return repr(float(v))

# ---------------------------------------------------------------- the .rules file

@dataclass
class Rule:
  pm: str
  line: int
  text: str
  comments: list
  pat: UP
  body: N
  slots: list
  helpers: dict

def logical_lines(text: str):
  """(line number, text, preceding comments): a line that starts with whitespace continues the previous one."""
  cur, start, comments, pending = None, 0, [], []
  for no, raw in enumerate(text.splitlines(), 1):
    stripped = raw.strip()
    if not stripped: continue
    if stripped.startswith("#"):
      if cur is not None and raw[:1] in (" ", "\t"): continue
      if cur is not None: yield start, cur, comments; cur = None
      pending.append(stripped[1:].strip())
      continue
    body = raw.split(" #", 1)[0].rstrip() if " #" in raw else raw.rstrip()
    if raw[:1] in (" ", "\t") and cur is not None: cur += " " + body.strip(); continue
    if cur is not None: yield start, cur, comments
    cur, start, comments, pending = body.strip(), no, pending, []
  if cur is not None: yield start, cur, comments

def slots_of(p: UP, out: list):
  if p.name is not None and p.name not in out: out.append(p.name)
  for s in p.src or []: slots_of(s, out)
  return out

def parse_rules(path: Path):
  rules, pms, order, cur, helpers = [], {}, [], None, {}
  fname = path.name
  for no, line, comments in logical_lines(path.read_text()):
    where = f"{fname}:{no}"
    m = re.fullmatch(r"helper\s+(\w+)\s*\(([^)]*)\)\s*->\s*(uop|bool|num)", line)
    if m:
      helpers[m.group(1)] = m.group(3)
      continue
    m = re.fullmatch(r"pm\s+(\w+)\s*:", line)
    if m:
      cur = m.group(1)
      if cur in pms: raise RuleError(f"{where}: pm {cur} defined twice")
      pms[cur] = ("rules", [], comments)
      order.append(cur)
      continue
    m = re.fullmatch(r"pm\s+(\w+)\s*=\s*(\w+(?:\s*\+\s*\w+)*)", line)
    if m:
      parts = [p.strip() for p in m.group(2).split("+")]
      for p in parts:
        if p not in pms: raise RuleError(f"{where}: unknown pm {p}")
      pms[m.group(1)] = ("cat", parts, comments)
      order.append(m.group(1))
      cur = None
      continue
    if cur is None: raise RuleError(f"{where}: a rule outside `pm NAME:`")
    if "->" not in line: raise RuleError(f"{where}: a rule needs `->`")
    toks = tokenize(line, where)
    arrow = next(i for i, t in enumerate(toks) if t[1] == "->")
    pp = Parser(toks[:arrow] + [("end", "")], where)
    pat_ast = pp.expr()
    if pp.peek()[0] != "end": raise RuleError(f"{where}: trailing {pp.peek()[1]!r} in the pattern")
    bp = Parser(toks[arrow + 1:], where)
    body = bp.expr()
    if bp.peek()[0] != "end": raise RuleError(f"{where}: trailing {bp.peek()[1]!r} in the result")
    pat = PatternCompiler(where).pat(pat_ast)
    if not pat.ops or pat.mode == "any": raise RuleError(f"{where}: the pattern must name its op (a PatternMatcher needs p.op)")
    slots = slots_of(pat, [])
    bad = [x for x in slots if x in RESERVED or x.endswith("_")]
    if bad: raise RuleError(f"{where}: {bad[0]!r} cannot name a pattern (reserved in the generated C)")
    if len(slots) > 32: raise RuleError(f"{where}: more than 32 names")
    r = Rule(cur, no, line, comments, pat, body, slots, helpers)
    pms[cur][1].append(r)
    rules.append(r)
  return rules, pms, order

# ---------------------------------------------------------------- C output

def opset_c(ops) -> str:
  w = [0, 0]
  for o in ops: w[OPS[o] >> 6] |= 1 << (OPS[o] & 63)
  return f"{{{{0x{w[0]:x}ull, 0x{w[1]:x}ull}}}}"

def arg_c(a) -> str:
  if a[0] == "num":
    v = a[1]
    if isinstance(v, bool): return f"{{.kind = TG_ARG_BOOL, .i = {int(v)}}}"
    if isinstance(v, int): return f"{{.kind = TG_ARG_INT, .i = {v}ll}}"
    return f"{{.kind = TG_ARG_FLOAT, .f = {float_c(v)}}}"
  if a[0] == "invalid": return "{.kind = TG_ARG_INVALID}"
  if a[0] == "op": return f"{{.kind = TG_ARG_OP, .i = TG_OP_{a[1]}}}"
  if a[0] == "dtype": return f"{{.kind = TG_ARG_DTYPE, .i = {DTYPES[a[1]]}}}"
  raise RuleError(f"arg {a} has no C form yet")

class Emitter:
  def __init__(self, prefix): self.prefix, self.n, self.out = prefix, 0, []
  def pat(self, p: UP, slots) -> str:
    kids = [self.pat(s, slots) for s in p.src or []]
    self.n += 1
    name = f"{self.prefix}p{self.n}"
    fields = []
    if p.mode == "any": fields.append(".mode = TG_UPAT_ANY")
    else:
      if p.ops is not None: fields += [f".ops = {opset_c(p.ops)}", ".has_ops = 1"]
      if p.dtypes is not None:
        fields += [f".dtypes = 0x{sum(1 << DTYPES[d] for d in p.dtypes):x}ull", ".has_dtypes = 1"]
      if p.mode != "none": fields.append(f".mode = TG_UPAT_SRC_{p.mode.upper()}")
      if p.allow_any_len: fields.append(".allow_any_len = 1")
      if p.arg is not None:
        self.out.append(f"static const tg_arg {name}_arg = {arg_c(p.arg)};")
        fields.append(f".arg = &{name}_arg")
      if p.tags is not None:
        self.out.append(f"static const tg_arg {name}_tags[] = {{{', '.join(arg_c(t) for t in p.tags)}}};")
        fields += [f".tags = {name}_tags", f".ntags = {len(p.tags)}"]
    if kids:
      self.out.append(f"static const tg_upat *const {name}_src[] = {{{', '.join('&' + k for k in kids)}}};")
      fields += [f".src = {name}_src", f".nsrc = {len(kids)}"]
    fields.append(f".slot = {slots.index(p.name) if p.name is not None else -1}")
    self.out.append(f"static const tg_upat {name} = {{{', '.join(fields)}}};")
    return name

def rule_function(r: Rule, fname: str) -> list[str]:
  if r.body.kind == "name" and r.body.a in r.slots:  # `-> x`: the bound UOp itself
    return [f"static tg_uop *{fn_name(r)}(tg_rw *rw, tg_uop *const *b_, tg_uop *root_) {{ (void)rw, (void)root_; "
            f"return tg_uop_retain(b_[{r.slots.index(r.body.a)}]); }}"]
  bc = BodyCompiler(f"{Path(fname).name}:{r.line}", r.slots, r.helpers)
  v = bc.ev(r.body)
  if v.t == "NONE": bc.labels.add("none"); bc.emit("goto none;")
  else: bc.emit(f"ret = tg_uop_retain({bc.as_uop(v).c});")
  lines = [f"static tg_uop *{fn_name(r)}(tg_rw *rw, tg_uop *const *b_, tg_uop *root_) {{", "  (void)rw, (void)b_, (void)root_;"]
  for i, s in enumerate(r.slots):
    if s in bc.used and any(re.search(rf"\b{s}\b", ln) for ln in bc.lines): lines.append(f"  tg_uop *{s} = b_[{i}];")
  if bc.ntemp: lines.append(f"  tg_uop *T[{bc.ntemp}] = {{0}};")
  lines.append("  tg_uop *ret = NULL;")
  lines += bc.lines
  if "none" in bc.labels or "fail" in bc.labels: lines.append("  goto out;")
  if "fail" in bc.labels: lines += ["fail:", "  rw->failed = 1;"]
  if "none" in bc.labels and "fail" in bc.labels: lines.append("  goto out;")
  if "none" in bc.labels: lines.append("none:")
  if bc.labels: lines.append("out:")
  if bc.ntemp: lines.append(f"  for (int k_ = 0; k_ < {bc.ntemp}; k_++) tg_uop_release(T[k_]);")
  lines += ["  return ret;", "}"]
  return lines

def fn_name(r: Rule) -> str: return f"rule_{r.pm}_{r.line}"

def generate(path: Path) -> str:
  _, pms, order = parse_rules(path)
  rel = os.path.relpath(path, ROOT)
  out = [f"/* GENERATED by generators/rules/rulegen.py from {rel} -- do not edit; regenerate with",
         f"**   python generators/rules/rulegen.py {rel}",
         "** Included by the C file next to the .rules file, after the helper functions the rules call. */",
         "#include <math.h>", "#include <pthread.h>", "", '#include "uop/rewrite.h"', ""]
  for name in order:
    kind, items, comments = pms[name]
    out.append(f"/* ================ pm {name} ================ */")
    out += [f"/* {c} */" for c in comments]
    if kind == "cat": continue
    for r in items:
      out.append("")
      out += [f"/* {c.replace('*/', '* /')} */" for c in r.comments]
      out.append(f"/* {path.name}:{r.line}: {r.text.replace('*/', '* /')} */")
      em = Emitter(f"{r.pm}_{r.line}_")
      em.pat(r.pat, r.slots)
      out += em.out
      out += rule_function(r, str(path))
    out.append("")
    out.append(f"static const tg_rule {name}_rules[] = {{")
    for r in items:
      out.append(f"  {{&{r.pm}_{r.line}_p{count_pats(r.pat)}, {fn_name(r)}, \"{path.name}:{r.line}\"}},")
    out.append("};")
    out.append("")
  # one accessor per pm, built once
  for name in order:
    kind, items, _ = pms[name]
    out.append(f"static tg_pm *{name}_pm;")
    out.append(f"static pthread_once_t {name}_once = PTHREAD_ONCE_INIT;")
    out.append(f"static void {name}_init(void) {{")
    if kind == "rules":
      out.append(f"  {name}_pm = tg_pm_new({name}_rules, sizeof {name}_rules / sizeof {name}_rules[0]);")
    else:
      out.append(f"  const tg_pm *parts[] = {{{', '.join(f'tg_pm_{p}()' for p in items)}}};")
      out.append(f"  {name}_pm = tg_pm_concat(parts, {len(items)});")
    out.append("}")
    out.append(f"const tg_pm *tg_pm_{name}(void) {{")
    out.append(f"  pthread_once(&{name}_once, {name}_init);")
    out.append(f"  return {name}_pm;")
    out.append("}")
    out.append("")
  return "\n".join(out).rstrip() + "\n"

def count_pats(p: UP) -> int: return 1 + sum(count_pats(s) for s in p.src or [])

DEFAULT_MODULES = ["tinygrad.uop.symbolic", "tinygrad.uop.movement", "tinygrad.uop.divandmod"]

def tinygrad_modules(path: Path) -> list[str]:
  """The modules a file's `tinygrad:` quotes are evaluated in (tests/test_rules.py): a `# tinygrad-modules: a, b` line
  adds to the defaults."""
  mods = list(DEFAULT_MODULES)
  for line in path.read_text().splitlines():
    if m := re.match(r"#\s*tinygrad-modules:\s*(.+)", line.strip()): mods += [x.strip() for x in m.group(1).split(",") if x.strip()]
  return mods

def dump(path: Path):
  rules, _, _ = parse_rules(path)
  def js(p: UP):
    return {"ops": sorted(p.ops) if p.ops else None, "dtypes": sorted(p.dtypes) if p.dtypes else None, "mode": p.mode,
            "arg": None if p.arg is None else [p.arg[0], *p.arg[1:]], "name": p.name, "allow_any_len": p.allow_any_len,
            "src": [js(s) for s in p.src] if p.src is not None else None}
  return {"modules": tinygrad_modules(path), "rules": [{"pm": r.pm, "line": r.line, "text": r.text, "comments": r.comments, "pat": js(r.pat)} for r in rules]}

def out_path(path: Path) -> Path: return path.with_name(path.stem + "_rules.inc")

def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("rules", nargs="*", type=Path)
  ap.add_argument("--all", action="store_true", help="every *.rules file under core/src")
  ap.add_argument("--check", action="store_true", help="exit 1 when a generated file differs from a fresh generation")
  ap.add_argument("--dump", action="store_true", help="print the parsed patterns as JSON")
  a = ap.parse_args(argv)
  paths = list(a.rules) + (sorted((ROOT / "core" / "src").rglob("*.rules")) if a.all else [])
  if not paths: ap.error("name .rules files or pass --all")
  status = 0
  for path in paths:
    try:
      if a.dump: print(json.dumps(dump(path), indent=1, default=str)); continue
      text = generate(path)
    except RuleError as e:
      print(f"rulegen: {e}", file=sys.stderr)
      return 2
    dest = out_path(path)
    if a.check:
      old = dest.read_text() if dest.exists() else ""
      if old != text:
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True), str(dest), "fresh", n=1))
        print(f"rulegen: {dest} is stale; regenerate with: python generators/rules/rulegen.py {os.path.relpath(path, ROOT)}", file=sys.stderr)
        status = 1
    else:
      dest.write_text(text)
  return status

if __name__ == "__main__": sys.exit(main())
