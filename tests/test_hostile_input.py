"""Absurd command-line input: one line and a non-zero exit, never an overflow or an internal error."""

import pytest
from click.testing import CliRunner

from fitadvisor.cli import MAX_ERROR_LINE, cli

HUGE = "9" * 400


@pytest.mark.parametrize("args, message", [
    (["estimate", "devstral-small-2", "--ctx", HUGE], "invalid context size"),
    (["estimate", "devstral-small-2", "--memory", HUGE + "GB"], "invalid size"),
    (["estimate", "devstral-small-2", "--ollama-version", "9" * 5000 + ".0.0"], "invalid Ollama version"),
    (["estimate", "devstral-small-2", "--batch", HUGE], "--batch"),
    (["estimate", "devstral-small-2", "--parallel", HUGE], "--parallel"),
    (["verify", "m", "--timeout", "inf"], "--timeout"),
    (["doctor", "--timeout", "1e400"], "--timeout"),
])
def test_absurd_numbers_are_one_clear_line(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code not in (0, 70), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fitadvisor: error:") and message in lines[0]
    assert len(lines[0]) <= len("fitadvisor: error: ") + MAX_ERROR_LINE
