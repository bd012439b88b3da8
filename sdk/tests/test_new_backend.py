"""tgc-sdk new-backend: the exact file set, bad input, every dialect compiling, and the generated backend built,
installed, loaded by tgc (doctor) and passing its own tests and the conformance suite."""
import os, re, sys, json, subprocess
import pytest
from conftest import cli, conformance_json, statuses, which_sdk, cc, INCLUDE
from tgc_sdk import scaffold
from tgc_sdk.suite.abi import Session, STATUS, ffi, text
from tgc_sdk.suite.elf import Elf

FILES = [".gitignore", "CMakeLists.txt", "README.md", "ci.sh", "expectations.json", "include/tg_backend.h", "pyproject.toml", "src/acme.c",
         "src/manifest.json.in", "src/tgc_acme/__init__.py", "tests/test_backend.py"]

def files_in(d) -> list[str]: return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())

def test_generates_exact_file_set(tmp_path):
  r = cli("new-backend", "acme", "--output", str(tmp_path / "tgc-acme"))
  assert r.exit_code == 0, r.output
  out = tmp_path / "tgc-acme"
  assert files_in(out) == FILES
  assert "pip install" in r.output and "tgc-sdk conformance acme" in r.output
  for f in FILES: assert "{{" not in (out / f).read_text(), f"unfilled placeholder in {f}"
  assert (out / "include/tg_backend.h").read_text() == (INCLUDE / "tg_backend.h").read_text()
  assert os.access(out / "ci.sh", os.X_OK)
  py = (out / "pyproject.toml").read_text()
  for needle in ['name = "tgc-acme"', '[project.entry-points."tgc.backends"]', 'acme = "tgc_acme"', 'dependencies = ["tgc>=0.1,<1"]',
                 'wheel.py-api = "py3"', 'minimum-version = "build-system.requires"', 'cmake.version = ">=3.18"', "scikit-build-core"]:
    assert needle in py, f"pyproject.toml lacks {needle}"
  c = (out / "src/acme.c").read_text()
  assert "tg_backend_negotiate(" in c and c.count("VENDOR") >= 20 and '#define BK_HOST_C 1' in c
  assert 'set(BK_NAME "ACME")' in (out / "CMakeLists.txt").read_text()
  exp = json.loads((out / "expectations.json").read_text())
  assert exp["unsupported"] == [] and exp["expected_failures"] == []

def test_default_output_and_json(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  r = cli("new-backend", "my_npu2", "--json")
  assert r.exit_code == 0, r.output
  info = json.loads(r.output)
  assert info["device"] == "MY_NPU2" and info["path"] == str(tmp_path / "tgc-my_npu2") and "src/my_npu2.c" in info["files"]

@pytest.mark.parametrize("name,msg", [("Acme", "not valid"), ("1acme", "not valid"), ("ac-me", "not valid"), ("acme!", "not valid"),
                                      ("a" * 32, "at most 31"), ("cpu", "taken"), ("class", "keyword")])
def test_bad_names(tmp_path, name, msg):
  r = cli("new-backend", name, "--output", str(tmp_path / "out"))
  assert r.exit_code == 1 and msg in r.output, r.output
  assert not (tmp_path / "out").exists()

def test_refuses_existing_dir(tmp_path):
  (tmp_path / "tgc-acme").mkdir()
  (tmp_path / "tgc-acme" / "keep.txt").write_text("mine")
  r = cli("new-backend", "acme", "--output", str(tmp_path / "tgc-acme"))
  assert r.exit_code == 1 and "already exists" in r.output
  assert files_in(tmp_path / "tgc-acme") == ["keep.txt"]

def test_unknown_dialect(tmp_path):
  r = cli("new-backend", "acme", "--dialect", "ptx", "--output", str(tmp_path / "x"))
  assert r.exit_code == 2 and "ptx" in r.output

@pytest.mark.parametrize("dialect", list(scaffold.DIALECTS))
def test_every_dialect_builds_and_says_what_is_missing(tmp_path, dialect):
  """Each dialect's source compiles warning-free, exports two symbols, declares its dialect; all but c refuse compile
  with TG_ERR_UNSUPPORTED naming the compiler the vendor must supply."""
  out = tmp_path / f"tgc-x{dialect}"
  assert cli("new-backend", f"x{dialect}", "--dialect", dialect, "--output", str(out)).exit_code == 0
  lib = cc(tmp_path / "lib.so", "-Wall", "-Wextra", "-Werror", f"-I{out / 'include'}", str(out / f"src/x{dialect}.c"), "-ldl")
  assert sorted(s.name for s in Elf(str(lib)).exported()) == ["tg_backend_entry_v1", "tg_backend_manifest"]
  s = Session(str(lib))
  try:
    assert s.device_count == 1 and text(s.caps.dialect) == dialect
    blob = ffi.new("tg_blob *")
    st = int(s.api.compile(s.dev, b"int x;", b"k", blob))
    if dialect == "c":
      assert st == 0
      s.api.blob_free(blob)
    else:
      assert st == STATUS["TG_ERR_UNSUPPORTED"]
      msg = s.host.last_error()
      assert f"no compiler for the {dialect} dialect" in msg and scaffold.DIALECTS[dialect].compiler.split(" (")[0] in msg
      assert "VENDOR" in (out / f"src/x{dialect}.c").read_text().split("*/", 1)[0]
  finally: s.close()

def test_installed_backend_is_found_by_tgc(with_site):
  """The wheel's layout, and `python -m tgc doctor` listing ACME as ready."""
  site = with_site["site"]
  assert (site / "tgc_acme/lib/libtgc_acme.so").is_file() and (site / "tgc_acme/manifest.json").is_file()
  m = json.loads((site / "tgc_acme/manifest.json").read_text())
  assert m == {"name": "ACME", "version": "0.1.0", "abi_major": 1, "abi_min_minor": 0, "abi_max_minor": m["abi_max_minor"], "flavor": "release",
               "dialects": ["c"]}
  r = subprocess.run([sys.executable, "-m", "tgc", "doctor", "--json"], capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr
  acme = [b for b in json.loads(r.stdout)["backends"] if b["name"] == "ACME"]
  assert acme and acme[0]["state"] == "ready", acme

def test_generated_tests_pass(with_site):
  """The generated package's own tests (through tgc; the last one runs `tgc-sdk conformance acme --tier loader,runtime`)."""
  r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=with_site["project"], capture_output=True,
                     text=True, timeout=900)
  assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
  passed = int(re.search(r"(\d+) passed", r.stdout).group(1))
  assert passed == (6 if which_sdk() else 5) - 1, r.stdout   # test_compile_says_what_is_missing is skipped for the c dialect

def test_conformance_of_installed_template(with_site, tmp_path):
  """Found by name through the entry point; every loader and runtime case passes (transfer: NOT_SUPPORTED, one device)."""
  code, rep, out = conformance_json(tmp_path, "acme", "--tier", "loader,runtime")
  assert code == 0, out
  assert rep["backend"]["source"].startswith("entry point acme") and rep["backend"]["manifest_json"].endswith("manifest.json")
  st = statuses(rep)
  assert {c: s for c, s in st.items() if s != "PASS"} == {"runtime.transfer": "NOT_SUPPORTED"}
  assert len(st) == 60
