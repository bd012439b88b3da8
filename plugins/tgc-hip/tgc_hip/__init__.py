"""tgc-hip: the HIP backend plugin for tgc (AMD GPUs; the HIP runtime and hiprtc of an installed ROCm, loaded at run time).

The hook below is what tgc's discovery calls (entry point group "tgc.backends"). It returns metadata only; the library is
opened by libtgc on first use of a HIP device, and it finds libamdhip64 itself ($TGC_HIP_PATH, the ROCm sonames,
$ROCM_PATH/lib, /opt/rocm/lib) and hiprtc ($TGC_HIPRTC_PATH, libhiprtc.so.*, the runtime library for ROCm 5)."""
import importlib.resources
from tgc.hookspecs import hookimpl

def library() -> str: return str(importlib.resources.files("tgc_hip") / "lib" / "libtgc_hip.so")
def manifest() -> str: return str(importlib.resources.files("tgc_hip") / "manifest.json")

@hookimpl
def tgc_backends() -> list[dict]:
  return [{"name": "HIP", "library": library(), "manifest": manifest(), "priority": 20}]
