"""Files that ship inside the package: the data tables and the templates, and what is derived from them.

What fitadvisor derives from its own data (the parsed tables, the catalog's sized weights) is the same
on every run until fitadvisor or the data changes, so it is kept on disk (`Derived`) and read back in a
fraction of the time it takes to derive.
"""

from __future__ import annotations

import json
import os
import weakref
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from fitadvisor import __version__
from fitadvisor.errors import FitAdvisorError
from fitadvisor.files import cache_dir, read_regular, remove_tree, set_aside

T = TypeVar("T")
DERIVED_LIMIT = 16 * 1024 * 1024  # bytes: far above any table fitadvisor derives; a larger file is damaged
DERIVED_ENTRIES = 10_000  # per kind: past this many (years of estimates), a kind starts afresh, so reading it stays quick
# what the wheel's build derived (flows/prederive.py; absent in a checkout), or the folder FITADVISOR_SHIPPED_DERIVED names
SHIPPED = Path(os.environ.get("FITADVISOR_SHIPPED_DERIVED") or Path(__file__).parent / "derived")
_pending: list[weakref.finalize] = []  # the deferred kinds' writes not made yet


def _folder(package: str) -> Path:
    """An installed data package (`fitadvisor/data`), or the top-level folder of a source checkout or editable install.

    pip always installs a package as files, so a path beside this module serves (importlib.resources would
    import zipfile and more on every run, for packages that are never zipped).
    """
    here = Path(__file__).resolve().parent
    installed = here / package
    return installed if installed.is_dir() else here.parent / package


def read_data(name: str) -> bytes:
    """The bytes of a file of `data/` (installed as `fitadvisor.data`)."""
    try:
        return _folder("data").joinpath(name).read_bytes()
    except OSError as error:
        raise FitAdvisorError(f"fitadvisor's data file {name} is missing or damaged ({error}): reinstall fitadvisor") from None


def table_names() -> list[str]:
    """The data tables `read_toml` reads."""
    return sorted(path.name for path in _folder("data").glob("*.toml"))


def read_toml(name: str) -> dict:
    """A TOML table from `data/`, parsed once per install and data change (kept in the derived cache)."""
    raw = read_data(name)

    def parse() -> dict:
        try:
            return parse_toml(raw.decode("utf-8"))
        except ValueError as error:  # UnicodeDecodeError and TOMLDecodeError are ValueErrors
            raise FitAdvisorError(f"fitadvisor's data file {name} is missing or damaged ({error}): reinstall fitadvisor") from None

    return Derived(f"table-{name}", [raw]).get("table", parse, lambda table: isinstance(table, dict))


def parse_toml(text: str) -> dict:
    """TOML text as a table; the parser is imported only when something is parsed (not for the cached tables)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def derived_dir() -> Path:
    """Where `Derived` keeps its files, one per kind: the parsed data tables, the sized catalog, the graph replays."""
    return cache_dir() / "derived"


def clear_derived() -> int:
    """Remove everything derived and kept (set-aside damaged files too); returns how many files were removed."""
    return remove_tree(derived_dir())


def flush_derived() -> None:
    """Make the deferred kinds' pending writes now, rather than at exit."""
    while _pending:
        _pending.pop()()


class Derived:
    """Values derived from `inputs` (the bytes they come from), kept in fitadvisor's cache under `kind`.

    One file per kind: a header line (fitadvisor's version, a CRC-32 of the inputs, a CRC-32 of the
    entries) and the entries as JSON. Another version's or other inputs' entries are derived again; a
    damaged file (unreadable JSON, a wrong check, an entry that fails `valid`) is set aside like the
    other local state and started afresh. A cache that cannot be written (read-only home) is skipped.
    JSON holds the values, so a derived value must be made of dicts, lists, strings, numbers and booleans.
    A `deferred` kind (one that gains many entries a run) is written once, when this object is dropped or
    the process exits, rather than at each new entry.
    """

    def __init__(self, kind: str, inputs: Iterable[bytes], deferred: bool = False) -> None:
        self.path = derived_dir() / f"{kind}.json"
        digest = 0
        for data in inputs:
            digest = zlib.crc32(data, zlib.crc32(len(data).to_bytes(8, "little"), digest))
        self.key = {"fitadvisor": __version__, "inputs": f"{digest:08x}"}
        self._entries: dict[str, Any] | None = None
        self._deferred = deferred
        self._unwritten: weakref.finalize | None = None  # a deferred kind's pending write

    def get(self, name: str, derive: Callable[[], T], valid: Callable[[Any], bool]) -> T:
        """The entry `name`: as kept, or derived now (and kept)."""
        entries = self._load()
        if name in entries and valid(entries[name]):
            return entries[name]
        if name in entries:  # damaged in a way the check missed: derive every entry again
            self._set_aside()
            entries.clear()
        value = derive()
        if len(entries) >= DERIVED_ENTRIES:
            entries.clear()
        entries[name] = value
        if not self._deferred:
            self._store()
        elif self._unwritten is None or not self._unwritten.alive:
            self._unwritten = weakref.finalize(self, _store, self.path, self.key, entries)
            _pending.append(self._unwritten)
        return value

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            kept = self._read(self.path)
            # none kept for this version and these inputs: what the wheel's build derived, if it is theirs
            self._entries = kept if kept is not None else self._read(SHIPPED / self.path.name) or {}
        return self._entries

    def _read(self, path: Path) -> dict[str, Any] | None:
        """The entries of `path`, or None where it has none for this version and these inputs (absent, another
        version's, unreadable or damaged; a damaged file of the user's cache is set aside, a shipped one, the installed
        package's, left as it is)."""
        try:
            text, _ = read_regular(path, DERIVED_LIMIT)
        except OSError:  # not readable by this user: derived this time, and not kept
            return None
        except FitAdvisorError:  # too large, or not a regular file
            text = ""
            if path == self.path:
                self._set_aside()
        if not text:
            return None
        header, _, body = text.partition("\n")
        try:
            stamp = json.loads(header)
            if not isinstance(stamp, dict) or {k: stamp.get(k) for k in self.key} != self.key:
                return None  # another version's or other inputs': replaced at the next store
            if stamp.get("entries") != f"{zlib.crc32(body.encode('utf-8', 'surrogateescape')):08x}":
                raise ValueError("its check does not match its entries")
            entries = json.loads(body)
            if not isinstance(entries, dict):
                raise ValueError("its entries are not a table")
            return entries
        except (ValueError, RecursionError):  # json's errors are ValueErrors
            if path == self.path:
                self._set_aside()
            return None

    def _store(self) -> None:
        _store(self.path, self.key, self._entries)

    def _set_aside(self) -> None:
        if os.path.lexists(self.path):
            set_aside(self.path)


def _store(path: Path, key: dict[str, str], entries: dict[str, Any]) -> None:
    """Write a derived kind's entries beside its file, then move them over it: a reader sees the old file or the new one."""
    try:
        body = json.dumps(entries, separators=(",", ":"))
    except (TypeError, ValueError):  # a value JSON cannot hold: derived again next time
        return
    header = json.dumps({**key, "entries": f"{zlib.crc32(body.encode('utf-8', 'surrogateescape')):08x}"})
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", errors="surrogateescape") as file:
            file.write(f"{header}\n{body}")
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def read_template(name: str) -> str:
    return _folder("templates").joinpath(name).read_text(encoding="utf-8")


def copy_data_tree(name: str, target: Path) -> None:
    """Copy the folder `name` of `data/` (e.g. the trial's fixture repository) to `target`, which must not exist."""

    def copy(source: Path, destination: Path) -> None:
        destination.mkdir(parents=True)
        for entry in source.iterdir():
            if entry.is_dir():
                if entry.name != "__pycache__":
                    copy(entry, destination / entry.name)
            else:
                (destination / entry.name).write_bytes(entry.read_bytes())

    source = _folder("data").joinpath(name)
    if not source.is_dir():
        raise FitAdvisorError(f"fitadvisor's data folder {name} is missing: reinstall fitadvisor")
    copy(source, target)
