"""`python -m tgc doctor [--json]`: what tgc found on this machine and why something does not work.

Reports every backend (built-in, entry points, $TGC_BACKEND_PATH, quarantined ones) with its version, ABI, dialects,
state, device count, a summary of its first device's capabilities and its certification (from the registry index in
$TGC_REGISTRY or the one shipped with tgc-sdk), and the C compiler the CPU backend runs.
Exits 0 whatever the backends' states; 1 only when libtgc itself cannot be loaded."""
from __future__ import annotations
import os, sys, json, shlex, shutil, hashlib, logging, datetime, platform, importlib.util, importlib.resources
from typing import Any
import tgc

NO_CC = "no C compiler: install gcc or clang, or `pip install ziglang` and set TGC_CC='python -m ziglang cc'"
_PROBE = ("#include <stdint.h>\n"
          "void tgc_doctor_probe(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) { (void)bufs; (void)vals; (void)gid; }\n")

def c_compiler(probe: bool = True) -> dict[str, Any]:
  """The compiler the CPU backend spawns: $TGC_CC (may hold arguments) or `cc`; found on PATH? compiles a kernel?"""
  cmd = os.environ.get("TGC_CC") or "cc"
  try: argv = shlex.split(cmd)
  except ValueError as e: argv, err = [], f"TGC_CC={cmd!r} does not parse: {e}"
  else: err = None
  path = shutil.which(argv[0]) if argv else None
  ret = {"command": cmd, "from": "TGC_CC" if os.environ.get("TGC_CC") else "default", "path": path, "ok": path is not None,
         "message": err or ("" if path else f"{argv[0]!r} not found on PATH; {NO_CC}")}
  if path and probe:
    try: tgc.Program("CPU", _PROBE, "tgc_doctor_probe").release()
    except Exception as e: ret.update(ok=False, message=f"compiling a test kernel failed: {type(e).__name__}: {str(e).strip()[:2000]}")
  return ret

def _caps_summary(caps: dict[str, Any]) -> str:
  flags = [f for f in ("has_local", "has_shared", "has_threads") if caps[f]]
  return (f"dialect {caps['dialect']}, arch {caps['arch'] or '?'}, dtypes {' '.join(caps['dtypes'])}, {len(caps['alu_ops'])} native ALU ops, "
          f"{' '.join(flags) or 'no local/shared/threads'}, vector {caps['vector_width']}, "
          f"global_max {caps['global_max']}, local_max {caps['local_max']}")

def registry_index() -> tuple[dict[str, Any] | None, str]:
  """The certification registry's index.json and where it came from: $TGC_REGISTRY (a registry directory or its index
  file), else the copy shipped with tgc-sdk (`tgc-sdk registry index` writes both), else none."""
  if where := os.environ.get("TGC_REGISTRY"): path = os.path.join(where, "index.json") if os.path.isdir(where) else where
  elif importlib.util.find_spec("tgc_sdk") is not None: path = str(importlib.resources.files("tgc_sdk") / "registry_index.json")
  else: return None, "no registry: install tgc-sdk or set TGC_REGISTRY"
  if not os.path.isfile(path): return None, f"no registry index at {path}"
  try:
    with open(path, encoding="utf-8") as f: idx = json.load(f)
    if not isinstance(idx, dict) or not isinstance(idx.get("records"), list): raise ValueError("it has no \"records\" list")
  except (OSError, ValueError) as e: return None, f"registry index {path} unreadable: {e}"
  return idx, path

def certification(name: str, library: str | None, index: dict[str, Any] | None, where: str) -> dict[str, Any]:
  """"certified" only for a certified, unexpired record of this very library file (sha256); otherwise "experimental",
  saying which record there is and why it does not certify this build."""
  if index is None: return {"status": "experimental", "record": None, "label": f"experimental ({where})"}
  recs = [r for r in index["records"] if isinstance(r, dict) and str(r.get("name", "")).upper() == name.upper()]
  if not recs: return {"status": "experimental", "record": None, "label": "experimental (no record)"}
  sha = None
  if library and os.path.isfile(library):
    with open(library, "rb") as f: sha = hashlib.sha256(f.read()).hexdigest()
  r = next((r for r in recs if sha and r.get("sha256") == sha), None) or max(recs, key=lambda r: str(r.get("date", "")))
  now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
  ok = {"certified": r.get("status") == "certified", "current": str(r.get("expires", "")) > now,
        "this build": sha is not None and r.get("sha256") == sha}
  if all(ok.values()): return {"status": "certified", "record": r.get("id"), "label": f"certified ({r.get('id')})"}
  why = f"{r.get('status')} record {r.get('id')}"
  if r.get("status") == "provisional": why += f": {', '.join(r.get('not_run') or [])} not fully run"
  if not ok["current"]: why += f", expired {str(r.get('expires'))[:10]}"
  if not ok["this build"]: why += ", for another build" if sha else ", for its plugin build"
  return {"status": "experimental", "record": r.get("id"), "label": f"experimental ({why})"}

def report() -> dict[str, Any]:
  from tgc import _ffi, device
  logging.getLogger("tgc").addHandler(logging.NullHandler())   # quarantines are in the report; no duplicate warnings on stderr
  rep: dict[str, Any] = {"tgc": tgc.__version__, "python": platform.python_version(), "platform": platform.platform()}
  try: rep["backend_abi"] = ".".join(map(str, _ffi.host_abi()))
  except Exception as e: rep["backend_abi"] = f"unknown ({e})"
  try: _ffi.lib()
  except Exception as e:
    rep["libtgc"] = {"path": None, "version": None, "error": str(e)}
    return rep
  rep["libtgc"] = {"path": _ffi.loaded_library_path(), "version": _ffi.version(), "error": None}
  backends, (index, where) = [], registry_index()
  rep["registry"] = where
  for r in device.backends():
    b = r.to_dict()
    b["devices"], b["caps"], b["properties"] = [], None, None
    if r.state == "ready" and r.device_count > 0:
      b["devices"] = [r.name if i == 0 else f"{r.name}:{i}" for i in range(r.device_count)]
      try: dev = device.Device[r.name]; b["caps"], b["properties"] = dev.caps, dev.properties
      except Exception as e: b["caps_error"] = f"{type(e).__name__}: {e}"
    b["certification"] = certification(r.name, r.library, index, where)
    backends.append(b)
  rep["backends"] = backends
  try: rep["default_device"] = device.Device.DEFAULT
  except Exception as e: rep["default_device"] = f"none ({e})"
  cpu_ready = any(b["name"] == "CPU" and b["state"] == "ready" for b in backends)
  rep["c_compiler"] = c_compiler(probe=cpu_ready)
  return rep

def format_text(rep: dict[str, Any]) -> str:
  lib = rep["libtgc"]
  lines = [f"tgc {rep['tgc']}, backend ABI {rep['backend_abi']}, Python {rep['python']} on {rep['platform']}"]
  if lib["error"]: return "\n".join(lines + [f"libtgc: NOT LOADED: {lib['error']}"])
  lines += [f"libtgc {lib['version']} at {lib['path']}", f"default device: {rep['default_device']}", ""]
  cols = ("name", "state", "version", "abi", "dialects", "devices", "source")
  rows = [[b["name"], b["state"], b["version"] or "-", b["abi"] or "-", ",".join(b["dialects"]) or "-", str(b["device_count"]), b["source"]]
          for b in rep["backends"]]
  widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
  lines += ["  ".join(c.upper().ljust(w) for c, w in zip(cols, widths)).rstrip()]
  lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
  lines.append("")
  for b in rep["backends"]:
    if b["reason"]: lines.append(f"{b['name']}: {b['state']}: {b['reason']}")
    if b["caps"]:
      p = b["properties"]
      lines.append(f"{b['name']}: {p['name'] or '?'} ({p['vendor'] or '?'}, {p['type']}): {_caps_summary(b['caps'])}")
    if b.get("caps_error"): lines.append(f"{b['name']}: cannot read capabilities: {b['caps_error']}")
    if b["library"]: lines.append(f"{b['name']}: library {b['library']}")
    lines.append(f"{b['name']}: {b['certification']['label']}")
  lines.append(f"certification registry: {rep['registry']}")
  cc = rep["c_compiler"]
  origin = "from TGC_CC" if cc["from"] == "TGC_CC" else "default; set TGC_CC to change"
  lines += ["", f"C compiler for the CPU backend: {cc['command']} ({origin}) -> {cc['path'] or 'not found'}: {'ok' if cc['ok'] else cc['message']}"]
  return "\n".join(lines)

def main(json_out: bool = False) -> int:
  rep = report()
  print(json.dumps(rep, indent=2, default=str) if json_out else format_text(rep))
  return 1 if rep["libtgc"]["error"] else 0

if __name__ == "__main__": sys.exit(main("--json" in sys.argv))
