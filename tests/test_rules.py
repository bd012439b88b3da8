"""generators/rules: the generated C is fresh, the rule language compiles what it documents, and every rule's pattern is
structurally the tinygrad 0.14.0 UPat its `tinygrad:` comment quotes (same ops, dtypes, sources and their order,
permutation lists, names, args, allow_any_len). The quoted UPat is evaluated by tinygrad itself at test time."""
import itertools, json, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
RULEGEN = ROOT / "generators" / "rules" / "rulegen.py"
RULES = sorted((ROOT / "core" / "src").rglob("*.rules"))

def rulegen(*args, **kw):
  return subprocess.run([sys.executable, str(RULEGEN), *map(str, args)], capture_output=True, text=True, cwd=ROOT, **kw)

@pytest.mark.parametrize("rules", RULES, ids=lambda p: p.name)
def test_generated_c_is_fresh(rules):
  r = rulegen("--check", rules)
  assert r.returncode == 0, f"{rules.name}: the generated C is stale; regenerate with python generators/rules/rulegen.py {rules.relative_to(ROOT)}\n{r.stdout[-3000:]}"

def test_language_errors_name_the_line(tmp_path):
  bad = tmp_path / "bad.rules"
  for text, needle in [("pm p:\nx + -> x\n", "bad.rules:2"), ("pm p:\nx -> x\n", "must name its op"), ("pm p:\nADD(x, y) -> @nope(x)\n", "@nope is not declared"),
                       ("pm p:\nADD(x, rw) -> x\n", "'rw' cannot name a pattern"), ("x + 0 -> x\n", "outside `pm NAME:`")]:
    bad.write_text(text)
    r = rulegen(bad)
    assert r.returncode == 2 and needle in r.stderr, (text, r.stderr)

def test_generated_c_compiles_a_small_file(tmp_path):
  src = tmp_path / "tiny.rules"
  src.write_text("pm tiny:\n# a comment travels with its rule\n(x + 0) -> x\nx * c:cvar -> x if c.val == 1 else x * (c + 0)\n")
  assert rulegen(src).returncode == 0
  text = (tmp_path / "tiny_rules.inc").read_text()
  assert "/* a comment travels with its rule */" in text and "tg_pm_tiny(void)" in text and "TG_UPAT_SRC_PERM" in text

# ---------------- structural parity with tinygrad's UPats ----------------

def tinygrad_namespace(modules):
  """The globals of the modules a .rules file quotes from (its `# tinygrad-modules:` line adds to the defaults)."""
  pytest.importorskip("tinygrad")
  from importlib.metadata import version
  if version("tinygrad") != "0.14.0": pytest.skip("needs tinygrad 0.14.0")
  import importlib, math
  ns = {"math": math}
  for m in reversed(modules): ns.update(vars(importlib.import_module(m)))
  return ns

def norm_tinygrad(p, dtname):
  """tinygrad's UPat as the JSON form `rulegen --dump` prints."""
  from tinygrad.uop.ops import Ops
  from tinygrad.dtype import Invalid
  if p.is_any: return {"mode": "any", "src": [norm_tinygrad(s, dtname) for s in p.src[0]], "name": None}
  arg = p.arg
  if arg is None: a = None
  elif arg is Invalid: a = ["invalid"]
  elif isinstance(arg, Ops): a = ["op", arg.name]
  else: a = ["num", arg]
  if p.src is None: mode, src = "none", None
  elif isinstance(p.src[0], itertools.repeat): mode, src = "repeat", [next(p.src[0])]
  elif len(p.src) > 1: mode, src = "perm", list(p.src[0])
  else: mode, src = "tuple", list(p.src[0])
  return {"ops": sorted(o.name for o in p.op) if p.op is not None else None, "dtypes": sorted(dtname[d] for d in p.match_dtype) if p.match_dtype else None,
          "mode": mode, "arg": a, "name": p.name, "allow_any_len": (not p.strict_length) if mode in ("tuple", "perm") else False,
          "src": [norm_tinygrad(s, dtname) for s in src] if src is not None else None}

def norm_ours(p):
  if p["mode"] == "any": return {"mode": "any", "src": [norm_ours(s) for s in p["src"]], "name": None}
  out = dict(p)
  if out["mode"] not in ("tuple", "perm"): out["allow_any_len"] = False
  out["src"] = [norm_ours(s) for s in p["src"]] if p["src"] is not None else None
  return out

def args_equal(a, b):
  if isinstance(a, dict) and isinstance(b, dict): return a.keys() == b.keys() and all(args_equal(a[k], b[k]) for k in a)
  if isinstance(a, list) and isinstance(b, list): return len(a) == len(b) and all(args_equal(x, y) for x, y in zip(a, b))
  return a == b  # Python's ==: True == 1 like the matcher's arg compare

@pytest.mark.parametrize("rules", RULES, ids=lambda p: p.name)
def test_patterns_match_tinygrad(rules):
  dumped = json.loads(rulegen("--dump", rules).stdout)
  ns, ours = tinygrad_namespace(dumped["modules"]), dumped["rules"]
  from tinygrad.dtype import dtypes
  names = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "bfloat16", "float32", "float64",
           "fp8e4m3", "fp8e5m2", "fp8e4m3fnuz", "fp8e5m2fnuz", "weakint", "weakfloat", "void"]
  dtname = {getattr(dtypes, n): n for n in names}
  compared, skipped, bad = 0, [], []
  for r in ours:
    quote = next((i for i, c in enumerate(r["comments"]) if c.startswith("tinygrad:")), None)
    if quote is None:
      bad.append(f"line {r['line']}: {r['text']}: no `tinygrad:` comment naming the rule it mirrors")
      continue
    src = "\n".join([r["comments"][quote][len("tinygrad:"):]] + r["comments"][quote + 1:])
    try: upat = eval(src, ns)[0]  # our own comments, evaluated by tinygrad
    except Exception as e:
      skipped.append(f"line {r['line']}: {type(e).__name__}")
      continue
    want, got = norm_tinygrad(upat, dtname), norm_ours(r["pat"])
    compared += 1
    if not args_equal(want, got): bad.append(f"line {r['line']}: {r['text']}\n  tinygrad {want}\n  ours     {got}")
  assert not bad, "\n".join(bad)
  assert not skipped, (f"{rules.name}: `tinygrad:` quotes that tinygrad could not evaluate: {skipped}. A quote is one (UPat, fn) tuple; "
                       "name the modules it comes from with a `# tinygrad-modules: tinygrad.codegen.x, ...` line")
  assert compared == len(ours) > 0
