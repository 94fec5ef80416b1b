"""One module per subcommand, each defining a click command named `command` (pipx style)."""
