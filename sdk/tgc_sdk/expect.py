"""Expectations files (`tgc-sdk conformance --expect FILE`), after IREE's CTS: what a backend is known not to pass.

  {
    "unsupported":       [{"case": "runtime.events", "reason": "the device has no timer"}],
    "expected_failures": [{"case": "runtime.launch_at_limit[*]", "reason": "issue #12: z grid limited to 64"}]
  }

"case" is an fnmatch pattern over case names (tier.case[params]); every entry needs a non-empty "reason". "unsupported"
is for permanent limits of the device, "expected_failures" for bugs to fix. A FAIL, CRASH, TIMEOUT (or NOT_SUPPORTED)
covered by an entry does not fail the run. An entry is stale when a case it covers PASSes, or when it matches no case
of the tiers that ran: both are reported, and fail the run with --strict."""
from __future__ import annotations
import json, fnmatch
from dataclasses import dataclass, field
from tgc_sdk.runner import CaseResult, BAD

KINDS = {"unsupported": "unsupported", "expected_failures": "expected_failure"}

class ExpectError(ValueError): pass

@dataclass
class Entry:
  kind: str
  pattern: str
  reason: str
  covered: list[str] = field(default_factory=list)
  passed: list[str] = field(default_factory=list)
  def to_dict(self) -> dict: return {"kind": self.kind, "case": self.pattern, "reason": self.reason, "covered": self.covered, "passed": self.passed}

def load(path: str) -> list[Entry]:
  try:
    with open(path, encoding="utf-8") as f: data = json.load(f)
  except OSError as e: raise ExpectError(f"cannot read expectations file {path}: {e.strerror}") from None
  except ValueError as e: raise ExpectError(f"expectations file {path} is not valid JSON: {e}") from None
  if not isinstance(data, dict):
    raise ExpectError(f"expectations file {path}: the top level must be an object with \"unsupported\" and/or \"expected_failures\"")
  if unknown := sorted(set(data) - set(KINDS) - {"comment"}):
    raise ExpectError(f"expectations file {path}: unknown key(s) {', '.join(unknown)}; allowed: unsupported, expected_failures, comment")
  out = []
  for key, kind in KINDS.items():
    items = data.get(key, [])
    if not isinstance(items, list): raise ExpectError(f"expectations file {path}: \"{key}\" must be a list of {{\"case\", \"reason\"}} objects")
    for i, e in enumerate(items):
      if not isinstance(e, dict) or not isinstance(e.get("case"), str) or not e["case"].strip():
        raise ExpectError(f"expectations file {path}: {key}[{i}] needs a \"case\" pattern (e.g. \"runtime.events\"), got {e!r}")
      if not isinstance(e.get("reason"), str) or not e["reason"].strip():
        raise ExpectError(f"expectations file {path}: {key}[{i}] ({e['case']}) needs a non-empty \"reason\": say why the backend cannot pass it")
      out.append(Entry(kind, e["case"].strip(), e["reason"].strip()))
  return out

def apply(entries: list[Entry], results: list[CaseResult], tiers_run: list[str]) -> list[dict]:
  """Marks covered results (result.expected) and returns the stale entries, each with why."""
  for r in results:
    e = next((e for e in entries if fnmatch.fnmatchcase(r.case, e.pattern)), None)
    if e is None: continue
    if r.status in BAD or r.status == "NOT_SUPPORTED":
      r.expected = {"kind": e.kind, "pattern": e.pattern, "reason": e.reason}
      e.covered.append(r.case)
    elif r.status == "PASS": e.passed.append(r.case)
  stale = []
  for e in entries:
    tier = e.pattern.split(".", 1)[0]
    if e.passed: stale.append({**e.to_dict(), "why": f"listed as {e.kind.replace('_', ' ')} but passed: {', '.join(e.passed)}"})
    ran = tier in tiers_run or any(ch in tier for ch in "*?[")
    if not e.passed and not e.covered and ran and not any(fnmatch.fnmatchcase(r.case, e.pattern) for r in results):
      stale.append({**e.to_dict(), "why": "matches no case of the tiers that ran (a typo, or a case that was renamed)"})
  return stale
