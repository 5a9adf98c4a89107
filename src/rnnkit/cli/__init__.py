"""The ``rnnkit`` command: thin subcommands over the library."""
