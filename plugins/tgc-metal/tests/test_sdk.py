"""tgc-sdk's loader/ABI tier and validate against the installed plugin: on this machine as it is (not macOS: the cases
that need a device are NOT_RUN) and against the fake objc/Metal layer (a device, so every loader case runs and validate
checks the caps the plugin reads from it). Skipped without tgc-sdk (pip install ./sdk)."""
import json, shutil, platform
import pytest
from conftest import run_py

pytestmark = pytest.mark.skipif(shutil.which("tgc-sdk") is None, reason="tgc-sdk is not installed (pip install ./sdk)")

def sdk(*args: str, env: dict | None = None):
  return run_py("", env, args=("-m", "tgc_sdk", *args))

@pytest.mark.skipif(platform.system() == "Darwin", reason="on macOS there is a device")
def test_loader_tier_without_metal():
  r = sdk("conformance", "metal", "--tier", "loader", "--json", "-")
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
  rep = json.loads(r.stdout)
  c = rep["tiers"]["loader"]["counts"]
  assert not rep["unexpected"] and rep["verdict"] == "PASS", rep["unexpected"]
  # Exactly the four cases that need a device are NOT_RUN, for the reason the plugin gives (a device here -- a leaked
  # stand-in variable, a real GPU -- would make them PASS: 19 is the other test's number, with the fake device).
  not_run = {x["case"]: x["reason"] for x in rep["tiers"]["loader"]["cases"] if x["status"] != "PASS"}
  assert not_run == {f"loader.{w}_{s}_struct": "the backend reports no device (TG_ERR_UNAVAILABLE: not macOS)"
                     for w in ("caps", "properties") for s in ("smaller", "larger")}, not_run
  assert (c["PASS"], c["NOT_RUN"], c["FAIL"]) == (15, 4, 0), c

def test_loader_tier_and_validate_with_a_device(fake_metal):
  env = {"TGC_METAL_OBJC": fake_metal, "TGC_METAL_FRAMEWORK": fake_metal}
  r = sdk("conformance", "metal", "--tier", "loader", "--json", "-", env=env)
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
  rep = json.loads(r.stdout)
  assert rep["tiers"]["loader"]["counts"]["PASS"] == 19 and rep["verdict"] == "PASS", rep["tiers"]["loader"]["counts"]
  r = sdk("validate", "metal", "--json", env=env)
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
  v = json.loads(r.stdout)
  assert v["verdict"] == "PASS" and v["counts"]["ERROR"] == 0, (v["verdict"], v["counts"])
