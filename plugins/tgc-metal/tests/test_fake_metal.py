"""The plugin's host logic against tests/fake_metal.c, a stand-in for libobjc + Metal.framework whose objc_msgSend
dispatches to C methods with the caller's real arguments and logs every message send: discovery and caps from the device
(GPU family -> arch and bfloat16), compile options, argument binding (setBuffer with view offsets, setBytes with the
int64 vals), dispatch sizes, waits, launches refused before Metal sees them, float64 refused before anything renders,
every error path with its message, and Objective-C reference counts (nothing leaks, nothing autoreleased without a pool)
-- each in a child process, through tgc's public API."""
import re, json
import pytest
from conftest import run_py, cc

pytestmark = pytest.mark.skipif(cc() is None, reason="no C compiler (cc or $TGC_CC) to build the fake objc/Metal layer")

ADD = ("kernel void fake_add(device float* out, device float* a, device float* b, constant int& n, uint3 gid [[threadgroup_position_in_grid]], "
       "uint3 lid [[thread_position_in_threadgroup]]) { int i = gid.x*256+lid.x; if (i < n) out[i] = a[i]+b[i]; }")

def fake_env(lib: str, tmp_path, **kw) -> dict:
  return {"TGC_METAL_OBJC": lib, "TGC_METAL_FRAMEWORK": lib, "FAKE_METAL_LOG": str(tmp_path / "sends.log"), **{k: str(v) for k, v in kw.items()}}

def sends(tmp_path) -> list[str]:
  log = (tmp_path / "sends.log").read_text().splitlines()
  assert not [l for l in log if "unrecognized selector sent" in l or "no pool in place" in l], log
  return log

def py(code: str, env: dict) -> list[str]:
  r = run_py("import json, gc, numpy as np, tgc\n" + code, env)
  assert r.returncode == 0, r.stdout + r.stderr
  return r.stdout.splitlines()

def test_caps_and_properties(fake_metal, tmp_path):
  out = py("d = tgc.Device['METAL']; print(json.dumps({'caps': d.caps, 'props': d.properties, 'default': tgc.Device.DEFAULT}))", fake_env(fake_metal, tmp_path))
  got = json.loads(out[-1])
  c, p = got["caps"], got["props"]
  assert (c["dialect"], c["arch"], c["has_local"], c["has_shared"], c["has_threads"], c["vector_width"]) == ("metal", "Apple7", True, True, False, 4)
  assert (tuple(c["global_max"]), tuple(c["local_max"]), c["local_prod_max"], c["shared_max"]) == ((0x8FFFFFFF,) * 3, (1024,) * 3, 1024, 32768)
  assert c["mem_total"] == c["mem_max_alloc"] == 2**30 and c["alignment"] == 256
  assert set(c["dtypes"]) == {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "bfloat16", "float32"}
  assert len(c["alu_ops"]) == 21 and "MAX" not in c["alu_ops"]
  assert p == {"name": "Fake Apple M1", "vendor": "Apple", "driver_version": "macOS Version 14.5 (Build 23F79)", "type": "GPU"}
  assert got["default"] == "METAL"   # priority 20 > the CPU's 0
  log = sends(tmp_path)
  assert "-[MTLDevice#2 newCommandQueueWithMaxCommandBufferCount:] 1024 -> MTLCommandQueue#3" in log, log
  assert [l.split("] ")[1] for l in log if "supportsFamily:" in l] == ["1009 -> 0", "1008 -> 0", "1007 -> 1"]

@pytest.mark.parametrize("family,arch,bf16", [("5", "Apple5", False), ("6", "Apple6", True), ("mac2", "Mac2", False)])
def test_arch_from_gpu_family(fake_metal, tmp_path, family, arch, bf16):
  """MetalRenderer: arch is the highest MTLGPUFamily (AppleN, else MacN); bfloat16 from Apple6."""
  out = py("c = tgc.Device['METAL'].caps; print(c['arch'], ' '.join(c['dtypes']))", fake_env(fake_metal, tmp_path, FAKE_METAL_FAMILY=family))
  a, *dts = out[-1].split()
  assert a == arch and ("bfloat16" in dts) == bf16 and "float64" not in dts

def test_compile_load_launch_binds_arguments(fake_metal, tmp_path):
  code = f"""ADD = {ADD!r}
n = 1000
a, b = np.arange(n, dtype=np.float32), np.full(n + 16, 0.25, np.float32)
ba, bb, out = tgc.Buffer('METAL', a.nbytes).copyin(a), tgc.Buffer('METAL', b.nbytes).copyin(b), tgc.Buffer('METAL', a.nbytes)
p = tgc.Program('METAL', ADD, 'fake_add')
t = p(out, ba, bb, global_size=(4, 1, 1), local_size=(256, 1, 1), vals=(n,), wait=True)
print(np.array_equal(np.frombuffer(out.copyout(), np.float32), a + b[:n]), t is not None and t >= 0)
del p, ba, bb, out; gc.collect()"""
  assert py(code, fake_env(fake_metal, tmp_path))[-1] == "True True"
  log = sends(tmp_path)
  lib = re.search(r"newLibraryWithSource:options:error:\] NSString#\d+ MTLCompileOptions#\d+\(fastMath=0\) -> (MTLLibrary#\d+) error=nil", "\n".join(log))
  assert lib, log   # fast math off, as tinygrad's -fno-fast-math
  bufs = [l.split(" -> ")[1] for l in log if "newBufferWithLength:options:] 4000 0" in l or "newBufferWithLength:options:] 4064 0" in l]
  enc = [l for l in log if "MTLComputeCommandEncoder#" in l and "] " in l]
  binds = [l.split("] ")[1] for l in enc if "setBuffer:offset:atIndex:" in l or "setBytes:length:atIndex:" in l]
  # out, a, b in argument order at their offsets, then n as 8 bytes (a `constant int&` reads the low half)
  assert binds == [f"{bufs[2]} 0 0", f"{bufs[0]} 0 1", f"{bufs[1]} 0 2", "0x3e8 8 3"], (binds, bufs)
  assert [l.split("] ")[1] for l in enc if "dispatchThreadgroups" in l] == ["grid=4,1,1 group=256,1,1"]
  i_commit = next(i for i, l in enumerate(log) if l.endswith(" commit]"))
  assert any(l.endswith(" waitUntilCompleted]") for l in log[i_commit:]) and any("-[MTLCommandBuffer#" in l and "setLabel:] \"fake_add\"" in l for l in log)
  # compile's library is the one load uses (Metal cannot serialise it): one newLibraryWithSource for one Program
  assert sum("newLibraryWithSource" in l for l in log) == 1
  # at exit: the device, its queue and the three buffers (freed buffers stay in tgc's buffer cache, tinygrad's
  # LRUAllocator); every string, options object, library, function, pipeline, command buffer and encoder was released
  live = re.findall(r" (\w+)#\d+\(refs=1\)", log[-1])
  assert log[-1].startswith("live: 5 ") and sorted(live) == ["MTLBuffer"] * 3 + ["MTLCommandQueue", "MTLDevice"], log[-1]

def test_engine_kernels_reach_metal(fake_metal, tmp_path):
  """A tensor expression on METAL: tgc renders it in the metal dialect, the plugin compiles and dispatches it (the fake
  runs no real kernel, so only the traffic is checked here; tests/test_msl.py runs the rendered kernels)."""
  code = """tgc.Device['METAL']
t = (tgc.Tensor(np.arange(64, dtype=np.float32), device='METAL') + 1).realize()
t.device_synchronize() if hasattr(t, 'device_synchronize') else None"""
  py(code, fake_env(fake_metal, tmp_path))
  log = sends(tmp_path)
  src = [l for l in log if "-[NSString#" in l and "initWithUTF8String:] \"#include <metal_stdlib>" in l]
  assert src, log
  assert any("newLibraryWithSource" in l and "error=nil" in l for l in log) and any("dispatchThreadgroups" in l for l in log), log

def test_launches_refused_before_metal(fake_metal, tmp_path):
  code = f"""ADD = {ADD!r}
p, b = tgc.Program('METAL', ADD, 'fake_add'), tgc.Buffer('METAL', 4096)
for kw in [dict(local_size=(512, 1, 1)), dict(local_size=(0, 1, 1))]:
  try: p(b, b, b, vals=(1,), **kw); print('launched')
  except tgc.TgcError as e: print(type(e).__name__, '|', e)"""
  out = py(code, fake_env(fake_metal, tmp_path, FAKE_METAL_MAX_THREADS=256))
  assert out[0] == "OutOfRangeError | METAL: launch failed: metal: launch fake_add: local size (512,1,1) bigger than 256 with exec width 32 memory length 0", out
  assert out[1] == "InvalidArgumentError | tg_program_launch: global (1,1,1) and local (0,1,1) must be >= 1", out
  assert not [l for l in sends(tmp_path) if "dispatchThreadgroups" in l]

def test_float64_refused_before_anything_renders(fake_metal, tmp_path):
  code = """tgc.Device['METAL']
t = tgc.Tensor(np.array([1.0, 2.0], np.float32), device='METAL')
try: (t.cast('float64') * 3).realize(); print('ran')
except Exception as e: print(type(e).__name__, '|', e)
(t * 3).realize(); print('float32 ok')"""
  out = py(code, fake_env(fake_metal, tmp_path))
  # refused when realize allocates the float64 buffer on METAL, before any kernel is rendered (the codegen refuses it too)
  assert out[0].startswith("UnsupportedError | METAL does not support dtypes.double (its dtypes: "), out
  assert out[1] == "float32 ok", out
  log = sends(tmp_path)
  sources = [l for l in log if "initWithUTF8String:] \"#include <metal_stdlib>" in l]
  assert len(sources) == 1 and len([l for l in log if "dispatchThreadgroups" in l]) == 1, log   # only the float32 kernel reached Metal

ERRORS = [
  ("compile", {}, "tgc.Program('METAL', '#error nope\\n' + ADD, 'fake_add')",
   "CompileError | metal: compile fake_add for Fake Apple M1 (Apple7): program_source:1:2: error: the source says #error"),
  ("name", {}, "tgc.Program('METAL', ADD, 'nope')",
   "LoadError | metal: load: kernel 'nope' not found in the library (declare it `kernel void nope(...)`)"),
  ("oom", {"FAKE_METAL_MEM": 1 << 20}, "keep = tgc.Buffer('METAL', 1 << 20).copyin(bytes(1 << 20)); tgc.Buffer('METAL', 4096).copyin(bytes(4096))",
   "TgcMemoryError | metal: alloc of 4096 bytes on Fake Apple M1 (recommendedMaxWorkingSetSize 1048576): newBufferWithLength returned nil"),
  ("pipeline", {"FAKE_METAL_FAIL": "newComputePipelineStateWithFunction:error:"}, "tgc.Program('METAL', ADD, 'fake_add')",
   "LoadError | metal: load fake_add: newComputePipelineStateWithFunction: fake pipeline failure: Compiler encountered an internal error"),
  ("execution", {"FAKE_METAL_FAIL": "commit"}, "b = tgc.Buffer('METAL', 16); tgc.Program('METAL', ADD, 'fake_add')(b, b, b, vals=(1,)); b.copyout()",
   "TgcError | metal: copyout: the command buffer of fake_add failed: Execution of the command buffer was aborted due to an error during execution. (fake)"),
]

@pytest.mark.parametrize("what,env,stmt,want", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_paths_leave_the_process_usable(fake_metal, tmp_path, what, env, stmt, want):
  after = "print(bytes(tgc.Buffer('CPU', 2).copyin(b'ok').copyout()))" if what == "oom" else \
          "print(bytes(tgc.Buffer('METAL', 4).copyin(b'wxyz').copyout()), bytes(tgc.Buffer('CPU', 2).copyin(b'ok').copyout()))"
  code = f"ADD = {ADD!r}\ntry: {stmt}\nexcept tgc.TgcError as e: print(type(e).__name__, '|', str(e).replace(chr(10), '~'))\nkeep = None\n{after}"
  out = py(code, fake_env(fake_metal, tmp_path, **env))
  name, _, msg = want.partition(" | ")
  op = {"compile": "compile", "name": "load", "oom": "alloc", "pipeline": "load", "execution": "copyout"}[what]
  assert out[0] == f"{name} | METAL: {op} failed: {msg}", out
  assert out[1] == ("b'ok'" if what == "oom" else "b'wxyz' b'ok'"), out
  sends(tmp_path)

def test_no_device(fake_metal, tmp_path):
  r = run_py("", fake_env(fake_metal, tmp_path, FAKE_METAL_DEVICE=0), args=("-m", "tgc", "doctor"))
  assert "METAL: unavailable: no Metal device (MTLCreateSystemDefaultDevice returned nil)" in r.stdout.splitlines(), r.stdout

def test_doctor_with_fake_device(fake_metal, tmp_path):
  r = run_py("", fake_env(fake_metal, tmp_path), args=("-m", "tgc", "doctor"))
  assert re.search(r"^METAL +ready +0\.1\.0 +1\.0 +metal +1 +entry point tgc-metal$", r.stdout, re.M), r.stdout
  assert "METAL: Fake Apple M1 (Apple, GPU): dialect metal, arch Apple7, " in r.stdout, r.stdout
  assert re.search(r"^METAL: experimental \(", r.stdout, re.M), r.stdout
