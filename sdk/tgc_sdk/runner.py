"""Runs the conformance suite: each tier in a child `python -m pytest -p tgc_sdk.suite.plugin` under a watchdog.

The child appends one JSON event per line to a file (see suite/plugin.py); the parent follows it. A child that dies in
the middle of a case gives that case CRASH (with the signal and the end of its output); one that makes no progress for
`timeout` seconds is killed (with its process group: compilers it spawned die too) and the case gets TIMEOUT. Then a
fresh child resumes the tier after the cases already done, so one bad case does not hide the rest. After too many
crashes or hangs in one tier its remaining cases get the same status, with a reason that says they were not run."""
from __future__ import annotations
import os, sys, json, time, signal, subprocess, importlib.resources
from dataclasses import dataclass, field
from typing import Callable

STATUSES = ("PASS", "FAIL", "NOT_SUPPORTED", "NOT_RUN", "CRASH", "TIMEOUT")
BAD = ("FAIL", "CRASH", "TIMEOUT")
MAX_CRASHES, MAX_TIMEOUTS = 8, 2   # fresh children per tier after a crash / after a hang (each hang costs `timeout`)

@dataclass
class CaseResult:
  case: str
  tier: str
  status: str
  reason: str = ""
  duration: float = 0.0
  detail: dict = field(default_factory=dict)
  expected: dict | None = None    # {"kind": "unsupported"|"expected_failure", "pattern", "reason"} when an expectation covers it
  def to_dict(self) -> dict: return {k: getattr(self, k) for k in ("case", "tier", "status", "reason", "duration", "detail", "expected")}

@dataclass
class TierRun:
  tier: str
  results: list[CaseResult]
  duration: float
  children: int

Progress = Callable[[str, int, int, "str | None"], None]   # (tier, done, total, case now running)

def _signal_text(rc: int | None) -> str:
  if rc is None: return "the child did not exit"
  if rc < 0:
    try: return f"the child process died with {signal.Signals(-rc).name}"
    except ValueError: return f"the child process died with signal {-rc}"
  return f"the child process exited with status {rc}"

def _tail(path: str, start: int, lines: int = 25) -> str:
  try:
    with open(path, "rb") as f:
      f.seek(max(start, os.path.getsize(path) - 16384))
      text = f.read().decode(errors="replace")
  except OSError: return ""
  return "\n".join(ln for ln in text.splitlines()[-lines:] if ln.strip())

class _Follow:
  """Reads complete JSON lines appended to a file since the last call."""
  def __init__(self, path: str): self.path, self.pos, self.buf = path, 0, b""
  def read(self) -> list[dict]:
    try:
      with open(self.path, "rb") as f:
        f.seek(self.pos)
        data = f.read()
    except FileNotFoundError: return []
    self.pos += len(data)
    *lines, self.buf = (self.buf + data).split(b"\n")
    return [json.loads(ln) for ln in lines if ln.strip()]

def suite_file(tier: str) -> str: return str(importlib.resources.files("tgc_sdk.suite") / f"test_{tier}.py")

def run_tier(tier: str, library: str | None, manifest: str | None, name: str | None, timeout: float, workdir: str,
             progress: Progress | None = None) -> TierRun:
  t0 = time.monotonic()
  events, deselect, log = (os.path.join(workdir, f"{tier}.{x}") for x in ("events.jsonl", "deselect", "log"))
  follow, order, results = _Follow(events), [], {}
  crashes = timeouts = children = 0
  opts = [a for k, v in (("--tgc-library", library), ("--tgc-manifest", manifest), ("--tgc-name", name)) if v for a in (k, v)]
  env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONFAULTHANDLER": "1", "PYTHONDONTWRITEBYTECODE": "1"}
  report = progress or (lambda *a: None)
  def handle(ev: dict, current: str | None) -> str | None:
    nonlocal order
    if ev["event"] == "collected" and not order: order = list(ev["cases"])
    elif ev["event"] == "start": current = ev["case"]
    elif ev["event"] == "end":
      results[ev["case"]] = CaseResult(ev["case"], tier, ev["status"], ev.get("reason", ""), ev.get("duration", 0.0), ev.get("detail", {}))
      current = None
    return current
  while True:
    with open(deselect, "w", encoding="utf-8") as f: f.write("\n".join(results))
    log_start = os.path.getsize(log) if os.path.exists(log) else 0
    cmd = [sys.executable, "-m", "pytest", "-q", "-rN", "-p", "no:cacheprovider", "--noconftest", "-c", os.devnull, "--rootdir", workdir,
           "-p", "tgc_sdk.suite.plugin", "--tgc-events", events, "--tgc-deselect", deselect, *opts, suite_file(tier)]
    with open(log, "ab") as lf:
      proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir, env=env, start_new_session=True)
    children += 1
    current, since, killed, rc = None, time.monotonic(), False, None
    while True:
      rc = proc.poll()
      for ev in follow.read():
        since, current = time.monotonic(), handle(ev, current)
        report(tier, len(results), len(order), current)
      if rc is not None: break
      if time.monotonic() - since > timeout:
        os.killpg(proc.pid, signal.SIGKILL)
        rc, killed = proc.wait(), True
        break
      time.sleep(0.02)
    for ev in follow.read(): current = handle(ev, current)   # whatever the child wrote just before it exited
    if not order:   # the suite itself could not start: no backend code has run yet
      results[f"{tier}.collection"] = CaseResult(f"{tier}.collection", tier, "TIMEOUT" if killed else "CRASH",
                                                 f"the tier's test module did not load ({_signal_text(rc)}):\n{_tail(log, log_start)}")
      break
    remaining = [c for c in order if c not in results]
    if not remaining: break
    victim = current or remaining[0]
    if killed:
      timeouts += 1
      where = "while running this case" if current else "before this case started"
      results[victim] = CaseResult(victim, tier, "TIMEOUT", f"no progress for {timeout:g}s {where}: the child process was killed")
    else:
      crashes += 1
      where = "during this case" if current else "before this case started"
      results[victim] = CaseResult(victim, tier, "CRASH", f"{_signal_text(rc)} {where}\n{_tail(log, log_start)}".strip())
    report(tier, len(results), len(order), None)
    remaining = [c for c in order if c not in results]
    if not remaining: break
    if crashes > MAX_CRASHES or timeouts >= MAX_TIMEOUTS:
      status = "TIMEOUT" if killed else "CRASH"
      why = f"not run: the tier was stopped after {crashes} crash(es) and {timeouts} hang(s) of the backend, the last in {victim}"
      for c in remaining: results[c] = CaseResult(c, tier, status, why)
      break
  ordered = [results[c] for c in order if c in results] + [r for c, r in results.items() if c not in order]
  return TierRun(tier, ordered, time.monotonic() - t0, children)
