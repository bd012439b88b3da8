"""tgc-sdk list: the backends installed here, found the way tgc finds them, with their certification."""
from __future__ import annotations
import os, json
import click
from tgc_sdk import discovery
from tgc_sdk.commands.conformance import manifest_of

def _manifest(b: dict) -> dict:
  """The manifest from its JSON (entry points) or from the library file (no plugin code runs); {} when neither."""
  if b.get("manifest") and os.path.isfile(b["manifest"]):
    try:
      with open(b["manifest"], encoding="utf-8") as f: m = json.load(f)
      return {**m, "dialects": ",".join(m["dialects"]) if isinstance(m.get("dialects"), list) else m.get("dialects")}
    except (OSError, ValueError, TypeError) as e: return {"error": f"manifest {b['manifest']} unreadable: {e}"}
  if b.get("library") and os.path.isfile(b["library"]): return manifest_of(b["library"]) or {"error": f"no tg_backend_manifest in {b['library']}"}
  return {}

def backends() -> list[dict]:
  found = discovery.installed()
  for p in filter(None, os.environ.get("TGC_BACKEND_PATH", "").split(":")):
    name = (os.path.isfile(p) and manifest_of(p) or {}).get("name") or os.path.basename(p)
    found.append({"name": name, "library": p, "manifest": None, "priority": 0,
                  "source": "TGC_BACKEND_PATH", "error": None if os.path.isfile(p) else "no such file"})
  try: from tgc.doctor import registry_index, certification
  except ImportError: registry_index = certification = None
  index, where = registry_index() if registry_index else (None, "tgc too old to read the registry")
  out = []
  for b in found:
    m = _manifest(b) if not b["error"] else {}
    cert = certification(str(b["name"]), b["library"], index, where) if certification else {"status": "experimental", "record": None, "label": where}
    out.append({"name": b["name"], "version": m.get("version"), "abi": f"{m['abi_major']}.{m['abi_max_minor']}" if "abi_major" in m else None,
                "dialects": m.get("dialects"), "library": b["library"], "source": b["source"], "priority": b["priority"],
                "error": b["error"] or m.get("error"), "certification": cert})
  return out

@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="print the backends as JSON")
def list_backends(as_json):
  """List the backends installed here (the built-in CPU, the tgc.backends entry points, $TGC_BACKEND_PATH), from their
  metadata and manifests alone (no backend library is loaded), with their certification from the registry index
  ($TGC_REGISTRY, else the one shipped with tgc-sdk). `python -m tgc doctor` also loads them and shows their devices."""
  bs = backends()
  if as_json: return click.echo(json.dumps(bs, indent=2))
  cols = ("NAME", "VERSION", "ABI", "DIALECTS", "SOURCE", "CERTIFICATION")
  rows = [[str(b["name"]), b["version"] or "-", b["abi"] or "-", b["dialects"] or "-", b["source"], b["certification"]["label"]] for b in bs]
  w = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
  click.echo("\n".join("  ".join(x.ljust(n) for x, n in zip(r, w)).rstrip() for r in [list(cols), *rows]))
  for b in bs:
    if b["error"]: click.echo(f"{b['name']}: broken: {b['error']}")
    elif b["library"]: click.echo(f"{b['name']}: {b['library']}")
    else: click.echo(f"{b['name']}: built into libtgc")
