"""Hand-written kernels in tgc's glsl dialect (README: "The glsl dialect"), and the helpers the tests share. The engine's GLSL
renderer does not exist yet; these stand in for what it will emit."""
from __future__ import annotations
import os, ctypes
import numpy as np
import pytest
import tgc_vulkan

if not os.path.isfile(tgc_vulkan.library()):
  pytest.exit(f"tgc_vulkan imported from {os.path.dirname(tgc_vulkan.__file__)} has no {tgc_vulkan.library()}: install the plugin (pip install "
              "./plugins/tgc-vulkan) and run pytest from outside plugins/tgc-vulkan (python -m pytest puts the current directory on sys.path, "
              "where the source package shadows the installed one)", returncode=2)

from tgc._ffi import ffi, host_abi, STATUS   # noqa: E402  (after the check above: a shadowed package must not get this far)

LOCAL_IDS = "layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;"

def header(val_t: str = "int64_t", extra: str = "") -> str:
  ext = "#extension GL_EXT_shader_explicit_arithmetic_types : require\n" if val_t == "int64_t" or extra else ""
  return f"#version 450\n{ext}{extra}{LOCAL_IDS}\n"

def vadd(val_t: str = "int64_t") -> str:
  return header(val_t) + f"""
layout(std430, binding = 0) writeonly buffer Out {{ float o[]; }};
layout(std430, binding = 1) readonly buffer A {{ float a[]; }};
layout(std430, binding = 2) readonly buffer B {{ float b[]; }};
layout(push_constant) uniform Vals {{ {val_t} n; }};
void main() {{
  uint i = gl_GlobalInvocationID.x;
  if ({val_t}(i) < n) o[i] = a[i] + b[i];
}}"""

# one sum per workgroup: shared memory sized by the launch's local size (a specialization constant) and barrier(), the tree reduction
# tinygrad's LOCAL/GROUP opts produce
def block_sum(val_t: str = "int64_t") -> str:
  return header(val_t) + f"""
layout(std430, binding = 0) writeonly buffer Out {{ float o[]; }};
layout(std430, binding = 1) readonly buffer A {{ float a[]; }};
layout(push_constant) uniform Vals {{ {val_t} n; }};
shared float acc[gl_WorkGroupSize.x];
void main() {{
  uint lid = gl_LocalInvocationID.x;
  {val_t} i = {val_t}(gl_WorkGroupID.x) * {val_t}(gl_WorkGroupSize.x) + {val_t}(lid);
  acc[lid] = i < n ? a[uint(i)] : 0.0;
  barrier();
  for (uint k = gl_WorkGroupSize.x / 2u; k > 0u; k >>= 1) {{
    if (lid < k) acc[lid] += acc[lid + k];
    barrier();
  }}
  if (lid == 0u) o[gl_WorkGroupID.x] = acc[0];
}}"""

def idx3d(val_t: str = "int64_t") -> str:
  return header(val_t) + f"""
layout(std430, binding = 0) writeonly buffer Out {{ int o[]; }};
layout(push_constant) uniform Vals {{ {val_t} nx; {val_t} ny; }};
void main() {{
  uvec3 g = gl_GlobalInvocationID;
  o[uint(({val_t}(g.z) * ny + {val_t}(g.y)) * nx + {val_t}(g.x))] = int(g.x + 1000u * g.y + 1000000u * g.z);
}}"""

# every invocation of one workgroup writes its flat local index: proves the whole local size ran
IOTA_LOCAL = header("int") + """
layout(std430, binding = 0) writeonly buffer Out { uint o[]; };
void main() {
  uint li = gl_LocalInvocationIndex;
  o[gl_WorkGroupID.x * (gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z) + li] = li + 1u;
}"""

AXPB = header("int64_t") + """
layout(std430, binding = 0) writeonly buffer Out { int64_t o[]; };
layout(std430, binding = 1) readonly buffer A { int a[]; };
layout(push_constant) uniform Vals { int64_t alpha; int64_t beta; int64_t n; };
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (int64_t(i) < n) o[i] = int64_t(a[i]) * alpha + beta;
}"""

# a kernel compiled with a fixed workgroup size (no specialization constants): the launch must match it
FIXED64 = """#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) writeonly buffer Out { uint o[]; };
void main() { o[gl_GlobalInvocationID.x] = gl_GlobalInvocationID.x; }"""

BROKEN_NAME = "broken"
BROKEN = header("int") + """
layout(std430, binding = 0) buffer Out { float o[]; };
void main() { o[gl_GlobalInvocationID.x] = undefined_thing; }"""

# ---------------- dtypes: tinygrad's name -> (GLSL storage type, numpy dtype) ----------------

DTYPES = {"bool": ("uint8_t", np.bool_), "int8": ("int8_t", np.int8), "uint8": ("uint8_t", np.uint8), "int16": ("int16_t", np.int16),
          "uint16": ("uint16_t", np.uint16), "int32": ("int", np.int32), "uint32": ("uint", np.uint32), "int64": ("int64_t", np.int64),
          "uint64": ("uint64_t", np.uint64), "float16": ("float16_t", np.float16), "float32": ("float", np.float32), "float64": ("double", np.float64)}

def dtype_kernel(name: str, val_t: str = "int64_t") -> str:
  """o0 = a (a round trip through the device), o1 = f(a): logical not for bool, a*3+1 wrapping for ints, a*2+1 for floats."""
  t = DTYPES[name][0]
  f = "uint8_t(a[i] == uint8_t(0) ? 1 : 0)" if name == "bool" else f"a[i] * {t}(3) + {t}(1)" if "int" in name else f"a[i] * {t}(2) + {t}(1)"
  ext = "".join(f"#extension GL_EXT_shader_{b}bit_storage : require\n" for b in (8, 16) if t in (f"int{b}_t", f"uint{b}_t", f"float{b}_t"))
  return header(val_t, "#extension GL_EXT_shader_explicit_arithmetic_types : require\n" + ext) + f"""
layout(std430, binding = 0) writeonly buffer O0 {{ {t} o0[]; }};
layout(std430, binding = 1) writeonly buffer O1 {{ {t} o1[]; }};
layout(std430, binding = 2) readonly buffer A {{ {t} a[]; }};
layout(push_constant) uniform Vals {{ {val_t} n; }};
void main() {{
  uint i = gl_GlobalInvocationID.x;
  if ({val_t}(i) < n) {{ o0[i] = a[i]; o1[i] = {f}; }}
}}"""

def dtype_expected(name: str, a: np.ndarray) -> np.ndarray:
  if name == "bool": return ~a
  dt = a.dtype.type
  return a * dt(3) + dt(1) if "int" in name else a * dt(2) + dt(1)

def dtype_input(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
  dt = DTYPES[name][1]
  if name == "bool": return rng.integers(0, 2, n).astype(np.bool_)
  if "int" in name:
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
  return rng.uniform(-100, 100, n).astype(dt)

# ---------------- the plugin's function table, driven as libtgc drives it ----------------

class Direct:
  """The plugin from a private copy of its library (its own state, not libtgc's instance), through tg_backend_api."""
  def __init__(self, path: str):
    self._dl = ctypes.CDLL(path)
    entry = ffi.cast("tg_backend_entry_fn", ctypes.cast(self._dl.tg_backend_entry_v1, ctypes.c_void_p).value)
    self.errors: list[tuple[int, str]] = []
    self._cb = (ffi.callback("void(void *, tg_status, const char *)", lambda ctx, code, msg: self.errors.append((code, ffi.string(msg).decode()))),
                ffi.callback("void(void *, tg_log_level, const char *)", lambda ctx, lvl, msg: None))
    major, minor = host_abi()
    self.host = ffi.new("tg_backend_host *", {"struct_size": ffi.sizeof("tg_backend_host"), "abi_major": major, "abi_minor": minor,
                                              "set_error": self._cb[0], "log": self._cb[1]})
    out = ffi.new("const tg_backend_api **")
    assert entry(self.host, out) == STATUS["TG_OK"]
    self.api = out[0]
    d = ffi.new("tg_backend_device **")
    self.ok(self.api.device_open(0, d))
    self.dev = d[0]

  def ok(self, st: int) -> None: assert st == STATUS["TG_OK"], f"status {st}: {self.errors[-1:]}"
  def fails(self, st: int, code: str) -> str:
    assert st == STATUS[code], f"expected {code}, got {st}: {self.errors[-1:]}"
    return self.errors[-1][1]
  def alloc(self, arr: np.ndarray):
    b = ffi.new("tg_backend_buffer **")
    self.ok(self.api.alloc(self.dev, arr.nbytes, b))
    self.ok(self.api.copyin(self.dev, b[0], 0, ffi.from_buffer(arr), arr.nbytes))
    return b[0]
  def read(self, buf, like: np.ndarray) -> np.ndarray:
    out = np.empty_like(like)
    self.ok(self.api.copyout(self.dev, buf, 0, ffi.from_buffer(out), out.nbytes))
    return out
  def compile(self, src: str, name: str = "k") -> bytes:
    blob = ffi.new("tg_blob *", {"struct_size": ffi.sizeof("tg_blob")})
    self.ok(self.api.compile(self.dev, src.encode(), name.encode(), blob))
    data = ffi.buffer(blob.data, blob.size)[:]
    self.api.blob_free(blob)
    return data
  def load(self, blob: bytes, name: str = "k"):
    p = ffi.new("tg_backend_program **")
    return self.api.load(self.dev, ffi.from_buffer(blob), len(blob), name.encode(), p), p[0]
  def program(self, src: str, name: str = "k"):
    st, p = self.load(self.compile(src, name), name)
    self.ok(st)
    return p
  def launch(self, prog, bufs, vals, global_size, local_size, wait=0, elapsed=ffi.NULL) -> int:
    keep = (ffi.new("tg_backend_buffer *[]", bufs), ffi.new("int64_t[]", list(vals) or [0]))
    p = ffi.new("tg_launch_params *", {"struct_size": ffi.sizeof("tg_launch_params"), "bufs": keep[0], "n_bufs": len(bufs), "vals": keep[1],
                                       "n_vals": len(vals), "global": global_size, "local": local_size, "wait": wait, "elapsed_s": elapsed})
    return self.api.launch(self.dev, prog, p)
  def event(self):
    e = ffi.new("tg_backend_event **")
    self.ok(self.api.event_create(self.dev, e))
    return e[0]
