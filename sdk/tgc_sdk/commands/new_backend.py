"""tgc-sdk new-backend NAME: scaffold a backend plugin distribution."""
import json
from pathlib import Path
import click
from tgc_sdk import scaffold

@click.command("new-backend")
@click.argument("name")
@click.option("--dialect", type=click.Choice(list(scaffold.DIALECTS)), default="c", show_default=True,
              help="the core dialect the device declares; all but c leave compile() for you to supply")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=None, help="directory to create  [default: ./tgc-NAME]")
@click.option("--json", "as_json", is_flag=True, help="print what was written as JSON")
def new_backend(name: str, dialect: str, output: Path | None, as_json: bool):
  """Write tgc-NAME, a complete backend plugin distribution (package tgc_NAME).

  NAME is a lowercase identifier (letters, digits, _); the device is NAME in upper case (acme -> ACME).
  The result is C against tg_backend.h, CMake, a scikit-build-core pyproject with the tgc.backends entry point and the
  tgc ABI pin, the manifest, tests, a README and ci.sh. As generated it runs "c" kernels on the host CPU, so
  `pip install ./tgc-NAME` gives a backend that tgc loads and that passes the conformance suite; every place to
  replace for a real device is marked VENDOR in src/NAME.c.
  """
  out = output if output is not None else Path.cwd() / f"tgc-{name}"
  try: files = scaffold.generate(name, dialect, out)
  except scaffold.ScaffoldError as e: raise click.ClickException(str(e)) from None
  if as_json:
    return click.echo(json.dumps({"name": name, "device": name.upper(), "dialect": dialect, "path": str(out.resolve()), "files": files}, indent=2))
  click.echo(f"wrote {out} ({len(files)} files): backend {name.upper()}, dialect {dialect}")
  click.echo(f"next: pip install {out}  &&  python -m tgc doctor  &&  tgc-sdk conformance {name}")
  if dialect != "c":
    click.echo(f"note: compile() returns TG_ERR_UNSUPPORTED until you supply the {dialect} compiler (grep -n VENDOR {out}/src/{name}.c)")
