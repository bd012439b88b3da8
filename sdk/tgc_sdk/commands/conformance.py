"""tgc-sdk conformance NAME: run the conformance suite against a backend."""
from __future__ import annotations
import sys, json, time, shutil, tempfile, datetime, importlib.metadata
import click
from tgc_sdk import __version__, discovery, expect, report, runner
from tgc_sdk.suite import TIERS, VERSION as SUITE_VERSION
from tgc_sdk.suite.engine import TOLERANCE_VERSION

def _tiers(value: str) -> list[str]:
  tiers = [t.strip() for t in value.split(",") if t.strip()]
  if bad := [t for t in tiers if t not in TIERS]: raise click.BadParameter(f"unknown tier(s) {', '.join(bad)}: choose from {','.join(TIERS)}")
  if not tiers: raise click.BadParameter(f"no tier given: choose from {','.join(TIERS)}")
  return [t for t in TIERS if t in tiers]

class _Progress:
  """One line per tier: redrawn in place on a terminal, printed once per tier when finished otherwise."""
  def __init__(self, quiet: bool):
    self.tty, self.quiet, self.t0, self.last = sys.stderr.isatty(), quiet, {}, 0.0
  def __call__(self, tier: str, done: int, total: int, case: str | None) -> None:
    if self.quiet or not self.tty: return
    now = time.monotonic()
    self.t0.setdefault(tier, now)
    if case is None and done < total and now - self.last < 0.1: return
    self.last = now
    line = f"[{tier}] {done}/{total} cases, {now - self.t0[tier]:.1f}s" + (f": {case}" if case else "")
    click.echo("\r\033[K" + line[:shutil.get_terminal_size().columns - 1], err=True, nl=False)
  def done(self, run: runner.TierRun) -> None:
    if self.quiet: return
    c = report.counts(run.results)
    summary = ", ".join(f"{n} {s}" for s, n in c.items() if n and s != "expected")
    click.echo(("\r\033[K" if self.tty else "") + f"[{run.tier}] {len(run.results)} cases in {run.duration:.1f}s: {summary}", err=True)

def manifest_of(library: str) -> dict | None:
  """tg_backend_manifest read from the library file (no plugin code runs), or None when unreadable."""
  from tgc_sdk.suite.test_loader import elf_manifest
  try: return {k: v for k, v in elf_manifest(library).items() if k not in ("terminated", "symbol_size")}
  except Exception: return None

@click.command("conformance")
@click.argument("name", required=False)
@click.option("--library", type=click.Path(dir_okay=False), help="test this backend library directly instead of an installed backend NAME")
@click.option("--manifest", "manifest_json", type=click.Path(dir_okay=False), help="with --library: the manifest JSON to check against it")
@click.option("--tier", "tiers", default=",".join(TIERS), show_default=True, callback=lambda c, p, v: _tiers(v), help="comma-separated tiers to run")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, allow_dash=True), help="write the full report as JSON (- for stdout)")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="write a self-contained HTML report")
@click.option("--expect", "expect_file", type=click.Path(dir_okay=False),
              help="expectations file: unsupported cases and expected failures, with reasons")
@click.option("--strict", is_flag=True, help="also fail on stale expectations (listed cases that now pass, or match nothing)")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True, help="seconds a case may run before it is a TIMEOUT")
@click.option("-q", "--quiet", is_flag=True, help="no progress and no summary table on the terminal")
def conformance(name, library, manifest_json, tiers, json_out, html_out, expect_file, strict, timeout, quiet):
  """Run the conformance suite against backend NAME (an installed plugin, found like tgc finds it) or --library PATH.

  \b
  Tiers, each in a child process under a watchdog, so a backend that crashes or hangs yields CRASH/TIMEOUT, not a dead run:
    loader    exported symbols, manifest, ABI negotiation (older/newer minor, other major), struct-size skew, reload
    runtime   alloc/free, copies with guard bytes, views, compile/load, launches at the declared limits, events, leaks
    numerics  every ALU op x declared dtype through tgc.Tensor, against the CPU device (tolerance table, guard bytes,
              shapes tiny/odd/large/broadcast/strided/size-0, NaN/Inf/-0.0)
    models    an MLP training step (Adam) and a conv net forward/backward, against the CPU device from the same weights

  Results per case: PASS, FAIL, NOT_SUPPORTED (where caps or NULL optional entries say so), NOT_RUN (with the reason),
  CRASH, TIMEOUT. Exits 1 when a FAIL, CRASH or TIMEOUT is not covered by --expect.
  """
  try:
    target = discovery.find(name, library, manifest_json)
    entries = expect.load(expect_file) if expect_file else []
  except (discovery.DiscoveryError, expect.ExpectError) as e: raise click.ClickException(str(e)) from None
  started = now()
  if not (quiet or json_out == "-"):
    click.echo(f"tgc-sdk conformance: {target.name} ({target.library}, {target.source}), tiers {','.join(tiers)}", err=True)
  runs = run_tiers(target, tiers, timeout, quiet or json_out == "-", name)
  results = [r for run in runs for r in run.results]
  stale = expect.apply(entries, results, tiers)
  rep = report.build(target, runs, stale, expect_file, versions(), started, manifest_of(target.library))
  if json_out == "-": click.echo(json.dumps(rep, indent=2, default=str))
  elif json_out: report.write_json(rep, json_out)
  if html_out: report.write_html(rep, html_out)
  if not quiet and json_out != "-": click.echo(report.text(rep))
  if rep["unexpected"]:
    raise click.ClickException(f"{len(rep['unexpected'])} case(s) FAIL, CRASH or TIMEOUT: fix the backend, or, where the device truly cannot pass, "
                               f"list them with a reason in an expectations file (--expect; see `tgc-sdk conformance --help`)")
  if strict and stale: raise click.ClickException(f"{len(stale)} stale expectation(s): remove the entries that now pass or match no case")

def dist_version(dist: str) -> str:
  try: return importlib.metadata.version(dist)
  except importlib.metadata.PackageNotFoundError: return "unknown"

def versions() -> dict[str, str]:
  return {"tgc-sdk": __version__, "suite": SUITE_VERSION, "tolerances": TOLERANCE_VERSION, "tgc": dist_version("tgc"), "pytest": dist_version("pytest")}

def now() -> str: return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

def run_tiers(target: discovery.Target, tiers: list[str], timeout: float, quiet: bool, name: str | None = None) -> list[runner.TierRun]:
  """Each tier in its own child under the watchdog (runner.run_tier), with a progress line per tier on stderr."""
  progress, runs = _Progress(quiet), []
  with tempfile.TemporaryDirectory(prefix="tgc-sdk-") as work:
    for tier in tiers:
      run = runner.run_tier(tier, target.library, target.manifest, name, timeout, work, progress)
      progress.done(run)
      runs.append(run)
  return runs
