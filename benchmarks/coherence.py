"""Recipes that hold together: what steering the decoder buys, measured, on one corpus's held-out recipes.

    python benchmarks/coherence.py DATA.json [--minutes 8 | --model RUN_DIR] [--book RUN_DIR] [--recipes 100]
                                   [--workdir DIR] [--out benchmarks/results/coherence-NAME.json]

A full-template run (``configs/full.toml`` trained through ``recipegen train`` for ``--minutes``,
or ``--model``) is given, for each of N held-out recipes, that recipe's title and ingredient list,
and writes the directions: with plain sampling, with each kind of steering alone, and with the
run's defaults (``sample.*`` of its config), at temperatures 1.0 and 0.5. Each row is measured
beside the same measures of the real held-out directions (docs/generation.md, "Measures of samples"):
given ingredients used, extra foods per recipe, title foods used, repeated 4-grams, distinct-2,
ended, mean tokens, and recipes per second, decoded in batches of 32 recipes, so the cost of
steering shows as a ratio to plain sampling measured in the same run.

A second table samples whole recipes after "recipe for" (as ``recipegen generate`` does) with
plain sampling and with the defaults, for the full run and, with ``--book``, a book-template run.
A missing DATA file is skipped with a message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MEASURES = {  # name in text_measures -> column title
    "ingredients_used": "given used", "extra_foods": "extra foods", "title_foods_used": "title foods",
    "repeated_4grams": "rep. 4-grams", "distinct_2": "distinct-2", "ended": "ended", "well_formed": "well formed",
    "mean_tokens": "mean tokens",
}
TEMPERATURES = (1.0, 0.5)
BATCH = 32  # recipes decoded together


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="corpus with ingredient lists (.json or .jsonl)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--minutes", type=float, default=8.0, help="training budget of the full-template run")
    source.add_argument("--model", type=Path, help="a full-template run to use instead of training one")
    parser.add_argument("--book", type=Path, help="a book-template run for the second table")
    parser.add_argument("--recipes", type=int, default=100, help="held-out recipes to write directions for")
    parser.add_argument("--workdir", type=Path, help="where a trained run goes (default: a temporary directory)")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/coherence-<data>.json)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the benchmark corpora live in ../shared/data/)")
        return 0
    run_dir = args.model or train_full_run(args.data, args.minutes, args.workdir)
    out = args.out or Path("benchmarks/results") / f"coherence-{args.data.stem}.json"

    from recipegen.run import load_run

    run = load_run(run_dir)
    if run.template != "full":
        sys.exit(f"{run_dir}: trained with the {run.template} template; this benchmark needs the full template")
    given = given_recipes(run, args.recipes)
    print(f"{run_dir}: {len(given['requests'])} held-out recipes with an ingredient list, "
          f"directions of at most {given['max_tokens']} tokens", flush=True)
    results = {"data": str(args.data), "model": str(run_dir), "recipes": len(given["requests"]),
               "max_tokens": given["max_tokens"], "given": conditioned(run, given)}
    print(table(results["given"], "written for a given title and ingredient list"), flush=True)
    results["whole"] = {"full": whole_recipes(run, args.recipes)}
    if args.book:
        results["whole"]["book"] = whole_recipes(load_run(args.book), args.recipes)
    for template, rows in results["whole"].items():
        print(table(rows, f"whole recipes after 'recipe for', {template} template"), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


def train_full_run(data: Path, minutes: float, workdir: Path | None) -> Path:
    run_dir = (workdir or Path(tempfile.mkdtemp(prefix="recipegen-coherence-"))) / "full"
    command = [shutil.which("recipegen") or sys.exit("recipegen is not installed (pip install -e .)"), "train",
               "--config", "configs/full.toml", "--data", str(data), "--set", f"train.max_minutes={minutes}",
               "--out", str(run_dir), "--overwrite", "--quiet"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    print(f"trained {run_dir} in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    return run_dir


def given_recipes(run, count: int) -> dict:
    """The first ``count`` held-out recipes that have an ingredient list: what to give, and their real directions."""
    from recipegen.generation.samples import Request
    from recipegen.measures import SampleText
    from recipegen.run import read_heldout
    from recipegen.templates import parse_recipe
    from recipegen.text import DIRECTIONS, END_TOKEN

    requests, real = [], []
    for text in read_heldout(run.path):
        tokens = run.tokenizer.tokens(text)
        recipe = parse_recipe(tokens, "full", run.tokenizer)
        if not recipe.ingredients or DIRECTIONS not in tokens or len(requests) == count:
            continue
        directions = tokens[tokens.index(DIRECTIONS) + 1:]
        directions = directions[:directions.index(END_TOKEN)] if END_TOKEN in directions else directions
        requests.append(Request(title=recipe.title, ingredients=tuple(recipe.ingredients)))
        real.append(SampleText(tokens=directions, ended=True, parsed=recipe))
    # The longest real directions with their end token: a limit no real recipe reaches.
    return {"requests": requests, "real": real, "max_tokens": max(len(r.tokens) for r in real) + 1}


def arms(run) -> list[tuple[str, dict]]:
    """Plain sampling, each steering alone at the run's strength (or a typical one where the run's is
    off), and the run's defaults."""
    from recipegen.generation.settings import configured_decoding

    defaults = configured_decoding(run.config.sample)
    plain = dict(no_repeat_ngram=0, repetition_penalty=0.0, ingredient_bias=0.0, unlisted_penalty=0.0, best_of=1)
    alone = [("no_repeat_ngram", defaults.no_repeat_ngram or 3),
             ("repetition_penalty", defaults.repetition_penalty or 0.3),
             ("ingredient_bias", defaults.ingredient_bias or 8.0),
             ("unlisted_penalty", defaults.unlisted_penalty or 8.0),
             ("best_of", defaults.best_of if defaults.best_of > 1 else 3)]
    settings = {key: value for key, value in dataclasses.asdict(defaults).items() if key in plain}
    return ([("plain", plain)] + [(f"{key} {value:g}", plain | {key: value}) for key, value in alone]
            + [("defaults", settings)])


def conditioned(run, given: dict) -> list[dict]:
    from recipegen.generation.generator import Generator
    from recipegen.measures import text_measures

    generator, foods, requests = Generator.from_run(run), run.foods(), given["requests"]
    rows = [{"arm": "real"} | text_measures(given["real"], foods)]
    for temperature in TEMPERATURES:
        for name, settings in arms(run):
            # trace
            generator.generate(requests=requests[:2], max_tokens=8, seed=0, temperature=temperature, **settings)
            started = time.perf_counter()
            samples = []
            for i in range(0, len(requests), BATCH):
                samples += generator.generate(requests=requests[i:i + BATCH], max_tokens=given["max_tokens"], seed=i,
                                              temperature=temperature, **settings).samples
            seconds = time.perf_counter() - started
            rows.append({"arm": name, "temperature": temperature, "settings": settings,
                         "recipes_per_second": len(samples) / seconds}
                        | text_measures([s.for_measures() for s in samples], foods))
            print(f"  {name} at T={temperature:g}: {len(samples) / seconds:.1f} recipes/s", flush=True)
    return rows


def whole_recipes(run, count: int) -> list[dict]:
    """``count`` recipes after the run's prompt, plain and with its defaults, beside its held-out recipes."""
    from recipegen.evaluate import longest_recipe, measure_samples, reference_samples
    from recipegen.generation.generator import Generator
    from recipegen.generation.settings import Decoding, configured_decoding
    from recipegen.run import read_heldout

    generator, foods, texts = Generator.from_run(run), run.foods(), read_heldout(run.path)
    prompt, max_tokens = run.config.sample.prompt, longest_recipe(texts, run.tokenizer)
    real = reference_samples(texts[:count], generator.encode_prompt(prompt)[0], max_tokens, run.template, run.tokenizer)
    from recipegen.measures import text_measures

    rows = [{"arm": "real"} | text_measures(real, foods)]
    for temperature in TEMPERATURES:
        for name, decoding in [("plain", Decoding()), ("defaults", configured_decoding(run.config.sample))]:
            generator.generate(prompt, n=2, max_tokens=8, seed=0, decoding=decoding, temperature=temperature)  # trace
            started = time.perf_counter()
            measured, samples = measure_samples(generator, prompt, count, temperature, max_tokens, 42, BATCH, foods,
                                                decoding)
            rows.append({"arm": name, "temperature": temperature, "settings": dataclasses.asdict(decoding),
                         "recipes_per_second": len(samples) / (time.perf_counter() - started)} | measured)
    return rows


def table(rows: list[dict], title: str) -> str:
    """One line per arm and temperature, the measures as columns, and the time beside plain sampling's."""
    names = [name for name in MEASURES if any(name in row for row in rows)]
    plain = {row["temperature"]: row["recipes_per_second"] for row in rows if row["arm"] == "plain"}
    header = (f"{'':<26}" + "".join(f"{MEASURES[name]:>13}" for name in names) + f"{'recipes/s':>11}{'time':>7}")
    lines = [f"\n{title}:", header]
    for row in rows:
        label = row["arm"] if row["arm"] == "real" else f"T={row['temperature']:g} {row['arm']}"
        cells = "".join(f"{format_cell(name, row.get(name)):>13}" for name in names)
        rate = row.get("recipes_per_second")
        time_cells = ("" if rate is None else f"{rate:>11.1f}{plain[row['temperature']] / rate:>6.1f}x")
        lines.append(f"{label:<26}{cells}{time_cells}")
    return "\n".join(lines)


def format_cell(name: str, value) -> str:
    if value is None or value != value:  # missing or NaN
        return "-"
    if name in ("extra_foods", "mean_tokens"):
        return f"{value:.1f}" if name == "mean_tokens" else f"{value:.2f}"
    if name == "distinct_2":
        return f"{value:.3f}"
    return f"{value:.1%}"


if __name__ == "__main__":
    sys.exit(main())
