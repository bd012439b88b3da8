"""Graphs built by tinygrad 0.14.0, written in the JSON form the C engine reads (core/src/uop/serialize.c), and a
driver for the C stage tools (tests/c/tools/uoptool.c). Used by tests to feed the same graph to tinygrad and to tgc."""
import dataclasses, enum, json, os, pathlib, struct, subprocess
from tinygrad.uop.ops import UOp, Ops
from tinygrad.dtype import DType, INVERSE_DTYPES_DICT, Invalid

ROOT = pathlib.Path(__file__).resolve().parent.parent

def enc_arg(a):
  if a is None or isinstance(a, bool): return a
  if a is Invalid: return {"invalid": True}
  if isinstance(a, Ops): return {"op": a.name}
  if isinstance(a, enum.Enum): return {"enum": f"{type(a).__name__}.{a.name}", "value": a.value}
  if isinstance(a, int): return {"int": str(a)}
  if isinstance(a, float): return {"float": format(struct.unpack("<Q", struct.pack("<d", a))[0], "016x")}
  if isinstance(a, DType): return {"dtype": INVERSE_DTYPES_DICT[a.name]}
  if isinstance(a, str): return {"str": a}
  if isinstance(a, bytes): return {"bytes": a.hex()}
  if isinstance(a, tuple): return {"tuple": [enc_arg(x) for x in a]}
  if dataclasses.is_dataclass(a): return {"dc": type(a).__name__, "fields": [enc_arg(getattr(a, f.name)) for f in dataclasses.fields(a)]}
  raise TypeError(f"cannot encode arg {a!r} of type {type(a)}")

def to_json(root:UOp) -> str:
  order = list(root.toposort())
  index = {u: i for i, u in enumerate(order)}
  nodes = []
  for u in order:
    node = {"op": u.op.name, "dtype": INVERSE_DTYPES_DICT[u.dtype.name], "src": [index[s] for s in u.src], "arg": enc_arg(u.arg)}
    if u.tag is not None: node["tag"] = enc_arg(u.tag)
    nodes.append(node)
  return json.dumps({"nodes": nodes, "root": index[root]})

def build_dir() -> pathlib.Path: return pathlib.Path(os.environ.get("TGC_BUILD_DIR", ROOT / "build"))

def tool(name:str) -> pathlib.Path:
  p = build_dir() / name
  if not p.exists(): raise FileNotFoundError(f"{p} is missing: build the C tree first (cmake -S . -B build -DBUILD_TESTS=ON && cmake --build build)")
  return p

def run_tool(cmd:str, root:UOp, tool_name="uoptool") -> str:
  r = subprocess.run([str(tool(tool_name)), cmd], input=to_json(root), capture_output=True, text=True, timeout=120)
  if r.returncode != 0: raise RuntimeError(f"{tool_name} {cmd} failed ({r.returncode}): {r.stderr.strip()}")
  return r.stdout
