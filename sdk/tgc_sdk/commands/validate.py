"""tgc-sdk validate NAME: check the declared caps for consistency, then prove each one by probing."""
from __future__ import annotations
import json
import click
from tgc_sdk import discovery, validate as V
from tgc_sdk.commands.conformance import manifest_of, run_tiers, versions, now

def preflight(target: discovery.Target) -> dict:
  """The manifest, from the library (no plugin code runs) and from the JSON next to it, must be sound before anything
  runs: a backend the host would refuse is not validated or certified. Returns the library's manifest."""
  from tgc_sdk.suite.abi import MAGIC, ABI_MAJOR
  m = manifest_of(target.library)
  if m is None: raise click.ClickException(f"{target.library} has no readable tg_backend_manifest: not a tgc backend library, or a damaged one "
                                           f"(tgc-sdk conformance --tier loader NAME says more)")
  if m["magic"] != MAGIC or m["abi_major"] != ABI_MAJOR:
    raise click.ClickException(f"{target.library}: corrupt or foreign manifest (magic {m['magic']:#x}, ABI major {m['abi_major']}; this tgc expects "
                               f"{MAGIC:#x} and {ABI_MAJOR}): rebuild the backend against tgc's tg_backend.h")
  if target.manifest:
    try:
      with open(target.manifest, encoding="utf-8") as f: js = json.load(f)
      if not isinstance(js, dict): raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
      raise click.ClickException(f"manifest {target.manifest} is corrupt ({e}): reinstall the backend's package, or fix --manifest") from None
    if str(js.get("name", "")).upper() != m["name"]:
      raise click.ClickException(f"manifest {target.manifest} names {js.get('name')!r} but the library is {m['name']!r}: "
                                 "reinstall the backend's package")
  return m

def run_validate(target: discovery.Target, name: str | None, timeout: float, quiet: bool) -> dict:
  started = now()
  (run,) = run_tiers(target, ["validate"], timeout, quiet, name)
  return V.build(target, run, manifest_of(target.library), versions(), started)

@click.command("validate")
@click.argument("name", required=False)
@click.option("--library", type=click.Path(dir_okay=False), help="validate this backend library directly instead of an installed backend NAME")
@click.option("--manifest", "manifest_json", type=click.Path(dir_okay=False), help="with --library: the backend's manifest JSON")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON (findings, probes with their details, the caps)")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True, help="seconds a probe may run before it is a TIMEOUT")
@click.option("-q", "--quiet", is_flag=True, help="no progress line")
def validate(name, library, manifest_json, as_json, timeout, quiet):
  """Check the capabilities backend NAME declares (tg_device_caps of device 0), then prove each by using it.

  \b
  Rules: libtgc's load-time checks and more (dialect known and in the manifest, limits >= 1, local_max <= global_max,
    local_prod_max <= product of local_max, nothing local without has_local, no workgroups in the "c" dialect,
    vector_width and alignment powers of two, shared_max vs has_shared, mem_max_alloc <= mem_total, dtype bits only of
    storage dtypes, ALU bits only of known ops, tensor core shapes over declared dtypes).
  Probes, in a child process under a watchdog ("c"-dialect devices; other dialects need the engine's kernels: NOT_RUN):
    every dtype round-trips through memory and a kernel; every ALU op on every declared dtype against Python;
    global_max and local_max launch (if not, the largest size that does is found); has_threads spreads work over
    threads; buffer base addresses honour the alignment; float vectors of vector_width work.

  "Declared but fails" is an ERROR (exit 1); "works but not declared" is a WARNING.
  """
  try: target = discovery.find(name, library, manifest_json)
  except discovery.DiscoveryError as e: raise click.ClickException(str(e)) from None
  preflight(target)
  if not (quiet or as_json): click.echo(f"tgc-sdk validate: {target.name} ({target.library}, {target.source})", err=True)
  rep = run_validate(target, name, timeout, quiet or as_json)
  click.echo(json.dumps(rep, indent=2, default=str) if as_json else V.text(rep))
  if rep["verdict"] == "FAIL":
    raise click.ClickException(f"{rep['counts']['ERROR']} error(s): fix what device_caps declares (or the backend, where it should work), "
                               f"then run `tgc-sdk validate {name or '--library ' + str(library)}` again")
  if rep["verdict"] == "NOT_RUN":
    why = next((p["message"] for p in rep["probes"] if p["case"] == "validate.caps"), "") or "no device"
    raise click.ClickException(f"nothing was validated: {why}. Run validate where the device is present")
