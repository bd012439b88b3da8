"""Finding the backend to test: by name through tgc's discovery (entry-point group "tgc.backends", hook tgc_backends()),
or by --library PATH for a bare shared library (a build tree, the planted-defect test backends).

Discovery here calls the hooks only (metadata, no library is opened), so a backend that tgc itself would quarantine can
still be examined: the suite's loader tier says why."""
from __future__ import annotations
import os, re, hashlib, importlib.metadata
from dataclasses import dataclass
import pluggy

GROUP = "tgc.backends"

@dataclass
class Target:
  name: str
  library: str
  manifest: str | None
  source: str
  def sha256(self) -> str:
    h = hashlib.sha256()
    with open(self.library, "rb") as f:
      for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
    return h.hexdigest()

class DiscoveryError(LookupError): pass

def installed() -> list[dict]:
  """Every backend the installed hooks declare: {"name", "library", "manifest", "priority", "source", "error"}."""
  from tgc import hookspecs, _builtin
  pm = pluggy.PluginManager("tgc")
  pm.add_hookspecs(hookspecs)
  out = [{**md, "source": "builtin", "error": None} for md in _builtin.tgc_backends()]
  for ep in importlib.metadata.entry_points(group=GROUP):
    source = f"entry point {ep.name} of {ep.dist.name if ep.dist else '?'}"
    try:
      plugin = ep.load()
      pm.register(plugin, name=f"{source}")
      impls = [i for i in pm.hook.tgc_backends.get_hookimpls() if i.plugin is plugin]
      if not impls: raise TypeError(f"{ep.value} has no @hookimpl tgc_backends()")
      for md in (m for i in impls for m in i.function()):
        out.append({"name": md.get("name"), "library": md.get("library"), "manifest": md.get("manifest"), "priority": md.get("priority", 0),
                    "source": source, "error": None})
    except Exception as e:
      out.append({"name": ep.name.upper(), "library": None, "manifest": None, "priority": 0, "source": source, "error": f"{type(e).__name__}: {e}"})
  return out

def find(name: str | None, library: str | None = None, manifest: str | None = None) -> Target:
  if library:
    if not os.path.isfile(library): raise DiscoveryError(f"--library {library}: no such file (build the backend first, or give its path)")
    if manifest and not os.path.isfile(manifest): raise DiscoveryError(f"--manifest {manifest}: no such file")
    return Target(name or os.path.basename(library), os.path.abspath(library), manifest and os.path.abspath(manifest), "--library")
  if not name: raise DiscoveryError("give a backend NAME (as installed, e.g. acme) or --library PATH")
  if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,30}", name):
    raise DiscoveryError(f"{name!r} is not a backend name: letters, digits and _, starting with a letter (e.g. acme, CUDA); `tgc-sdk list` shows "
                         "the installed ones")
  found = installed()
  recs = [r for r in found if isinstance(r["name"], str) and r["name"].upper() == name.upper()]
  if not recs:
    have = ", ".join(sorted({str(r["name"]) for r in found})) or "none"
    raise DiscoveryError(f"no backend named {name.upper()} is installed (installed: {have}): pip install its package (e.g. tgc-{name.lower()}), "
                         "or pass --library PATH to test a library directly")
  r = next((r for r in recs if r["library"]), recs[0])
  if r["error"]: raise DiscoveryError(f"backend {name.upper()} ({r['source']}) is broken: {r['error']}: fix or reinstall its package")
  if not r["library"]:
    raise DiscoveryError(f"{name.upper()} is built into libtgc, not a plugin library: test the plugin build of it with "
                         f"--library (e.g. build/libtgc_cpu_plugin.so from `cmake --build build --target tgc_cpu_plugin`)")
  if not os.path.isfile(r["library"]):
    raise DiscoveryError(f"backend {name.upper()} ({r['source']}) points at {r['library']}, which does not exist: reinstall its package")
  return Target(r["name"], r["library"], r["manifest"], r["source"])
