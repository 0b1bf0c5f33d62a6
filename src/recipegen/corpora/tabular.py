"""CSV and TSV corpora: RecipeNLG's ``full_dataset.csv``, Food.com's ``RAW_recipes.csv``, a sheet
someone exported.

The first row names the columns; the title, ingredients and directions columns are found among
their usual names (records.py), or named by ``data.fields``. The delimiter is the one of ``,``,
tab, ``;`` and ``|`` that splits the header into the most known names (then the most columns).
Rows are read one at a time, never the whole file, so a corpus larger than memory streams.
"""

from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from recipegen.corpora.records import FIELDS, NAMES, BadValue, find_field, literal_list, normalized_name
from recipegen.errors import DataError

DELIMITERS = (",", "\t", ";", "|")
_FIELD_LIMIT = 64 * 1024 * 1024  # characters in one cell; csv's own default (128 KiB) is short of a long recipe
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "|"}


def header_and_rows(path: Path, encoding: str) -> tuple[list[str], str, Iterator[tuple[int, list[str]]]]:
    """The header, the delimiter and the rows of a CSV or TSV file, with the line each row starts on."""
    handle = open(path, encoding=codec(encoding), errors="strict", newline="")  # closed by _rows
    try:
        first = handle.readline()
    except UnicodeDecodeError:
        handle.close()
        raise _undecodable(path, encoding) from None
    if not first.strip():
        handle.close()
        raise DataError(f"{path}: no header row naming the columns")
    delimiter = _delimiter(first, "\t" if path.suffix.lower() == ".tsv" else None)
    header = next(csv.reader([first], delimiter=delimiter))
    return header, delimiter, _rows(path, handle, delimiter, encoding)


def codec(encoding: str) -> str:
    """The codec that reads ``encoding``: for UTF-8, one that drops a byte order mark, which is not text."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def encoding_error(path: Path, encoding: str, where: str, error: UnicodeDecodeError) -> str:
    utf8 = codecs.lookup(encoding).name == "utf-8"
    hint = "; if it is in another encoding, set data.encoding (e.g. --set data.encoding=latin-1)" if utf8 else ""
    return f"{path}: not {'UTF-8' if utf8 else encoding} text ({where + ', ' if where else ''}byte {error.start}){hint}"


def columns(path: Path, header: list[str], delimiter: str, chosen: Mapping[str, str]) -> dict[str, int]:
    """Which column holds each field (title, ingredients, directions; ingredients may be missing):
    the one ``data.fields`` names, else the first of the field's usual names."""
    positions = {normalized_name(name): i for i, name in reversed(list(enumerate(header)))}  # the first of a name
    names = {key: key for key in positions}
    found = {}
    for field in FIELDS:
        key = find_field(names, field, chosen.get(field, ""))
        if key is None and chosen.get(field):
            raise DataError(f"{path}: data.fields.{field} names column {chosen[field]!r}, which the header does not "
                            f"have (columns: {_listed(header)})")
        if key is not None:
            found[field] = positions[key]
    missing = [field for field in ("title", "directions") if field not in found]
    if missing:
        split = "" if len(header) > 1 else (f"; the header is one column split by "
                                            f"{_DELIMITER_NAMES[delimiter]}: is the delimiter one of , tab ; |?")
        raise DataError(f"{path}: no {' or '.join(missing)} column among {_listed(header)}{split}; name it in "
                        f"data.fields (e.g. --set data.fields.{missing[0]}=COLUMN)")
    return found


def records(path: Path, encoding: str, chosen: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """Each row as a record of the columns found, keyed by their names as a JSON record is by its keys."""
    header, delimiter, rows = header_and_rows(path, encoding)
    found = columns(path, header, delimiter, chosen)  # checked here, so a missing column fails before any row
    for line, row in rows:
        record: dict[str, Any] = {}
        for i in found.values():
            cell = row[i] if i < len(row) else None
            if cell and cell[0] == "[":
                try:
                    cell = literal_list(cell) or cell
                except BadValue as e:
                    raise DataError(f"{path}: line {line}, column {header[i]!r}: {e}") from None
            record[header[i]] = cell
        yield record


def decoded_lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines as text, decoded one at a time so that a byte not in ``encoding`` is named
    by its line, never read as something else (mojibake)."""
    codec_name = codec(encoding)
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield raw.decode(codec_name if lineno == 1 else codec_name.removesuffix("-sig"))
            except UnicodeDecodeError as e:
                raise DataError(encoding_error(path, encoding, f"line {lineno}", e)) from None


def _rows(path: Path, handle: IO[str], delimiter: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    csv.field_size_limit(min(max(csv.field_size_limit(), _FIELD_LIMIT), sys.maxsize))
    reader = csv.reader(handle, delimiter=delimiter)
    with handle:
        try:
            while True:
                start = reader.line_num + 2  # the header's line was read before the reader
                try:
                    row = next(reader)
                except StopIteration:
                    return
                if any(cell.strip() for cell in row):
                    yield start, row
        except UnicodeDecodeError:  # decoded a block at a time, as fast as text is read: find the line
            raise _undecodable(path, encoding) from None
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num + 1}: not CSV ({e})") from None


def _undecodable(path: Path, encoding: str) -> DataError:
    """The error naming the line of the first byte that is not in ``encoding``."""
    try:
        for _ in decoded_lines(path, encoding):
            pass
    except DataError as e:
        return e
    return DataError(f"{path}: not {encoding} text")


def _delimiter(header_line: str, given: str | None) -> str:
    if given:
        return given
    known = {name for names in NAMES.values() for name in names}

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        return sum(normalized_name(c) in known for c in cells), len(cells)

    return max(DELIMITERS, key=score)


def _listed(header: list[str]) -> str:
    shown = ", ".join(repr(name) for name in header[:12])
    return shown + (f", ... ({len(header)} in all)" if len(header) > 12 else "")
