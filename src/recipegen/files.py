"""Writing a file so that a crash or a power cut never leaves a half-written one that looks whole.

Every file is written to a temporary name in its own directory, flushed to the disk, and renamed
over the old one, so a reader finds the old file or the new one, whole. Nothing here knows what
a run directory holds (run.py does) or imports TensorFlow: generate --jsonl, export and the run
files all write this way.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from recipegen.errors import RunError


@contextlib.contextmanager
def replacing(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The new file's data reaches the disk before the rename and the rename before this returns, so
    after a power cut ``path`` holds the old file or the new one, whole, never a name for lost data.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp's 0600 is for the temporary name, not the finished file
        sync(tmp)
        os.replace(tmp, path)
        sync(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process's umask, read without changing it where the system allows (changing it, even
    for a moment, would apply to files other threads create meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sync(path: Path) -> None:
    """Flush a file, or a directory's entries (a rename in it), to the disk: fsync."""
    if path.is_dir() and os.name != "posix":  # Windows cannot open a directory to fsync it
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in rows))


def read_jsonl(path: Path, fields: Mapping[str, type] | None = None) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file written by ``write_jsonl``; none when it does not exist. A file
    damaged since (not JSON, a row that is not an object or lacks one of ``fields`` of its type)
    is a RunError naming the file and the line, not a Python error deep in whatever reads it."""
    if not path.is_file():
        return []
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise RunError(f"{path}: not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise RunError(f"{path}: line {number} is not valid JSON") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(name), kind) and not isinstance(row[name], bool)
                                                for name, kind in (fields or {}).items()):
            wanted = ", ".join(f"{name} ({kind.__name__})" for name, kind in (fields or {}).items())
            raise RunError(f"{path}: line {number} is not an object" + (f" with {wanted}" if wanted else ""))
        rows.append(row)
    return rows


def read_csv(path: Path, fields: Mapping[str, type] | None = None) -> list[dict[str, str]]:
    """Rows of a CSV file written by ``write_csv``; none when it does not exist. A file damaged
    since (not CSV text, a row whose ``fields`` do not read as their type) is a RunError naming it."""
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (csv.Error, UnicodeDecodeError) as e:
        raise RunError(f"{path}: not a CSV file ({e})") from None
    for number, row in enumerate(rows, 2):  # line 1 is the header
        for name, kind in (fields or {}).items():
            try:
                kind(row.get(name) or "")
            except ValueError:
                raise RunError(f"{path}: line {number} has no {name} ({kind.__name__})") from None
    return rows


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows as CSV; a column that only later rows have (a measure added since a resumed run's first
    epochs) is included, left empty where a row lacks it."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(key for row in rows for key in row)))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def save_arrays(path: Path, **arrays: Any) -> None:
    import numpy as np

    with replacing(path, suffix=path.suffix) as tmp:  # np.savez would add .npz to any other name
        np.savez(tmp, **arrays)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def directory_locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock (flock, waiting for it) on the directory ``path`` itself: writers
    that check a name in it and then rename onto it do both under the lock, so two of them never
    both find the name free. The lock leaves no file behind and goes with the process."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock
        yield
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock
