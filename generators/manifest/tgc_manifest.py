#!/usr/bin/env python3
"""tgc_manifest -- the one parser of the public headers include/tg.h and include/tg_backend.h.

It turns them into (a) the cffi declarations the Python package loads (--cdef) and (b) tg_manifest.json, the C API
described as data (--manifest): functions, structs, enums, typedefs and constants with their doc comments. Nothing is
typed twice: everything here derives from the headers. Self-contained (stdlib + pycparser); the wheel installs it as
tgc/_manifest.py next to tgc/include/, hence the `tgc-manifest` console script.

  python generators/manifest/tgc_manifest.py --cdef build/tg_cdef.h --manifest generators/manifest/tg_manifest.json
  python generators/manifest/tgc_manifest.py --check generators/manifest/tg_manifest.json   # exit 1 when stale
"""
from __future__ import annotations
import argparse, copy, difflib, json, operator, os, re, shlex, subprocess, sys
from pathlib import Path
from pycparser import c_ast, c_generator, c_parser

HEADERS = ("tg.h", "tg_backend.h")  # tg.h includes tg_backend.h
# What <stddef.h>/<stdint.h> would give; the headers skip those under TG_NO_SYSTEM_HEADERS. cffi knows these natively.
PRELUDE = {"size_t": "unsigned long", "ptrdiff_t": "long", "intptr_t": "long", "uintptr_t": "unsigned long", "int8_t": "signed char",
           "uint8_t": "unsigned char", "int16_t": "short", "uint16_t": "unsigned short", "int32_t": "int", "uint32_t": "unsigned int",
           "int64_t": "long long", "uint64_t": "unsigned long long", "intmax_t": "long long", "uintmax_t": "unsigned long long"}
CPP_FLAGS = ["-E", "-P", "-DTG_NO_SYSTEM_HEADERS", "-DTG_API=", "-D__attribute__(x)=", "-D__declspec(x)=", "-D__extension__=", "-D__restrict=",
             "-D__inline=inline"]
REGEN = ("cmake --build build --target tinygradc_manifest  "
         "(or: python generators/manifest/tgc_manifest.py --manifest generators/manifest/tg_manifest.json)")
OWNERSHIP = re.compile(r"\b(own(s|ed|er|ership)?|releas\w*|borrow\w*|copied|free[sd]?|references?|static|valid until|lifetime)\b", re.I)
INT_LIT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)[uUlL]*")
STR_LIT = re.compile(r'"(?:[^"\\]|\\.)*"')
GEN = c_generator.CGenerator()

def default_include() -> Path:
  here = Path(__file__).resolve().parent
  for cand in (here / "include", here.parent.parent / "include"):  # installed as tgc/_manifest.py next to tgc/include/, or in the repo
    if (cand / "tg.h").is_file(): return cand
  return here.parent.parent / "include"

# ---------------- C preprocessor + pycparser ----------------

def preprocess(include: Path, cc: str | None) -> str:
  ccs = [cc] if cc else [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
  for c in ccs:
    cmd = [*([c] if os.path.exists(c) else shlex.split(c)), *CPP_FLAGS, "-I", str(include), str(include / "tg.h")]
    try: r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError: continue
    if r.returncode != 0: raise SystemExit(f"tgc-manifest: preprocessing failed ({shlex.join(cmd)}):\n{r.stderr}")
    return r.stdout
  raise SystemExit(f"tgc-manifest: no C compiler found (tried {ccs}); pass --cc or set CC")

def parse(text: str) -> c_ast.FileAST:
  prelude = "".join(f"typedef {v} {k};\n" for k, v in PRELUDE.items())
  try: return c_parser.CParser().parse(prelude + text, "tg.h")
  except c_parser.ParseError as e: raise SystemExit(f"tgc-manifest: pycparser cannot parse the preprocessed headers: {e}") from e

def parse_int(s: str) -> int:
  if s.startswith("'") and s.endswith("'"): return ord(s[1:-1].encode().decode("unicode_escape"))
  s = re.sub(r"[uUlL]+$", "", s)
  return int(s, 8) if re.fullmatch(r"0[0-7]+", s) else int(s, 0)

BINOPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": lambda a, b: int(a / b), "%": lambda a, b: a - b * int(a / b),
          "<<": operator.lshift, ">>": operator.rshift, "|": operator.or_, "&": operator.and_, "^": operator.xor}
UNOPS = {"-": operator.neg, "+": operator.pos, "~": operator.invert, "!": lambda a: int(not a)}

def const_eval(n: c_ast.Node, env: dict[str, int]) -> int:
  if isinstance(n, c_ast.Constant): return parse_int(n.value)
  if isinstance(n, c_ast.ID): return env[n.name]
  if isinstance(n, c_ast.UnaryOp) and n.op in UNOPS: return UNOPS[n.op](const_eval(n.expr, env))
  if isinstance(n, c_ast.BinaryOp) and n.op in BINOPS: return BINOPS[n.op](const_eval(n.left, env), const_eval(n.right, env))
  if isinstance(n, c_ast.Cast): return const_eval(n.expr, env)
  raise SystemExit(f"tgc-manifest: cannot evaluate enum value {GEN.visit(n)!r}")

class EnumLiterals(c_ast.NodeVisitor):
  """Rewrites every enumerator (implicit or an expression) to its numeric literal: cffi and bindings see plain numbers."""
  def __init__(self): self.env: dict[str, int] = {}
  def visit_Enum(self, node: c_ast.Enum):
    nxt = 0
    for e in node.values.enumerators if node.values else []:
      nxt = const_eval(e.value, self.env) if e.value is not None else nxt
      self.env[e.name], e.value, nxt = nxt, c_ast.Constant("int", str(nxt)), nxt + 1

def type_str(t: c_ast.Node) -> str:
  """The C type of a declarator without its name: 'const char *', 'char [32]', 'tg_status (*)(int *out_count)'."""
  t = copy.deepcopy(t)
  inner = t
  while not isinstance(inner, c_ast.TypeDecl): inner = inner.type
  inner.declname = None
  s = GEN.visit(c_ast.Typename(None, [], None, t))
  return re.sub(r"\s+\[", "[", re.sub(r"\*\s+const\b", "*const", re.sub(r"\s+", " ", s))).strip()

def params(fn: c_ast.FuncDecl) -> list[dict]:
  ps = fn.args.params if fn.args else []
  if len(ps) == 1 and isinstance(ps[0], c_ast.Typename) and type_str(ps[0].type) == "void": return []
  return [{"name": "...", "type": "..."} if isinstance(p, c_ast.EllipsisParam) else {"name": p.name, "type": type_str(p.type)} for p in ps]

# ---------------- the raw header text: docs, sections, #defines ----------------

def clean_comment(c: str) -> str:
  lines = c.strip()[2:-2].split("\n")
  lines = [lines[0].strip()] + [re.sub(r"^\s*\*{1,2} ?", "", ln).rstrip() for ln in lines[1:]]
  while lines and not lines[0].strip(): lines.pop(0)
  while lines and not lines[-1].strip(): lines.pop()
  return "\n".join(lines)

BANNER = re.compile(r"/\*\s*-{3,}\s*(.*?)\s*-{3,}\s*\*/")

def comment_before(text: str, pos: int) -> str:
  """The /* */ block that ends right before the line at pos (at most one newline between) and starts its own line; not a banner."""
  head = text[:pos].rstrip()
  if not head.endswith("*/") or text[len(head):pos].count("\n") > 1: return ""
  start = head.rfind("/*")
  if start < 0 or text[text.rfind("\n", 0, start) + 1:start].strip() not in ("", "{") or BANNER.fullmatch(head[start:]): return ""
  return clean_comment(head[start:])

def comment_after(text: str, pos: int) -> str:
  """The trailing /* */ comment on the line holding pos."""
  end = text.find("\n", pos)
  m = re.search(r"/\*((?:(?!\*/).)*)\*/\s*$", text[pos:end if end >= 0 else len(text)])
  return m.group(1).strip() if m else ""

def line_start(text: str, pos: int) -> int: return text.rfind("\n", 0, pos) + 1

class Headers:
  def __init__(self, include: Path): self.text = {h: (include / h).read_text() for h in HEADERS}
  def find(self, *patterns: str) -> tuple[str, re.Match] | tuple[None, None]:
    """The first match of the first pattern that matches in either header."""
    for pat in patterns:
      for h, t in self.text.items():
        if m := re.search(pat, t, re.M): return h, m
    return None, None
  def where(self, *patterns: str) -> dict:
    """header, section and doc of the declaration that patterns find (its own doc block, else a trailing comment)."""
    h, m = self.find(*patterns)
    if m is None: return {"header": None, "section": None, "doc": ""}
    t, pos = self.text[h], line_start(self.text[h], m.start())
    banners = [b.group(1) for b in BANNER.finditer(t, 0, pos)]
    return {"header": h, "section": banners[-1] if banners else None, "doc": comment_before(t, pos) or comment_after(t, m.end())}
  def body(self, pattern: str) -> str:
    """The text of a {...} body whose opening line pattern finds (for field and enumerator docs)."""
    h, m = self.find(pattern)
    if m is None: return ""
    t, depth = self.text[h], 0
    for i in range(t.index("{", m.start()), len(t)):
      depth += {"{": 1, "}": -1}.get(t[i], 0)
      if depth == 0: return t[m.start():i + 1]
    return t[m.start():]
  def member_doc(self, body: str, pattern: str) -> str:
    m = re.search(pattern, body, re.M)
    return (comment_after(body, m.end()) or comment_before(body, line_start(body, m.start()))) if m else ""
  def constants(self) -> list[dict]:
    out = []
    for h, t in self.text.items():
      for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(.*?)[ \t]*(?:/\*(.*?)\*/)?[ \t]*$", t, re.M):
        name, val, doc = m.groups()
        if INT_LIT.fullmatch(val): value = parse_int(val)
        elif STR_LIT.fullmatch(val): value = val[1:-1].encode().decode("unicode_escape")
        else: continue
        out.append({"name": name, "value": value, "header": h, "doc": (doc or "").strip() or comment_before(t, m.start())})
    return out

def ownership(doc: str) -> str:
  flat = re.sub(r"\s+", " ", doc).strip()
  sentences = re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+", flat) if flat else []
  return " ".join(s for s in sentences if OWNERSHIP.search(s))

# ---------------- the manifest ----------------

CODE_LINE = r"^(?![ \t]*(?:/\*|\*))[^\n]*?"  # a line that is not inside a doc block

def func_patterns(name: str) -> tuple[str, str]: return rf"^[ \t]*TG_API\b[^;{{}}]*?\b{name}\s*\(", rf"{CODE_LINE}\b{name}\s*\("
def tag_pattern(kind: str, tag: str) -> str: return rf"^[ \t]*(?:typedef\s+)?{kind}\s+{tag}\s*\{{"
def typedef_pattern(name: str) -> str: return rf"^[ \t]*typedef\b[^;]*?(?:\b{name}\s*;|\(\s*\*\s*{name}\s*\))"
def enumerator_pattern(name: str) -> str: return rf"{CODE_LINE}\b{name}\b\s*(?:=|,|\}}|/\*|$)"
def field_pattern(name: str) -> str: return rf"{CODE_LINE}(?:\(\s*\*\s*{name}\s*\)|\b{name}\s*(?:\[[^\]]*\]\s*)*[;,])"

def aggregate(hd: Headers, name: str, t: c_ast.Struct | c_ast.Union | c_ast.Enum) -> dict:
  kind = {c_ast.Struct: "struct", c_ast.Union: "union", c_ast.Enum: "enum"}[type(t)]
  pat = tag_pattern(kind, t.name) if t.name else typedef_pattern(name)
  body, entry = hd.body(pat), {"name": name, **hd.where(pat)}
  if kind == "enum":
    return {**entry, "values": [{"name": e.name, "value": int(e.value.value), "doc": hd.member_doc(body, enumerator_pattern(e.name))}
                                for e in t.values.enumerators]}
  fields = [{"name": d.name, "type": type_str(d.type), "doc": hd.member_doc(body, field_pattern(d.name)) if d.name else ""} for d in t.decls]
  return {**entry, "kind": kind, "fields": fields, "versioned": bool(fields) and fields[0]["name"] == "struct_size"}

def walk(n: c_ast.Node):
  yield n
  for _, c in n.children(): yield from walk(c)

def build_manifest(ast: c_ast.FileAST, hd: Headers) -> dict:
  functions, structs, enums, typedefs = [], [], [], []
  defined = {n.name for n in walk(ast) if isinstance(n, (c_ast.Struct, c_ast.Union)) and n.decls is not None}
  for e in ast.ext:
    if isinstance(e, c_ast.Typedef) and e.name not in PRELUDE:
      t = e.type.type if isinstance(e.type, c_ast.TypeDecl) else None
      if isinstance(t, c_ast.Enum) and t.values: enums.append(aggregate(hd, e.name, t))
      elif isinstance(t, (c_ast.Struct, c_ast.Union)) and t.decls is not None: structs.append(aggregate(hd, e.name, t))
      else:
        fn = e.type.type if isinstance(e.type, c_ast.PtrDecl) and isinstance(e.type.type, c_ast.FuncDecl) else None
        kind = "function_pointer" if fn else "opaque" if isinstance(t, (c_ast.Struct, c_ast.Union)) and t.name not in defined else "alias"
        entry = {"name": e.name, "kind": kind, "type": type_str(e.type), **hd.where(typedef_pattern(e.name))}
        typedefs.append({**entry, "returns": type_str(fn.type), "params": params(fn)} if fn else entry)
    elif isinstance(e, c_ast.Decl) and isinstance(e.type, c_ast.FuncDecl) and "static" not in e.storage:
      entry = {"name": e.name, "returns": type_str(e.type.type), "params": params(e.type), **hd.where(*func_patterns(e.name))}
      functions.append({**entry, "ownership": ownership(entry["doc"])})
    elif isinstance(e, c_ast.Decl) and e.name is None and isinstance(t := e.type, (c_ast.Struct, c_ast.Union, c_ast.Enum)):  # bare `struct x {...};`
      if (t.values if isinstance(t, c_ast.Enum) else t.decls) is not None:
        (enums if isinstance(t, c_ast.Enum) else structs).append(aggregate(hd, f"{type(t).__name__.lower()} {t.name}", t))
  consts = hd.constants()
  cv = {c["name"]: c["value"] for c in consts}
  return {"name": "tgc", "abi": {"tg_version": cv.get("TG_VERSION_STRING"), "backend_abi_major": cv.get("TG_BACKEND_ABI_MAJOR"),
                                 "backend_abi_minor": cv.get("TG_BACKEND_ABI_MINOR")},
          "functions": functions, "structs": structs, "enums": enums, "typedefs": typedefs, "constants": consts}

# ---------------- the cffi declarations ----------------

def build_cdef(ast: c_ast.FileAST, hd: Headers) -> str:
  out = ["/* Generated by tgc_manifest.py from tg.h and tg_backend.h; do not edit. Load with cffi.FFI().cdef(). */"]
  out += [f"#define {c['name']} {c['value']}" for c in hd.constants() if isinstance(c["value"], int)]  # cffi takes integer macros only
  for e in ast.ext:
    if isinstance(e, c_ast.Typedef) and e.name in PRELUDE: continue  # cffi knows size_t and intN_t
    if isinstance(e, c_ast.Decl) and ("static" in e.storage or "inline" in e.funcspec): continue  # not exported symbols
    if isinstance(e, (c_ast.Typedef, c_ast.Decl)): out.append(GEN.visit(e) + ";")  # skips FuncDef, StaticAssert, Pragma
  return "\n".join(out) + "\n"

def generate(include: Path, cc: str | None) -> tuple[str, str]:
  ast = parse(preprocess(include, cc))
  EnumLiterals().visit(ast)
  hd = Headers(include)
  return build_cdef(ast, hd), json.dumps(build_manifest(ast, hd), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

def check(path: Path, want: str) -> int:
  have = path.read_text() if path.exists() else ""
  if have == want: return 0
  diff = "".join(difflib.unified_diff(have.splitlines(True), want.splitlines(True), str(path), "generated from include/", n=2))
  sys.stderr.write(f"{path} is stale (differs from the headers):\n{diff[:20000]}\nRegenerate with: {REGEN}\n")
  return 1

def main(argv: list[str] | None = None) -> int:
  ap = argparse.ArgumentParser(prog="tgc-manifest", description=__doc__.split("\n\n")[0])
  ap.add_argument("--include", type=Path, default=default_include(), help="folder holding tg.h and tg_backend.h (default: %(default)s)")
  ap.add_argument("--cc", default=None, help="C compiler used as preprocessor (default: $CC or cc)")
  ap.add_argument("--cdef", type=Path, help="write the cffi declarations here")
  ap.add_argument("--manifest", type=Path, help="write tg_manifest.json here")
  ap.add_argument("--check", type=Path, help="exit 1 if this file (a .json manifest, else a cdef) differs from a fresh generation")
  args = ap.parse_args(argv)
  if not (args.include / "tg.h").is_file(): ap.error(f"no tg.h in {args.include}")
  cdef, manifest = generate(args.include, args.cc)
  rc = check(args.check, manifest if args.check.suffix == ".json" else cdef) if args.check is not None else 0  # before any write
  for path, text in ((args.cdef, cdef), (args.manifest, manifest)):
    if path is not None:  # always written: the build's custom command needs a fresh timestamp
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_text(text, newline="\n")
  if args.check is None and args.cdef is None and args.manifest is None: sys.stdout.write(manifest)
  return rc

if __name__ == "__main__": sys.exit(main())
