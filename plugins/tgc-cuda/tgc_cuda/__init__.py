"""tgc-cuda: the CUDA backend plugin for tgc (the CUDA driver API and NVRTC, both loaded at run time).

The hook below is what tgc's discovery calls (entry point group "tgc.backends"). It returns metadata only; the library is
opened by libtgc on first use of a CUDA device. Before that, the hook points the library at the NVRTC of the
nvidia-cuda-nvrtc wheel through $TGC_NVRTC_PATH (the backend ABI has no configuration channel), unless the user set it."""
import os, re, importlib.metadata, importlib.resources
from tgc.hookspecs import hookimpl

NVRTC_DISTS = ("nvidia-cuda-nvrtc", "nvidia-cuda-nvrtc-cu12")   # the CUDA 13 wheel, then the CUDA 12 one
_LIBNVRTC = re.compile(r"libnvrtc\.so(\.\d+)*")                 # not libnvrtc-builtins, not libnvrtc.alt

def nvrtc_path() -> str | None:
  """Path of the libnvrtc shipped by an installed NVRTC wheel (read from its RECORD: no import, no dlopen), or None."""
  for name in NVRTC_DISTS:
    try: dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError: continue
    for f in dist.files or []:
      if _LIBNVRTC.fullmatch(f.name) and os.path.isfile(p := str(dist.locate_file(f))): return os.path.abspath(p)
  return None

def library() -> str: return str(importlib.resources.files("tgc_cuda") / "lib" / "libtgc_cuda.so")
def manifest() -> str: return str(importlib.resources.files("tgc_cuda") / "manifest.json")

@hookimpl
def tgc_backends() -> list[dict]:
  if not os.environ.get("TGC_NVRTC_PATH") and (p := nvrtc_path()): os.environ["TGC_NVRTC_PATH"] = p
  return [{"name": "CUDA", "library": library(), "manifest": manifest(), "priority": 20}]
