"""tgc-sdk certify NAME: run the conformance suite and validate, and write a certification record."""
from __future__ import annotations
import json
from pathlib import Path
import click
from tgc_sdk import discovery, record as R, registry as REG
from tgc_sdk.suite import TIERS
from tgc_sdk.commands.conformance import manifest_of, run_tiers, versions
from tgc_sdk.commands.validate import run_validate, preflight

@click.command("certify")
@click.argument("name", required=False)
@click.option("--library", type=click.Path(dir_okay=False), help="certify this backend library directly instead of an installed backend NAME")
@click.option("--manifest", "manifest_json", type=click.Path(dir_okay=False), help="with --library: the backend's manifest JSON")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("registry/records"), show_default=True,
              help="directory the record is written to (a registry's records/)")
@click.option("--days", type=click.IntRange(1, R.MAX_VALID_DAYS), default=R.VALID_DAYS, show_default=True, help="days until the record expires")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True, help="seconds a case may run before it is a TIMEOUT")
@click.option("--json", "as_json", is_flag=True, help="print the record as JSON")
@click.option("-q", "--quiet", is_flag=True, help="no progress lines")
def certify(name, library, manifest_json, output, days, timeout, as_json, quiet):
  """Run every conformance tier and validate against backend NAME, and write its certification record to
  OUTPUT/<id>.json (id: name-version-first 12 hex digits of the library's sha256).

  \b
  The record holds the manifest, the library's sha256, device properties and caps, tgc/tgc-sdk/suite/ABI versions,
  the host (OS, libc, C compiler, driver), every case's result, the date and the expiry. Its status:
    certified    every tier ran every case and nothing failed
    provisional  nothing failed, but some tiers or cases are NOT_RUN (e.g. loader.manifest_json: --library without --manifest)
    failed       a FAIL, CRASH or TIMEOUT, or a validate ERROR (exit 1; the record documents the run)
  Then: tgc-sdk registry index && tgc-sdk registry verify.
  """
  try: target = discovery.find(name, library, manifest_json)
  except discovery.DiscoveryError as e: raise click.ClickException(str(e)) from None
  preflight(target)
  quiet = quiet or as_json
  if not quiet: click.echo(f"tgc-sdk certify: {target.name} ({target.library}, {target.source})", err=True)
  runs = run_tiers(target, list(TIERS), timeout, quiet, name)
  vrep = run_validate(target, name, timeout, quiet)
  rec = R.build(target, runs, vrep, manifest_of(target.library), versions(), valid_days=days)
  schema = output.parent / "schema.json"
  if schema.is_file() and (errs := REG.schema_errors(REG.load_schema(output.parent), rec)):
    raise click.ClickException(f"the record does not match {schema} (a tgc-sdk/registry version mismatch?): {'; '.join(errs[:5])}")
  path = R.write(rec, str(output))
  if as_json: click.echo(json.dumps(rec, indent=1))
  else:
    click.echo(f"{rec['status']}: {rec['id']} -> {path} (expires {rec['expires'][:10]})")
    for r in rec["status_reasons"]: click.echo(f"  {r}")
    reg = output.parent
    if rec["status"] != "failed": click.echo(f"next: tgc-sdk registry index --registry {reg} && tgc-sdk registry verify --registry {reg}")
  if rec["status"] == "failed":
    raise click.ClickException(f"{rec['backend']['name']} failed certification ({'; '.join(rec['status_reasons'][:3])}). {path} documents the run "
                               f"but does not belong in a registry: fix the backend (tgc-sdk conformance / validate show the details), "
                               f"then certify again")
