"""Subcommands of the `keras-chargen` command, one module each."""
