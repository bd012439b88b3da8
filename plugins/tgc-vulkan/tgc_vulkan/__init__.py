"""tgc-vulkan: the Vulkan compute backend plugin for tgc (dialect "glsl": GLSL compute shaders compiled to SPIR-V by a glslang
linked into the plugin; the Vulkan loader, libvulkan.so.1, opened at run time).

The hook below is what tgc's discovery calls (entry point group "tgc.backends"). It returns metadata only; the library is
opened by libtgc on first use of a VULKAN device. Its priority is below the CPU's, as tinygrad never picks a Vulkan/WebGPU
device by default: ask for it with DEV=VULKAN, Device["VULKAN"] or .to("VULKAN")."""
import importlib.resources
from tgc.hookspecs import hookimpl

def library() -> str: return str(importlib.resources.files("tgc_vulkan") / "lib" / "libtgc_vulkan.so")
def manifest() -> str: return str(importlib.resources.files("tgc_vulkan") / "manifest.json")

@hookimpl
def tgc_backends() -> list[dict]: return [{"name": "VULKAN", "library": library(), "manifest": manifest(), "priority": -10}]
