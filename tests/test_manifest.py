"""generators/manifest: the committed tg_manifest.json and the cffi declarations are what the headers say."""
import json, os, re, shlex, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT, INCLUDE = ROOT / "generators" / "manifest" / "tgc_manifest.py", ROOT / "include"
MANIFEST = ROOT / "generators" / "manifest" / "tg_manifest.json"
REGEN = ("cmake --build build --target tinygradc_manifest  "
         "(or: python generators/manifest/tgc_manifest.py --manifest generators/manifest/tg_manifest.json)")
HEADER_TEXT = {h: (INCLUDE / h).read_text() for h in ("tg.h", "tg_backend.h")}

pytestmark = pytest.mark.skipif(shutil.which(shlex.split(os.environ.get("CC", "cc"))[0]) is None, reason="no C compiler to preprocess the headers")

def run(*args):
  return subprocess.run([sys.executable, str(SCRIPT), "--include", str(INCLUDE), *args], capture_output=True, text=True, cwd=ROOT)

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
  d = tmp_path_factory.mktemp("manifest")
  r = run("--cdef", str(d / "tg_cdef.h"), "--manifest", str(d / "tg_manifest.json"))
  assert r.returncode == 0, f"tgc_manifest.py failed:\n{r.stderr}"
  return (d / "tg_cdef.h").read_text(), json.loads((d / "tg_manifest.json").read_text())

@pytest.fixture(scope="module")
def ffi(generated):
  cffi = pytest.importorskip("cffi")
  f = cffi.FFI()
  f.cdef(generated[0])
  return f

def test_committed_manifest_is_fresh():
  r = run("--check", str(MANIFEST))
  assert r.returncode == 0, f"generators/manifest/tg_manifest.json is stale; regenerate it with:\n  {REGEN}\n{r.stderr[-4000:]}"

def test_every_tg_api_function_is_declared(generated, ffi):
  cdef, manifest = generated
  declared = re.findall(r"^[ \t]*TG_API\b[^;{]*?\b(\w+)\s*\(", HEADER_TEXT["tg.h"], re.M)
  assert len(declared) == len(re.findall(r"^[ \t]*TG_API\b", HEADER_TEXT["tg.h"], re.M)) > 0
  assert [f["name"] for f in manifest["functions"] if f["header"] == "tg.h"] == declared
  for name in declared: assert re.search(rf"\b{name}\(", cdef), f"{name} missing from the cdef"
  for s in manifest["structs"]: assert ffi.typeof(s["name"]).kind == s["kind"] and ffi.sizeof(s["name"]) > 0
  for e in manifest["enums"]: assert ffi.typeof(e["name"]).kind == "enum"
  for t in manifest["typedefs"]: assert t["name"] in ffi.list_types()[0]
  assert "tg_backend_negotiate" not in cdef  # a static inline definition, not a symbol

def test_cdef_resolves_in_built_library(generated, ffi):
  libs = sorted(p for pat in ("build*/libtgc.so", "build*/libtgc.dylib", "build*/*/libtgc.so") for p in ROOT.glob(pat))
  if not libs: pytest.skip("no built libtgc under build*/")
  lib = ffi.dlopen(str(libs[0]))
  assert ffi.string(lib.tg_version()).decode() == generated[1]["abi"]["tg_version"]
  assert ffi.string(lib.tg_status_string(lib.TG_OK))
  for f in generated[1]["functions"]: getattr(lib, f["name"])

def test_enum_values_match_header_text(generated, ffi):
  in_text = {n: int(v, 0) for t in HEADER_TEXT.values() for n, v in re.findall(r"\b(TG_[A-Z0-9_]+)\s*=\s*(-?(?:0[xX][0-9a-fA-F]+|\d+))\b", t)}
  in_manifest = {v["name"]: v["value"] for e in generated[1]["enums"] for v in e["values"]}
  assert {"TG_OK", "TG_ERR_DTYPE", "TG_FLOAT32", "TG_ALU_ADD", "TG_BACKEND_QUARANTINED"} <= in_text.keys()
  assert in_manifest == in_text
  lib = ffi.dlopen(None)  # cffi answers enum constants and integer #defines without a symbol lookup
  for name in ("TG_OK", "TG_ERR_DTYPE", "TG_FLOAT32", "TG_LOG_ERROR"): assert getattr(lib, name) == in_text[name]

def test_abi_and_constants(generated, ffi):
  m = generated[1]
  defines = {n: v for t in HEADER_TEXT.values() for n, v in re.findall(r"^#define (TG_\w+) (\d+|\"[^\"]*\")\s*$", t, re.M)}
  assert m["abi"] == {"tg_version": defines["TG_VERSION_STRING"].strip('"'), "backend_abi_major": int(defines["TG_BACKEND_ABI_MAJOR"]),
                      "backend_abi_minor": int(defines["TG_BACKEND_ABI_MINOR"])}
  consts = {c["name"]: c["value"] for c in m["constants"]}
  assert ffi.dlopen(None).TG_BACKEND_MAGIC == consts["TG_BACKEND_MAGIC"] and isinstance(consts["TG_BACKEND_ENTRY_SYMBOL"], str)

def test_ownership_notes(generated):
  fns = {f["name"]: f for f in generated[1]["functions"]}
  assert "release" in fns["tg_buffer_alloc"]["ownership"] and "tg_buffer_release" in fns["tg_buffer_alloc"]["ownership"]
  assert fns["tg_buffer_alloc"]["doc"].startswith("Allocates") and "**" not in fns["tg_buffer_alloc"]["doc"]
  assert "borrowed" in fns["tg_buffer_copyin"]["ownership"]
  assert all(f["doc"] for f in fns.values()), [n for n, f in fns.items() if not f["doc"]]
  api = next(s for s in generated[1]["structs"] if s["name"] == "tg_backend_api")
  assert next(f for f in api["fields"] if f["name"] == "abi_minor")["doc"] == "negotiated minor"
