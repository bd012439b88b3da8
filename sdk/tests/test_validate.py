"""tgc-sdk validate: the CPU plugin and the generated template validate clean; lies planted in throwaway backends
(tests/data/lying_cpu.c: the CPU backend with one false claim) are each caught as ERRORs, undeclared capabilities that
work are WARNINGs, other dialects get NOT_RUN probes, and the probe kernels themselves never hit undefined behaviour."""
import math, struct, subprocess
import pytest
from conftest import cli, run_json, CC
from tgc_sdk import validate as V
from tgc_sdk.suite import probes

def errors(rep: dict) -> dict[str, str]:
  """{case or "rule NAME": message} of every ERROR."""
  return {**{f"rule {r['rule']}": r["message"] for r in rep["rules"] if r["severity"] == "ERROR"},
          **{p["case"]: p["message"] for p in rep["probes"] if p["severity"] == "ERROR"}}
def warnings(rep: dict) -> dict[str, str]: return {p["case"]: p["message"] for p in rep["probes"] if p["severity"] == "WARNING"}

CPU_UNDECLARED_OPS = {"EXP2", "LOG2", "SIN", "RECIPROCAL", "MAX", "POW", "FLOORDIV", "FLOORMOD", "MULACC"}

def test_cpu_plugin_is_valid(core_libs):
  code, rep, _ = run_json("validate", "cpu", "--library", str(core_libs["cpu"]))
  assert code == 0 and rep["verdict"] == "PASS" and errors(rep) == {}, errors(rep)
  assert rep["device"]["caps"]["dialect"] == "c" and rep["device"]["caps"]["has_threads"] == 1
  assert set(warnings(rep)) == {f"validate.alu[{o}]" for o in CPU_UNDECLARED_OPS}, warnings(rep)
  st = {p["case"]: p["status"] for p in rep["probes"]}
  assert all(st[f"validate.dtype[{d}]"] == "PASS" for d in probes.NUM + ("bool",)) and st["validate.dtype[fp8e4m3]"] == "NOT_SUPPORTED"
  add = next(p for p in rep["probes"] if p["case"] == "validate.alu[ADD]")["detail"]["dtypes"]
  assert add == {d: "ok" for d in probes.NUM}   # every declared dtype of the op's domain was tried
  assert st["validate.threads"] == "PASS" and st["validate.alignment"] == "PASS" and st["validate.shared"] == "NOT_SUPPORTED"
  assert all(r["severity"] == "OK" for r in rep["rules"]) and len(rep["rules"]) >= 18

@pytest.mark.parametrize("lie,must,says", [
  ("F64", {"validate.dtype[float64]", "validate.alu[ADD]", "validate.alu[SQRT]"}, "float64"),
  ("GLOBAL", {"validate.global[x]", "validate.global[y]", "validate.global[z]"}, "the largest that launches and runs every point once is 256"),
  ("LOCAL", {"validate.local[x]", "validate.local_prod", "rule c_has_no_workgroups"}, "the largest that launches is 256"),
  ("THREADS", {"validate.threads"}, "ran on one thread"),
  ("SHARED", {"validate.shared", "rule c_has_no_workgroups"}, "no memory is shared"),
  ("ALIGN", {"validate.alignment"}, "buffers are not 4096-aligned (the least aligned is only 64-aligned)"),  # a buffer may land 4096-aligned by chance
  ("RULES", {"rule vector_width_pow2", "rule local_prod_max_range", "rule local_without_has_local", "rule mem_max_alloc_within_total",
             "rule dtype_bits", "rule alu_bits",
             "validate.vector_width"}, "not a power of two"),
])
def test_planted_lie_is_caught(liars, lie, must, says):
  code, rep, _ = run_json("validate", "--library", str(liars[lie]))
  errs = errors(rep)
  assert code == 1 and rep["verdict"] == "FAIL" and must <= set(errs), errs
  assert any(says in m for m in errs.values()), errs
  if lie == "F64": assert all("float64" in m for m in errs.values()), errs   # nothing but float64 is blamed
  else: assert len(errs) == len(must), f"more errors than the planted lie explains: {set(errs) - must}"

def test_lie_text_report(liars):
  r = cli("validate", "--library", str(liars["GLOBAL"]), "-q")
  assert r.exit_code == 1
  assert "ERROR    validate.global[x]: declared global_max[0]=65536, but a launch of 65536 along x fails" in r.stdout
  assert "verdict: FAIL: 3 error(s)" in r.stdout and "fix what device_caps declares" in r.stderr

def test_works_but_not_declared_is_a_warning(liars):
  code, rep, _ = run_json("validate", "--library", str(liars["UNDECLARED"]))
  w = warnings(rep)
  assert code == 0 and rep["verdict"] == "PASS" and errors(rep) == {}
  assert "float64 works but is not declared" in w["validate.dtype[float64]"] and "MUL works on float32" in w["validate.alu[MUL]"]
  r = cli("validate", "--library", str(liars["UNDECLARED"]), "-q")
  assert "WARNING  validate.dtype[float64]: float64 works but is not declared" in r.stdout and "MUL" in r.stdout

def test_other_dialect_is_not_run(planted):
  code, rep, _ = run_json("validate", "--library", str(planted["good"]))
  st = {p["case"]: (p["status"], p["message"]) for p in rep["probes"]}
  assert code == 0 and rep["verdict"] == "PASS" and rep["device"]["caps"]["dialect"] == "opencl"
  assert st["validate.dtype[float32]"][0] == "NOT_RUN" and "'opencl' kernels come from the engine's renderer" in st["validate.dtype[float32]"][1]
  assert st["validate.global[x]"][0] == st["validate.alignment"][0] == "NOT_RUN" and st["validate.shared"][0] == "NOT_SUPPORTED"
  assert all(r["severity"] == "OK" for r in rep["rules"])

def test_generated_template_is_valid(with_site):
  code, rep, _ = run_json("validate", "acme")
  assert code == 0 and errors(rep) == {} and rep["backend"]["source"] == "entry point acme of tgc-acme", errors(rep)
  st = {p["case"]: p for p in rep["probes"]}
  assert st["validate.global[x]"]["status"] == "PASS" and st["validate.global[x]"]["detail"]["declared"] == 65535
  assert st["validate.global_beyond"]["status"] == "NOT_SUPPORTED" and st["validate.threads"]["status"] == "NOT_SUPPORTED"

def test_probe_kernels_have_no_undefined_behaviour(core_libs, tmp_path, monkeypatch):
  """Every probe kernel compiled with UBSan (aborting on the first report): signed overflow, bad shifts or INT_MIN/-1 in
  the chosen inputs would be a CRASH."""
  (t := tmp_path / "t.c").write_text("int f(int x) { return x + 1; }\n")
  if subprocess.run([CC, "-fsanitize=undefined", "-shared", "-fPIC", "-o", str(tmp_path / "t.so"), str(t)], capture_output=True).returncode:
    pytest.skip(f"{CC} cannot build with -fsanitize=undefined")
  monkeypatch.setenv("TGC_CC", f"{CC} -fsanitize=undefined -fno-sanitize-recover=undefined")
  monkeypatch.setenv("TGC_CPU_NOCACHE", "1")
  code, rep, _ = run_json("validate", "--library", str(core_libs["cpu"]))
  assert code == 0 and errors(rep) == {} and not [p for p in rep["probes"] if p["status"] in ("CRASH", "TIMEOUT")], errors(rep)

@pytest.mark.parametrize("cmd", ["validate", "certify"])
@pytest.mark.parametrize("args,msg", [(["nosuch"], "no backend named NOSUCH is installed"), (["--library", "/nonexistent/lib.so"], "no such file"),
                                      ([], "give a backend NAME"), (["cpu"], "built into libtgc"), (["acme-1"], "'acme-1' is not a backend name"),
                                      (["../x"], "is not a backend name")])
def test_bad_input(cmd, args, msg, tmp_path):
  r = cli(cmd, *args, *(["--output", str(tmp_path / "records")] if cmd == "certify" else []))
  assert r.exit_code == 1 and msg in r.output and not (tmp_path / "records").exists(), r.output

def test_backend_that_does_not_start(core_libs):
  code, rep, _ = run_json("validate", "--library", str(core_libs["entry_fails"]))
  assert code == 1 and rep["verdict"] == "FAIL" and "the backend did not start" in errors(rep)["validate.caps"]

def test_unavailable_device_validates_nothing(core_libs):
  r = cli("validate", "--library", str(core_libs["unavailable"]), "-q")
  assert r.exit_code == 1 and "verdict: NOT_RUN" in r.stdout and "nothing was validated" in r.stderr and "libacme.so.1 not found" in r.stderr

# ---------------- the references themselves ----------------

def test_references_catch_wrong_values():
  f32, i8 = probes.DTS["float32"], probes.DTS["int8"]
  assert probes.mismatches(probes.OPS["ADD"], f32, [[1.0], [2.0]], [3.0000002384185791], [3.0])   # one ulp off: exact ops allow none
  assert not probes.mismatches(probes.OPS["EXP2"], f32, [[0.5]], [1.4142136573791504], [1.4142135381698608])   # libm: two ulps allowed
  assert probes.mismatches(probes.OPS["NEG"], f32, [[0.0]], [0.0], [-0.0])   # the sign of zero counts
  assert not probes.mismatches(probes.OPS["SQRT"], f32, [[-1.0]], [-math.nan], [math.nan])   # any NaN is a NaN
  assert probes.cast(i8, 200) == -56 and probes.cast(probes.DTS["uint16"], -1) == 65535 and probes.cast(probes.DTS["bool"], 3) is True
  assert probes.cast(probes.DTS["float16"], 1e6) == math.inf and probes.cast(probes.DTS["float16"], 1 + 2**-11) == 1.0   # ties to even
  assert probes.round_bf16(1 + 2**-8) == 1.0 and probes.round_bf16(1 + 3 * 2**-9) == 1 + 2**-7
  assert probes.unpack(probes.DTS["bfloat16"], probes.pack(probes.DTS["bfloat16"], [1.5, -2.0])) == [1.5, -2.0]
  assert struct.pack("<e", probes.cast(probes.DTS["float16"], 0.1)) == struct.pack("<e", 0.1)

@pytest.mark.parametrize("op", [o for o in probes.OPS.values() if o.name not in probes.NO_C], ids=lambda o: o.name)
def test_inputs_avoid_undefined_behaviour(op):
  """What C leaves undefined never appears in the inputs (the UBSan test proves it for the compiled kernels)."""
  for name in op.domain:
    dt = probes.DTS[name]
    if dt.kind != "int": continue
    xs = probes.op_inputs(op, dt, 64)
    lo, hi, wide = -(1 << (dt.bits - 1)), (1 << (dt.bits - 1)) - 1, dt.bits >= 32
    for args in zip(*xs):
      a, b = args[0], args[1] if len(args) > 1 else 0
      if op.name in ("CDIV", "CMOD", "FLOORDIV", "FLOORMOD"): assert b != 0 and not (a == lo and b == -1), (name, a, b)
      if op.name in ("SHL", "SHR"): assert 0 <= b < dt.bits and (op.name == "SHR" or a >= 0), (name, a, b)
      exact = {"ADD": lambda: a + b, "SUB": lambda: a - b, "MUL": lambda: a * b, "NEG": lambda: -a, "MULACC": lambda: a * b + args[2],
               "SHL": lambda: a << b}.get(op.name)
      if exact and wide: assert lo <= exact() <= hi, (op.name, name, args)   # narrower types compute in int, which cannot overflow here
      if exact and not wide: assert -(2**31) <= exact() < 2**31, (op.name, name, args)

def test_rules_on_consistent_and_broken_caps():
  good = {"dialect": "cuda", "arch": "sm_90", "dtypes": ["int32", "float32"], "alu_ops": [], "dtypes_mask": 1 << 5 | 1 << 11, "alu_ops_mask": 1 << 7,
          "has_local": 1, "has_shared": 1, "has_threads": 0, "vector_width": 4, "global_max": [2**31 - 1, 65535, 65535],
          "local_max": [1024, 1024, 64],
          "local_prod_max": 1024, "alignment": 256, "shared_max": 49152, "mem_total": 2**37, "mem_max_alloc": 2**36, "n_tensor_cores": 1,
          "tensor_cores_null": False,
          "tensor_cores": [{"dims": [8, 16, 16], "threads": 32, "elements_per_thread": [8, 4, 4], "dtype_in": 11, "dtype_out": 11}]}
  assert all(r["severity"] == "OK" for r in V.rules(good, ["cuda"]))
  bad = {**good, "has_shared": 0, "local_max": [2048, 1, 1], "alignment": 2, "tensor_cores": [{**good["tensor_cores"][0], "dtype_in": 9}]}
  got = {r["rule"]: r["severity"] for r in V.rules(bad, ["hip"]) if r["severity"] != "OK"}
  want = {"dialect_in_manifest": "ERROR", "shared_max_needs_has_shared": "ERROR", "alignment_fits_vectors": "WARNING", "tensor_cores": "ERROR"}
  assert got == want, got

def test_corrupt_manifest_is_refused(core_libs, tmp_path):
  (m := tmp_path / "manifest.json").write_text('{"name": "CPU", "version": ')
  r = cli("validate", "--library", str(core_libs["cpu"]), "--manifest", str(m))
  assert r.exit_code == 1 and f"manifest {m} is corrupt" in r.output and "reinstall" in r.output, r.output
  m.write_text('{"name": "OTHER"}')
  r = cli("validate", "--library", str(core_libs["cpu"]), "--manifest", str(m))
  assert r.exit_code == 1 and "names 'OTHER' but the library is 'CPU'" in r.output, r.output
  r = cli("certify", "--library", str(core_libs["bad_magic"]), "--output", str(tmp_path / "records"))
  assert r.exit_code == 1 and "corrupt or foreign manifest (magic 0x12345678" in r.output and not (tmp_path / "records").exists(), r.output
  r = cli("validate", "--library", "/bin/sh")
  assert r.exit_code == 1 and "has no readable tg_backend_manifest" in r.output, r.output

def test_scaled_tolerances_follow_the_inputs():
  """sin/cos: range reduction loses |a|*eps, so the absolute bound grows with |a| (a correctly rounded CUDA sin and the
  CPU's polynomial differ by 1195 ulp at a=15.70407, near 5*pi: seen on an H200); pow: errors grow with |b*log2(a)|."""
  import struct
  from tgc_sdk.suite import engine as E
  f32 = lambda x: struct.unpack("<I", struct.pack("<f", x))[0]
  h = lambda x: struct.unpack("<H", struct.pack("<e", x))[0]
  sin = E.tolerance("SIN", "float32")
  got, want = f32(0.003891259664669633), f32(0.0038909814320504665)   # the H200's sin, the CPU's
  assert E.mismatch("float32", got, want, sin, (15.704072183650922,)) is None
  assert E.mismatch("float32", got, want, sin, (0.5,)) is not None     # the same error at a small argument is a failure
  assert E.mismatch("float32", got, want, sin) is not None             # and without inputs the table's bound holds
  pw = E.tolerance("POW", "float16")
  got, want = h(57536.0), h(58176.0)                                   # 20 ulp, |b*log2(a)| = 15.8
  assert E.mismatch("float16", got, want, pw, (0.15658892681839223, -5.915180945250443)) is None
  assert E.mismatch("float16", got, want, pw, (2.0, 1.0)) is not None
  assert "scaled_by" in E.table()["ops"]["SIN"]["float32/float64"]
