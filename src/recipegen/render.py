"""Text for people and JSON for scripts, from what the library returns: no TensorFlow, no I/O.

The CLI prints what these functions return: a recipe as a page (``as_page``), the one-line food
note under a recipe written for a given list, the probability table of ``--show-probs``, a sample
as JSON, and ``evaluate``'s table of measures.
"""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from typing import Any

from recipegen.generation.settings import not_off
from recipegen.measures import LABELS, food_use, format_measure


def generation_text(generation: Any, foods: set[str] | None) -> str:
    """Every sample of a ``generate.Generation`` as a page, with its food note and probability table."""
    pages = []
    for sample in generation.samples:
        parts = [as_page(sample)]
        if sample.request is not None and sample.request.ingredients and sample.parsed is not None:
            parts.append(food_note(sample, foods))
        if sample.steps:
            parts += ["", probability_table(sample)]
        pages.append("\n".join(parts))
    return terminal_safe("\n\n".join(pages))


def unknown_words_warning(words: list[str]) -> str:
    return terminal_safe(f"warning: not in the model's vocabulary, read as [UNK]: {', '.join(words)}")


def terminal_safe(text: str) -> str:
    """Control characters a prompt or corpus carried (an escape sequence would recolour or move the
    terminal) shown as escapes; line breaks and tabs stay."""
    return "".join(c if c.isprintable() or c in "\n\t" else c.encode("unicode_escape").decode("ascii") for c in text)


def generation_json(generation: Any, run: str, prompt: str, max_tokens: int, foods: set[str] | None) -> dict[str, Any]:
    """A ``generate.Generation`` as ``generate --json`` prints it: the settings, then each sample."""
    return strict_json({
        "run": run, "prompt": prompt, "unknown_words": generation.unknown_words,
        **dataclasses.asdict(generation.decoding), "max_tokens": max_tokens, "seed": generation.seed,
        "samples": [sample_json(sample, foods) for sample in generation.samples],
    })


def sample_jsonl(sample: Any, index: int, seed: int, foods: set[str] | None) -> str:
    """One line of ``generate --jsonl``: a recipe numbered in the file, with the seed of its batch."""
    return json.dumps(strict_json({"index": index, "seed": seed, **sample_json(sample, foods)}))


def training_summary(result: Any, quiet: bool) -> str | None:
    """What ``train`` prints when it is done (a ``train.TrainResult``): with ``quiet``, the run
    directory alone, for scripts; nothing on a worker that is not the chief."""
    if not result.chief:
        return None if quiet else f"Done: the chief worker (worker 0) saved {result.run_dir} on its machine"
    if quiet:
        return str(result.run_dir)
    m = result.metrics
    return (f"Saved {result.run_dir}: best epoch {m['best_epoch']} of {m['epochs']}, "
            f"held-out perplexity {m['val_perplexity']:.2f}, accuracy {m['val_accuracy']:.1%}")


def evaluation_text(result: dict[str, Any]) -> str:
    """``evaluate``'s result: the score in one line, then the measures of samples when there are any."""
    line = (f"{result['run']} on {result['data']} ({result['recipes']} recipes, {result['tokens']:,} tokens): "
            f"perplexity {result['perplexity']:.2f}, accuracy {result['accuracy']:.1%}")
    return line + ("\n" + measures_table(result["samples"]) if "samples" in result else "")


def as_page(sample: Any) -> str:
    """A recipe as a person writes it: the title, a bulleted ingredient list and numbered steps
    where the template has them, the directions as a paragraph where it does not (the book's),
    and a mark when the recipe was cut short by --max-tokens."""
    recipe = sample.parsed
    if recipe is None:  # the plain template: the text as written
        return sample.text if sample.ended else sample.text + " [...]"
    lines = [textwrap.fill(recipe.title or "(untitled)", width=88, subsequent_indent="  ")]
    if recipe.ingredients is None:
        if recipe.directions:
            lines.append(textwrap.fill(" ".join(recipe.directions), width=88, initial_indent="  ",
                                       subsequent_indent="  "))
    else:
        lines += ["", "Ingredients"]
        lines += [textwrap.fill(item, width=88, initial_indent="  - ", subsequent_indent="    ")
                  for item in recipe.ingredients] or ["  (none)"]
        lines += ["", "Directions"]
        width = len(str(len(recipe.directions)))
        lines += [textwrap.fill(step, width=88, initial_indent=f"  {n:>{width}}. ", subsequent_indent=" " * (width + 4))
                  for n, step in enumerate(recipe.directions, start=1)] or ["  (none)"]
    page = "\n".join(lines)
    return page if sample.ended else page + " [...]"

def food_note(sample: Any, foods: set[str] | None) -> str:
    """One line under a recipe written for a given list: what of it the directions use."""
    use = food_use(sample.parsed, foods)
    note = f"(uses {len(use.used)} of {len(use.used) + len(use.unused)} given ingredients"
    if use.unused:
        note += f"; not: {'; '.join(use.unused)}"
    if use.extra:
        note += f"; other foods: {', '.join(use.extra)}"
    return note + ")"

def probability_table(sample: Any) -> str:
    """The book's print_probs view: per step, the word chosen and the K most likely words."""
    chosen = [_visible(t) for t in sample.chosen]
    cells = [[f"{_visible(t)} {p:.3f}" for t, p in top] for top in sample.steps]
    widths = [max(len(row[k]) for row in cells) for k in range(len(cells[0]))]
    token_width = max(len("word"), *(len(t) for t in chosen))
    header = f"{'step':>4}  {'word':<{token_width}}  " + "  ".join(
        f"{f'#{k + 1}':<{w}}" for k, w in enumerate(widths))
    lines = [header.rstrip()]
    for step, (token, row) in enumerate(zip(chosen, cells), start=1):
        lines.append((f"{step:>4}  {token:<{token_width}}  " + "  ".join(
            f"{cell:<{w}}" for cell, w in zip(row, widths))).rstrip())
    return "\n".join(lines)

def _visible(token: str) -> str:
    """Character-level tokens that would vanish in a table: a space, a newline."""
    return {" ": "␣", "\n": "\\n", "\t": "\\t"}.get(token, token)

def sample_json(sample: Any, foods: set[str] | None) -> dict[str, Any]:
    result: dict[str, Any] = {"text": sample.text, "tokens": len(sample.tokens), "ended": sample.ended}
    if sample.parsed:
        result |= sample.parsed.as_dict()
        if foods is not None:
            result |= food_json(sample.parsed, foods)
    if sample.steps:
        result["steps"] = [
            {"token": token, "top": [{"token": t, "p": round(p, 6)} for t, p in top]}
            for token, top in zip(sample.chosen, sample.steps)
        ]
    return result

def food_json(recipe: Any, foods: set[str]) -> dict[str, list[str]]:
    """Which listed ingredients and title foods the directions use, and which other foods they cook."""
    use = food_use(recipe, foods)
    result = {"title_foods": use.title_foods, "title_foods_used": use.title_used}
    if recipe.ingredients is not None:
        result |= {"ingredients_used": use.used, "ingredients_unused": use.unused, "extra_foods": use.extra}
    return result


def measures_table(result: dict[str, Any]) -> str:
    """One row per measure; a column per temperature, and real recipes as the yardstick."""
    columns = [(f"T={row['temperature']:g}", row) for row in result["by_temperature"]]
    columns.append((f"real ({result['real']['samples']})", result["real"]))
    labels = LABELS | REALISM_LABELS
    names = [name for name in labels if any(name in row for _, row in columns)]
    width = max(len(labels[name]) for name in names)
    widths = [max(8, len(title)) for title, _ in columns]
    steering = ", ".join(f"{key} {value:g}" for key, value in not_off(result["decoding"]).items())
    lines = [f"{result['count']} samples after {result['prompt']!r}, at most {result['max_tokens']} tokens, "
             f"seed {result['seed']}, {steering or 'plain sampling'}:",
             f"  {'':<{width}}  " + "  ".join(f"{title:>{w}}" for (title, _), w in zip(columns, widths))]
    for name in names:
        cells = (f"{_measure(name, row.get(name)):>{w}}" for (_, row), w in zip(columns, widths))
        lines.append(f"  {labels[name]:<{width}}  " + "  ".join(cells))
    for title, row in columns[:-1]:
        if row.get("realism", {}).get("betraying"):
            lines.append(f"  {title} gives itself away by: {_quoted(row['realism']['betraying'])}; "
                         f"real recipes have: {_quoted(row['realism']['missing'])}")
    return "\n".join(lines)


def _quoted(grams: list[str]) -> str:
    """n-grams quoted, since many hold punctuation tokens: '"stir until", ", about"'."""
    return ", ".join(f'"{gram}"' for gram in grams)


# How a classifier tells samples from real recipes, and how much they copy (realism.py).
REALISM_LABELS = {"realism_auc": "realism AUC", "copied_ngrams": "copied 8-grams", "longest_copied": "longest copied"}


def _measure(name: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if name == "realism_auc":
        return f"{value:.3f}"
    if name == "copied_ngrams":
        return f"{value:.1%}"
    if name == "longest_copied":
        return f"{value}"
    return format_measure(name, value)

def strict_json(value: Any) -> Any:
    """NaN and infinity as null: JSON has no such numbers, and strict parsers reject Python's NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict_json(v) for key, v in value.items()}
    if isinstance(value, list):
        return [strict_json(v) for v in value]
    return value
