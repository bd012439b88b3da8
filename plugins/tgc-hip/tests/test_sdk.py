"""tgc-sdk's loader/ABI tier and validate against the installed plugin: on this machine as it is (no AMD GPU: the cases
that need a device are NOT_RUN) and against the fake runtime (a device, so every loader case runs and validate checks
the caps the plugin reads from it). Skipped without tgc-sdk (pip install ./sdk)."""
import os, re, json, shutil
import pytest
from conftest import run_py

pytestmark = pytest.mark.skipif(shutil.which("tgc-sdk") is None, reason="tgc-sdk is not installed (pip install ./sdk)")

def sdk(*args: str, env: dict | None = None):
  return run_py("", env, args=("-m", "tgc_sdk", *args))

@pytest.mark.skipif(os.path.exists("/dev/kfd"), reason="an AMD GPU is here: test_loader_tier_and_validate_with_a_device's numbers apply")
def test_loader_tier_without_gpu():
  r = sdk("conformance", "hip", "--tier", "loader", "--json", "-")
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
  rep = json.loads(r.stdout)
  c = rep["tiers"]["loader"]["counts"]
  assert not rep["unexpected"] and rep["verdict"] == "PASS", rep["unexpected"]
  # Exactly the four cases that need a device are NOT_RUN, for the reason the plugin gives (a device here -- a leaked
  # stand-in variable, a real GPU -- would make them PASS: 19 is the other test's number, with the fake device).
  not_run = {x["case"]: x["reason"] for x in rep["tiers"]["loader"]["cases"] if x["status"] != "PASS"}
  assert sorted(not_run) == [f"loader.{w}_{s}_struct" for w in ("caps", "properties") for s in ("larger", "smaller")], not_run
  assert all(re.fullmatch(r"the backend reports no device \(TG_ERR_UNAVAILABLE: (no AMD GPU|no HIP runtime) \(.*\)\)", r) for r in not_run.values()), not_run
  assert (c["PASS"], c["NOT_RUN"], c["FAIL"]) == (15, 4, 0), c

def test_loader_tier_and_validate_with_a_device(fake_hip, tmp_path):
  env = {"TGC_HIP_PATH": fake_hip, "TGC_HIPRTC_PATH": fake_hip}
  r = sdk("conformance", "hip", "--tier", "loader", "--json", "-", env=env)
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
  rep = json.loads(r.stdout)
  assert rep["tiers"]["loader"]["counts"]["PASS"] == 19 and rep["verdict"] == "PASS", rep["tiers"]["loader"]["counts"]
  r = sdk("validate", "hip", "--json", env=env)
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
  v = json.loads(r.stdout)
  assert v["verdict"] == "PASS" and v["counts"]["ERROR"] == 0, (v["verdict"], v["counts"])
