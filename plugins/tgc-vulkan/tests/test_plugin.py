"""The distribution as a user gets it, no Vulkan device needed: the library exports exactly the two backend symbols and links
neither libvulkan nor libstdc++, its manifest JSON matches the library's, the entry point is found, and without a Vulkan
loader (simulated with TGC_VULKAN_LOADER) or without a driver tgc reports VULKAN unavailable with the exact reason."""
import os, sys, json, ctypes, shutil, subprocess, importlib.metadata
import pytest
import tgc_vulkan
from glsl_kernels import ffi, host_abi

def run_py(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
  e = {k: v for k, v in os.environ.items() if k not in ("DEV", "TGC_BACKEND_PATH", "TGC_VULKAN_LOADER", "TGC_VULKAN_STAGING")}
  e.update(env or {})
  return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=300, cwd=os.path.dirname(__file__), check=False)

def doctor(env: dict | None = None) -> subprocess.CompletedProcess: return run_py("import sys, tgc.doctor as d; sys.exit(d.main())", env)

def test_library_and_manifest_installed():
  assert os.path.isfile(tgc_vulkan.library()) and tgc_vulkan.library().endswith(os.path.join("tgc_vulkan", "lib", "libtgc_vulkan.so"))
  assert os.path.isfile(tgc_vulkan.manifest())

@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) not installed")
def test_exports_exactly_two_symbols():
  out = subprocess.run(["nm", "-D", "--defined-only", tgc_vulkan.library()], capture_output=True, text=True, check=True).stdout
  assert sorted(line.split()[-1] for line in out.splitlines() if line.strip()) == ["tg_backend_entry_v1", "tg_backend_manifest"], out

@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) not installed")
def test_links_no_vulkan_and_no_libstdcxx():
  out = subprocess.run(["readelf", "-d", tgc_vulkan.library()], capture_output=True, text=True, check=True).stdout
  needed = sorted(line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line)
  assert not [n for n in needed if "vulkan" in n or "stdc++" in n or "glslang" in n or "SPIRV" in n], needed   # dlopen'ed / linked in
  assert set(needed) <= {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libpthread.so.0", "libdl.so.2", "libgcc_s.so.1"}, needed

def test_manifest_json_matches_library():
  with open(tgc_vulkan.manifest()) as f: js = json.load(f)
  addr = ctypes.cast(ctypes.CDLL(tgc_vulkan.library()).tg_backend_manifest, ctypes.c_void_p).value  # data symbol: no plugin code runs
  m = ffi.cast("tg_manifest *", addr)
  c = {"name": ffi.string(m.name).decode(), "version": ffi.string(m.version).decode(), "abi_major": m.abi_major, "abi_min_minor": m.abi_min_minor,
       "abi_max_minor": m.abi_max_minor, "flavor": ffi.string(m.flavor).decode(), "dialects": ffi.string(m.dialects).decode().split(",")}
  assert js == c
  assert js["version"] == importlib.metadata.version("tgc-vulkan") and js["name"] == "VULKAN" and js["dialects"] == ["glsl"]
  assert (js["abi_major"], js["abi_max_minor"]) == host_abi()

def test_entry_point_and_hook():
  eps = [ep for ep in importlib.metadata.entry_points(group="tgc.backends") if ep.dist and ep.dist.name == "tgc-vulkan"]
  assert [(ep.name, ep.value) for ep in eps] == [("vulkan", "tgc_vulkan")]
  assert tgc_vulkan.tgc_backends() == [{"name": "VULKAN", "library": tgc_vulkan.library(), "manifest": tgc_vulkan.manifest(), "priority": -10}]
  reqs = importlib.metadata.requires("tgc-vulkan")
  assert "tgc<1,>=0.1" in [r.replace(" ", "") for r in reqs], reqs

NO_LOADER = "no Vulkan loader (libvulkan.so.1 not found)"

def test_doctor_without_loader():
  r = doctor({"TGC_VULKAN_LOADER": "/nonexistent"})
  assert r.returncode == 0, r.stderr
  assert f"VULKAN: unavailable: {NO_LOADER}" in r.stdout.splitlines(), r.stdout
  r = run_py("import json, tgc.doctor as d; print(json.dumps([b for b in d.report()['backends'] if b['name'] == 'VULKAN']))",
             {"TGC_VULKAN_LOADER": "/nonexistent"})
  [b] = json.loads(r.stdout)
  assert (b["state"], b["reason"], b["device_count"], b["source"]) == ("unavailable", NO_LOADER, 0, "entry point tgc-vulkan")

def test_device_without_loader():
  r = run_py("import tgc\ntry: tgc.Device['VULKAN']\nexcept tgc.TgcError as e: print(type(e).__name__, '|', e)\n"
             "print(tgc.Device.DEFAULT, bytes(tgc.Buffer('CPU', 4).copyin(b'abcd').copyout()))", {"TGC_VULKAN_LOADER": "/nonexistent"})
  lines = r.stdout.splitlines()
  # the default is another ready backend (CPU, or CUDA where tgc-cuda and a GPU are there), never VULKAN
  assert lines[0] == f"UnavailableError | VULKAN: unavailable: {NO_LOADER}" and lines[1].endswith(" b'abcd'") and not lines[1].startswith("VULKAN"), r.stdout + r.stderr

def _loader_present() -> bool:
  try: ctypes.CDLL("libvulkan.so.1")
  except OSError: return False
  return True

@pytest.mark.skipif(not _loader_present(), reason="no Vulkan loader (libvulkan.so.1) here")
def test_doctor_without_driver():
  # the loader is there but finds no driver (ICD): VK_DRIVER_FILES (loader >= 1.3.207) and VK_ICD_FILENAMES point at nothing
  r = doctor({"VK_DRIVER_FILES": "/nonexistent.json", "VK_ICD_FILENAMES": "/nonexistent.json"})
  line = next((ln for ln in r.stdout.splitlines() if ln.startswith("VULKAN: unavailable: ")), None)
  assert line in ("VULKAN: unavailable: no Vulkan driver: vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER (install mesa-vulkan-drivers for "
                  "lavapipe on the CPU, or your GPU's Vulkan driver)",
                  "VULKAN: unavailable: no usable Vulkan device (0 found; install mesa-vulkan-drivers for lavapipe on the CPU)"), r.stdout

def test_not_the_default_device():
  # below the CPU, as tinygrad never picks a Vulkan device by itself; DEV=VULKAN asks for it
  assert run_py("import tgc; print(tgc.Device.DEFAULT)").stdout.strip() in ("CPU", "CUDA")  # CUDA where tgc-cuda has a GPU
  assert run_py("import tgc; print(tgc.Device.DEFAULT)", {"DEV": "vulkan"}).stdout.strip() == "VULKAN"
