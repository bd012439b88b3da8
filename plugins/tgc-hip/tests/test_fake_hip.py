"""The plugin's host logic against a fake libamdhip64 (tests/fake_hip.c) that records every call: discovery and caps read
from the device (both hipDeviceProp_t layouts), hiprtc options, argument packing (kernelParams: buffer pointers with view
offsets, then int64 vals), launch dimensions, the checks that refuse a launch before it reaches the runtime, and every
error path with its message -- each in a child process, through tgc's public API."""
import re, json, subprocess
import pytest
from conftest import run_py, cc

pytestmark = pytest.mark.skipif(cc() is None, reason="no C compiler (cc or $TGC_CC) to build the fake runtime")

ADD = """extern "C" __attribute__((global)) void __attribute__((amdgpu_flat_work_group_size(1, 256))) fake_add(float* out, const float* a, const float* b, long long n) {
  int i = __ockl_get_group_id(0)*256+__ockl_get_local_id(0); if (i < n) out[i] = a[i]+b[i];
}"""

def fake_env(lib: str, tmp_path, **kw) -> dict:
  return {"TGC_HIP_PATH": lib, "TGC_HIPRTC_PATH": lib, "FAKE_HIP_LOG": str(tmp_path / "calls.log"), **{k: str(v) for k, v in kw.items()}}

def calls(tmp_path) -> list[str]: return (tmp_path / "calls.log").read_text().splitlines()

def py(code: str, env: dict) -> list[str]:
  r = run_py("import json, numpy as np, tgc\n" + code, env)
  assert r.returncode == 0, r.stdout + r.stderr
  return r.stdout.splitlines()

def test_caps_and_properties(fake_hip, tmp_path):
  out = py("d = tgc.Device['HIP']; print(json.dumps({'caps': d.caps, 'props': d.properties, 'default': tgc.Device.DEFAULT}))", fake_env(fake_hip, tmp_path))
  got = json.loads(out[-1])
  c, p = got["caps"], got["props"]
  assert (c["dialect"], c["arch"], c["has_local"], c["has_shared"], c["has_threads"], c["vector_width"]) == ("hip", "gfx90a", True, True, False, 4)
  assert (tuple(c["global_max"]), tuple(c["local_max"]), c["local_prod_max"], c["shared_max"]) == ((2**31 - 1, 65535, 65535), (1024, 1024, 1024), 1024, 65536)
  assert c["mem_total"] == c["mem_max_alloc"] == 2**30 and c["alignment"] == 256
  assert set(c["dtypes"]) == {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "bfloat16", "float32", "float64"}
  assert len(c["alu_ops"]) == 21 and "THREEFRY" not in c["alu_ops"] and "MAX" not in c["alu_ops"]
  assert p == {"name": "Fake AMD Instinct 0", "vendor": "AMD", "driver_version": "HIP 5.2.21153", "type": "GPU"}
  assert got["default"] == "HIP"   # priority 20 > the CPU's 0

@pytest.mark.parametrize("arch,dtypes_extra", [("gfx1030", set()), ("gfx950:sramecc+:xnack-", {"fp8e4m3", "fp8e5m2"})])
def test_arch_from_rocm6_props_layout(fake_hip_r0600, tmp_path, arch, dtypes_extra):
  out = py("c = tgc.Device['HIP'].caps; print(c['arch'], ' '.join(c['dtypes']))", fake_env(fake_hip_r0600, tmp_path, FAKE_HIP_ARCH=arch))
  a, *dts = out[-1].split()
  assert a == arch.split(":")[0] and dtypes_extra <= set(dts) and ("fp8e4m3" in dts) == bool(dtypes_extra)

def test_rocm5_props_offset_matches_the_header(tmp_path):
  """ARCH_OFFSET_R0 in src/hip.c is offsetof(hipDeviceProp_t, gcnArchName) of ROCm 5.2's header, where that header is here."""
  import os
  if not os.path.exists("/usr/include/hip/hip_runtime_api.h"): pytest.skip("no HIP headers (apt install libamdhip64-dev)")
  src = tmp_path / "off.c"
  src.write_text("#define __HIP_PLATFORM_AMD__\n#include <hip/hip_runtime_api.h>\n#include <stdio.h>\n#include <stddef.h>\n"
                 "int main(void) { printf(\"%zu %d %d %d %d %d %d\\n\", offsetof(hipDeviceProp_t, gcnArchName), hipDeviceAttributeMaxBlockDimX, "
                 "hipDeviceAttributeMaxGridDimX, hipDeviceAttributeMaxThreadsPerBlock, hipDeviceAttributeMaxSharedMemoryPerBlock, "
                 "hipDeviceAttributeMultiprocessorCount, hipDeviceAttributeWarpSize); return 0; }\n")
  subprocess.run([*cc(), "-o", str(tmp_path / "off"), str(src)], check=True, capture_output=True)
  here = open(__file__.replace("tests/test_fake_hip.py", "src/hip.c")).read()
  assert subprocess.run([str(tmp_path / "off")], capture_output=True, text=True).stdout.split() == ["396", "26", "29", "56", "74", "63", "87"]
  assert "ARCH_OFFSET_R0 = 396" in here and "ATTR_MAX_BLOCK_DIM_X = 26, ATTR_MAX_GRID_DIM_X = 29, ATTR_MAX_THREADS_PER_BLOCK = 56" in here

def test_compile_load_launch_packs_arguments(fake_hip, tmp_path):
  code = f"""ADD = {ADD!r}
n = 1000
a, b = np.arange(n, dtype=np.float32), np.full(n, 0.25, np.float32)
ba, bb, out = tgc.Buffer('HIP', a.nbytes).copyin(a), tgc.Buffer('HIP', b.nbytes).copyin(b), tgc.Buffer('HIP', a.nbytes)
p = tgc.Program('HIP', ADD, 'fake_add')
p(out, ba, bb, global_size=(4, 1, 1), local_size=(256, 1, 1), vals=(n,), wait=True)
print(np.array_equal(np.frombuffer(out.copyout(), np.float32), a + b))"""
  assert py(code, fake_env(fake_hip, tmp_path))[-1] == "True"
  log = calls(tmp_path)
  assert "hiprtcCompileProgram --gpu-architecture=gfx90a:sramecc+:xnack- -O3 -> 0" in log, log
  mallocs = [l.split()[-1] for l in log if l.startswith("hipMalloc 4000 -> 0")]
  [launch] = [l for l in log if l.startswith("hipModuleLaunchKernel")]
  m = re.match(r"hipModuleLaunchKernel fake_add grid=4,1,1 block=256,1,1 shared=0 stream=\(nil\) extra=\(nil\) args=(\S+) -> 0", launch)
  assert m, launch
  # out, a, b are the buffers in argument order (the device pointers hipMalloc returned), then n as 8 bytes
  assert m[1].split(",") == [mallocs[2], mallocs[0], mallocs[1], "0x3e8"], (m[1], mallocs)
  assert any(l.startswith("hipDeviceSynchronize") for l in log[log.index(launch):])

def test_int_vals_read_the_low_half(fake_hip, tmp_path):
  """A kernel whose val is `int` (tinygrad's HIPRenderer renders vals as int) gets the low 32 bits of the int64."""
  src = 'extern "C" __attribute__((global)) void k(float* out, int n, long long m) { }'
  py(f"p = tgc.Program('HIP', {src!r}, 'k'); p(tgc.Buffer('HIP', 4), vals=(-7, 2**40 + 5), wait=True)", fake_env(fake_hip, tmp_path))
  [launch] = [l for l in calls(tmp_path) if l.startswith("hipModuleLaunchKernel")]
  assert launch.split("args=")[1].split(",")[1:] == ["ifffffff9", f"0x{2**40 + 5:x} -> 0"], launch

def test_launches_refused_before_the_runtime(fake_hip, tmp_path):
  code = f"""ADD = {ADD!r}
p, b = tgc.Program('HIP', ADD, 'fake_add'), tgc.Buffer('HIP', 4096)
for kw in [dict(local_size=(512, 1, 1)), dict(local_size=(1025, 1, 1)), dict(global_size=(1, 70000, 1))]:
  try: p(b, b, b, vals=(1,), **kw); print('launched')
  except tgc.TgcError as e: print(type(e).__name__, '|', e)"""
  out = py(code, fake_env(fake_hip, tmp_path))
  assert out[0].startswith("OutOfRangeError | ") and ("fake_add: local size (512,1,1) = 512 threads, but this kernel can run at most 256 threads per "
                                                      "workgroup on Fake AMD Instinct 0") in out[0], out
  assert out[1].startswith("OutOfRangeError") and "1025" in out[1], out
  assert out[2].startswith("OutOfRangeError") and "70000" in out[2], out
  assert not [l for l in calls(tmp_path) if l.startswith("hipModuleLaunchKernel")]

ERRORS = [
  ("compile", {}, "tgc.Program('HIP', '#error nope\\n' + ADD, 'fake_add')",
   "CompileError | hip: compile fake_add: hiprtc of ROCm 5.2 ({lib}) cannot compile fake_add for gfx90a:sramecc+:xnack-: HIPRTC_ERROR_COMPILATION\n"
   "fake.hip:1:2: error: the source says #error"),
  ("name", {}, "tgc.Program('HIP', ADD, 'nope')",
   "LoadError | hip: load: kernel 'nope' not found in the code object (declare it extern \"C\" __attribute__((global)))"),
  ("oom", {"FAKE_HIP_MEM": 1 << 20}, "keep = tgc.Buffer('HIP', 1 << 20).copyin(bytes(1 << 20)); tgc.Buffer('HIP', 4096).copyin(bytes(4096))",
   "TgcMemoryError | hip: alloc of 4096 bytes on HIP:0 (Fake AMD Instinct 0, 0 of 1048576 bytes free): hipMalloc: hipErrorOutOfMemory (out of memory)"),
  ("launch", {"FAKE_HIP_FAIL": "hipModuleLaunchKernel=98"}, "b = tgc.Buffer('HIP', 16); tgc.Program('HIP', ADD, 'fake_add')(b, b, b, vals=(1,))",
   "TgcError | hip: launch fake_add over (1,1,1)x(1,1,1): hipModuleLaunchKernel: hipErrorUnknown (fake error)"),
  ("load", {"FAKE_HIP_FAIL": "hipModuleLoadData=200"}, "tgc.Program('HIP', ADD, 'fake_add')",
   "LoadError | hip: load fake_add on Fake AMD Instinct 0 (gfx90a:sramecc+:xnack-): hipModuleLoadData: hipErrorInvalidImage (fake error)"),
  ("copy", {"FAKE_HIP_FAIL": "hipMemcpy=1"}, "tgc.Buffer('HIP', 8).copyin(bytes(8))",
   "TgcError | hip: copyin of 8 bytes at offset 0: hipMemcpy: hipErrorInvalidValue (fake error)"),
]

@pytest.mark.parametrize("what,env,stmt,want", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_paths_leave_the_process_usable(fake_hip, tmp_path, what, env, stmt, want):
  after = "print(bytes(tgc.Buffer('CPU', 2).copyin(b'ok').copyout()))" if what == "copy" else \
          "print(bytes(tgc.Buffer('HIP', 4).copyin(b'wxyz').copyout()), bytes(tgc.Buffer('CPU', 2).copyin(b'ok').copyout()))"
  code = f"ADD = {ADD!r}\ntry: {stmt}\nexcept tgc.TgcError as e: print(type(e).__name__, '|', str(e).replace(chr(10), '~'))\nkeep = None\n{after}"
  out = py(code, fake_env(fake_hip, tmp_path, **env))
  name, _, msg = want.format(lib=fake_hip).partition(" | ")
  assert out[0].startswith(name + " | ") and all(line in out[0] for line in msg.split("\n")), out
  assert out[1] == ("b'ok'" if what == "copy" else "b'wxyz' b'ok'"), out

def test_no_device_and_no_hiprtc(fake_hip, tmp_path):
  r = run_py("", fake_env(fake_hip, tmp_path, FAKE_HIP_DEVICES=0), args=("-m", "tgc", "doctor"))
  assert "HIP: unavailable: no AMD GPU (hipGetDeviceCount: no device)" in r.stdout.splitlines(), r.stdout
  missing = str(tmp_path / "libhiprtc.so.6")
  out = py(f"try: tgc.Program('HIP', {ADD!r}, 'fake_add')\nexcept tgc.TgcError as e: print(type(e).__name__, '|', e)",
           {**fake_env(fake_hip, tmp_path), "TGC_HIPRTC_PATH": missing})
  assert out[0].startswith("UnavailableError | ") and f"hip: compile fake_add: hiprtc not found (TGC_HIPRTC_PATH={missing}: " in out[0], out

def test_doctor_with_fake_device(fake_hip, tmp_path):
  r = run_py("", fake_env(fake_hip, tmp_path), args=("-m", "tgc", "doctor"))
  assert re.search(r"^HIP +ready +0\.1\.0 +1\.0 +hip +1 +entry point tgc-hip$", r.stdout, re.M), r.stdout
  assert "HIP: Fake AMD Instinct 0 (AMD, GPU): dialect hip, arch gfx90a, " in r.stdout, r.stdout
  assert re.search(r"^HIP: experimental \(", r.stdout, re.M), r.stdout
