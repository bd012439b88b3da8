"""The `tgc-sdk` command: a click group, one module per subcommand in tgc_sdk/commands."""
import click
from tgc_sdk import __version__
from tgc_sdk.commands.new_backend import new_backend
from tgc_sdk.commands.conformance import conformance

@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.version_option(__version__, "--version", prog_name="tgc-sdk")
def main():
  """Build and test tgc backend plugins.

  \b
    tgc-sdk new-backend acme        write tgc-acme/, a complete plugin that runs on the host CPU
    pip install ./tgc-acme          build and install it (python -m tgc doctor lists ACME)
    tgc-sdk conformance acme        run the conformance suite against it
  """

main.add_command(new_backend)
main.add_command(conformance)
