"""Text made safe for a terminal: the one filter everything fitadvisor prints goes through.

Model names, server errors, GGUF keys and file contents can carry control characters and escape
sequences (an OSC 52 sequence writes the clipboard; others retitle the window, move the cursor or
hide text). `safe` writes each such character as a visible escape (`\\x1b`, `\\u202e`); the only
sequences kept are the colours and line clearing fitadvisor itself writes (SGR `ESC[...m`, `ESC[K`).
`SafeStream` applies it to stdout and stderr for the whole run (cli.main).
"""

from __future__ import annotations

import io
import re

# C0 controls except tab, newline and carriage return; DEL; C1 controls; bidirectional overrides.
_UNSAFE = re.compile(r"\x1b\[[0-9;]{0,32}[mK]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: str, keep_styles: bool = False) -> str:
    """`text` with every control character and escape sequence written out visibly."""
    return _UNSAFE.sub(lambda match: _keep_or_escape(match.group(), keep_styles), text)


def _keep_or_escape(found: str, keep_styles: bool) -> str:
    if len(found) > 1:  # an SGR or erase-line sequence
        return found if keep_styles else "\\x1b" + found[1:]
    code = ord(found)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class SafeStream(io.TextIOBase):
    """A text stream that passes everything written through `safe`, keeping fitadvisor's own styles."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(safe(text, keep_styles=True))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return self._stream.encoding

    @property
    def errors(self):
        return self._stream.errors
