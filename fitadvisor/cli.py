"""The command line: parses, calls plain functions in fitadvisor.commands.*, prints. Nothing else.

Subcommand modules are imported only when their command runs, so `fitadvisor --help` and every
command start fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

import click

from fitadvisor import __version__
from fitadvisor.errors import FitAdvisorError

# command name -> module in fitadvisor.commands that defines a click command called `command`
COMMANDS = {
    "recommend": "Pick the best agentic-coding model and context this machine can run.",
    "estimate": "Estimate what Ollama will load for a model at a context size.",
    "models": "List the models fitadvisor knows.",
    "probe": "Show the machine as Ollama sees it.",
    "apply": "Create a model with the chosen context in Ollama and print a Claude Code alias.",
    "alias": "Print only the Claude Code alias for a model.",
    "doctor": "Check the Ollama and Claude Code setup and explain each finding.",
    "verify": "Load a model in Ollama and compare the real size, context and tool calls with the estimate.",
    "calibration": "List the measurements fitadvisor stored from `verify`.",
    "trial": "Run the real Claude Code against a model on the field notes' task and judge it.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        return importlib.import_module(f"fitadvisor.commands.{name}").command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from the table above, so listing commands imports none of them.
        with formatter.section("Commands"):
            formatter.write_dl(list(COMMANDS.items()))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra) -> NoReturn:
        """Run a command; every failure ends as one line on stderr and an exit code, here where CliRunner sees it."""
        from fitadvisor.terminal import SafeStream

        if not isinstance(sys.stdout, SafeStream):  # nothing from outside reaches the terminal raw
            sys.stdout, sys.stderr = SafeStream(sys.stdout), SafeStream(sys.stderr)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except FitAdvisorError as error:
            fail(str(error), error.exit_code)
        except click.exceptions.Abort:
            fail("aborted", 130)
        except click.exceptions.UsageError as error:
            hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
            fail(f"{error.format_message()}{hint}", error.exit_code)
        except click.exceptions.ClickException as error:
            fail(error.format_message(), error.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:
            sys.stderr.close()  # output piped into `head`: nothing left to say
            sys.exit(1)
        except Exception as error:  # a bug: still one line, with the full traceback on request
            if os.environ.get("FITADVISOR_DEBUG"):
                raise
            fail(f"internal error: {type(error).__name__}: {error} (set FITADVISOR_DEBUG=1 for the traceback and please report it)", 70)
        sys.exit(code if isinstance(code, int) else 0)


@click.group("fitadvisor", cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fitadvisor")
def cli() -> None:
    """Which local model and context fit this machine under Ollama, for Claude Code.

    \b
    Start with:  fitadvisor recommend
    Then:        fitadvisor apply devstral-small-2 --ctx 64k
    """


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="fitadvisor")


MAX_ERROR_LINE = 2000  # characters: an error quoting a huge input (a 5000-digit version) stays readable


def fail(message: str, code: int) -> NoReturn:
    line = " ".join(message.split())
    if len(line) > MAX_ERROR_LINE:
        line = line[: MAX_ERROR_LINE - 1] + "…"
    click.echo(f"fitadvisor: error: {line}", err=True)
    sys.exit(code)
