"""tgc-sdk conformance: the CPU plugin passes, planted defects FAIL in the right cases, crashes and hangs become CRASH
and TIMEOUT without ending the run, reports are written, expectations cover failures and stale entries are flagged."""
import json
import pytest
FP8 = ("fp8e4m3", "fp8e5m2", "fp8e4m3fnuz", "fp8e5m2fnuz")
from conftest import cli, conformance_json, statuses

def test_cpu_plugin(core_libs, tmp_path):
  code, rep, out = conformance_json(tmp_path, "--library", str(core_libs["cpu"]))
  assert code == 0, out
  st = statuses(rep)
  assert {c: s for c, s in st.items() if s != "PASS"} == \
    {"loader.manifest_json": "NOT_RUN", "runtime.transfer": "NOT_SUPPORTED", **{f"numerics.storage[{d}]": "NOT_SUPPORTED" for d in FP8}}
  alu = [c for c in rep["tiers"]["numerics"]["cases"] if c["case"].startswith("numerics.alu[")]
  assert len(alu) >= 180 and {c["case"] for c in rep["tiers"]["models"]["cases"]} == \
    {f"models.model[{m}]" for m in ("mlp_training_step", "convnet_forward", "convnet_backward")}
  # the plugin build is "CPU" like the built-in it is compared with: it runs from a copy renamed CPU_SUT
  assert alu[0]["detail"]["device"] == "CPU_SUT" and alu[0]["detail"]["renamed_from"] == "CPU"
  sqrt = next(c for c in alu if c["case"] == "numerics.alu[SQRT-float32]")
  assert sqrt["detail"]["native"] is True and sqrt["detail"]["tolerance"]["ulps"] == 1 and sqrt["detail"]["mismatches"] == 0
  assert next(c for c in alu if c["case"] == "numerics.alu[EXP2-float32]")["detail"]["native"] is False   # lowered by the engine
  assert rep["versions"]["tolerances"] and "verdict: PASS" in out

def test_wrong_op_is_caught(liars, tmp_path):
  """lying_cpu.c -DLIE_SQRT: honest caps, float sqrt 2^-8 too large. numerics catches it on the op (and the special
  values), models through Adam's update; everything else still passes."""
  code, rep, out = conformance_json(tmp_path, "--library", str(liars["SQRT"]), "--tier", "numerics,models")
  bad = {c: s for c, s in statuses(rep).items() if s not in ("PASS", "NOT_SUPPORTED")}
  assert code == 1 and bad == {**{f"numerics.{c}": "FAIL" for c in ("alu[SQRT-float16]", "alu[SQRT-float32]", "special[float16]", "special[float32]")},
                               "models.model[mlp_training_step]": "FAIL"}, bad   # float16 computes in float
  reason = next(c["reason"] for c in rep["tiers"]["numerics"]["cases"] if c["case"] == "numerics.alu[SQRT-float32]")
  assert "mismatch(es) against the CPU device" in reason and "ulp, tolerance 1 ulp" in reason, reason

def test_float64_demoted_is_caught(liars, tmp_path):
  """lying_cpu.c -DLIE_F64 computes double in float: every float64 result that float cannot hold differs."""
  code, rep, _ = conformance_json(tmp_path, "--library", str(liars["F64"]), "--tier", "numerics")
  bad = {c for c, s in statuses(rep).items() if s == "FAIL"}
  assert code == 1 and {"numerics.alu[FDIV-float64]", "numerics.storage[float64]", "numerics.special[float64]"} <= bad
  assert all("float64" in c for c in bad), bad

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
  models = json.loads(r.stdout)["tiers"]["models"]
  assert r.exit_code == 0 and models["counts"]["NOT_RUN"] == 3   # an "opencl" device: the engine has no renderer for it yet
  assert "no renderer for dialect 'opencl'" in models["cases"][0]["reason"]

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
