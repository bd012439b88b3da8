"""`tgc-sdk validate`: the rules the declared caps must obey, checked on what the probe child recorded (validate.caps),
and the probe results (suite/test_validate.py) turned into findings:

  ERROR    a rule is broken, or a declared capability fails when used ("declared but fails")
  WARNING  a capability works but is not declared ("works but not declared"), or a rule a device should follow
  OK       declared and works; or not declared and does not work
  NOT_RUN  cannot be probed here (with why): kernels of dialects other than "c" come from the engine (issue 3)

The rules are libtgc's load-time checks (core/src/device.c: check_caps) and more."""
from __future__ import annotations
import datetime
from tgc_sdk.runner import TierRun, BAD
from tgc_sdk.suite.abi import DTYPES, ALU_OPS, DIALECTS

SEVERITIES = ("ERROR", "WARNING", "OK", "NOT_RUN")
DTYPE_BIT = {n: v for v, n in DTYPES.items()}

def _pow2(x: int) -> bool: return x > 0 and not x & (x - 1)

def rules(caps: dict, manifest_dialects: list[str]) -> list[dict]:
  """Every rule with its outcome: [{"rule", "severity", "message"}] (message empty when OK)."""
  out: list[dict] = []
  def rule(name: str, ok: bool, msg: str, sev: str = "ERROR") -> None:
    out.append({"rule": name, "severity": "OK" if ok else sev, "message": "" if ok else msg})
  c, g, l = caps, caps["global_max"], caps["local_max"]
  rule("dialect_known", c["dialect"] in DIALECTS, f"dialect {c['dialect']!r} is not one of the core's renderers {', '.join(DIALECTS)}")
  rule("dialect_in_manifest", c["dialect"] in manifest_dialects, f"dialect {c['dialect']!r} is not among the manifest's dialects {manifest_dialects}")
  rule("global_max_positive", all(x >= 1 for x in g), f"global_max {g}: every dimension must be >= 1")
  rule("local_max_positive", all(x >= 1 for x in l), f"local_max {l}: every dimension must be >= 1")
  rule("local_max_within_global", all(a <= b for a, b in zip(l, g)), f"local_max {l} exceeds global_max {g}")
  prod = l[0] * l[1] * l[2]
  rule("local_prod_max_range", 1 <= c["local_prod_max"] <= prod,
       f"local_prod_max {c['local_prod_max']} must lie in 1..{prod} (the product of local_max {l})")
  rule("local_without_has_local", bool(c["has_local"]) or (l == [1, 1, 1] and c["local_prod_max"] == 1),
       f"has_local is 0 but local_max is {l} and local_prod_max {c['local_prod_max']}: without workgroups both must be 1")
  rule("c_has_no_workgroups", c["dialect"] != "c" or not (c["has_local"] or c["has_shared"]),
       f"the \"c\" dialect calls a kernel once per grid point with (bufs, vals, gid): it has no local ids and no shared memory, but "
       f"has_local={c['has_local']} has_shared={c['has_shared']}")
  rule("vector_width_pow2", _pow2(c["vector_width"]), f"vector_width {c['vector_width']} is not a power of two (the renderers load float2/4/8...)")
  rule("alignment_pow2", _pow2(c["alignment"]), f"alignment {c['alignment']} is not a power of two")
  rule("alignment_fits_vectors", not _pow2(c["vector_width"]) or not _pow2(c["alignment"]) or c["alignment"] >= 4 * c["vector_width"],
       f"alignment {c['alignment']} is less than a float{c['vector_width']} ({4 * c['vector_width']} bytes): vector loads from a buffer's start "
       f"would be misaligned", "WARNING")
  rule("required_dtypes", "float32" in c["dtypes"] and "int32" in c["dtypes"],
       f"dtypes {c['dtypes']} lack float32 or int32, which every device needs")
  rule("dtype_bits", not c["dtypes_mask"] >> len(DTYPES),
       f"dtypes {c['dtypes_mask']:#x} sets bits beyond the {len(DTYPES)} storage dtypes of tg_dtype (the weak pseudo-dtypes are never declared)")
  rule("alu_bits", not c["alu_ops_mask"] >> len(ALU_OPS), f"alu_ops {c['alu_ops_mask']:#x} sets bits beyond the {len(ALU_OPS)} tg_alu_op values")
  rule("shared_max_needs_has_shared", bool(c["has_shared"]) or not c["shared_max"], f"shared_max {c['shared_max']} without has_shared")
  rule("has_shared_needs_size", not c["has_shared"] or c["shared_max"] > 0, "has_shared with shared_max 0: say how many bytes a workgroup has")
  rule("mem_max_alloc_within_total", not (c["mem_total"] and c["mem_max_alloc"]) or c["mem_max_alloc"] <= c["mem_total"],
       f"mem_max_alloc {c['mem_max_alloc']} > mem_total {c['mem_total']}")
  tc_bad = [f"#{i}: {why}" for i, t in enumerate(c["tensor_cores"]) for why in
            ([f"dims {t['dims']} has a 0"] if 0 in t["dims"] else []) + (["threads 0"] if not t["threads"] else []) +
            [f"{k} {t[k]} is not a declared dtype" for k in ("dtype_in", "dtype_out") if DTYPES.get(t[k]) not in c["dtypes"]]]
  rule("tensor_cores", not (c["n_tensor_cores"] and c["tensor_cores_null"]) and not tc_bad,
       f"n_tensor_cores {c['n_tensor_cores']} with tensor_cores NULL" if c["n_tensor_cores"] and c["tensor_cores_null"] else "; ".join(tc_bad))
  return out

def severity(r: dict) -> str:
  if r["status"] in BAD: return "ERROR"
  if r["status"] == "NOT_RUN": return "NOT_RUN"
  return "WARNING" if r["status"] == "PASS" and r["detail"].get("undeclared") else "OK"

def build(target, run: TierRun, manifest: dict | None, versions: dict, started: str) -> dict:
  """The validate report (format tgc-validate/1)."""
  cases = [r.to_dict() for r in run.results]
  caps_case = next((c for c in cases if c["case"] == "validate.caps"), None)
  caps = caps_case["detail"].get("caps") if caps_case and caps_case["status"] == "PASS" else None
  ruled = rules(caps, caps_case["detail"].get("manifest_dialects", [])) if caps else []
  probes = [{"case": c["case"], "status": c["status"], "severity": severity(c),
             "message": c["detail"].get("undeclared") if severity(c) == "WARNING" else c["reason"], "detail": c["detail"]} for c in cases]
  counts = {s: sum(1 for x in ruled + probes if x["severity"] == s) for s in SEVERITIES}
  verdict = "FAIL" if counts["ERROR"] else "NOT_RUN" if caps is None else "PASS"
  return {"format": "tgc-validate/1", "started": started, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "backend": {"name": target.name, "library": target.library, "sha256": target.sha256(), "source": target.source, "manifest": manifest},
          "device": {"index": 0, "properties": caps_case["detail"].get("properties") if caps else None, "caps": caps}, "versions": versions,
          "duration": round(run.duration, 3), "rules": ruled, "probes": probes, "counts": counts, "verdict": verdict}

def _caps_line(c: dict) -> str:
  gib = lambda n: f"{n / 2**30:.1f} GiB" if n else "unknown"
  flags = ", ".join(f"{k[4:]} {'yes' if c[k] else 'no'}" for k in ("has_local", "has_shared", "has_threads"))
  return (f"dialect {c['dialect']}, arch {c['arch'] or '?'}; {flags}; vector {c['vector_width']}; global_max {c['global_max']}, "
          f"local_max {c['local_max']}, local_prod_max {c['local_prod_max']}; alignment {c['alignment']}; shared_max {c['shared_max']}; "
          f"memory {gib(c['mem_total'])}, largest alloc {gib(c['mem_max_alloc'])}\n  dtypes ({len(c['dtypes'])}): {' '.join(c['dtypes'])}\n"
          f"  ALU ops ({len(c['alu_ops'])}): {' '.join(c['alu_ops'])}")

def text(rep: dict) -> str:
  b, d = rep["backend"], rep["device"]
  p = d["properties"] or {}
  dev = f": {p.get('name') or '?'} ({p.get('vendor') or '?'}, {p.get('type')})" if p else ""
  lines = [f"validate {b['name']} ({b['library']}), device 0{dev}"]
  if d["caps"]: lines += ["declared: " + _caps_line(d["caps"])]
  lines.append("")
  for r in rep["rules"]:
    if r["severity"] != "OK": lines.append(f"{r['severity']:<8} rule {r['rule']}: {r['message']}")
  undeclared_ops = [x["case"][len("validate.alu["):-1] for x in rep["probes"] if x["severity"] == "WARNING" and x["case"].startswith("validate.alu[")]
  for sev in ("ERROR", "WARNING", "NOT_RUN"):
    groups: dict[str, list[str]] = {}
    for x in rep["probes"]:
      if x["severity"] != sev or (sev == "WARNING" and x["case"].startswith("validate.alu[")): continue
      msg = (x["message"] or "").strip()
      if sev == "NOT_RUN": groups.setdefault(msg, []).append(x["case"])
      else: lines.append(f"{sev:<8} {x['case']}: {msg[:1500]}")
    if sev == "WARNING" and undeclared_ops:
      lines.append(f"WARNING  {len(undeclared_ops)} ALU op(s) work but are not declared: {' '.join(undeclared_ops)} (the core decomposes them; "
                   f"declare those the device has natively)")
    for msg, cs in groups.items(): lines.append(f"NOT_RUN  {cs[0] if len(cs) == 1 else f'{len(cs)} probes ({cs[0]}, ...)'}: {msg[:500]}")
  c, nr, npb = rep["counts"], len(rep["rules"]), len(rep["probes"])
  label = {"OK": "ok", "ERROR": "errors", "WARNING": "warnings", "NOT_RUN": "not run"}
  per = lambda xs: ", ".join(f"{sum(1 for x in xs if x['severity'] == s)} {label[s]}" for s in label)
  lines += ["", f"rules: {nr} checked: {per(rep['rules'])}", f"probes: {npb} in {rep['duration']:.1f}s: {per(rep['probes'])}"]
  if rep["verdict"] == "FAIL": lines.append(f"verdict: FAIL: {c['ERROR']} error(s): a declared capability is inconsistent or fails when used")
  elif rep["verdict"] == "NOT_RUN": lines.append("verdict: NOT_RUN: the device's caps could not be read, so nothing was validated")
  else: lines.append(f"verdict: PASS: every declared capability that could be probed works ({c['WARNING']} warning(s), {c['NOT_RUN']} not run)")
  return "\n".join(lines)
