"""tgc-sdk registry verify|index: check certification records, and write the registry's index."""
from __future__ import annotations
import os, json
from pathlib import Path
import click
from tgc_sdk import discovery, registry as REG

REGISTRY = click.option("--registry", "reg", type=click.Path(file_okay=False, path_type=Path), default=Path("registry"), show_default=True,
                        help="the registry directory (schema.json, records/, index.json)")

@click.group("registry")
def registry():
  """The certification registry: records written by `tgc-sdk certify`, their schema, and a generated index."""

def _libraries(pairs: tuple[str, ...]) -> dict[str, str]:
  """NAME -> library path: installed backends (found like tgc finds them), then --library NAME=PATH."""
  libs = {str(b["name"]).upper(): b["library"] for b in discovery.installed() if b["library"] and os.path.isfile(b["library"])}
  for p in pairs:
    name, sep, path = p.partition("=")
    if not sep or not name or not path:
      raise click.BadParameter(f"{p!r}: give NAME=PATH, e.g. cpu=build/libtgc_cpu_plugin.so", param_hint="--library")
    if not os.path.isfile(path): raise click.BadParameter(f"{path}: no such file", param_hint="--library")
    libs[name.upper()] = path
  return libs

@registry.command("verify")
@REGISTRY
@click.option("--library", "pairs", multiple=True, metavar="NAME=PATH", help="compare NAME's records with this library file (repeatable)")
@click.option("--require-match", is_flag=True, help="a library here that differs from its record's sha256 is an error, not a warning")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def verify(reg, pairs, require_match, as_json):
  """Check every record in the registry: the schema, the digest (no hand edits), the id, the status derived from the
  cases (no FAIL/CRASH/TIMEOUT in a record, no NOT_RUN in a certified one), the expiry, that index.json and index.html
  are current, and the sha256 of each backend's library where it is at hand (installed here, or --library NAME=PATH).

  A library that differs from its record is a record of another build (every rebuild changes the hash): a WARNING
  with both hashes, an ERROR with --require-match. Exits 1 on any error.
  """
  try: rep = REG.verify(reg, _libraries(pairs), require_match)
  except REG.RegistryError as e: raise click.ClickException(str(e)) from None
  if as_json: click.echo(json.dumps(rep, indent=2))
  else:
    click.echo(f"registry {rep['registry']}: {len(rep['records'])} record(s)")
    for r in rep["records"]:
      name = r["id"] or Path(r["file"]).name
      click.echo(f"{'ERROR' if r['errors'] else 'OK':<8} {name}" + (f" ({r['status']})" if r["status"] else ""))
      for kind in ("errors", "warnings", "notes"):
        for m in r[kind]: click.echo(f"         {kind[:-1]}: {m}")
    for m in rep["general"]: click.echo(f"ERROR    {m}")
    click.echo(f"verdict: {rep['verdict']}: {rep['errors']} error(s), {rep['warnings']} warning(s)")
  if rep["errors"]:
    todo = (["re-certify the backends concerned (tgc-sdk certify NAME) or remove their records; never edit a record by hand"]
            if any(r["errors"] for r in rep["records"]) else []) + \
           [f"run `tgc-sdk registry index --registry {rep['registry']}`" for m in rep["general"][:1] if "registry index" in m]
    raise click.ClickException(f"{rep['errors']} error(s) in {rep['registry']}: {'; then '.join(todo) or 'see above'}")

@registry.command("index")
@REGISTRY
@click.option("--json", "as_json", is_flag=True, help="print what was written as JSON")
def index(reg, as_json):
  """Write index.json and index.html (a static page listing the records) from records/. Refuses while a record does
  not verify. Indexing this checkout's own registry also updates the copy tgc-sdk ships (tgc_sdk/registry_index.json),
  which `python -m tgc doctor` reads."""
  try: written = REG.write_index(reg)
  except REG.RegistryError as e: raise click.ClickException(str(e)) from None
  n = len(json.loads((reg / "index.json").read_text())["records"])
  if as_json: return click.echo(json.dumps({"records": n, "written": written}, indent=2))
  click.echo(f"indexed {n} record(s): wrote {', '.join(written)}")
