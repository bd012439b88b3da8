"""The plugin contract on the Python side (pluggy, as pytest uses it).

A backend distribution declares an entry point in the group "tgc.backends" naming a module with a `tgc_backends`
hookimpl. The hook returns metadata only: it must be cheap and must not load any library.

  # tgc_acme/plugin.py
  import importlib.resources
  from tgc.hookspecs import hookimpl
  @hookimpl
  def tgc_backends():
    pkg = importlib.resources.files("tgc_acme")
    return [{"name": "ACME", "library": str(pkg / "lib" / "libtgc_acme.so"), "manifest": str(pkg / "manifest.json"), "priority": 10}]

  # pyproject.toml
  [project.entry-points."tgc.backends"]
  acme = "tgc_acme.plugin"
"""
import pluggy

hookspec = pluggy.HookspecMarker("tgc")
hookimpl = pluggy.HookimplMarker("tgc")

@hookspec
def tgc_backends() -> list[dict]:
  """Backends this plugin provides, as a list of dicts:

  - "name": str, the upper-case device prefix ("CUDA"), the same as the library's tg_backend_manifest.name;
  - "library": str, absolute path of the backend shared library, or None for a backend built into libtgc (CPU);
  - "manifest": str, absolute path of the manifest JSON shipped with the library, or None. tgc reads it before opening
    the library and refuses the backend when its ABI does not match: {"name", "version", "abi_major", "abi_min_minor",
    "abi_max_minor", "flavor", "dialects": [...]};
  - "priority": int, higher wins when tgc picks Device.DEFAULT (the built-in CPU backend has 0).
  """
