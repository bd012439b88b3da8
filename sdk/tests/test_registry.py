"""tgc-sdk certify, registry verify/index and list, python -m tgc doctor's certification labels, and the repository's
own registry: records are schema-valid, certified when every case of every tier ran and passed, provisional while some are NOT_RUN; edits, schema violations, hash
mismatches (with --require-match), expiry, failed records and stale indexes are each a clear error and exit 1."""
import os, sys, json, shutil, datetime, subprocess
from pathlib import Path
import pytest
from conftest import cli, run_json, REPO
from tgc_sdk import record as R, registry as REG

SCHEMA = REPO / "registry" / "schema.json"

def new_registry(root: Path) -> Path:
  (root / "records").mkdir(parents=True)
  shutil.copy(SCHEMA, root / "schema.json")
  return root

@pytest.fixture(scope="module")
def cpu_reg(core_libs, tmp_path_factory) -> dict:
  """The CPU plugin certified into a fresh registry, indexed: {"reg", "record", "path", "lib"}."""
  reg = new_registry(tmp_path_factory.mktemp("reg"))
  code, rec, err = run_json("certify", "cpu", "--library", str(core_libs["cpu"]), "--output", str(reg / "records"))
  assert code == 0, err
  assert cli("registry", "index", "--registry", str(reg)).exit_code == 0
  return {"reg": reg, "record": rec, "path": reg / "records" / f"{rec['id']}.json", "lib": core_libs["cpu"]}

def copy_reg(cpu_reg, tmp_path) -> tuple[Path, Path]:
  reg = shutil.copytree(cpu_reg["reg"], tmp_path / "reg")
  return reg, reg / "records" / cpu_reg["path"].name

def rewrite(path: Path, change, redigest: bool = True) -> dict:
  rec = json.loads(path.read_text())
  change(rec)
  if redigest: rec["digest"] = R.digest(rec)
  path.write_text(json.dumps(rec))
  return rec

def verify(reg: Path, *args: str):
  r = cli("registry", "verify", "--registry", str(reg), *args)
  return r.exit_code, r.output

# ---------------- certify ----------------

def test_cpu_record(cpu_reg):
  rec = cpu_reg["record"]
  assert rec["status"] == "provisional" and rec["format"] == "tgc-certification/1" and rec["id"].startswith("cpu-0.1.0-")
  assert {t: v["state"] for t, v in rec["tiers"].items()} == {"loader": "partial", "runtime": "ran", "numerics": "ran", "models": "ran",
                                                              "validate": "ran"}
  # --library without --manifest: the one case that cannot run is the manifest JSON's
  assert rec["status_reasons"] == [rec["status_reasons"][0]] and rec["status_reasons"][0].startswith("loader: 1 of "), rec["status_reasons"]
  assert rec["versions"]["tolerances"] and rec["tiers"]["numerics"]["counts"]["PASS"] >= 180
  assert rec["backend"]["library"]["sha256"] == REG._sha256(str(cpu_reg["lib"])) and rec["backend"]["manifest"]["name"] == "CPU"
  assert rec["device"]["caps"]["dialect"] == "c" and rec["host"]["compiler"]["version"] and rec["versions"]["backend_abi"] == "1.0"
  assert (R.parse_iso(rec["expires"]) - R.parse_iso(rec["date"])).days == R.VALID_DAYS and rec["digest"] == R.digest(rec)
  assert REG.schema_errors(json.loads(SCHEMA.read_text()), rec) == []
  assert json.loads(cpu_reg["path"].read_text()) == rec

def test_schema_validator_agrees_with_jsonschema(cpu_reg):
  js = pytest.importorskip("jsonschema")
  schema, rec = json.loads(SCHEMA.read_text()), cpu_reg["record"]
  js.Draft202012Validator.check_schema(schema)
  v = js.Draft202012Validator(schema)
  for change in [lambda r: None, lambda r: r.update(status="great"), lambda r: r.pop("host"), lambda r: r["backend"]["library"].update(sha256="abc"),
                 lambda r: r["tiers"]["runtime"]["cases"][0].update(status="OK"), lambda r: r["device"]["caps"].update(has_local=True),
                 lambda r: r.update(extra=1), lambda r: r["tiers"].pop("validate"), lambda r: r.update(date="2026-01-01")]:
    doc = json.loads(json.dumps(rec))
    change(doc)
    assert bool(REG.schema_errors(schema, doc)) == bool(list(v.iter_errors(doc))), REG.schema_errors(schema, doc)

def test_certify_failing_backend(planted, tmp_path):
  reg = new_registry(tmp_path / "reg")
  r = cli("certify", "--library", str(planted["crash"]), "--output", str(reg / "records"), "-q")
  assert r.exit_code == 1 and "PLANTED failed certification" in r.stderr and "does not belong in a registry" in r.stderr
  (path,) = (reg / "records").glob("*.json")
  rec = json.loads(path.read_text())
  assert rec["status"] == "failed" and "runtime.buffer_view" in " ".join(rec["status_reasons"])
  code, out = verify(reg)
  assert code == 1 and "a failed record does not belong in the registry" in out
  r = cli("registry", "index", "--registry", str(reg))
  assert r.exit_code == 1 and path.name in r.output

def test_certify_installed_template(with_site, tmp_path):
  reg = new_registry(tmp_path / "reg")
  code, rec, err = run_json("certify", "acme", "--output", str(reg / "records"), "--days", "30")
  assert code == 0, err
  assert rec["status"] == "certified" and rec["status_reasons"] == [] and rec["backend"]["distribution"] == {"name": "tgc-acme", "version": "0.1.0"}
  assert all(v["state"] == "ran" for v in rec["tiers"].values()), {t: v["state"] for t, v in rec["tiers"].items()}
  assert (R.parse_iso(rec["expires"]) - R.parse_iso(rec["date"])).days == 30
  assert cli("registry", "index", "--registry", str(reg)).exit_code == 0
  code, out = verify(reg, "--require-match")   # the installed acme is the certified build
  assert code == 0 and "is the certified build" in out and "expires in 29 days" in out, out
  r = subprocess.run([sys.executable, "-m", "tgc", "doctor", "--json"], capture_output=True, text=True, env={**os.environ, "TGC_REGISTRY": str(reg)})
  acme = next(b for b in json.loads(r.stdout)["backends"] if b["name"] == "ACME")
  assert acme["certification"] == {"status": "certified", "record": rec["id"], "label": f"certified ({rec['id']})"}, acme
  r = cli("list", "--json", env={"TGC_REGISTRY": str(reg / "index.json")})
  acme = next(b for b in json.loads(r.stdout) if b["name"] == "ACME")
  assert acme["version"] == "0.1.0" and acme["dialects"] == "c" and acme["abi"] == "1.0" and acme["certification"]["record"] == rec["id"]

@pytest.mark.parametrize("args,code,msg", [(["nosuch"], 1, "no backend named NOSUCH is installed"),
                                           (["--library", "/nonexistent.so"], 1, "no such file"),
                                           (["x", "--library", "/bin/sh", "--days", "999"], 2, "999 is not in the range")])
def test_certify_bad_input(args, code, msg, tmp_path):
  r = cli("certify", *args, "--output", str(tmp_path / "records"))
  assert r.exit_code == code and msg in r.output, r.output
  assert not (tmp_path / "records").exists()

# ---------------- verify ----------------

def test_verify_and_hashes(cpu_reg, liars):
  code, out = verify(cpu_reg["reg"])
  assert code == 0 and "OK       cpu-0.1.0-" in out and "library not compared" in out and "verdict: PASS" in out, out
  code, out = verify(cpu_reg["reg"], "--library", f"cpu={cpu_reg['lib']}", "--require-match")
  assert code == 0 and "is the certified build" in out, out
  other = str(liars["F64"])   # another build of the CPU backend, as far as the hash knows
  code, out = verify(cpu_reg["reg"], "--library", f"cpu={other}")
  assert code == 0 and "warning: record of another build" in out, out
  assert REG._sha256(other) in out and cpu_reg["record"]["backend"]["library"]["sha256"] in out
  code, out = verify(cpu_reg["reg"], "--library", f"cpu={other}", "--require-match")
  assert code == 1 and "error: record of another build" in out and "re-certify" in out
  code, rep, _ = run_json("registry", "verify", "--registry", str(cpu_reg["reg"]), "--library", f"cpu={other}")
  assert code == 0 and rep["warnings"] == 1 and rep["records"][0]["id"] == cpu_reg["record"]["id"]

@pytest.mark.parametrize("name,change,redigest,msg", [
  ("edited", lambda r: r["tiers"]["runtime"]["cases"][0].update(status="FAIL"), False, "digest mismatch"),
  ("forged", lambda r: r.update(status="certified", status_reasons=[]), True,
   "status 'certified' does not follow from the cases, which give 'provisional'"),
  ("hidden_fail", lambda r: r["tiers"]["runtime"]["cases"][0].update(status="CRASH"), True, "does not follow from the cases, which give 'failed'"),
  ("counts", lambda r: r["tiers"]["loader"]["counts"].update(PASS=99), True, "tier loader: counts"),
  ("schema", lambda r: r.pop("host"), True, "does not match the schema: /: missing required property 'host'"),
  ("sha_format", lambda r: r["backend"]["library"].update(sha256="XYZ"), True, "/backend/library/sha256: 'XYZ' does not match"),
  ("expired", lambda r: r.update(date="2020-01-01T00:00:00Z", expires="2020-06-01T00:00:00Z"), True,
   "expired on 2020-06-01T00:00:00Z: certify cpu again"),
  ("too_long", lambda r: r.update(expires="2099-01-01T00:00:00Z"), True, "must lie within 366 days"),
])
def test_verify_catches(cpu_reg, tmp_path, name, change, redigest, msg):
  reg, path = copy_reg(cpu_reg, tmp_path)
  rewrite(path, change, redigest)
  code, out = verify(reg)
  assert code == 1 and msg in out, out
  assert "never edit a record by hand" in out

def test_verify_expiring_soon_warns(cpu_reg, tmp_path):
  reg, path = copy_reg(cpu_reg, tmp_path)
  now = datetime.datetime.now(datetime.timezone.utc)
  rewrite(path, lambda r: r.update(date=R.iso(now - datetime.timedelta(days=170)), expires=R.iso(now + datetime.timedelta(days=10))))
  assert cli("registry", "index", "--registry", str(reg)).exit_code == 0
  code, out = verify(reg)
  assert code == 0 and "warning: expires in 9 days" in out, out

def test_verify_registry_level_errors(cpu_reg, tmp_path):
  reg, path = copy_reg(cpu_reg, tmp_path)
  shutil.copy(path, reg / "records" / "renamed.json")
  code, out = verify(reg)
  assert code == 1 and "file name renamed.json does not match the id" in out
  (reg / "records" / "renamed.json").unlink()
  (reg / "index.html").write_text("old")
  code, out = verify(reg)
  assert code == 1 and "index.html is stale: run `tgc-sdk registry index" in out
  (reg / "records" / "junk.json").write_text("{not json")
  code, out = verify(reg)
  assert code == 1 and "junk.json" in out and "not valid JSON" in out

@pytest.mark.parametrize("args,code,msg", [(["--registry", "/nonexistent/reg"], 1, "no registry directory /nonexistent/reg"),
                                           (["--library", "cpu"], 2, "give NAME=PATH"), (["--library", "cpu=/nonexistent.so"], 2, "no such file")])
def test_verify_bad_input(args, code, msg):
  r = cli("registry", "verify", *args)
  assert r.exit_code == code and msg in r.output, r.output

def test_verify_needs_a_schema(cpu_reg, tmp_path):
  reg, _ = copy_reg(cpu_reg, tmp_path)
  (reg / "schema.json").unlink()
  code, out = verify(reg)
  assert code == 1 and "schema.json" in out and "No such file" in out

def test_index(cpu_reg):
  idx = json.loads((cpu_reg["reg"] / "index.json").read_text())
  (e,) = idx["records"]
  assert idx["format"] == "tgc-registry-index/1" and e["id"] == cpu_reg["record"]["id"] and e["status"] == "provisional"
  assert e["not_run"] == ["loader"] and e["file"] == f"records/{e['id']}.json"
  page = (cpu_reg["reg"] / "index.html").read_text()
  assert e["id"] in page and "provisional" in page and "<script" not in page and "http" not in page.split("<body>", 1)[1]

# ---------------- the repository's registry ----------------

def test_repository_registry_verifies():
  """registry/ as committed: what CI re-verifies on a clean clone (schema, digests, statuses, expiry, index)."""
  code, rep, err = run_json("registry", "verify", "--registry", str(REPO / "registry"))
  assert code == 0, json.dumps(rep, indent=1) + err
  names = {r["id"].split("-")[0]: r["status"] for r in rep["records"]}
  # hip, metal: provisional (certify ran where there is no AMD GPU / no macOS: every device case NOT_RUN), so doctor
  # labels them experimental until a record from real hardware comes back; cuda: provisional from the H200 (its runtime and
  # validate tiers' hand-written kernels are in the "c" dialect, so those cases are NOT_RUN on a GPU)
  assert names == {"cpu": "certified", "acme": "certified", "hip": "provisional", "metal": "provisional", "cuda": "provisional"}, names

def test_shipped_index_is_current():
  """tgc-sdk ships registry/index.json (for doctor): `tgc-sdk registry index` keeps the copy in step."""
  assert REG.SNAPSHOT.read_text() == (REPO / "registry" / "index.json").read_text()

def test_doctor_without_registry(tmp_path):
  env = {**os.environ, "TGC_REGISTRY": str(tmp_path / "missing")}
  rep = json.loads(subprocess.run([sys.executable, "-m", "tgc", "doctor", "--json"], capture_output=True, text=True, env=env).stdout)
  cpu = next(b for b in rep["backends"] if b["name"] == "CPU")
  assert cpu["certification"] == {"status": "experimental", "record": None, "label": f"experimental (no registry index at {tmp_path / 'missing'})"}
  (bad := tmp_path / "index.json").write_text("{broken")
  rep = json.loads(subprocess.run([sys.executable, "-m", "tgc", "doctor"] + ["--json"], capture_output=True, text=True,
                                  env={**os.environ, "TGC_REGISTRY": str(bad)}).stdout)
  assert f"registry index {bad} unreadable" in next(b for b in rep["backends"] if b["name"] == "CPU")["certification"]["label"]
  rep = json.loads(subprocess.run([sys.executable, "-m", "tgc", "doctor", "--json"], capture_output=True, text=True,
                                  env={**os.environ, "TGC_REGISTRY": str(REPO / "registry")}).stdout)
  cpu = next(b for b in rep["backends"] if b["name"] == "CPU")
  label = cpu["certification"]["label"]
  # the record certifies the standalone plugin build; the CPU backend built into libtgc is another binary
  assert label.startswith("experimental (certified record cpu-0.1.0-"), label
  assert label.endswith(", for its plugin build)"), label

def test_list(tmp_path):
  r = cli("list", env={"TGC_BACKEND_PATH": "/bin/sh:/nonexistent/libx.so", "TGC_REGISTRY": str(REPO / "registry")})
  assert r.exit_code == 0 and r.stdout.splitlines()[0].split() == ["NAME", "VERSION", "ABI", "DIALECTS", "SOURCE", "CERTIFICATION"]
  assert "CPU: built into libtgc" in r.stdout and "sh: broken: no tg_backend_manifest in /bin/sh" in r.stdout
  assert "libx.so: broken: no such file" in r.stdout
  bs = {b["name"]: b for b in json.loads(cli("list", "--json", env={"TGC_REGISTRY": str(tmp_path / "none")}).stdout)}
  assert bs["CPU"]["source"] == "builtin" and bs["CPU"]["library"] is None
  assert bs["CPU"]["certification"]["label"] == f"experimental (no registry index at {tmp_path / 'none'})"

@pytest.mark.parametrize("cmd", [["validate"], ["certify"], ["registry"], ["registry", "verify"], ["registry", "index"], ["list"]], ids=" ".join)
def test_help(cmd):
  for flag in ("--help", "-h"):
    r = cli(*cmd, flag)
    assert r.exit_code == 0 and r.output.startswith("Usage: ") and f" {' '.join(cmd)} [OPTIONS]" in r.output.splitlines()[0], r.output
    assert cmd == ["registry"] or "--json" in r.output

def test_index_bad_input(tmp_path):
  r = cli("registry", "index", "--registry", str(tmp_path / "nope"))
  assert r.exit_code == 1 and "no registry directory" in r.output
  (tmp_path / "records").mkdir()
  r = cli("registry", "index", "--registry", str(tmp_path))
  assert r.exit_code == 1 and "schema.json" in r.output
