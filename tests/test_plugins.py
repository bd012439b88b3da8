"""Plugin discovery end to end: build real plugin distributions (a C backend + a pluggy hook + an entry point), pip-install
them into a private site dir, and check what tgc makes of them in fresh processes, broken ones included."""
import os, sys, json, subprocess
import pytest
from conftest import c_compiler, requires_cc, run_py

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = requires_cc

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"
[project]
name = "{dist}"
version = "0.1.0"
[project.entry-points."tgc.backends"]
{entry_points}
[tool.setuptools]
packages = ["{pkg}"]
[tool.setuptools.package-data]
{pkg} = ["*.so", "*.json"]
"""

HOOK = """\
import importlib.resources
from tgc.hookspecs import hookimpl
@hookimpl
def tgc_backends():
  pkg = importlib.resources.files("{pkg}")
  return [{{"name": "{name}", "library": str(pkg / "{lib}"), "manifest": {manifest}, "priority": {priority}}}]
"""

# the broken distribution: one entry point per way a plugin can be wrong
BROKEN = {
  "broken_import": "raise ImportError('tgc_broken needs libacme-runtime 9 (not installed)')\n",
  "hook_raises": "from tgc.hookspecs import hookimpl\n@hookimpl\ndef tgc_backends(): raise KeyError('no ACME_HOME set')\n",
  "malformed": "from tgc.hookspecs import hookimpl\n@hookimpl\ndef tgc_backends(): return [{'name': 'lower', 'library': 'relative/libx.so'}]\n",
  "missing_lib": "from tgc.hookspecs import hookimpl\n@hookimpl\n"
                 "def tgc_backends(): return [{'name': 'GONE', 'library': '/nonexistent/libtgc_gone.so', 'priority': 50}]\n",
  "dup_fake": "from tgc.hookspecs import hookimpl\n@hookimpl\ndef tgc_backends(): return [{'name': 'FAKE', 'library': '/nonexistent/libdup.so'}]\n",
}

def manifest(name: str, abi_major: int = 1) -> str:
  return json.dumps({"name": name, "version": "0.1.0", "abi_major": abi_major, "abi_min_minor": 0, "abi_max_minor": 0, "flavor": "release",
                     "dialects": ["c"]})

def build_backend(out: str, name: str) -> str:
  os.makedirs(os.path.dirname(out), exist_ok=True)
  r = subprocess.run([*c_compiler(), "-shared", "-fPIC", "-fvisibility=hidden", f"-I{REPO}/include", f"-DFAKE_NAME=\"{name}\"", "-o", out,
                      os.path.join(REPO, "tests", "fake_backend.c")], check=False, capture_output=True, text=True)
  assert r.returncode == 0, f"building {out} failed:\n{r.stderr}"
  return out

def write(path: str, text: str) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f: f.write(text)

def pip_install(src: str, site: str) -> None:
  r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--target", site, src],
                     check=False, capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, f"pip install {src} failed (the test extras bring setuptools and wheel: pip install '.[test]'):\n{r.stdout}\n{r.stderr}"

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> str:
  root = str(tmp_path_factory.mktemp("plugins"))
  fake = os.path.join(root, "tgc-fake")
  build_backend(os.path.join(fake, "tgc_fake", "libtgc_fake.so"), "FAKE")
  write(os.path.join(fake, "tgc_fake", "__init__.py"), "")
  write(os.path.join(fake, "tgc_fake", "manifest.json"), manifest("FAKE"))
  write(os.path.join(fake, "tgc_fake", "plugin.py"), HOOK.format(pkg="tgc_fake", name="FAKE", lib="libtgc_fake.so", priority=5,
                                                                manifest='str(pkg / "manifest.json")'))
  write(os.path.join(fake, "pyproject.toml"), PYPROJECT.format(dist="tgc-fake", pkg="tgc_fake", entry_points='fake = "tgc_fake.plugin"'))
  broken = os.path.join(root, "tgc-broken")
  build_backend(os.path.join(broken, "tgc_broken", "libtgc_abi2.so"), "ABITWO")   # loadable: only its manifest JSON keeps it out
  write(os.path.join(broken, "tgc_broken", "__init__.py"), "")
  write(os.path.join(broken, "tgc_broken", "manifest.json"), manifest("ABITWO", abi_major=2))
  write(os.path.join(broken, "tgc_broken", "abi2.py"), HOOK.format(pkg="tgc_broken", name="ABITWO", lib="libtgc_abi2.so", priority=100,
                                                                  manifest='str(pkg / "manifest.json")'))
  for mod, text in BROKEN.items(): write(os.path.join(broken, "tgc_broken", f"{mod}.py"), text)
  eps = "\n".join(f'{m} = "tgc_broken.{m}"' for m in ["abi2", *BROKEN])
  write(os.path.join(broken, "pyproject.toml"), PYPROJECT.format(dist="tgc-broken", pkg="tgc_broken", entry_points=eps))
  site = os.path.join(root, "site")
  for src in (fake, broken): pip_install(src, site)
  assert os.path.exists(os.path.join(site, "tgc_fake", "libtgc_fake.so")), os.listdir(site)
  return site

def run_with(site: str, args, env=None) -> subprocess.CompletedProcess:
  r = run_py(args, env={"PYTHONPATH": site, **(env or {})})
  assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
  return r

def doctor(site: str, env=None) -> dict[str, dict]:
  """{name: backend} ({"broken:" + name: backend} for those of tgc-broken, which repeats a name), and "": the whole report."""
  rep = json.loads(run_with(site, ["-m", "tgc", "doctor", "--json"], env).stdout)
  return {("broken:" if b["source"] == "entry point tgc-broken" else "") + b["name"]: b for b in rep["backends"]} | {"": rep}

def test_doctor_lists_plugins(site):
  bs = doctor(site)
  fake, cpu = bs["FAKE"], bs["CPU"]
  assert cpu["state"] == "ready" and cpu["device_count"] >= 1, cpu
  assert fake["state"] == "ready" and fake["device_count"] == 1 and fake["reason"] == "", fake
  assert fake["source"] == "entry point tgc-fake" and fake["version"] == "0.1.0" and fake["abi"] == "1.0" and fake["dialects"] == ["c"], fake
  assert os.path.samefile(fake["library"], os.path.join(site, "tgc_fake", "libtgc_fake.so")) and fake["priority"] == 5
  assert fake["caps"]["dtypes"] == ["int32", "float32"] and fake["caps"]["global_max"] == [1, 1, 1] and fake["caps"]["dialect"] == "c", fake["caps"]
  assert fake["properties"] == {"name": "fake host-memory device", "vendor": "tgc tests", "driver_version": "", "type": "OTHER"}
  assert bs[""]["default_device"] == "FAKE"   # the ready backend of highest priority (ABITWO and GONE rank higher but are quarantined)

def test_doctor_quarantines_broken_plugins(site):
  bs = doctor(site)
  q = {n.removeprefix("broken:"): b for n, b in bs.items() if n and b["state"] == "quarantined"}
  assert set(q) == {"BROKEN_IMPORT", "HOOK_RAISES", "lower", "GONE", "ABITWO", "FAKE"}, {n: b["status"] for n, b in bs.items() if n}
  assert all(b["source"] == "entry point tgc-broken" for b in q.values()) and bs["FAKE"]["state"] == bs["CPU"]["state"] == "ready"
  assert "ImportError" in q["BROKEN_IMPORT"]["reason"] and "libacme-runtime 9" in q["BROKEN_IMPORT"]["reason"]
  assert "KeyError" in q["HOOK_RAISES"]["reason"] and "ACME_HOME" in q["HOOK_RAISES"]["reason"]
  assert "'lower'" in q["lower"]["reason"] and "malformed" in q["lower"]["reason"]
  assert "/nonexistent/libtgc_gone.so" in q["GONE"]["reason"], q["GONE"]
  assert "duplicate backend name FAKE" in q["FAKE"]["reason"] and "tgc-fake" in q["FAKE"]["reason"]   # priority 5 beats the duplicate's 0
  assert "ABI major 2" in q["ABITWO"]["reason"] and q["ABITWO"]["abi"] == "2.0" and q["ABITWO"]["device_count"] == 0, q["ABITWO"]
  assert all(b["status"] == f"quarantined: {b['reason']}" for b in q.values())

def test_doctor_text_with_plugins(site):   # rows keyed by (name, last word of the source)
  out = run_with(site, ["-m", "tgc", "doctor"]).stdout
  state = {(w[0], w[-1]): w[1] for l in out.splitlines() if len(w := l.split()) > 2 and w[-1] in ("builtin", "tgc-fake", "tgc-broken")}
  assert state[("CPU", "builtin")] == state[("FAKE", "tgc-fake")] == "ready", out
  assert state[("ABITWO", "tgc-broken")] == state[("BROKEN_IMPORT", "tgc-broken")] == state[("FAKE", "tgc-broken")] == "quarantined", out
  assert "ABITWO: quarantined:" in out and "ABI major 2" in out

CHECK = """\
import sys, numpy as np
import tgc
from tgc import Device, Buffer, Program
assert not any(m.startswith("tgc_") for m in sys.modules), "plugins imported at import tgc"
assert "libtgc" not in open("/proc/self/maps").read(), "a library was loaded at import tgc"
data = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
b = Buffer("fake", 300).copyin(data)
assert bytes(b.copyout()) == data and bytes(b.copyout(7, offset=100)) == data[100:107] and b.device is Device["FAKE"]
assert Device["FAKE"].caps["has_threads"] is False and Device["FAKE"].name == "FAKE"
try: Program("FAKE", "void k(void) {}", "k")
except NotImplementedError as e: assert "load is not implemented" in str(e), e
else: raise AssertionError("Program on FAKE did not raise")
try: Device["ABITWO"]
except RuntimeError as e: assert "quarantined" in str(e) and "ABI major 2" in str(e), e
else: raise AssertionError("Device['ABITWO'] did not raise")
maps = open("/proc/self/maps").read()
assert "libtgc_fake.so" in maps and "libtgc_abi2.so" not in maps, "ABITWO was dlopened despite its manifest"
print("ok")
"""

def test_plugin_device_roundtrip(site):
  assert run_with(site, CHECK).stdout.strip() == "ok"

def test_backend_path_env(site, tmp_path):
  lib = build_backend(str(tmp_path / "libtgc_pathfake.so"), "PATHFAKE")
  bs = doctor(site, env={"TGC_BACKEND_PATH": lib})
  p = bs["PATHFAKE"]
  assert p["state"] == "ready" and p["source"] == "TGC_BACKEND_PATH" and p["device_count"] == 1 and os.path.samefile(p["library"], lib), p
  assert bs["FAKE"]["state"] == "ready" and bs["CPU"]["state"] == "ready"
