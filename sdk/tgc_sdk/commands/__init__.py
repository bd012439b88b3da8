"""One module per tgc-sdk subcommand."""
