"""Hand-written kernels in tgc's WGSL dialect (README: the WGSL dialect ABI), written as tinygrad's WGSLRenderer writes them:
binding 0 the INFINITY uniform, then one storage array per buffer, then one i32 uniform per val. The engine's WGSL renderer
does not exist yet; these stand in for what it will emit."""
from __future__ import annotations
import os
import pytest
import tgc_webgpu

if not os.path.isfile(tgc_webgpu.library()):
  pytest.exit(f"tgc_webgpu imported from {os.path.dirname(tgc_webgpu.__file__)} has no {tgc_webgpu.library()}: install the plugin (pip install "
              "./plugins/tgc-webgpu) and run pytest from outside plugins/tgc-webgpu (python -m pytest puts the current directory on sys.path, "
              "where the source package shadows the installed one)", returncode=2)

HEAD = "fn nan() -> f32 { let bits = 0xffffffffu; return bitcast<f32>(bits); }\n@group(0) @binding(0)\nvar<uniform> INFINITY : f32;\n"
ARGS = "@builtin(workgroup_id) gindex: vec3<u32>, @builtin(local_invocation_id) lindex: vec3<u32>"

def kernel(name: str, bufs: list[tuple[str, str]], vals: list[str], wgsize: tuple[int, ...], body: str, enable: str = "", head: str = HEAD) -> str:
  """A kernel laid out as WGSLRenderer.render_kernel lays it out: bufs are (name, element type), vals are i32 uniforms."""
  decl = [f"@group(0) @binding({i + 1})var<storage,read_write>{n}:array<{t}>;" for i, (n, t) in enumerate(bufs)]
  decl += [f"@group(0) @binding({len(bufs) + i + 1})var<uniform>{v}:i32;" for i, v in enumerate(vals)]
  return (f"{enable}{head}" + "\n".join(decl) + f"\n@compute @workgroup_size({','.join(map(str, wgsize))}) fn {name}({ARGS}) {{\n{body}\n}}\n")

def block_sum(local: int) -> str:
  # one sum per workgroup: workgroup memory and workgroupBarrier, the tree reduction tinygrad's GROUP opts produce
  return kernel(f"block_sum_{local}", [("out", "f32"), ("a", "f32")], ["n"], (local,), f"""
  let l = i32(lindex.x);
  let i = i32(gindex.x) * {local} + l;
  if (i < n) {{ acc[l] = a[i]; }} else {{ acc[l] = 0.0; }}
  workgroupBarrier();
  for (var k = {local // 2}; k > 0; k = k >> 1u) {{
    if (l < k) {{ acc[l] = acc[l] + acc[l + k]; }}
    workgroupBarrier();
  }}
  if (l == 0) {{ out[gindex.x] = acc[0]; }}""", head=HEAD + f"var<workgroup> acc: array<f32,{local}>;\n")

def iota(local: int) -> str:
  idx = f"i32(gindex.x) * {local} + i32(lindex.x)"
  return kernel(f"iota{local}", [("out", "i32")], [], (local,), f"  out[{idx}] = {idx};")

KERNELS = {
  "vadd": kernel("vadd", [("out", "f32"), ("a", "f32"), ("b", "f32")], ["n"], (256,), """
  let i = i32(gindex.x) * 256 + i32(lindex.x);
  if (i < n) { out[i] = a[i] + b[i]; }"""),
  "idx3d": kernel("idx3d", [("out", "i32")], ["nx", "ny"], (8, 4, 2), """
  let x = i32(gindex.x) * 8 + i32(lindex.x);
  let y = i32(gindex.y) * 4 + i32(lindex.y);
  let z = i32(gindex.z) * 2 + i32(lindex.z);
  out[(z * ny + y) * nx + x] = x + 1000 * y + 1000000 * z;"""),
  "f32_ops": kernel("f32_ops", [("out", "f32"), ("a", "f32")], ["n"], (64,), """
  let i = i32(gindex.x) * 64 + i32(lindex.x);
  if (i < n) { out[i] = a[i] * 2.5 - 1.0; }"""),
  "i32_ops": kernel("i32_ops", [("out", "i32"), ("a", "i32")], ["n", "mul", "add"], (64,), """
  let i = i32(gindex.x) * 64 + i32(lindex.x);
  if (i < n) { out[i] = a[i] * mul + add; }"""),
  "u32_ops": kernel("u32_ops", [("out", "u32"), ("a", "u32")], ["n"], (64,), """
  let i = i32(gindex.x) * 64 + i32(lindex.x);
  if (i < n) { out[i] = ((a[i] ^ 0xdeadbeefu) >> 3u) | (a[i] << 29u); }"""),
  "f16_ops": kernel("f16_ops", [("out", "f16"), ("a", "f16")], ["n"], (64,), """
  let i = i32(gindex.x) * 64 + i32(lindex.x);
  if (i < n) { out[i] = a[i] * 2.0h + 1.0h; }""", enable="enable f16;\n"),
  # the constants tinygrad's renderer reaches through INFINITY and nan(), and i32 vals of both signs
  "specials": kernel("specials", [("out", "f32")], ["v0", "v1"], (1,), """
  out[0] = INFINITY; out[1] = -INFINITY; out[2] = nan(); out[3] = f32(v0); out[4] = f32(v1);"""),
  "block_sum_64": block_sum(64),
  "block_sum_256": block_sum(256),
}

BROKEN = kernel("broken", [("out", "f32")], [], (1,), "  out[0] = undefined_thing;")
F64 = kernel("f64k", [("out", "f32")], [], (1,), "  var x: f64 = 1.0;\n  out[0] = f32(x);")
