"""Recipe managers' exports: zips of JSON, read in memory, never unpacked to the disk.

- Paprika's ``.paprikarecipes``: a zip of ``.paprikarecipe`` members, each one recipe as gzipped
  JSON (``name``, and ``ingredients`` and ``directions`` as one string with a line each).
- Mealie's export: a zip of ``.json`` recipes (``recipeIngredient``, ``recipeInstructions``).
- Tandoor's export: a zip of zips, each holding a ``recipe.json`` (``steps``, each with its own
  ``instruction`` and ``ingredients``).
- Any other zip of ``.json`` files: each file read as a ``.json`` corpus is.

What a zip expands to is counted as it is read, not taken from its headers (which a zip bomb
fakes), and reading stops past ``MAX_EXPANDED`` bytes: bad input, like a truncated zip.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from recipegen.corpora.jsonld import candidates
from recipegen.corpora.records import Skipped
from recipegen.errors import DataError

MAX_EXPANDED = 1 << 30  # bytes a zip may expand to, its zips and gzips included: far above any recipe box
_CHUNK = 1 << 20
NOT_JSON = "zip members that are not JSON"


class _Budget:
    """The bytes still allowed, shared by every member and nested archive of one zip."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit, self.left = path, limit, limit

    def read(self, stream: IO[bytes], name: str) -> bytes:
        parts = []
        while chunk := stream.read(min(_CHUNK, self.left + 1)):
            self.left -= len(chunk)
            if self.left < 0:
                raise DataError(f"{self.path}: expands past {self.limit:,} bytes at {name}; "
                                f"a zip bomb, or not a recipe export")
            parts.append(chunk)
        return b"".join(parts)


def archive_records(path: Path, limit: int | None = None) -> Iterator[Any]:
    """Every record of a zip export, in the order of its members, and a ``Skipped`` for each member
    that is not JSON. DataError for a zip that is truncated, damaged or too large once expanded."""
    budget = _Budget(path, limit or MAX_EXPANDED)
    try:
        with zipfile.ZipFile(path) as archive:
            yield from _members(archive, budget, depth=0)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        raise DataError(f"{path}: not a whole zip file ({e})") from None
    except RuntimeError as e:  # zipfile's word for an encrypted member
        raise DataError(f"{path}: cannot read it ({e})") from None


def _members(archive: zipfile.ZipFile, budget: _Budget, depth: int) -> Iterator[Any]:
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        name = PurePosixPath(info.filename)
        suffix = name.suffix.lower()
        if info.is_dir() or name.name.startswith(".") or suffix not in (".json", ".paprikarecipe", ".zip", ".gz"):
            continue  # images, and what the apps keep beside the recipes
        with archive.open(info) as member:
            data = budget.read(member, info.filename)
        if suffix == ".zip":
            if depth > 0:
                continue  # Tandoor nests one level; deeper is no export's
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                yield from _members(inner, budget, depth + 1)
            continue
        if suffix in (".paprikarecipe", ".gz") or data[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
                try:
                    data = budget.read(unzipped, info.filename)
                except (OSError, EOFError):
                    yield Skipped(NOT_JSON)
                    continue
        try:
            document = json.loads(data.decode("utf-8-sig"))
        except (ValueError, RecursionError):
            yield Skipped(NOT_JSON)
            continue
        yield from candidates(document)
