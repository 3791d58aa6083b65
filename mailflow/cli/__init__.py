"""The ``mailflow`` command and its subcommands (one module each)."""
