"""The console script and `python -m fitadvisor`: `--version` is answered here, before click and the command line are
imported (they are most of a bare start's time); everything else goes to `fitadvisor.cli`."""

import sys

from fitadvisor import __version__


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"fitadvisor, version {__version__}")  # click's version option's words (tests/test_cli.py holds both the same)
        return
    from fitadvisor.cli import main as run

    run()
