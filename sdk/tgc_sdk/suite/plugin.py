"""The conformance suite as a pytest plugin (`pytest -p tgc_sdk.suite.plugin --tgc-library PATH tgc_sdk/suite/test_loader.py`).

One tier is one test module; `tgc-sdk conformance` runs each in a child process and reads the events this plugin appends
to --tgc-events (one JSON object per line, written with os.write so that a line survives the process crashing right
after it): "collected" (every case of the tier), then "start"/"end" per case. A case that started and never ended is the
one that crashed or hung. Case names are "<tier>.<test name without test_>[params]"; results are PASS, FAIL,
NOT_SUPPORTED (the backend's caps or NULL optional entries say it does not do this) and NOT_RUN (with the reason)."""
from __future__ import annotations
import os, json, time
from dataclasses import dataclass
import pytest

NOT_SUPPORTED, NOT_RUN = "NOT_SUPPORTED: ", "NOT_RUN: "
ENGINE = "needs the engine (issue 3)"

def not_supported(reason: str): pytest.skip(NOT_SUPPORTED + reason)
def not_run(reason: str): pytest.skip(NOT_RUN + reason)

@dataclass(frozen=True)
class Target:
  """The backend under test: its library, its manifest JSON (None with --library alone) and the name it was asked by."""
  library: str | None
  manifest: str | None
  name: str | None

def pytest_addoption(parser):
  g = parser.getgroup("tgc", "tgc conformance suite")
  g.addoption("--tgc-library", default=None, help="path of the backend shared library under test")
  g.addoption("--tgc-manifest", default=None, help="path of the backend's manifest JSON (from its wheel)")
  g.addoption("--tgc-name", default=None, help="the name the backend was asked for (tgc-sdk conformance NAME)")
  g.addoption("--tgc-events", default=None, help="append result events (JSON lines) to this file")
  g.addoption("--tgc-deselect", default=None, help="file of case names (one a line) not to run: already done by an earlier child")

def case_name(item) -> str:
  tier = item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
  return f"{tier}.{item.name.removeprefix('test_')}"

def _message(rep) -> str:
  """The first lines of a failure: the exception message, without pytest's `assert ...` rewrite of the expression."""
  crash = getattr(rep.longrepr, "reprcrash", None)
  msg = crash.message if crash is not None else str(rep.longrepr)
  for prefix in ("tgc_sdk.suite.abi.BackendError: ", "AssertionError: ", "Failed: "):
    if msg.startswith(prefix): msg = msg[len(prefix):]
  lines = []
  for ln in msg.splitlines():
    if ln.startswith("assert ") and lines: break
    lines.append(ln)
  return "\n".join(lines).strip()[:4000] or "failed"

def _skip(rep) -> tuple[str, str]:
  reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
  reason = reason.removeprefix("Skipped: ")
  for status, prefix in (("NOT_SUPPORTED", NOT_SUPPORTED), ("NOT_RUN", NOT_RUN)):
    if reason.startswith(prefix): return status, reason[len(prefix):]
  return "NOT_RUN", reason

def outcome(reports: dict) -> tuple[str, str]:
  setup, call, teardown = reports.get("setup"), reports.get("call"), reports.get("teardown")
  if setup is not None and setup.failed: return "FAIL", "setup: " + _message(setup)
  if setup is not None and setup.skipped: return _skip(setup)
  if call is None: return "FAIL", "the case did not run its body"
  if call.failed: return "FAIL", _message(call)
  if call.skipped: return _skip(call)
  if teardown is not None and teardown.failed: return "FAIL", "teardown: " + _message(teardown)
  return "PASS", ""

class Recorder:
  def __init__(self, config):
    path = config.getoption("--tgc-events")
    self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if path else None
    self.names: dict[str, str] = {}
    self.reports: dict[str, dict] = {}
    self.started: dict[str, float] = {}
    self.deselect = set()
    if p := config.getoption("--tgc-deselect"):
      with open(p, encoding="utf-8") as f: self.deselect = {ln.strip() for ln in f if ln.strip()}

  def emit(self, **ev) -> None:
    if self.fd is not None: os.write(self.fd, (json.dumps(ev) + "\n").encode())

  @pytest.hookimpl(trylast=True)
  def pytest_collection_modifyitems(self, session, config, items):
    self.names = {it.nodeid: case_name(it) for it in items}
    self.emit(event="collected", cases=[case_name(it) for it in items], pid=os.getpid())
    keep = [it for it in items if case_name(it) not in self.deselect]
    if len(keep) != len(items):
      config.hook.pytest_deselected(items=[it for it in items if case_name(it) in self.deselect])
      items[:] = keep

  def pytest_runtest_logstart(self, nodeid, location):
    self.started[nodeid] = time.monotonic()
    self.emit(event="start", case=self.names.get(nodeid, nodeid))

  def pytest_runtest_logreport(self, report):
    self.reports.setdefault(report.nodeid, {})[report.when] = report

  def pytest_runtest_logfinish(self, nodeid, location):
    reps = self.reports.pop(nodeid, {})
    status, reason = outcome(reps)
    detail = {}
    for rep in reps.values(): detail.update({str(k): v for k, v in rep.user_properties})
    self.emit(event="end", case=self.names.get(nodeid, nodeid), status=status, reason=reason, detail=detail,
              duration=round(time.monotonic() - self.started.pop(nodeid, time.monotonic()), 4))

def pytest_configure(config):
  config.pluginmanager.register(Recorder(config), "tgc-recorder")

@pytest.fixture(scope="session")
def target(request) -> Target:
  c = request.config
  return Target(c.getoption("--tgc-library"), c.getoption("--tgc-manifest"), c.getoption("--tgc-name"))

@pytest.fixture
def detail(record_property):
  """detail(key, value): attach a fact to the case's result (shown in --json and the HTML report)."""
  return record_property
