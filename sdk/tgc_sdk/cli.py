"""The `tgc-sdk` command: a click group, one module per subcommand in tgc_sdk/commands."""
import click
from tgc_sdk import __version__
from tgc_sdk.commands.new_backend import new_backend
from tgc_sdk.commands.conformance import conformance
from tgc_sdk.commands.validate import validate
from tgc_sdk.commands.certify import certify
from tgc_sdk.commands.registry import registry
from tgc_sdk.commands.list import list_backends

@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.version_option(__version__, "--version", prog_name="tgc-sdk")
def main():
  """Build and test tgc backend plugins.

  \b
    tgc-sdk new-backend acme        write tgc-acme/, a complete plugin that runs on the host CPU
    pip install ./tgc-acme          build and install it (python -m tgc doctor lists ACME)
    tgc-sdk conformance acme        run the conformance suite against it
    tgc-sdk validate acme           prove the capabilities it declares
    tgc-sdk certify acme            write its certification record into registry/records/
    tgc-sdk registry verify         check the registry's records (schema, digest, status, expiry, hashes)
    tgc-sdk list                    the backends installed here, and their certification
  """

main.add_command(new_backend)
main.add_command(conformance)
main.add_command(validate)
main.add_command(certify)
main.add_command(registry)
main.add_command(list_backends)
