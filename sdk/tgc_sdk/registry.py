"""The certification registry: a directory with schema.json, records/<id>.json (written by `tgc-sdk certify`),
index.json and index.html (written by `tgc-sdk registry index`).

`verify` checks each record against the schema (a small validator for the JSON Schema subset schema.json uses), its
digest (an edited or truncated record is an error), its id, its status (derived again from its cases: a "certified"
record with a FAIL, CRASH, TIMEOUT or NOT_RUN is an error), its dates (expired is an error, expiring within 30 days a
warning), and, where the backend's library is at hand (installed here, or --library NAME=PATH), its sha256. A library
that differs is a WARNING by default, because every rebuild of a library changes its hash ("a record of another build";
both hashes are shown), and an ERROR with --require-match. A failed record does not belong in a registry (error), and
index.json/index.html must be what `registry index` writes from the records (error when stale).

index.json (format tgc-registry-index/1) is what `python -m tgc doctor` and `tgc-sdk list` read; tgc-sdk ships a copy of
the repository's (tgc_sdk/registry_index.json), written by `registry index` when it indexes the registry of the checkout
the SDK itself lives in."""
from __future__ import annotations
import re, json, html, hashlib, datetime
from pathlib import Path
from tgc_sdk import record as R
from tgc_sdk.suite import VERSION as SUITE_VERSION

INDEX_FORMAT = "tgc-registry-index/1"
SNAPSHOT = Path(__file__).resolve().parent / "registry_index.json"
REPO_REGISTRY = Path(__file__).resolve().parent.parent.parent / "registry"

class RegistryError(ValueError): pass

# ---------------- a JSON Schema validator for the subset schema.json uses ----------------

_TYPES = {"object": lambda x: isinstance(x, dict), "array": lambda x: isinstance(x, list), "string": lambda x: isinstance(x, str),
          "integer": lambda x: isinstance(x, int) and not isinstance(x, bool), "boolean": lambda x: isinstance(x, bool),
          "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool), "null": lambda x: x is None}
KEYWORDS = {"$schema", "$id", "$ref", "$defs", "title", "description", "type", "const", "enum", "pattern", "minLength", "maxLength", "minimum",
            "maximum", "items", "minItems", "maxItems", "properties", "required", "additionalProperties"}

def schema_errors(schema: dict, doc, root: dict | None = None, path: str = "") -> list[str]:
  """Every violation as "/json/pointer: what". Raises RegistryError on a keyword outside the subset (so a schema that
  grows beyond it is noticed, not silently half-checked)."""
  root, at, errs = root or schema, path or "/", []
  if unknown := set(schema) - KEYWORDS:
    raise RegistryError(f"schema at {at}: keyword(s) {', '.join(sorted(unknown))} not supported by tgc-sdk's validator")
  if "$ref" in schema:
    if not schema["$ref"].startswith("#/$defs/"): raise RegistryError(f"schema at {at}: only #/$defs/ references are supported")
    return schema_errors(root["$defs"][schema["$ref"][8:]], doc, root, path)
  if "type" in schema:
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if not any(_TYPES[t](doc) for t in types): return [f"{at}: {json.dumps(doc)[:80]} is not of type {' or '.join(types)}"]
  if "const" in schema and doc != schema["const"]: errs.append(f"{at}: {json.dumps(doc)[:80]} is not {json.dumps(schema['const'])}")
  if "enum" in schema and doc not in schema["enum"]: errs.append(f"{at}: {json.dumps(doc)[:80]} is not one of {schema['enum']}")
  if isinstance(doc, str):
    if "pattern" in schema and not re.search(schema["pattern"], doc): errs.append(f"{at}: {doc[:80]!r} does not match {schema['pattern']}")
    if len(doc) < schema.get("minLength", 0): errs.append(f"{at}: shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(doc) > schema["maxLength"]: errs.append(f"{at}: longer than {schema['maxLength']} characters")
  if _TYPES["number"](doc):
    if "minimum" in schema and doc < schema["minimum"]: errs.append(f"{at}: {doc} < minimum {schema['minimum']}")
    if "maximum" in schema and doc > schema["maximum"]: errs.append(f"{at}: {doc} > maximum {schema['maximum']}")
  if isinstance(doc, list):
    if len(doc) < schema.get("minItems", 0): errs.append(f"{at}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(doc) > schema["maxItems"]: errs.append(f"{at}: more than {schema['maxItems']} items")
    if "items" in schema:
      for i, x in enumerate(doc): errs += schema_errors(schema["items"], x, root, f"{path}/{i}")
  if isinstance(doc, dict):
    errs += [f"{at}: missing required property {k!r}" for k in schema.get("required", []) if k not in doc]
    props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
    for k, v in doc.items():
      if k in props: errs += schema_errors(props[k], v, root, f"{path}/{k}")
      elif extra is False: errs.append(f"{at}: property {k!r} is not allowed")
      elif isinstance(extra, dict): errs += schema_errors(extra, v, root, f"{path}/{k}")
  return errs

# ---------------- verify ----------------

def load_schema(reg: Path) -> dict:
  p = reg / "schema.json"
  try: return json.loads(p.read_text(encoding="utf-8"))
  except OSError as e: raise RegistryError(f"{p}: {e.strerror}: a registry holds schema.json next to records/") from None
  except ValueError as e: raise RegistryError(f"{p} is not valid JSON: {e}") from None

def load_records(reg: Path) -> list[tuple[Path, dict | None, str]]:
  """(path, record or None, error) for every records/*.json."""
  out = []
  for p in sorted((reg / "records").glob("*.json")):
    try: out.append((p, json.loads(p.read_text(encoding="utf-8")), ""))
    except (OSError, ValueError) as e: out.append((p, None, f"not valid JSON: {e}"))
  return out

def check_record(path: Path, rec: dict, schema: dict, now: datetime.datetime, libraries: dict[str, str], require_match: bool) -> dict:
  """{"file", "id", "status", "errors", "warnings", "notes"} for one parsed record."""
  errs, warns, notes = [], [], []
  res = {"file": str(path), "id": rec.get("id") if isinstance(rec, dict) else None, "status": rec.get("status") if isinstance(rec, dict) else None,
         "errors": errs, "warnings": warns, "notes": notes}
  if se := schema_errors(schema, rec):
    errs += [f"does not match the schema: {e}" for e in se[:20]] + ([f"... and {len(se) - 20} more schema errors"] if len(se) > 20 else [])
    return res
  if rec["digest"] != (d := R.digest(rec)):
    errs.append(f"digest mismatch (the record says {rec['digest']}, its content hashes to {d}): the file was edited or damaged after "
                f"certify wrote it; certify again instead of editing")
  b = rec["backend"]
  if rec["id"] != (want := R.record_id(b["name"], b["version"], b["library"]["sha256"])): errs.append(f"id {rec['id']!r} should be {want!r}")
  if path.stem != rec["id"]: errs.append(f"file name {path.name} does not match the id {rec['id']!r} (expected {rec['id']}.json)")
  status, reasons = R.derive(rec)
  if status != rec["status"]:
    errs.append(f"status {rec['status']!r} does not follow from the cases, which give {status!r}: {'; '.join(reasons) or 'everything ran'}")
  elif rec["status_reasons"] != reasons: errs.append("status_reasons do not match the cases")
  if rec["status"] == "failed": errs.append(f"a failed record does not belong in the registry: {'; '.join(reasons[:3])}")
  for t, v in rec["tiers"].items():
    if (c := R.counts(v["cases"])) != v["counts"]: errs.append(f"tier {t}: counts {v['counts']} do not match its cases {c}")
    if v["state"] != R.tier_state(v["cases"]): errs.append(f"tier {t}: state {v['state']!r} does not match its cases ({R.tier_state(v['cases'])!r})")
    if stray := [c["case"] for c in v["cases"] if not c["case"].startswith(t + ".")]: errs.append(f"tier {t}: cases of another tier: {stray[:3]}")
  date, exp = R.parse_iso(rec["date"]), R.parse_iso(rec["expires"])
  if exp <= date or (exp - date).days > R.MAX_VALID_DAYS:
    errs.append(f"expires {rec['expires']} must lie within {R.MAX_VALID_DAYS} days after the date {rec['date']}")
  elif date > now + datetime.timedelta(days=1): errs.append(f"dated {rec['date']}, in the future")
  elif exp <= now: errs.append(f"expired on {rec['expires']}: certify {b['name'].lower()} again (tgc-sdk certify) and replace this record")
  elif (exp - now).days < R.WARN_DAYS: warns.append(f"expires in {(exp - now).days} days ({rec['expires']}): certify again soon")
  if rec["versions"]["suite"] != SUITE_VERSION:
    warns.append(f"certified with suite {rec['versions']['suite']}; this tgc-sdk runs suite {SUITE_VERSION}")
  lib = libraries.get(b["name"].upper())
  if lib is None: notes.append(f"library not compared: no {b['name']} backend library here (install it, or pass --library {b['name'].lower()}=PATH)")
  else:
    sha = _sha256(lib)
    if sha == b["library"]["sha256"]: notes.append(f"library {lib} is the certified build (sha256 {sha})")
    else:
      hint = "" if require_match else " (a rebuild changes the hash; --require-match makes this an error)"
      (errs if require_match else warns).append(f"record of another build: the record's {b['library']['file']} has sha256 {b['library']['sha256']}, "
                                                f"{lib} has {sha}{hint}")
  return res

def _sha256(path: str) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
  return h.hexdigest()

def verify(reg: Path, libraries: dict[str, str], require_match: bool = False, now: datetime.datetime | None = None) -> dict:
  now = now or datetime.datetime.now(datetime.timezone.utc)
  if not reg.is_dir(): raise RegistryError(f"no registry directory {reg}: pass --registry DIR (the directory holding schema.json and records/)")
  schema = load_schema(reg)
  results, general = [], []
  loaded = load_records(reg)
  if not loaded: general.append(f"{reg / 'records'} holds no records (*.json)")
  for path, rec, err in loaded:
    if rec is None or not isinstance(rec, dict):
      results.append({"file": str(path), "id": None, "status": None, "errors": [err or "not a JSON object"], "warnings": [], "notes": []})
    else: results.append(check_record(path, rec, schema, now, libraries, require_match))
  for p in sorted((reg / "records").glob("*")) if (reg / "records").is_dir() else []:
    if p.suffix != ".json": general.append(f"{p.name}: not a record (records/ holds only <id>.json)")
  good = [rec for (_, rec, _), r in zip(loaded, results) if not r["errors"]]
  if len(good) == len(loaded) and loaded:
    want_json, want_html = index_files(good)
    for name, want in (("index.json", want_json), ("index.html", want_html)):
      try: have = (reg / name).read_text(encoding="utf-8")
      except OSError: have = None
      if have != want: general.append(f"{name} is {'missing' if have is None else 'stale'}: run `tgc-sdk registry index --registry {reg}`")
  n_err = sum(len(r["errors"]) for r in results) + len(general)
  return {"registry": str(reg), "records": results, "general": general, "errors": n_err, "warnings": sum(len(r["warnings"]) for r in results),
          "verdict": "FAIL" if n_err else "PASS"}

# ---------------- index ----------------

def entry(rec: dict) -> dict:
  t = rec["tiers"]
  return {"id": rec["id"], "file": f"records/{rec['id']}.json", "name": rec["backend"]["name"], "version": rec["backend"]["version"],
          "status": rec["status"], "date": rec["date"], "expires": rec["expires"], "sha256": rec["backend"]["library"]["sha256"],
          "library": rec["backend"]["library"]["file"], "dialect": (rec["device"]["caps"] or {}).get("dialect"),
          "device": (rec["device"]["properties"] or {}).get("name"), "tiers": {k: v["state"] for k, v in t.items()},
          "not_run": [k for k, v in t.items() if v["state"] != "ran"], "suite": rec["versions"]["suite"], "tgc": rec["versions"]["tgc"],
          "os": rec["host"]["os"]}

def index_files(records: list[dict]) -> tuple[str, str]:
  """index.json and index.html for these records: deterministic (no generation time), so that CI can check them."""
  entries = sorted((entry(r) for r in records), key=lambda e: (e["name"], e["version"], e["date"], e["id"]))
  idx = {"format": INDEX_FORMAT, "records": entries}
  return json.dumps(idx, indent=1) + "\n", _html(entries)

COLORS = {"certified": "#1a7f37", "provisional": "#9a6700", "failed": "#cf222e"}

def _html(entries: list[dict]) -> str:
  e = lambda x: html.escape(str(x), quote=True)
  state = lambda s: {"ran": "&#10003;", "partial": "partial", "not_run": "NOT_RUN"}.get(s, e(s))
  tiers = list(R.ALL_TIERS)
  rows = "".join(
    f"<tr><td><a href='{e(x['file'])}'><code>{e(x['id'])}</code></a></td><td>{e(x['name'])}</td><td>{e(x['version'])}</td>"
    f"<td><span class='s' style='background:{COLORS.get(x['status'], '#555')}'>{e(x['status'])}</span></td>"
    + "".join(f"<td class='{e(x['tiers'].get(t, ''))}'>{state(x['tiers'].get(t, 'missing'))}</td>" for t in tiers)
    + f"<td>{e(x['dialect'])}</td><td>{e(x['device'])}</td><td>{e(x['date'][:10])}</td><td>{e(x['expires'][:10])}</td>"
    f"<td><code title='{e(x['sha256'])}'>{e(x['library'])} {e(x['sha256'][:12])}</code></td></tr>" for x in entries)
  head = "".join(f"<th>{e(c)}</th>" for c in ["record", "backend", "version", "status", *tiers, "dialect", "device", "date", "expires", "library"])
  return f"""<!doctype html><html><head><meta charset="utf-8"><title>tgc backend registry</title><style>
body{{font:14px system-ui,sans-serif;margin:2em;color:#1f2328}} table{{border-collapse:collapse}}
td,th{{border:1px solid #d0d7de;padding:4px 8px;text-align:left}} th{{background:#f6f8fa}} td.not_run,td.partial{{color:#9a6700}}
.s{{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:600}}</style></head><body>
<h1>tgc backend registry</h1>
<p>Certification records written by <code>tgc-sdk certify</code> and checked by <code>tgc-sdk registry verify</code>.
<b>certified</b>: every tier ran every case and nothing failed. <b>provisional</b>: nothing failed, but the tiers marked NOT_RUN
did not run (the numerics and models tiers need tgc's engine), so the record certifies nothing about them.</p>
<table><tr>{head}</tr>{rows}</table>
<p>{len(entries)} record(s). Generated by <code>tgc-sdk registry index</code> from records/.</p>
</body></html>
"""

def write_index(reg: Path) -> list[str]:
  """Writes index.json and index.html (and tgc-sdk's shipped snapshot when reg is this checkout's registry). Only
  records that verify are indexed: any other is a RegistryError naming it."""
  if not reg.is_dir(): raise RegistryError(f"no registry directory {reg}: pass --registry DIR")
  schema, recs = load_schema(reg), []
  for path, rec, err in load_records(reg):
    if rec is None or (err := check_record(path, rec, schema, datetime.datetime.now(datetime.timezone.utc), {}, False)["errors"]):
      raise RegistryError(f"{path}: {err if isinstance(err, str) else err[0]}: fix or remove it (tgc-sdk registry verify shows every problem)")
    recs.append(rec)
  js, page = index_files(recs)
  (reg / "index.json").write_text(js, encoding="utf-8")
  (reg / "index.html").write_text(page, encoding="utf-8")
  written = [str(reg / "index.json"), str(reg / "index.html")]
  if REPO_REGISTRY.is_dir() and reg.resolve() == REPO_REGISTRY.resolve():
    SNAPSHOT.write_text(js, encoding="utf-8")
    written.append(str(SNAPSHOT))
  return written
