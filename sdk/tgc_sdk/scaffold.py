"""The backend template (tgc_sdk/template) rendered into a plugin distribution tgc-NAME.

Templates use {{key}} placeholders; every one must be filled (a leftover is a bug in the SDK, raised as such). The
header include/tg_backend.h is copied from the installed tgc package, so the generated project builds on its own
(also in pip's isolated build environment) against exactly the ABI of the tgc it was generated with."""
from __future__ import annotations
import re, shutil, keyword, importlib.resources, importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from tgc_sdk import __version__

NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
NAME_MAX = 31              # tg_manifest.name is char[32]
RESERVED = {"cpu": "the built-in CPU backend of tgc is named CPU"}

# The ALU ops tinygrad 0.14.0's C-family renderers emit natively (the CPU backend's set) and what GPU dialects add.
C_ALU = ["SQRT", "NEG", "TRUNC", "ADD", "SUB", "MUL", "FDIV", "CDIV", "CMOD", "SHL", "SHR", "CMPLT", "CMPNE", "CMPEQ", "AND", "OR", "XOR", "WHERE"]
GPU_ALU = C_ALU + ["EXP2", "LOG2", "SIN", "RECIPROCAL"]
ALL_DTYPES = ["BOOL", "INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "UINT64", "FLOAT16", "BFLOAT16", "FLOAT32", "FLOAT64"]
SHADER_DTYPES = ["BOOL", "INT32", "UINT32", "FLOAT32"]

@dataclass(frozen=True)
class Dialect:
  """Declared caps for a dialect (portable minimums a vendor replaces with queried values) and what the vendor supplies."""
  compiler: str
  hint: str
  has_local: int
  has_shared: int
  global_max: tuple[int, int, int]
  local_max: tuple[int, int, int]
  local_prod_max: int
  shared_max: int
  dtypes: list[str]
  alu: list[str]
  vector_width: int = 4

DIALECTS: dict[str, Dialect] = {
  "c": Dialect("the system C compiler (wired up: host_cc)", "", 0, 0, (65535, 65535, 65535), (1, 1, 1), 1, 0, ALL_DTYPES, C_ALU),
  "cuda": Dialect("NVRTC (CUDA C -> PTX)", "nvrtcCreateProgram/nvrtcCompileProgram/nvrtcGetPTX through a dlopen'd libnvrtc; load: cuModuleLoadData + "
                  "cuModuleGetFunction; launch: cuLaunchKernel; memory: cuMemAlloc/cuMemcpyHtoD; events: cuEventRecord/cuEventElapsedTime",
                  1, 1, (2147483647, 65535, 65535), (1024, 1024, 64), 1024, 49152, ALL_DTYPES, GPU_ALU),
  "hip": Dialect("hiprtc (HIP C++ -> a code object)", "hiprtcCompileProgram/hiprtcGetCode through a dlopen'd libhiprtc; load: hipModuleLoadData + "
                 "hipModuleGetFunction; launch: hipModuleLaunchKernel; memory: hipMalloc/hipMemcpyHtoD; events: hipEventRecord",
                 1, 1, (2147483647, 65535, 65535), (1024, 1024, 1024), 1024, 65536, ALL_DTYPES, GPU_ALU),
  "metal": Dialect("Metal's runtime compiler (newLibraryWithSource)", "MTLDevice newLibraryWithSource (or a metallib as the blob); load: "
                   "newComputePipelineStateWithFunction; launch: dispatchThreadgroups on a compute command encoder; memory: newBufferWithLength",
                   1, 1, (2147483647, 65535, 65535), (1024, 1024, 1024), 1024, 32768, [d for d in ALL_DTYPES if d != "FLOAT64"], GPU_ALU),
  "opencl": Dialect("the OpenCL platform compiler (clBuildProgram)", "clCreateProgramWithSource + clBuildProgram, the blob from "
                    "clGetProgramInfo(CL_PROGRAM_BINARIES); load: clCreateProgramWithBinary + clCreateKernel; launch: clEnqueueNDRangeKernel; "
                    "memory: clCreateBuffer/clEnqueueWriteBuffer; events: clGetEventProfilingInfo",
                    1, 1, (2147483647, 65535, 65535), (256, 256, 256), 256, 32768, ALL_DTYPES[:9] + ["FLOAT32"], GPU_ALU),
  "wgsl": Dialect("a WebGPU implementation (wgpu-native: the WGSL source is the blob)", "wgpuDeviceCreateShaderModule + "
                  "wgpuDeviceCreateComputePipeline; launch: wgpuComputePassEncoderDispatchWorkgroups; "
                  "memory: wgpuDeviceCreateBuffer/wgpuQueueWriteBuffer",
                  1, 1, (65535, 65535, 65535), (256, 256, 64), 256, 16384, SHADER_DTYPES, GPU_ALU, 4),
  "glsl": Dialect("a GLSL -> SPIR-V compiler (glslang or shaderc, dlopen'd)", "compile GLSL to SPIR-V (the blob); load: vkCreateShaderModule + "
                  "vkCreateComputePipelines; launch: vkCmdDispatch; memory: vkAllocateMemory + vkBindBufferMemory",
                  1, 1, (65535, 65535, 65535), (128, 128, 64), 128, 16384, SHADER_DTYPES, GPU_ALU, 4),
}

# template file -> generated file ({name} is the backend name)
FILES = {"gitignore": ".gitignore", "CMakeLists.txt": "CMakeLists.txt", "README.md": "README.md", "ci.sh": "ci.sh",
         "expectations.json": "expectations.json",
         "pyproject.toml": "pyproject.toml", "src/backend.c": "src/{name}.c", "src/manifest.json.in": "src/manifest.json.in",
         "src/package/__init__.py.tmpl": "src/tgc_{name}/__init__.py", "tests/test_backend.py.tmpl": "tests/test_backend.py"}
HEADER = "include/tg_backend.h"

class ScaffoldError(ValueError): pass

def check_name(name: str) -> None:
  if not NAME_RE.fullmatch(name or ""):
    raise ScaffoldError(f"backend name {name!r} is not valid: use lowercase letters, digits and '_', starting with a letter (e.g. acme, my_npu)")
  if len(name) > NAME_MAX: raise ScaffoldError(f"backend name {name!r} is {len(name)} characters; the manifest holds at most {NAME_MAX}")
  if keyword.iskeyword(name): raise ScaffoldError(f"backend name {name!r} is a Python keyword: choose another")
  if name in RESERVED: raise ScaffoldError(f"backend name {name!r} is taken: {RESERVED[name]}")

def _caps_c(d: Dialect) -> str:
  dt = " | ".join(f"(1ull << TG_{x})" for x in d.dtypes)
  alu = " | ".join(f"(1ull << TG_ALU_{x})" for x in d.alu)
  lines = [f"  c.dtypes = {dt};", f"  c.alu_ops = {alu};",
           f"  c.has_local = {d.has_local}, c.has_shared = {d.has_shared}, c.has_threads = 0, c.vector_width = {d.vector_width};",
           f"  c.global_max[0] = {d.global_max[0]}, c.global_max[1] = {d.global_max[1]}, c.global_max[2] = {d.global_max[2]};",
           f"  c.local_max[0] = {d.local_max[0]}, c.local_max[1] = {d.local_max[1]}, c.local_max[2] = {d.local_max[2]};",
           f"  c.local_prod_max = {d.local_prod_max}, c.shared_max = {d.shared_max};"]
  return "\n".join(_wrap(ln, 150) for ln in lines)

def _wrap(line: str, width: int) -> str:
  """Break a long `a | b | c` C expression after a `|`, continuation lines indented."""
  if len(line) <= width: return line
  out, cur = [], ""
  for part in line.split(" | "):
    if cur and len(cur) + 3 + len(part) > width: out.append(cur + " |"); cur = "      " + part
    else: cur = f"{cur} | {part}" if cur else part
  return "\n".join(out + [cur])

README_C = """As generated it runs on the **host CPU**: buffers are host memory and kernels in the "c" dialect are compiled by the
system C compiler and run in a loop. So it builds, installs, shows up in `python -m tgc doctor`, and passes the
conformance suite before any device code exists."""
README_OTHER = """As generated it runs on the **host CPU** with host-memory buffers and declares the **{dialect}** dialect, whose compiler,
{compiler}, is yours to wire up in `src/{name}.c`: until then `compile()` returns `TG_ERR_UNSUPPORTED` saying so.
It builds, installs, shows up in `python -m tgc doctor`, and passes the loader tier and every runtime case that needs no
kernel (the launch cases are NOT_RUN) before any device code exists."""

def _intro(dialect: str) -> str:
  if dialect == "c":
    return "\n".join(["** As generated it runs on the host CPU: buffers are host memory, programs are \"c\"-dialect kernels compiled by the system",
                      "** C compiler ($TGC_CC, default cc) and loaded with dlopen, and a launch calls the kernel once per grid point in a loop.",
                      "** So it builds, installs, loads in tgc and passes the conformance suite from the first minute."])
  return "\n".join([f"** As generated it runs on the host CPU with host-memory buffers and declares the {dialect} dialect, whose compiler is",
                    "** the vendor's to supply (below). It builds, installs, loads in tgc and passes the loader tier and every runtime case",
                    "** that needs no kernel from the first minute."])

def _notes(dialect: str, d: Dialect) -> str:
  if dialect == "c": return "** The \"c\" dialect runs as generated. For a real device, replace memory, compile, load and launch (VENDOR)."
  return "\n".join([f"** The {dialect} dialect needs: {d.compiler}.",
                    "** The vendor supplies it; until then compile() and load() return TG_ERR_UNSUPPORTED saying so, while memory, events",
                    "** and everything else work on host memory. What to wire up:",
                    *[f"**   {s.strip()}" for s in d.hint.split(";")],
                    "** The caps below are portable minimums for the dialect: query the device's real limits instead."])

def _tgc_version() -> tuple[int, int]:
  try: v = importlib.metadata.version("tgc")
  except importlib.metadata.PackageNotFoundError: v = "0.1.0"
  m = re.match(r"(\d+)\.(\d+)", v)
  return (int(m.group(1)), int(m.group(2))) if m else (0, 1)

def header_path() -> Path:
  return Path(str(importlib.resources.files("tgc") / "include" / "tg_backend.h"))

def abi_of(header: str) -> tuple[int, int]:
  vals = dict(re.findall(r"^#define TG_BACKEND_ABI_(MAJOR|MINOR) (\d+)", header, re.M))
  if set(vals) != {"MAJOR", "MINOR"}: raise ScaffoldError("the installed tgc's tg_backend.h has no TG_BACKEND_ABI_MAJOR/MINOR: reinstall tgc")
  return int(vals["MAJOR"]), int(vals["MINOR"])

def render(text: str, values: dict[str, str], where: str) -> str:
  out = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), text)
  if left := re.findall(r"\{\{\w+\}\}", out): raise RuntimeError(f"tgc-sdk bug: template {where} has unfilled placeholders {sorted(set(left))}")
  return out

def generate(name: str, dialect: str, out: Path) -> list[str]:
  """Writes the distribution tgc-<name> into `out` (which must not exist). Returns the files written, relative to it."""
  check_name(name)
  if dialect not in DIALECTS: raise ScaffoldError(f"unknown dialect {dialect!r}: choose one of {', '.join(DIALECTS)}")
  if out.exists(): raise ScaffoldError(f"{out} already exists: choose another --output or remove it first")
  try: header = header_path().read_text()
  except OSError as e: raise ScaffoldError(f"cannot read tg_backend.h from the installed tgc package ({e}): reinstall tgc") from None
  major, minor = abi_of(header)
  d, (tmaj, tmin) = DIALECTS[dialect], _tgc_version()
  values = {"name": name, "NAME": name.upper(), "dialect": dialect, "sdk_version": __version__, "abi": f"{major}.{minor}", "abi_major": str(major),
            "host_c": "1" if dialect == "c" else "0", "vendor": name.upper(), "caps": _caps_c(d), "vendor_notes": _notes(dialect, d),
            "intro": _intro(dialect), "compiler": d.compiler.split(" (")[0].replace('"', "'"), "compile_hint": d.hint.split(";")[0],
            "tgc_min": f"{tmaj}.{tmin}", "tgc_major": str(tmaj), "tgc_next_major": str(tmaj + 1),
            "dialect_flag": "" if dialect == "c" else f" --dialect {dialect}",
            "readme_intro": README_C if dialect == "c" else README_OTHER.format(dialect=dialect, compiler=d.compiler, name=name)}
  tpl = importlib.resources.files("tgc_sdk") / "template"
  written = []
  try:
    out.mkdir(parents=True)
    for src, dst in FILES.items():
      rel = dst.format(name=name)
      (out / rel).parent.mkdir(parents=True, exist_ok=True)
      (out / rel).write_text(render((tpl / src).read_text(), values, src))
      written.append(rel)
    (out / HEADER).parent.mkdir(parents=True, exist_ok=True)
    (out / HEADER).write_text(header)
    written.append(HEADER)
    (out / "ci.sh").chmod(0o755)
  except BaseException:
    shutil.rmtree(out, ignore_errors=True)   # no half-written project left behind
    raise
  return sorted(written)
