"""Writing a user's files without ever losing them: backups and atomic replacement."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def config_dir() -> Path:
    """FITADVISOR_CONFIG_DIR, else the platform's per-user config directory."""
    override = os.environ.get("FITADVISOR_CONFIG_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "fitadvisor"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "fitadvisor"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "fitadvisor"


def read_text(path: Path) -> str | None:
    """The file's text exactly as stored (line endings and undecodable bytes kept), or None if it is absent."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
            return file.read()
    except FileNotFoundError:
        return None


def atomic_write(path: Path, text: str | bytes) -> None:
    """Replace `path` with `text` (or bytes) so that readers see the old file or the new one, never half of either.

    The temporary file lives in the same directory (os.replace is atomic only within one file system) and
    takes the old file's permissions, or the umask's for a new file.
    """
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if isinstance(text, bytes):
            file = os.fdopen(descriptor, "wb")
        else:
            file = os.fdopen(descriptor, "w", encoding="utf-8", errors="surrogateescape", newline="")
        with file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def backup(path: Path) -> Path:
    """Copy `path` (contents, permissions, times) next to it under a new, timestamped name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.fitadvisor-{stamp}.bak")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.fitadvisor-{stamp}-{counter}.bak")
        counter += 1
    shutil.copy2(path, target)
    return target


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
