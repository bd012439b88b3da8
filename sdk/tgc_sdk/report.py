"""Conformance reports: the summary table (text), the JSON document (--json) and a self-contained HTML page (--html)."""
from __future__ import annotations
import html, json, platform, datetime
from tgc_sdk.runner import TierRun, STATUSES, BAD

COLORS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "NOT_SUPPORTED": "#6e7781", "NOT_RUN": "#9a6700", "CRASH": "#8250df", "TIMEOUT": "#bc4c00"}

def counts(results) -> dict[str, int]:
  c = {s: 0 for s in STATUSES}
  for r in results: c[r.status] = c.get(r.status, 0) + 1
  c["expected"] = sum(1 for r in results if r.expected)
  return c

def build(target, runs: list[TierRun], stale: list[dict], expect_file: str | None, versions: dict, started: str, manifest: dict | None) -> dict:
  results = [r for run in runs for r in run.results]
  unexpected = [r.case for r in results if r.status in BAD and not r.expected]
  return {"format": "tgc-conformance/1", "started": started, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "backend": {"name": target.name, "library": target.library, "sha256": target.sha256(), "manifest_json": target.manifest,
                      "source": target.source, "manifest": manifest},
          "versions": versions, "host": {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version()},
          "tiers": {run.tier: {"duration": round(run.duration, 3), "children": run.children, "counts": counts(run.results),
                               "cases": [r.to_dict() for r in run.results]} for run in runs},
          "totals": counts(results), "expectations": {"file": expect_file, "stale": stale}, "unexpected": unexpected,
          "verdict": "FAIL" if unexpected else "PASS"}

def table(rep: dict) -> str:
  cols = ["tier", "cases", *STATUSES, "expected", "time"]
  rows = [[t, str(len(v["cases"])), *(str(v["counts"][s]) for s in STATUSES), str(v["counts"]["expected"]), f"{v['duration']:.1f}s"]
          for t, v in rep["tiers"].items()]
  tot = rep["totals"]
  rows.append(["total", str(sum(len(v["cases"]) for v in rep["tiers"].values())), *(str(tot[s]) for s in STATUSES), str(tot["expected"]),
               f"{sum(v['duration'] for v in rep['tiers'].values()):.1f}s"])
  w = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
  fmt = lambda r: "  ".join(x.ljust(w[0]) if i == 0 else x.rjust(w[i]) for i, x in enumerate(r))
  return "\n".join([fmt(cols), fmt(["-" * n for n in w]), *map(fmt, rows[:-1]), fmt(["-" * n for n in w]), fmt(rows[-1])])

def text(rep: dict) -> str:
  b = rep["backend"]
  lines = [f"conformance of {b['name']} ({b['library']})", "", table(rep), ""]
  for t, v in rep["tiers"].items():
    groups: dict[tuple[str, str], list[dict]] = {}   # NOT_RUN cases sharing a reason are shown once
    for c in v["cases"]:
      first = (c["reason"] or "").strip().splitlines()[0][:200] if c["reason"] else ""
      if c["status"] == "NOT_RUN" and t in ("loader", "runtime"): groups.setdefault((c["status"], first), []).append(c)
      elif c["status"] in BAD:
        tag = f" [expected: {c['expected']['kind']}: {c['expected']['reason']}]" if c["expected"] else ""
        lines.append(f"{c['status']:<8} {c['case']}: {first}{tag}")
    for (status, first), cs in groups.items():
      lines.append(f"{status:<8} {cs[0]['case'] if len(cs) == 1 else f'{len(cs)} {t} cases'}: {first}")
  engine = [t for t, v in rep["tiers"].items() if v["cases"] and all(c["status"] == "NOT_RUN" for c in v["cases"])]
  if engine: lines.append(f"NOT_RUN  tiers {', '.join(engine)}: no case ran (see the reasons in --json/--html); none is reported as passing")
  for s in rep["expectations"]["stale"]: lines.append(f"STALE    expectation {s['case']!r} ({s['kind']}): {s['why']}")
  n = len(rep["unexpected"])
  lines += ["", f"verdict: {rep['verdict']}" + (f": {n} unexpected FAIL/CRASH/TIMEOUT" if n else ": no unexpected FAIL, CRASH or TIMEOUT")]
  return "\n".join(lines)

def write_json(rep: dict, path: str) -> None:
  with open(path, "w", encoding="utf-8") as f: json.dump(rep, f, indent=2, default=str)

def _esc(x) -> str: return html.escape(str(x), quote=True)

def to_html(rep: dict) -> str:
  b, tot = rep["backend"], rep["totals"]
  badge = lambda s: f'<span class="s" style="background:{COLORS.get(s, "#555")}">{_esc(s)}</span>'
  head = "".join(f"<th>{_esc(c)}</th>" for c in ["tier", "cases", *STATUSES, "expected", "time"])
  rows = "".join(f"<tr><td>{_esc(t)}</td><td>{len(v['cases'])}</td>" + "".join(f"<td>{v['counts'][s]}</td>" for s in STATUSES)
                 + f"<td>{v['counts']['expected']}</td><td>{v['duration']:.1f}s</td></tr>" for t, v in rep["tiers"].items())
  cases = []
  for t, v in rep["tiers"].items():
    for c in v["cases"]:
      exp = f"<div class='x'>expected ({_esc(c['expected']['kind'])}): {_esc(c['expected']['reason'])}</div>" if c["expected"] else ""
      det = f"<details><summary>detail</summary><pre>{_esc(json.dumps(c['detail'], indent=1, default=str))}</pre></details>" if c["detail"] else ""
      cases.append(f"<tr class='{_esc(c['status'])}'><td>{_esc(c['case'])}</td><td>{badge(c['status'])}</td><td>{c['duration']:.3f}s</td>"
                   f"<td><pre>{_esc(c['reason'])}</pre>{exp}{det}</td></tr>")
  stale = "".join(f"<li><code>{_esc(s['case'])}</code> ({_esc(s['kind'])}): {_esc(s['why'])}</li>" for s in rep["expectations"]["stale"])
  filters = "".join(f"<label><input type='checkbox' checked onchange=\"f('{s}',this.checked)\"> {s} ({tot[s]})</label> " for s in STATUSES)
  meta = [("library", b["library"]), ("sha256", b["sha256"]), ("source", b["source"]), ("manifest", json.dumps(b["manifest"])),
          *((k, v) for k, v in rep["versions"].items()), ("host", f"{rep['host']['platform']}, Python {rep['host']['python']}"),
          ("started", rep["started"]), ("expectations", rep["expectations"]["file"] or "none")]
  return f"""<!doctype html><html><head><meta charset="utf-8"><title>tgc conformance: {_esc(b['name'])}</title><style>
body{{font:14px system-ui,sans-serif;margin:2em;color:#1f2328}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}} th{{background:#f6f8fa}}
pre{{margin:0;white-space:pre-wrap;max-width:90ch;font-size:12px}}
.s{{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:600}} .x{{color:#57606a;font-style:italic}}
.v{{font-size:20px;font-weight:700;color:{COLORS['PASS'] if rep['verdict'] == 'PASS' else COLORS['FAIL']}}}</style>
<script>function f(s,on){{document.querySelectorAll('tr.'+s).forEach(r=>r.style.display=on?'':'none')}}</script></head><body>
<h1>tgc conformance: {_esc(b['name'])}</h1><p class="v">verdict: {_esc(rep['verdict'])} ({len(rep['unexpected'])} unexpected FAIL/CRASH/TIMEOUT)</p>
<table>{''.join(f'<tr><th>{_esc(k)}</th><td><code>{_esc(v)}</code></td></tr>' for k, v in meta)}</table>
<h2>Summary</h2><table><tr>{head}</tr>{rows}</table>
<p>NOT_RUN cases are listed with their reasons, never counted as passing.</p>
{f'<h2>Stale expectations</h2><ul>{stale}</ul>' if stale else ''}
<h2>Cases</h2><p>{filters}</p><table><tr><th>case</th><th>status</th><th>time</th><th>reason</th></tr>{''.join(cases)}</table>
</body></html>
"""

def write_html(rep: dict, path: str) -> None:
  with open(path, "w", encoding="utf-8") as f: f.write(to_html(rep))
