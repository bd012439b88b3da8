"""tgc-metal: the Metal backend plugin for tgc (Apple GPUs on macOS; Metal.framework reached through the Objective-C
runtime, both loaded at run time).

The hook below is what tgc's discovery calls (entry point group "tgc.backends"). It returns metadata only; the library is
opened by libtgc on first use of a METAL device. Off macOS it reports "not macOS" (TGC_METAL_OBJC and TGC_METAL_FRAMEWORK
point it at stand-ins, which the plugin's tests build)."""
import importlib.resources
from tgc.hookspecs import hookimpl

def library() -> str: return str(importlib.resources.files("tgc_metal") / "lib" / "libtgc_metal.so")
def manifest() -> str: return str(importlib.resources.files("tgc_metal") / "manifest.json")

@hookimpl
def tgc_backends() -> list[dict]:
  return [{"name": "METAL", "library": library(), "manifest": manifest(), "priority": 20}]
