"""``recipegen data``: what recipegen would read from a corpus, before an hour is spent training on it.

One pass over the corpus, without TensorFlow: the files and the format of each, the recipes read
and the records skipped by reason, the columns or keys that gave each field, the words, and the
first recipes as the model will see them. With ``--to``, the same pass writes the recipes as
recipegen's own JSON Lines (title, ingredients, directions), whole or not at all.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from recipegen import stopping
from recipegen.corpora.formats import Reading, format_of
from recipegen.corpora.records import FIELDS, Skipped, field_keys, no_recipe, recipe_from_record
from recipegen.corpora.sources import Source, resolve
from recipegen.errors import DataError
from recipegen.files import replacing
from recipegen.templates import chosen_template, recipe_text
from recipegen.text import WORDS

EXAMPLES = 3
_SHOWN = 300  # characters of each example shown as text
_KEYS_SAMPLED = 1000  # records per file whose field names are noted: enough to say which names a file uses


def inspect_corpus(given: str | Path, reading: Reading, template: str = "book",
                   to: Path | None = None) -> dict[str, Any]:
    """What ``given`` holds, as recipegen reads it; with ``to``, its recipes written there as JSON Lines."""
    source = resolve(given)
    started = time.perf_counter()
    if to is None:
        summary = _whole_summary(source, reading, None)
    else:  # a stop or an error raised inside the block leaves the older file as it was
        with replacing(to.resolve(), suffix=".jsonl.tmp") as tmp, tmp.open("w", encoding="utf-8") as out:
            summary = _whole_summary(source, reading, out)
    seconds = time.perf_counter() - started
    recipes, examples = summary.pop("recipes_read"), summary.pop("examples")
    template = chosen_template(template, summary["with_ingredients"], recipes)
    return {
        "path": str(given), **summary, "recipes": recipes,
        "seconds": round(seconds, 3), "recipes_per_second": round(recipes / seconds) if seconds > 0 else None,
        "template": template, "examples": [recipe_text(recipe, template, WORDS) for recipe in examples],
        "written_to": str(to) if to is not None else None,
    }


def _whole_summary(source: Source, reading: Reading, out: IO[str] | None) -> dict[str, Any]:
    """The summary of a pass that read the whole corpus and found a recipe; else a stop or a DataError."""
    summary = _summary(source, reading, out)
    stopping.check()  # asked to stop while reading: no half-read summary, no half-written file
    if not summary["recipes_read"]:
        raise DataError(no_recipe(source.files[0] if source.single else source.given, summary["skip_reasons"]))
    return summary


def _summary(source: Source, reading: Reading, out: IO[str] | None) -> dict[str, Any]:
    files: dict[Path, dict[str, Any]] = {
        path: {"path": str(path), "format": format_of(path), "recipes": 0, "skipped": Counter()}
        for path in source.files}
    keys: dict[str, Counter[str]] = {field: Counter() for field in FIELDS}
    reasons: Counter[str] = Counter()
    recipes = words = with_ingredients = 0
    examples = []
    noted: Counter[Path] = Counter()
    for path, record in source.records(reading):
        if stopping.requested():
            break
        entry = files[path]
        if isinstance(record, Skipped):
            entry["skipped"][record.reason] += 1
            reasons[record.reason] += 1
            continue
        recipe, reason = recipe_from_record(record, reading.fields)
        if recipe is None:
            entry["skipped"][reason] += 1
            reasons[reason] += 1
            continue
        if noted[path] < _KEYS_SAMPLED and isinstance(record, dict):
            noted[path] += 1
            _note_keys(record, reading, keys)
        entry["recipes"] += 1
        recipes += 1
        with_ingredients += bool(recipe.ingredients)
        lines = (recipe.title, *recipe.ingredients, *recipe.directions)  # each one with single spaces only
        words += " ".join(lines).count(" ") + 1
        if len(examples) < EXAMPLES:
            examples.append(recipe)
        if out is not None:
            out.write(json.dumps({"title": recipe.title, "ingredients": list(recipe.ingredients),
                                  "directions": list(recipe.directions)}, ensure_ascii=False) + "\n")
    return {
        "files": [{**entry, "skipped": dict(entry["skipped"])} for entry in files.values()],
        "ignored_files": source.ignored,
        "recipes_read": recipes, "skipped": sum(reasons.values()), "skip_reasons": dict(sorted(reasons.items())),
        "fields": {field: [name for name, _ in counts.most_common()] for field, counts in keys.items()},
        "words": words, "with_ingredients": with_ingredients, "examples": examples,
    }


def _note_keys(record: dict[str, Any], reading: Reading, keys: dict[str, Counter[str]]) -> None:
    """Which key gave each field: a JSON record's, or a CSV row's column names."""
    for field, key in field_keys(record, reading.fields).items():
        if key is not None and record.get(key) is not None:
            keys[field][key] += 1


def rows_of(report: dict[str, Any]) -> Iterator[str]:
    """The report as lines of text for people (``--json`` prints the dict itself)."""
    files, recipes = report["files"], report["recipes"]
    formats = Counter(entry["format"] for entry in files)
    kinds = ", ".join(f"{n} {kind}" for kind, n in formats.most_common())
    ignored = f"; {report['ignored_files']} files of other kinds not read" if report["ignored_files"] else ""
    yield f"{report['path']}: {len(files)} file{'s' if len(files) != 1 else ''} ({kinds}){ignored}"
    if len(files) > 1:
        width = max(len(entry["path"]) for entry in files[:20])
        for entry in files[:20]:
            skipped = sum(entry["skipped"].values())
            yield (f"  {entry['path']:<{width}}  {entry['format']:<10} {entry['recipes']:>9,} recipes"
                   + (f", {skipped:,} skipped" if skipped else ""))
        if len(files) > 20:
            yield f"  ... and {len(files) - 20} more files (--json lists them all)"
    reasons = ", ".join(f"{n:,} {why}" for why, n in report["skip_reasons"].items())
    yield f"recipes: {recipes:,} read" + (f"; {report['skipped']:,} skipped: {reasons}" if reasons else "")
    used = [f"{field} <- {', '.join(repr(name) for name in names[:3])}" for field, names in report["fields"].items()
            if names]
    yield f"fields: {'; '.join(used) or 'none'}"
    yield (f"words: {report['words']:,} ({report['words'] / max(recipes, 1):,.0f} a recipe); "
           f"{report['with_ingredients']:,} recipes with an ingredient list")
    if report["recipes_per_second"]:
        yield f"read in {report['seconds']:.2f} s ({report['recipes_per_second']:,} recipes/s)"
    if report["written_to"]:
        yield f"wrote {recipes:,} recipes to {report['written_to']}"
    yield ""
    yield f"as the model will see them ({report['template']} template):"
    for text in report["examples"]:  # --json has them whole
        yield f"  {text[:_SHOWN]}{' ...' if len(text) > _SHOWN else ''}"
