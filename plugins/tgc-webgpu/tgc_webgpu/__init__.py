"""tgc-webgpu: the WebGPU backend plugin for tgc (wgpu-native, the library the `wgpu` wheel ships, loaded at run time).

The hook below is what tgc's discovery calls (entry point group "tgc.backends"). It returns metadata only; the library is
opened by libtgc on first use of a WEBGPU device. Before that, the hook points the library at the wgpu wheel's
libwgpu_native through $TGC_WGPU_LIB (the backend ABI has no configuration channel), unless the user set it."""
import os, importlib.metadata, importlib.resources
from tgc.hookspecs import hookimpl

WGPU_LIB = "libwgpu_native-release.so"
PRIORITY = -10   # below the CPU's 0: as in tinygrad, WEBGPU is used when asked for (DEV=WEBGPU, .to("WEBGPU")), never picked as default

def wgpu_library() -> str | None:
  """wgpu-native as the `wgpu` package would load it: $WGPU_LIB_PATH (wgpu's own override), else the wheel's
  wgpu/resources/libwgpu_native-release.so (read from the wheel's RECORD: no import of wgpu, no dlopen), else None."""
  if p := os.environ.get("WGPU_LIB_PATH", "").strip(): return p
  try: dist = importlib.metadata.distribution("wgpu")
  except importlib.metadata.PackageNotFoundError: return None
  for f in dist.files or []:
    if f.name == WGPU_LIB and os.path.isfile(p := str(dist.locate_file(f))): return os.path.abspath(p)
  return None

def library() -> str: return str(importlib.resources.files("tgc_webgpu") / "lib" / "libtgc_webgpu.so")
def manifest() -> str: return str(importlib.resources.files("tgc_webgpu") / "manifest.json")

@hookimpl
def tgc_backends() -> list[dict]:
  if not os.environ.get("TGC_WGPU_LIB") and (p := wgpu_library()): os.environ["TGC_WGPU_LIB"] = p
  return [{"name": "WEBGPU", "library": library(), "manifest": manifest(), "priority": PRIORITY}]
