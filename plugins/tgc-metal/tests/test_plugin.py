"""The distribution as a user gets it, no Mac needed: the wheel's library exports exactly the two backend symbols and links
nothing of Apple's, its manifest JSON matches the library's, the entry point is found, and off macOS tgc reports METAL
unavailable ("not macOS") while the CPU keeps working; a missing runtime library is named."""
import os, json, ctypes, shutil, platform, subprocess, importlib.metadata
import pytest
import tgc_metal
from conftest import run_py

def test_library_and_manifest_installed():
  assert os.path.isfile(tgc_metal.library()) and tgc_metal.library().endswith(os.path.join("tgc_metal", "lib", "libtgc_metal.so"))
  assert os.path.isfile(tgc_metal.manifest())

@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) not installed")
def test_exports_exactly_two_symbols_and_links_nothing_of_apple():
  out = subprocess.run(["nm", "-D", "--defined-only", tgc_metal.library()], capture_output=True, text=True, check=True).stdout
  assert sorted(line.split()[-1] for line in out.splitlines() if line.strip()) == ["tg_backend_entry_v1", "tg_backend_manifest"], out
  needed = subprocess.run(["readelf", "-d", tgc_metal.library()], capture_output=True, text=True, check=True).stdout
  assert "objc" not in needed and "Metal" not in needed and "libtgc" not in needed, needed

def test_manifest_json_matches_library():
  from tgc._ffi import ffi, host_abi
  with open(tgc_metal.manifest()) as f: js = json.load(f)
  addr = ctypes.cast(ctypes.CDLL(tgc_metal.library()).tg_backend_manifest, ctypes.c_void_p).value  # data symbol: no plugin code runs
  m = ffi.cast("tg_manifest *", addr)
  c = {"name": ffi.string(m.name).decode(), "version": ffi.string(m.version).decode(), "abi_major": m.abi_major, "abi_min_minor": m.abi_min_minor,
       "abi_max_minor": m.abi_max_minor, "flavor": ffi.string(m.flavor).decode(), "dialects": ffi.string(m.dialects).decode().split(",")}
  assert js == c
  assert js["version"] == importlib.metadata.version("tgc-metal") and js["name"] == "METAL" and js["dialects"] == ["metal"]
  assert (js["abi_major"], js["abi_max_minor"]) == host_abi()

def test_entry_point_and_hook():
  eps = [ep for ep in importlib.metadata.entry_points(group="tgc.backends") if ep.dist and ep.dist.name == "tgc-metal"]
  assert [(ep.name, ep.value) for ep in eps] == [("metal", "tgc_metal")]
  assert tgc_metal.tgc_backends() == [{"name": "METAL", "library": tgc_metal.library(), "manifest": tgc_metal.manifest(), "priority": 20}]
  assert [r.replace(" ", "") for r in importlib.metadata.requires("tgc-metal")][0] == "tgc<1,>=0.1"

NOT_MAC = platform.system() != "Darwin"

@pytest.mark.skipif(not NOT_MAC, reason="on macOS Metal is there")
def test_doctor_not_macos():
  r = run_py("", args=("-m", "tgc", "doctor"))
  assert r.returncode == 0, r.stderr
  assert "METAL: unavailable: not macOS" in r.stdout.splitlines(), r.stdout
  r = run_py("import json, tgc.doctor as d; print(json.dumps([b for b in d.report()['backends'] if b['name'] == 'METAL']))")
  [b] = json.loads(r.stdout)
  assert (b["state"], b["reason"], b["device_count"], b["source"]) == ("unavailable", "not macOS", 0, "entry point tgc-metal")
  assert b["certification"]["status"] == "experimental"
  r = run_py("import tgc\ntry: tgc.Device['METAL']\nexcept tgc.TgcError as e: print(type(e).__name__, '|', e)\n"
             "print(tgc.Device.DEFAULT, bytes(tgc.Buffer('CPU', 4).copyin(b'abcd').copyout()))")
  assert r.stdout.splitlines() == ["UnavailableError | METAL: unavailable: not macOS", "CPU b'abcd'"], r.stdout + r.stderr

@pytest.mark.parametrize("var,what", [("TGC_METAL_OBJC", "the Objective-C runtime"), ("TGC_METAL_FRAMEWORK", "Metal.framework")])
def test_runtime_library_missing_is_named(tmp_path, var, what):
  missing = str(tmp_path / "nowhere" / ("libobjc.A.dylib" if var == "TGC_METAL_OBJC" else "Metal"))
  other = "TGC_METAL_FRAMEWORK" if var == "TGC_METAL_OBJC" else "TGC_METAL_OBJC"
  env = {var: missing, other: tgc_metal.library()}   # the other one opens (any library does for dlopen)
  r = run_py("import tgc\ntry: tgc.Device['METAL']\nexcept tgc.TgcError as e: print(type(e).__name__, '|', e)\n"
             "print(tgc.Device.DEFAULT, bytes(tgc.Buffer('CPU', 4).copyin(b'abcd').copyout()))", env)
  out = r.stdout.splitlines()
  assert out[0].startswith(f"UnavailableError | METAL: unavailable: {what} not found ({var}={missing}: {missing}: cannot open shared object file"), out
  assert out[1] == "CPU b'abcd'", r.stdout + r.stderr
