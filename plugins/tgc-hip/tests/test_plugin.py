"""The distribution as a user gets it, no GPU needed: the wheel's library exports exactly the two backend symbols, its
manifest JSON matches the library's, the entry point is found, and without an AMD GPU (or without ROCm at all) tgc reports
HIP unavailable with the exact reason while the CPU keeps working."""
import os, sys, json, ctypes, shutil, subprocess, importlib.metadata
import pytest
import tgc_hip
from conftest import run_py

def test_library_and_manifest_installed():
  assert os.path.isfile(tgc_hip.library()) and tgc_hip.library().endswith(os.path.join("tgc_hip", "lib", "libtgc_hip.so"))
  assert os.path.isfile(tgc_hip.manifest())

@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) not installed")
def test_exports_exactly_two_symbols_and_links_no_rocm():
  out = subprocess.run(["nm", "-D", "--defined-only", tgc_hip.library()], capture_output=True, text=True, check=True).stdout
  assert sorted(line.split()[-1] for line in out.splitlines() if line.strip()) == ["tg_backend_entry_v1", "tg_backend_manifest"], out
  needed = subprocess.run(["readelf", "-d", tgc_hip.library()], capture_output=True, text=True, check=True).stdout
  assert "amdhip" not in needed and "hiprtc" not in needed and "libtgc" not in needed, needed

def test_manifest_json_matches_library():
  from tgc._ffi import ffi, host_abi
  with open(tgc_hip.manifest()) as f: js = json.load(f)
  addr = ctypes.cast(ctypes.CDLL(tgc_hip.library()).tg_backend_manifest, ctypes.c_void_p).value  # data symbol: no plugin code runs
  m = ffi.cast("tg_manifest *", addr)
  c = {"name": ffi.string(m.name).decode(), "version": ffi.string(m.version).decode(), "abi_major": m.abi_major, "abi_min_minor": m.abi_min_minor,
       "abi_max_minor": m.abi_max_minor, "flavor": ffi.string(m.flavor).decode(), "dialects": ffi.string(m.dialects).decode().split(",")}
  assert js == c
  assert js["version"] == importlib.metadata.version("tgc-hip") and js["name"] == "HIP" and js["dialects"] == ["hip"]
  assert (js["abi_major"], js["abi_max_minor"]) == host_abi()

def test_entry_point_and_hook():
  eps = [ep for ep in importlib.metadata.entry_points(group="tgc.backends") if ep.dist and ep.dist.name == "tgc-hip"]
  assert [(ep.name, ep.value) for ep in eps] == [("hip", "tgc_hip")]
  assert tgc_hip.tgc_backends() == [{"name": "HIP", "library": tgc_hip.library(), "manifest": tgc_hip.manifest(), "priority": 20}]
  assert [r.replace(" ", "") for r in importlib.metadata.requires("tgc-hip")][0] == "tgc<1,>=0.1"

def _runtime_here() -> bool:
  try: ctypes.CDLL("libamdhip64.so.5")
  except OSError:
    try: ctypes.CDLL("libamdhip64.so.6")
    except OSError: return False
  return True

def _gpu_here() -> bool: return os.path.exists("/dev/kfd")

NO_GPU = "no AMD GPU (hipGetDeviceCount: no device)"

@pytest.mark.skipif(not _runtime_here() or _gpu_here(), reason="needs ROCm's libamdhip64 installed and no AMD GPU (/dev/kfd)")
def test_doctor_without_gpu():
  r = run_py("", args=("-m", "tgc", "doctor"))
  assert r.returncode == 0, r.stderr
  assert f"HIP: unavailable: {NO_GPU}" in r.stdout.splitlines(), r.stdout
  r = run_py("import json, tgc.doctor as d; print(json.dumps([b for b in d.report()['backends'] if b['name'] == 'HIP']))")
  [b] = json.loads(r.stdout)
  assert (b["state"], b["reason"], b["device_count"], b["source"]) == ("unavailable", NO_GPU, 0, "entry point tgc-hip")
  assert b["certification"]["status"] == "experimental"

def test_runtime_library_missing_is_named(tmp_path):
  missing = str(tmp_path / "nowhere" / "libamdhip64.so.6")
  r = run_py("import tgc\ntry: tgc.Device['HIP']\nexcept tgc.TgcError as e: print(type(e).__name__, '|', e)\n"
             "print(tgc.Device.DEFAULT, bytes(tgc.Buffer('CPU', 4).copyin(b'abcd').copyout()))", {"TGC_HIP_PATH": missing})
  assert r.stdout.splitlines() == [f"UnavailableError | HIP: unavailable: no HIP runtime (libamdhip64.so not found: tried TGC_HIP_PATH={missing}; "
                                   "install ROCm, or set TGC_HIP_PATH)", "CPU b'abcd'"], r.stdout + r.stderr
