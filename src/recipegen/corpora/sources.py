"""What ``--data`` names, as the files to read: one file, every corpus file under a folder, or a glob.

A folder is read recursively in sorted order and a glob's matches sorted, so the same corpus gives
the same recipes in the same order, hence the same split and the same run, on every machine.
Hidden files and folders (``.git``, an editor's backups) are not read, nor files of no corpus
format (the images beside an export). Given one file, anything wrong with it is the user's error
(exit 2); in a folder or a glob, a file that cannot be read is skipped and counted with its
reason, and only a corpus without a usable recipe is an error.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from recipegen import shipped
from recipegen.corpora.formats import READERS, STREAMED, Reading, format_of, read_records
from recipegen.corpora.records import Skipped, recipe_from_record
from recipegen.errors import DataError
from recipegen.files import file_digest
from recipegen.paths import overlap
from recipegen.templates import Recipe

KNOWN = ", ".join(sorted({suffix for suffix in READERS}))


@dataclass(frozen=True)
class Source:
    """The files of a corpus, in the order they are read."""

    given: str  # as the user wrote it
    files: tuple[Path, ...]
    single: bool  # one file named: its faults are errors, not skips
    ignored: int = 0  # files under a folder or matched by a glob of no corpus format

    @property
    def streamable(self) -> bool:
        """Whether streaming holds the corpus in flat memory: a single file read a record at a time,
        or many files read one at a time (a ``.json`` document alone is parsed whole)."""
        return all(path.suffix.lower() in STREAMED for path in self.files) or not self.single

    def digest(self) -> str:
        """The corpus's fingerprint: one file's SHA-256 (as runs have always recorded it), or for many,
        the SHA-256 of each file's name (relative to the folder) and digest."""
        if self.single:
            return file_digest(self.files[0])
        root = _root(self.given)
        lines = "".join(f"{_relative(path, root)}\0{_digest_or_why(path)}\n" for path in self.files)
        return hashlib.sha256(lines.encode()).hexdigest()

    def stamp(self) -> tuple[tuple[str, int, int], ...]:
        """Each file's size and modification time: a file changed or gone changes the stamp. OSError
        when one cannot be read any more."""
        return tuple((str(path), (st := path.stat()).st_size, st.st_mtime_ns) for path in self.files)

    def records(self, reading: Reading) -> Iterator[tuple[Path, object]]:
        """``(file, record)`` for every record of every file; a file that cannot be read is one
        ``Skipped`` with its reason (for a single file, a DataError)."""
        for path in self.files:
            try:
                for record in read_records(path, reading):
                    yield path, record
            except DataError as e:
                if self.single:
                    raise
                yield path, Skipped(f"files not read ({_why(str(e), path)})")
            except OSError as e:
                if self.single:
                    raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
                yield path, Skipped(f"files not read ({e.strerror or e})")

    def recipes(self, reading: Reading, reasons: dict[str, int]) -> Iterator[Recipe]:
        """The usable recipes, in order, counting each skipped record in ``reasons``."""
        chosen = dict(reading.fields)
        for _, record in self.records(reading):
            if isinstance(record, Skipped):
                reasons[record.reason] = reasons.get(record.reason, 0) + 1
                continue
            recipe, reason = recipe_from_record(record, chosen)
            if recipe is None:
                reasons[reason] = reasons.get(reason, 0) + 1
            else:
                yield recipe


def resolve(given: str | Path) -> Source:
    """The files ``given`` names (the bundled corpus by its name too); DataError when it names none."""
    path = shipped.corpus_path(given)
    text = str(given)
    if path.is_file():
        if format_of(path) is None:
            suffix = path.suffix.lower()
            raise DataError(f"{path}: unknown corpus format {suffix or '(no extension)'!r}; use one of {KNOWN}")
        if path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty")
        return Source(text, (path,), single=True)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
        where = f"{path}: folder"
    elif glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        where = f"{text}: pattern"
    elif path.exists():
        raise DataError(f"{path}: not a file or a folder")
    else:
        raise DataError(f"{path}: no such file")
    files = tuple(p for p in found if format_of(p) is not None)
    if not files:
        others = f"{len(found)} files of other kinds; " if found else ""
        raise DataError(f"{where} holds no corpus file ({others}known: {KNOWN})")
    return Source(text, files, single=False, ignored=len(found) - len(files))


def fingerprint(given: str | Path) -> str | None:
    """The digest of the corpus ``given`` names as it is now; None where it is gone."""
    try:
        return resolve(given).digest()
    except (DataError, OSError):
        return None


def present(given: str | Path) -> bool:
    """Whether the corpus ``given`` names is still there to read."""
    try:
        resolve(given)
    except (DataError, OSError):
        return False
    return True


def read_root(given: str | Path) -> Path:
    """Where a corpus is read from, for the rule that no command writes into what it reads: the
    file, the folder, or a glob's part before its first wildcard."""
    return _root(str(given)) if glob.has_magic(str(given)) else shipped.corpus_path(given)


def would_read(given: str | Path, output: Path) -> bool:
    """Whether ``output`` is, or once written would be, part of the corpus ``given`` names: the
    file itself, anything inside the folder, or a file under a glob's root that matches its last part."""
    text = str(given)
    if not glob.has_magic(text):
        return overlap(output, shipped.corpus_path(given)) is not None
    return overlap(output, _root(text)) in ("is", "lies inside") and fnmatch.fnmatch(output.name, Path(text).name)


def _root(given: str) -> Path:
    if not glob.has_magic(given):
        return Path(given)
    parts = Path(given).parts
    plain = [part for part in parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
    return Path(*plain) if plain else Path(".")


def _digest_or_why(path: Path) -> str:
    """A file's digest; for one that cannot be read (and so was skipped), why not."""
    try:
        return file_digest(path)
    except OSError as e:
        return f"unreadable: {e.strerror}"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _why(message: str, path: Path) -> str:
    """A file's error without its name and where in it, so files skipped for one reason count together."""
    return re.split(r" \(| at | on | among |[;:]", message.removeprefix(f"{path}: "), maxsplit=1)[0]
