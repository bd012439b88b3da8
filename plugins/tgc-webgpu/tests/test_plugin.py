"""The distribution as a user gets it, no adapter needed: the wheel's library exports exactly the two backend symbols, its
manifest JSON matches the library's, the entry point is found, the hook points the library at the wgpu wheel's wgpu-native,
and without that library (or with a wrong one) tgc reports WEBGPU unavailable with the exact reason while CPU keeps working."""
import os, re, sys, json, ctypes, shutil, subprocess, importlib.metadata
import pytest
import tgc_webgpu
import wgsl_kernels  # noqa: F401  (stops the run early when the plugin is not installed)

NOT_FOUND = "wgpu-native not found (pip install wgpu)"

def run_py(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
  e = {k: v for k, v in os.environ.items() if k not in ("DEV", "TGC_BACKEND_PATH", "TGC_WGPU_LIB", "WGPU_LIB_PATH")}
  e.update(env or {})
  return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=300, cwd=os.path.dirname(__file__), check=False)

def doctor(env: dict) -> tuple[str, dict]:
  r = run_py("import tgc.doctor as d, json; rep = d.report(); print(d.format_text(rep)); "
             "print(json.dumps([b for b in rep['backends'] if b['name'] == 'WEBGPU']))", env)
  assert r.returncode == 0, r.stderr
  text, js = r.stdout.rsplit("\n", 2)[0], json.loads(r.stdout.strip().splitlines()[-1])
  return text, js[0]

def test_library_and_manifest_installed():
  assert os.path.isfile(tgc_webgpu.library()) and tgc_webgpu.library().endswith(os.path.join("tgc_webgpu", "lib", "libtgc_webgpu.so"))
  assert os.path.isfile(tgc_webgpu.manifest())

@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) not installed")
def test_exports_exactly_two_symbols():
  out = subprocess.run(["nm", "-D", "--defined-only", tgc_webgpu.library()], capture_output=True, text=True, check=True).stdout
  assert sorted(line.split()[-1] for line in out.splitlines() if line.strip()) == ["tg_backend_entry_v1", "tg_backend_manifest"], out
  und = subprocess.run(["nm", "-D", "--undefined-only", tgc_webgpu.library()], capture_output=True, text=True, check=True).stdout
  assert "wgpu" not in und, und   # every wgpu-native entry point comes from dlsym, none from the dynamic linker

def test_manifest_json_matches_library():
  from tgc._ffi import ffi, host_abi
  with open(tgc_webgpu.manifest()) as f: js = json.load(f)
  addr = ctypes.cast(ctypes.CDLL(tgc_webgpu.library()).tg_backend_manifest, ctypes.c_void_p).value  # data symbol: no plugin code runs
  m = ffi.cast("tg_manifest *", addr)
  c = {"name": ffi.string(m.name).decode(), "version": ffi.string(m.version).decode(), "abi_major": m.abi_major, "abi_min_minor": m.abi_min_minor,
       "abi_max_minor": m.abi_max_minor, "flavor": ffi.string(m.flavor).decode(), "dialects": ffi.string(m.dialects).decode().split(",")}
  assert js == c
  assert js["version"] == importlib.metadata.version("tgc-webgpu") and js["name"] == "WEBGPU" and js["dialects"] == ["wgsl"]
  assert (js["abi_major"], js["abi_max_minor"]) == host_abi()

def test_entry_point_and_hook():
  eps = [ep for ep in importlib.metadata.entry_points(group="tgc.backends") if ep.dist and ep.dist.name == "tgc-webgpu"]
  assert [(ep.name, ep.value) for ep in eps] == [("webgpu", "tgc_webgpu")]
  assert tgc_webgpu.tgc_backends() == [{"name": "WEBGPU", "library": tgc_webgpu.library(), "manifest": tgc_webgpu.manifest(), "priority": -10}]
  reqs = [r.replace(" ", "") for r in importlib.metadata.requires("tgc-webgpu")]
  assert "wgpu==0.32.*" in reqs and "tgc<1,>=0.1" in reqs, reqs
  assert importlib.metadata.version("wgpu").startswith("0.32.")

def test_hook_points_at_the_wgpu_wheel():
  code = "import os, tgc.device; tgc.device.discovered(); print(os.environ.get('TGC_WGPU_LIB'))"
  r = run_py(code)
  lib = r.stdout.strip()
  assert r.returncode == 0 and lib == tgc_webgpu.wgpu_library() and os.path.isfile(lib), r.stderr
  assert lib.endswith(os.path.join("wgpu", "resources", "libwgpu_native-release.so")), lib
  import wgpu.backends.wgpu_native as wn   # the same file wgpu-py itself loads
  assert os.path.samefile(lib, wn.lib_path)
  assert run_py(code, {"TGC_WGPU_LIB": "/opt/my/libwgpu_native.so"}).stdout.strip() == "/opt/my/libwgpu_native.so"   # the user's choice wins
  assert run_py(code, {"WGPU_LIB_PATH": "/opt/wgpu/lib.so"}).stdout.strip() == "/opt/wgpu/lib.so"   # and wgpu-py's own override is honoured

def test_doctor_without_the_library():
  text, b = doctor({"TGC_WGPU_LIB": "/nonexistent/libwgpu_native-release.so"})
  assert f"WEBGPU: unavailable: {NOT_FOUND}" in text.splitlines(), text
  assert re.search(r"^WEBGPU +unavailable +0\.1\.0 +1\.0 +wgsl +0 +entry point tgc-webgpu$", text, re.MULTILINE), text
  assert (b["state"], b["reason"], b["device_count"], b["source"]) == ("unavailable", NOT_FOUND, 0, "entry point tgc-webgpu")
  r = run_py("import tgc\ntry: tgc.Device['WEBGPU']\nexcept tgc.TgcError as e: print(type(e).__name__, '|', e)\n"
             "print(tgc.Device.DEFAULT, bytes(tgc.Buffer('CPU', 4).copyin(b'abcd').copyout()))",
             {"TGC_WGPU_LIB": "/nonexistent/libwgpu_native-release.so"})
  lines = r.stdout.splitlines()
  # the default is another ready backend (CPU, or CUDA where tgc-cuda and a GPU are there), never WEBGPU
  assert lines[0] == f"UnavailableError | WEBGPU: unavailable: {NOT_FOUND}" and lines[1].endswith(" b'abcd'") and not lines[1].startswith("WEBGPU"), r.stdout + r.stderr

def test_library_that_does_not_load(tmp_path):
  bad = tmp_path / "libwgpu_native-release.so"
  bad.write_text("not a shared library")
  _, b = doctor({"TGC_WGPU_LIB": str(bad)})
  assert b["state"] == "unavailable" and b["reason"].startswith(f"wgpu-native at {bad} could not be loaded: "), b["reason"]

@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler to build a stand-in wgpu-native")
@pytest.mark.parametrize("case", ["other_version", "missing_symbol"])
def test_wrong_wgpu_native(tmp_path, case):
  """A stand-in library with wgpu-native's exports: one from another release (its webgpu.h differs), one lacking an entry point."""
  real = tgc_webgpu.wgpu_library()
  if real is None or shutil.which("nm") is None: pytest.skip("needs the wgpu wheel's library and nm")
  exports = subprocess.run(["nm", "-D", "--defined-only", real], capture_output=True, text=True, check=True).stdout.splitlines()
  names = sorted({l.split()[-1] for l in exports if l.split()[-1].startswith("wgpu")} - {"wgpuGetVersion"} -
                 ({"wgpuDevicePoll"} if case == "missing_symbol" else set()))
  src = tmp_path / "stub.c"
  src.write_text("\n".join(f"void {n}(void) {{}}" for n in names) + "\nunsigned wgpuGetVersion(void) { return 30u << 24; }\n")
  so = tmp_path / "libwgpu_native-release.so"
  subprocess.run(["cc", "-shared", "-fPIC", "-o", str(so), str(src)], check=True, capture_output=True)
  _, b = doctor({"TGC_WGPU_LIB": str(so)})
  if case == "other_version":
    assert re.fullmatch(rf"wgpu-native 30\.0\.0\.0 at {so}, but this plugin was built against wgpu-native 29\.0\.1\.1's webgpu\.h: pip install "
                        r"'wgpu==0\.32\.\d+', or rebuild tgc-webgpu against the installed wgpu", b["reason"]), b["reason"]
  else:
    want = rf"wgpu-native at {so} lacks wgpuDevicePoll: pip install 'wgpu==0\.32\.\d+' \(wgpu-native 29\.0\.1\.1\)"
    assert re.fullmatch(want, b["reason"]), b["reason"]
  assert b["state"] == "unavailable"
