"""Quoting for what fitadvisor writes into shells and Modelfiles: the templates' filters, one home for each rule."""

from __future__ import annotations

import re

from fitadvisor.errors import FitAdvisorError

_SH_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")
_FISH_SAFE = re.compile(r"[A-Za-z0-9_@+=:,./-]+\Z")
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"  # PowerShell treats all of these as single quotes
_MODELFILE_WORD = re.compile(r"[A-Za-z0-9_.:/-]+\Z")


def sh_quote(text: str) -> str:
    """One word for bash/zsh: bare when it is plainly safe, else single-quoted."""
    text = str(text)
    if _SH_SAFE.match(text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


def sh_value(text: str) -> str:
    """The right side of `NAME=value`: nothing at all for an empty value."""
    return sh_quote(text) if str(text) else ""


def fish_quote(text: str) -> str:
    """One word for fish: inside single quotes only backslash and quote are special."""
    text = str(text)
    if _FISH_SAFE.match(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ps_quote(text: str) -> str:
    """A PowerShell single-quoted string: no expansion inside; each quote character is doubled."""
    return "'" + "".join(c + c if c in _PS_QUOTES else c for c in str(text)) + "'"


_PS_SAFE = re.compile(r"[A-Za-z0-9_.:/=+-]+\Z")


def command_line(words: list[str], shell: str) -> str:
    """A command for the user to copy into `shell`: the program as is, each argument quoted for that shell."""
    quote = {"fish": fish_quote, "powershell": lambda w: w if _PS_SAFE.match(w) else ps_quote(w)}.get(shell, sh_quote)
    program, *arguments = words
    return " ".join([program, *(quote(str(word)) for word in arguments)])


def comment(text: str) -> str:
    """Text safe to put after `#` on one line in any of the shells."""
    return " ".join(str(text).split())


def modelfile_word(text: str) -> str:
    """A FROM or PARAMETER value: only validated names and numbers ever reach a Modelfile, never free text."""
    if not _MODELFILE_WORD.match(str(text)):
        raise FitAdvisorError(f"refusing to write {text!r} into a Modelfile")
    return str(text)
