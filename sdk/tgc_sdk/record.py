"""Certification records (`tgc-sdk certify`): what ran against which library, where, and what came out.

A record (format tgc-certification/1, schema registry/schema.json) names the backend (manifest, sha256 of the library
file), the device (properties, caps), the versions (tgc, tgc-sdk, suite, backend ABI), the host (OS, libc, C compiler,
driver), every case of every conformance tier and of validate, a date, an expiry and a status:

  certified    every tier ran every case (no NOT_RUN) and nothing failed (no FAIL/CRASH/TIMEOUT, no validate ERROR)
  provisional  nothing failed, but some cases or whole tiers are NOT_RUN: the record says which, and certifies nothing
               about them (e.g. loader.manifest_json for a bare --library without --manifest)
  failed       something failed; such a record documents a run but does not belong in a registry

The status is derived from the cases, never typed in: `registry verify` derives it again and compares. `digest` is the
sha256 of the record's canonical JSON without it, so an edited or truncated record is told apart from a record of
another build of the library (a different `backend.library.sha256`, which is expected after any rebuild)."""
from __future__ import annotations
import os, re, json, shlex, hashlib, platform, datetime, subprocess, importlib.metadata
from tgc_sdk.runner import TierRun, STATUSES, BAD
from tgc_sdk.suite import TIERS
from tgc_sdk.suite.abi import ABI_MAJOR, ABI_MINOR

FORMAT = "tgc-certification/1"
VALID_DAYS, MAX_VALID_DAYS, WARN_DAYS = 180, 366, 30
ALL_TIERS = (*TIERS, "validate")
REASON_MAX = 500

def iso(t: datetime.datetime) -> str: return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
def parse_iso(s: str) -> datetime.datetime: return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)

def record_id(name: str, version: str, sha256: str) -> str: return f"{name.lower()}-{re.sub(r'[^A-Za-z0-9._+-]', '_', version)}-{sha256[:12]}"

def canonical(rec: dict) -> bytes:
  return json.dumps({k: v for k, v in rec.items() if k != "digest"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
def digest(rec: dict) -> str: return "sha256:" + hashlib.sha256(canonical(rec)).hexdigest()

def tier_state(cases: list[dict]) -> str:
  nr = sum(1 for c in cases if c["status"] == "NOT_RUN")
  return "not_run" if not cases or nr == len(cases) else "partial" if nr else "ran"

def counts(cases: list[dict]) -> dict[str, int]: return {s: sum(1 for c in cases if c["status"] == s) for s in STATUSES}

def derive(rec: dict) -> tuple[str, list[str]]:
  """(status, reasons) from the record's cases alone."""
  failed, partial = [], []
  for t in ALL_TIERS:
    if (v := rec["tiers"].get(t)) is None:
      partial.append(f"{t}: missing from the record")
      continue
    if bad := [c for c in v["cases"] if c["status"] in BAD]:
      failed.append(f"{t}: {len(bad)} case(s) FAIL/CRASH/TIMEOUT: {', '.join(c['case'] for c in bad[:8])}{' ...' if len(bad) > 8 else ''}")
    if errs := [r for r in v.get("rules", []) if r["severity"] == "ERROR"]:
      failed.append(f"{t}: {len(errs)} caps rule(s) broken: {', '.join(r['rule'] for r in errs)}")
    if nr := [c for c in v["cases"] if c["status"] == "NOT_RUN"]:
      how = "every case" if len(nr) == len(v["cases"]) else f"{len(nr)} of {len(v['cases'])} cases"
      partial.append(f"{t}: {how} NOT_RUN ({nr[0]['reason'].splitlines()[0][:160] if nr[0]['reason'] else 'no reason'})")
  return ("failed", failed) if failed else ("provisional", partial) if partial else ("certified", [])

def _cases(run: TierRun) -> list[dict]: return [{"case": r.case, "status": r.status, "reason": (r.reason or "")[:REASON_MAX]} for r in run.results]

def _distribution(source: str) -> dict | None:
  if not (m := re.fullmatch(r"entry point \S+ of (\S+)", source)): return None
  try: return {"name": m.group(1), "version": importlib.metadata.version(m.group(1))}
  except importlib.metadata.PackageNotFoundError: return {"name": m.group(1), "version": None}

def _compiler() -> dict:
  """The C compiler "c"-dialect backends run ($TGC_CC or cc) and its first --version line."""
  cmd = os.environ.get("TGC_CC") or "cc"
  try: out = subprocess.run([*shlex.split(cmd), "--version"], capture_output=True, text=True, timeout=30)
  except (OSError, ValueError, subprocess.TimeoutExpired) as e: return {"command": cmd, "version": f"unavailable: {e}"}
  return {"command": cmd, "version": (out.stdout or out.stderr).strip().splitlines()[0][:200] if (out.stdout or out.stderr).strip() else None}

def host(properties: dict | None) -> dict:
  libc = " ".join(x for x in platform.libc_ver() if x) or None
  return {"os": platform.platform(), "machine": platform.machine(), "python": platform.python_version(), "libc": libc,
          "compiler": _compiler(), "driver": (properties or {}).get("driver_version") or None}

def build(target, runs: list[TierRun], vrep: dict, manifest: dict | None, versions: dict, when: datetime.datetime | None = None,
          valid_days: int = VALID_DAYS) -> dict:
  when = when or datetime.datetime.now(datetime.timezone.utc)
  sha, m = target.sha256(), manifest or {}
  name, version = m.get("name") or target.name.upper(), m.get("version") or "unknown"
  tiers = {run.tier: {"state": tier_state(cs := _cases(run)), "duration": round(run.duration, 3), "counts": counts(cs), "cases": cs} for run in runs}
  vcases = [{"case": p["case"], "status": p["status"], "severity": p["severity"], "reason": (p["message"] or "")[:REASON_MAX]}
            for p in vrep["probes"]]
  tiers["validate"] = {"state": tier_state(vcases), "duration": vrep["duration"], "counts": counts(vcases), "cases": vcases, "rules": vrep["rules"]}
  rec = {"format": FORMAT, "id": record_id(name, version, sha), "status": "", "status_reasons": [], "date": iso(when),
         "expires": iso(when + datetime.timedelta(days=valid_days)),
         "backend": {"name": name, "version": version, "source": target.source, "distribution": _distribution(target.source), "manifest": manifest,
                     "library": {"file": os.path.basename(target.library), "sha256": sha, "size": os.path.getsize(target.library)}},
         "device": {"index": 0, "properties": vrep["device"]["properties"], "caps": vrep["device"]["caps"]},
         "versions": {**{k: v for k, v in versions.items() if k != "pytest"}, "backend_abi": f"{ABI_MAJOR}.{ABI_MINOR}"},
         "host": host(vrep["device"]["properties"]), "tiers": tiers}
  rec["status"], rec["status_reasons"] = derive(rec)
  rec["digest"] = digest(rec)
  return rec

def write(rec: dict, directory: str) -> str:
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, f"{rec['id']}.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(rec, f, indent=1, ensure_ascii=False)
    f.write("\n")
  return path
