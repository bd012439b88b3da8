"""tgc-sdk conformance: the CPU plugin passes, planted defects FAIL in the right cases, crashes and hangs become CRASH
and TIMEOUT without ending the run, reports are written, expectations cover failures and stale entries are flagged."""
import json
import pytest
from conftest import cli, conformance_json, statuses

ENGINE = "needs the engine (issue 3)"

def test_cpu_plugin(core_libs, tmp_path):
  code, rep, out = conformance_json(tmp_path, "--library", str(core_libs["cpu"]))
  assert code == 0, out
  st = statuses(rep)
  assert {c: s for c, s in st.items() if s != "PASS" and c.split(".")[0] in ("loader", "runtime")} == \
    {"loader.manifest_json": "NOT_RUN", "runtime.transfer": "NOT_SUPPORTED"}
  engine = [c for t in ("numerics", "models") for c in rep["tiers"][t]["cases"]]
  assert len(engine) >= 30 and all(c["status"] == "NOT_RUN" and c["reason"].startswith(ENGINE) for c in engine)
  assert "needs the engine (issue 3)" in out and "verdict: PASS" in out

@pytest.mark.parametrize("lib,tier,failing", [
  ("null_fn", "loader", {"loader.required_entries"}),
  ("caps_local", "runtime", {"runtime.caps"}),
  ("caps_dialect", "runtime", {"runtime.caps"}),
  ("bad_magic", "loader", {"loader.manifest"}),
  ("bad_major", "loader", {"loader.manifest", "loader.negotiate_host_minor", "loader.negotiate_other_major[newer]"}),
  ("newer_minor", "loader", {"loader.manifest", "loader.negotiate_host_minor", "loader.host_struct_larger"}),
  ("no_entry", "loader", {"loader.exports", "loader.negotiate_host_minor", "loader.reload"}),
  ("no_manifest", "loader", {"loader.exports", "loader.manifest"}),
  ("entry_fails", "runtime", {"runtime.device_count"}),
  ("old_abi", "loader", {"loader.properties_smaller_struct"}),
  ("old_abi", "runtime", {"runtime.bad_device_index[device_open]", "runtime.alloc_huge[2^62]"}),
  ("mini", "runtime", {"runtime.compile_load", "runtime.launch_vector_add[1024]"}),
])
def test_planted_defects_fail(core_libs, tmp_path, lib, tier, failing):
  code, rep, out = conformance_json(tmp_path, "--library", str(core_libs[lib]), "--tier", tier)
  assert code == 1 and "FAIL" in out
  st = statuses(rep)
  assert {c: st.get(c) for c in failing} == {c: "FAIL" for c in failing}, {c: st.get(c) for c in failing}
  assert rep["verdict"] == "FAIL" and set(failing) <= set(rep["unexpected"])

def test_unavailable_backend_is_not_run(core_libs, tmp_path):
  code, rep, _ = conformance_json(tmp_path, "--library", str(core_libs["unavailable"]), "--tier", "runtime")
  st = statuses(rep)
  assert st["runtime.device_count"] == "NOT_RUN" and "libacme.so.1 not found" in rep["tiers"]["runtime"]["cases"][0]["reason"]
  assert {c: s for c, s in st.items() if s != "NOT_RUN"} == {"runtime.shutdown_releases_everything": "PASS"} and code == 0

def test_crash_is_reported_and_the_tier_goes_on(planted, tmp_path):
  code, rep, out = conformance_json(tmp_path, "--library", str(planted["crash"]), "--tier", "loader,runtime")
  st = statuses(rep)
  assert code == 1 and st["runtime.buffer_view"] == "CRASH"
  case = next(c for c in rep["tiers"]["runtime"]["cases"] if c["case"] == "runtime.buffer_view")
  assert "SIGSEGV" in case["reason"]
  assert st["runtime.shutdown_releases_everything"] == "PASS" and st["runtime.copy_offsets"] == "PASS"   # before and after the crash
  assert rep["tiers"]["runtime"]["children"] == 2 and [c for c, s in st.items() if s in ("CRASH", "FAIL", "TIMEOUT")] == ["runtime.buffer_view"]

def test_hang_is_a_timeout(planted, tmp_path):
  code, rep, out = conformance_json(tmp_path, "--library", str(planted["hang"]), "--tier", "runtime", "--timeout", "2")
  st = statuses(rep)
  assert code == 1 and st["runtime.buffer_view"] == "TIMEOUT" and st["runtime.shutdown_releases_everything"] == "PASS"
  assert "no progress for 2s" in next(c["reason"] for c in rep["tiers"]["runtime"]["cases"] if c["case"] == "runtime.buffer_view")

def test_repeated_crashes_stop_the_tier(planted, tmp_path):
  code, rep, _ = conformance_json(tmp_path, "--library", str(planted["crash_alloc"]), "--tier", "runtime")
  cases = rep["tiers"]["runtime"]["cases"]
  stopped = [c for c in cases if c["reason"].startswith("not run: the tier was stopped")]
  assert code == 1 and stopped and all(c["status"] == "CRASH" for c in stopped)
  assert rep["tiers"]["runtime"]["children"] == 9 and len(cases) == 41

def test_leaks_fail(planted, tmp_path):
  code, rep, _ = conformance_json(tmp_path, "--library", str(planted["leaky"]), "--tier", "runtime")
  st = statuses(rep)
  assert code == 1 and st["runtime.leak_cycles"] == "FAIL" and st["runtime.shutdown_releases_everything"] == "FAIL"
  code, rep, _ = conformance_json(tmp_path, "--library", str(planted["good"]), "--tier", "runtime")
  assert code == 0 and statuses(rep)["runtime.leak_cycles"] == "PASS"

def test_reports(planted, tmp_path):
  js, page = tmp_path / "r.json", tmp_path / "r.html"
  r = cli("conformance", "good", "--library", str(planted["good"]), "--tier", "loader", "--json", str(js), "--html", str(page))
  assert r.exit_code == 0, r.output
  rep = json.loads(js.read_text())
  assert rep["format"] == "tgc-conformance/1" and rep["totals"]["PASS"] == 18 and len(rep["backend"]["sha256"]) == 64
  assert rep["backend"]["manifest"]["name"] == "PLANTED" and rep["versions"]["suite"]
  html = page.read_text()
  assert "loader.negotiate_newer_minor" in html and "verdict: PASS" in html
  assert "<script src" not in html and "<link" not in html and "http" not in html.split("<body>", 1)[1]   # self-contained
  assert "[loader] 19 cases" in r.stderr and "loader  " in r.stdout   # progress on stderr, the table on stdout

def test_json_to_stdout(planted):
  r = cli("conformance", "--library", str(planted["good"]), "--tier", "models", "--json", "-")
  assert r.exit_code == 0 and json.loads(r.stdout)["tiers"]["models"]["counts"]["NOT_RUN"] == 3

def test_expectations(planted, tmp_path):
  exp = tmp_path / "expect.json"
  exp.write_text(json.dumps({"unsupported": [{"case": "runtime.buffer_view", "reason": "views crash on this device"}],
                             "expected_failures": [{"case": "runtime.alloc_zero", "reason": "issue 1: stale, it passes"},
                                                   {"case": "runtime.no_such_case*", "reason": "a typo"},
                                                   {"case": "numerics.alu[*]", "reason": "the tier did not run: not stale"}]}))
  code, rep, out = conformance_json(tmp_path, "--library", str(planted["crash"]), "--tier", "runtime", "--expect", str(exp))
  assert code == 0, out
  bv = next(c for c in rep["tiers"]["runtime"]["cases"] if c["case"] == "runtime.buffer_view")
  assert bv["status"] == "CRASH"
  assert bv["expected"] == {"kind": "unsupported", "pattern": "runtime.buffer_view", "reason": "views crash on this device"}
  stale = {s["case"]: s["why"] for s in rep["expectations"]["stale"]}
  assert set(stale) == {"runtime.alloc_zero", "runtime.no_such_case*"} and "passed" in stale["runtime.alloc_zero"]
  assert "STALE" in out and rep["unexpected"] == []
  r = cli("conformance", "--library", str(planted["crash"]), "--tier", "runtime", "--expect", str(exp), "--strict", "-q")
  assert r.exit_code == 1 and "2 stale expectation(s)" in r.output

@pytest.mark.parametrize("content,msg", [("{not json", "not valid JSON"), ('{"expected_failures": [{"case": "loader.x"}]}', "non-empty \"reason\""),
                                         ('{"unsupported": {"case": "a"}}', "must be a list"), ('{"xfail": []}', "unknown key")])
def test_bad_expectations_file(planted, tmp_path, content, msg):
  (f := tmp_path / "e.json").write_text(content)
  r = cli("conformance", "--library", str(planted["good"]), "--expect", str(f))
  assert r.exit_code == 1 and msg in r.output

def test_corrupt_manifest_json(planted, tmp_path):
  (m := tmp_path / "manifest.json").write_text('{"name": "PLANTED", "version": ')
  code, rep, _ = conformance_json(tmp_path, "--library", str(planted["good"]), "--manifest", str(m), "--tier", "loader")
  assert code == 1 and statuses(rep)["loader.manifest_json"] == "FAIL"
  (m := tmp_path / "manifest.json").write_text(json.dumps({"name": "PLANTED", "version": "9.9", "abi_major": 1, "abi_min_minor": 0,
                                                           "abi_max_minor": 0, "flavor": "release", "dialects": ["opencl"]}))
  code, rep, _ = conformance_json(tmp_path, "--library", str(planted["good"]), "--manifest", str(m), "--tier", "loader")
  reason = next(c["reason"] for c in rep["tiers"]["loader"]["cases"] if c["case"] == "loader.manifest_json")
  assert code == 1 and "version: JSON '9.9', library '0.0.1'" in reason

@pytest.mark.parametrize("args,code,msg", [(["nosuch"], 1, "no backend named NOSUCH is installed"), (["cpu"], 1, "built into libtgc"),
                                           (["--library", "/nonexistent/lib.so"], 1, "no such file"), ([], 1, "give a backend NAME"),
                                           (["x", "--library", "/bin/sh", "--tier", "gpu"], 2, "unknown tier")])
def test_bad_input(args, code, msg):
  r = cli("conformance", *args)
  assert r.exit_code == code and msg in r.output, r.output
