"""The distribution as a user gets it, no GPU needed: the wheel's library exports exactly the two backend symbols, its
manifest JSON matches the library's, the entry point is found, the hook points the library at the NVRTC wheel, and without
an NVIDIA driver tgc reports CUDA unavailable with the exact reason."""
import os, sys, json, ctypes, shutil, subprocess, importlib.metadata
import pytest
import tgc_cuda
from cuda_kernels import driver_present

def run_py(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
  e = {k: v for k, v in os.environ.items() if k not in ("DEV", "TGC_BACKEND_PATH", "TGC_NVRTC_PATH")}
  e.update(env or {})
  return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=300, cwd=os.path.dirname(__file__), check=False)

def test_library_and_manifest_installed():
  assert os.path.isfile(tgc_cuda.library()) and tgc_cuda.library().endswith(os.path.join("tgc_cuda", "lib", "libtgc_cuda.so"))
  assert os.path.isfile(tgc_cuda.manifest())

@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) not installed")
def test_exports_exactly_two_symbols():
  out = subprocess.run(["nm", "-D", "--defined-only", tgc_cuda.library()], capture_output=True, text=True, check=True).stdout
  assert sorted(line.split()[-1] for line in out.splitlines() if line.strip()) == ["tg_backend_entry_v1", "tg_backend_manifest"], out

def test_manifest_json_matches_library():
  from tgc._ffi import ffi, host_abi
  with open(tgc_cuda.manifest()) as f: js = json.load(f)
  addr = ctypes.cast(ctypes.CDLL(tgc_cuda.library()).tg_backend_manifest, ctypes.c_void_p).value  # data symbol: no plugin code runs
  m = ffi.cast("tg_manifest *", addr)
  c = {"name": ffi.string(m.name).decode(), "version": ffi.string(m.version).decode(), "abi_major": m.abi_major, "abi_min_minor": m.abi_min_minor,
       "abi_max_minor": m.abi_max_minor, "flavor": ffi.string(m.flavor).decode(), "dialects": ffi.string(m.dialects).decode().split(",")}
  assert js == c
  assert js["version"] == importlib.metadata.version("tgc-cuda") and js["name"] == "CUDA" and js["dialects"] == ["cuda"]
  assert (js["abi_major"], js["abi_max_minor"]) == host_abi()

def test_entry_point_and_hook():
  eps = [ep for ep in importlib.metadata.entry_points(group="tgc.backends") if ep.dist and ep.dist.name == "tgc-cuda"]
  assert [(ep.name, ep.value) for ep in eps] == [("cuda", "tgc_cuda")]
  md = tgc_cuda.tgc_backends()
  assert md == [{"name": "CUDA", "library": tgc_cuda.library(), "manifest": tgc_cuda.manifest(), "priority": 20}]
  reqs = importlib.metadata.requires("tgc-cuda")
  assert "nvidia-cuda-nvrtc==13.0.*" in reqs and "tgc<1,>=0.1" in [r.replace(" ", "") for r in reqs], reqs

@pytest.mark.skipif(tgc_cuda.nvrtc_path() is None, reason="the NVRTC wheel is not installed (pip install 'nvidia-cuda-nvrtc==13.0.*')")
def test_hook_points_at_the_nvrtc_wheel():
  code = "import os, tgc; tgc.backends(); print(os.environ.get('TGC_NVRTC_PATH'))"
  r = run_py(code)
  assert r.returncode == 0 and r.stdout.strip() == tgc_cuda.nvrtc_path(), r.stderr
  assert os.path.basename(r.stdout.strip()).startswith("libnvrtc.so.")
  r = run_py(code, {"TGC_NVRTC_PATH": "/opt/my/libnvrtc.so.13"})   # the user's choice wins
  assert r.stdout.strip() == "/opt/my/libnvrtc.so.13", r.stderr

NO_DRIVER = "no NVIDIA driver (libcuda.so.1 not found)"

@pytest.mark.skipif(driver_present(), reason="an NVIDIA driver (libcuda.so.1) is installed here")
def test_doctor_without_driver():
  r = subprocess.run([sys.executable, "-m", "tgc", "doctor"], capture_output=True, text=True, timeout=300, check=False)
  assert r.returncode == 0, r.stderr
  assert f"CUDA: unavailable: {NO_DRIVER}" in r.stdout.splitlines(), r.stdout
  r = run_py("import json, tgc.doctor as d; print(json.dumps([b for b in d.report()['backends'] if b['name'] == 'CUDA']))")
  [b] = json.loads(r.stdout)
  assert (b["state"], b["reason"], b["device_count"], b["source"]) == ("unavailable", NO_DRIVER, 0, "entry point tgc-cuda")

@pytest.mark.skipif(driver_present(), reason="an NVIDIA driver (libcuda.so.1) is installed here")
def test_device_without_driver():
  r = run_py("import tgc\ntry: tgc.Device['CUDA']\nexcept tgc.TgcError as e: print(type(e).__name__, '|', e)\n"
             "print(tgc.Device.DEFAULT, bytes(tgc.Buffer('CPU', 4).copyin(b'abcd').copyout()))")
  assert r.stdout.splitlines() == [f"UnavailableError | CUDA: unavailable: {NO_DRIVER}", "CPU b'abcd'"], r.stdout + r.stderr
