"""Which reader a file gets, by its extension, and the records each reader finds.

A record is anything ``records.recipe_from_record`` reads, or a ``Skipped`` saying what was found
that is no recipe. An error about the file as a whole (not JSON, a missing column) is a DataError
naming the file and, where it helps, the line.
A reader reads its file lazily where the format allows (JSON Lines, text, CSV: a line or a row
at a time); a ``.json`` document, a page, a Markdown file or a zip's member is read whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipegen.corpora import archives, tabular
from recipegen.corpora.jsonld import candidates
from recipegen.corpora.markdown import markdown_record
from recipegen.corpora.pages import page_records
from recipegen.errors import DataError
from recipegen.text import RECIPE_PREFIX


@dataclass(frozen=True)
class Reading:
    """How to read a corpus's files: ``data.fields`` (field -> the column or key that holds it,
    where the usual names do not fit) and ``data.encoding``."""

    fields: Mapping[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"


Reader = Callable[[Path, Reading], Iterator[Any]]


def _json(path: Path, reading: Reading) -> Iterator[Any]:
    text = read_text(path, reading.encoding)
    if not text.strip():
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:  # Python's parser recurses once per level of nesting
        raise DataError(f"{path}: JSON nested too deeply to be a recipe corpus") from None
    if not isinstance(document, (list, dict)):
        raise DataError(f"{path}: expected a JSON list of recipe objects (or a schema.org Recipe), "
                        f"got {type(document).__name__}")
    yield from candidates(document)


def _jsonl(path: Path, reading: Reading) -> Iterator[Any]:
    for lineno, line in lines(path, reading.encoding):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: invalid JSON on line {lineno}, column {e.colno}: {e.msg}") from None
        except RecursionError:
            raise DataError(f"{path}: JSON on line {lineno} nested too deeply to be a recipe") from None
        yield from candidates(document)


def _text(path: Path, reading: Reading) -> Iterator[Any]:
    """Recipes separated by blank lines: a block's first line is the title, the rest its directions."""
    block: list[str] = []
    for _, line in lines(path, reading.encoding):
        if line.strip():
            block.append(line.strip())
        elif block:
            yield _text_record(block)
            block = []
    if block:
        yield _text_record(block)


def _text_record(block: list[str]) -> dict[str, Any]:
    title = block[0]
    if title.lower().startswith(RECIPE_PREFIX + " "):
        title = title[len(RECIPE_PREFIX) + 1:]
    return {"title": title, "directions": block[1:]}


def _csv(path: Path, reading: Reading) -> Iterator[Any]:
    return tabular.records(path, reading.encoding, reading.fields)


def _page(path: Path, reading: Reading) -> Iterator[Any]:
    return page_records(read_text(path, reading.encoding))


def _markdown(path: Path, reading: Reading) -> Iterator[Any]:
    yield markdown_record(read_text(path, reading.encoding))


def _archive(path: Path, reading: Reading) -> Iterator[Any]:
    return archives.archive_records(path)


READERS: dict[str, tuple[str, Reader]] = {
    ".json": ("JSON", _json),
    ".jsonl": ("JSON Lines", _jsonl), ".ndjson": ("JSON Lines", _jsonl),
    ".txt": ("text", _text), ".text": ("text", _text),
    ".csv": ("CSV", _csv), ".tsv": ("TSV", _csv),
    ".html": ("HTML", _page), ".htm": ("HTML", _page),
    ".md": ("Markdown", _markdown), ".markdown": ("Markdown", _markdown),
    ".paprikarecipes": ("Paprika", _archive), ".zip": ("zip", _archive),
}
STREAMED = (".jsonl", ".ndjson", ".txt", ".text", ".csv", ".tsv")  # read a record at a time, in flat memory


def format_of(path: Path) -> str | None:
    """The format a file is read as ("CSV", "JSON Lines", ...), or None for no corpus format."""
    known = READERS.get(path.suffix.lower())
    return known[0] if known else None


def read_records(path: Path, reading: Reading) -> Iterator[Any]:
    return READERS[path.suffix.lower()][1](path, reading)


def read_text(path: Path, encoding: str = "utf-8") -> str:
    try:
        return path.read_bytes().decode(tabular.codec(encoding))
    except UnicodeDecodeError as e:
        raise DataError(tabular.encoding_error(path, encoding, "", e)) from None


def lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Numbered lines, read lazily; a byte not in ``encoding`` is a DataError naming its line."""
    return enumerate(tabular.decoded_lines(path, encoding), start=1)
