"""Writing a user's files without ever losing them: backups and atomic replacement."""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from fitadvisor.errors import FitAdvisorError


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


def cache_dir() -> Path:
    """fitadvisor's cache: XDG_CACHE_HOME when set, else the platform's usual place."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "fitadvisor"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "fitadvisor"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "fitadvisor" / "Cache"
    return Path.home() / ".cache" / "fitadvisor"


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def remove_tree(path: Path) -> int:
    """Delete the folder `path` and all in it, never following a link; returns how many files went (what could not be
    removed, such as another user's file, stays and is not counted)."""
    import shutil  # only the cache's clearing needs it

    def files() -> int:
        return 0 if path.is_symlink() else sum(len(names) for _, _, names in os.walk(path))

    held = files()
    shutil.rmtree(path, ignore_errors=True)
    return held - files()


def read_regular(path: Path, limit: int = 16 * 1024 * 1024) -> tuple[str | None, os.stat_result | None]:
    """The text of a regular file and its stat, or (None, None) if it is absent.

    Opened without blocking and checked on the open descriptor, so a FIFO or a device is refused at
    once (never read, never waited on); a file above `limit` bytes is refused too.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None, None
    except IsADirectoryError:
        raise FitAdvisorError(f"{path} is a directory, not a regular file: fitadvisor writes only regular files") from None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(descriptor)
        for test, kind in _KINDS:
            if test(info.st_mode):
                raise FitAdvisorError(f"{path} is {kind}, not a regular file: fitadvisor writes only regular files")
        if info.st_size > limit:
            raise FitAdvisorError(f"{path} is {info.st_size} bytes, larger than any shell start-up file: pick another with --rc-file")
        data = file.read(limit + 1)
    return data.decode("utf-8", errors="surrogateescape"), info


@contextmanager
def locked(path: Path, wait: float = 30.0) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of `path` (another fitadvisor waits for it).

    The lock is on the file's directory (flock), not the file, which the write replaces. Where
    there is no flock (Windows) the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        descriptor = os.open(path.parent, os.O_RDONLY)
    except OSError:
        yield  # no directory yet: nothing to race on
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FitAdvisorError(f"another fitadvisor has held {path} for {wait:g} s: try again when it is done") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def atomic_write(path: Path, text: str | bytes) -> None:
    """Replace `path` with `text` (or bytes) so that readers see the old file or the new one, never half of either.

    The temporary file lives in the same directory (os.replace is atomic only within one file system) and
    takes the old file's permissions, owner and group (or, for a new file, the umask's permissions and,
    when run as root, the directory's owner), so a root run never leaves a user's file owned by root.
    """
    try:
        info = os.stat(path)
        mode, owner = info.st_mode & 0o7777, (info.st_uid, info.st_gid)
    except FileNotFoundError:
        mode, owner = 0o666 & ~_umask(), _directory_owner(path)
    import tempfile  # only writers need it (and, through it, shutil): not imported by read-only commands

    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(_bytes(text))
            file.flush()
            os.fsync(file.fileno())
        _own(temporary, owner)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def replace_file(path: Path, new: str, old: str | None, info: os.stat_result | None) -> Path | None:
    """Write `new` over `path`, just read (under `locked`) as `old` with `info`; returns the backup.

    A backup comes first unless the file was absent or empty; then an atomic replacement, or, for a
    file with hard links, a rewrite of the same inode so every link sees the new text.
    """
    saved = backup(path, old) if old else None
    if info is not None and info.st_nlink > 1:
        write_in_place(path, new)
    else:
        atomic_write(path, new)
    return saved


def write_in_place(path: Path, text: str | bytes) -> None:
    """Rewrite `path` through its own inode: for a file with hard links, which a replacement would split.

    Not atomic: call it after `backup`, which keeps the old contents whole.
    """
    with open(path, "r+b") as file:
        file.write(_bytes(text))
        file.truncate()
        file.flush()
        os.fsync(file.fileno())


def backup(path: Path, data: str | bytes | None = None) -> Path:
    """Save `path`'s contents (or `data`, what was just read from it) next to it under a new, timestamped name.

    Written to a temporary file, synced, and only then linked to its name, so a backup is never partial
    (a full disk leaves no backup and raises); it keeps the file's permissions, times and owner.
    """
    info = os.stat(path)
    content = _bytes(data) if data is not None else Path(path).read_bytes()
    import shutil
    import tempfile

    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bak.tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        shutil.copystat(path, temporary)
        _own(temporary, (info.st_uid, info.st_gid))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for counter in range(1000):
            target = path.with_name(f"{path.name}.fitadvisor-{stamp}{f'-{counter}' if counter else ''}.bak")
            try:
                os.link(temporary, target)  # fails if the name is taken: another run's backup stays
                return target
            except FileExistsError:
                continue
        raise FileExistsError(17, "too many backups with the same time stamp")
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", errors="surrogateescape")


def _directory_owner(path: Path) -> tuple[int, int] | None:
    """For a new file written as root: the owner of its directory (a user's home), else None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    info = os.stat(path.parent)
    return info.st_uid, info.st_gid


def _own(path: str, owner: tuple[int, int] | None) -> None:
    """Give `path` this owner and group where allowed (root can; a user can set only its own groups)."""
    if owner is None or not hasattr(os, "chown"):
        return
    if (os.geteuid(), os.getegid()) == owner:
        return
    try:
        os.chown(path, owner[0] if os.geteuid() == 0 else -1, owner[1])
    except PermissionError:
        pass


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


Parsed = TypeVar("Parsed")


def load_state(path: Path, parse: Callable[[str], list[Parsed]], what: str, unused: str) -> tuple[list[Parsed], str | None]:
    """A local state file's entries, and a problem line when it could not be used.

    A missing file is empty; an unreadable one is left alone; a damaged one (not UTF-8, not parseable) is moved
    aside so that the next write starts afresh and no command stays blocked by it.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], None
    except OSError as error:
        return [], f"cannot read the {what} {path} ({error.strerror}): {unused}"
    try:
        return parse(raw.decode("utf-8")), None  # UnicodeDecodeError is a ValueError
    except (ValueError, TypeError, KeyError) as error:
        return [], f"the {what} {path} was damaged ({error}); {set_aside(path)}, starting a new one"


def set_aside(path: Path) -> str:
    """Move a damaged file out of the way (kept, for a person to look at); says where it went."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, aside)
        return f"moved to {aside}"
    except OSError:
        return "left in place (it could not be moved)"
