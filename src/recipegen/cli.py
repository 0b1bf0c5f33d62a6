"""The ``recipegen`` command: parse options, load the config, call the library.

TensorFlow takes seconds to import, so it is imported inside the commands that need it and
``recipegen --help`` stays instant. Mistakes in the user's input (a path, a key, an option)
come out as one line on stderr with exit code 2; failures while running exit 1; Ctrl-C
exits 130. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import textwrap
from pathlib import Path
from typing import Any

import click

from recipegen.errors import RecipegenError, RunFailure, TrainingInterrupted

DEFAULT_CONFIG = Path("configs/default.toml")
RUN_DIR = click.Path(file_okay=False, path_type=Path)  # shells complete it with directories only
STRATEGIES = ("default", "mirrored", "multiworker")  # config.STRATEGIES, repeated so --help needs no import


class BadInput(click.ClickException):
    exit_code = 2


class RecipegenGroup(click.Group):
    """Turns library exceptions into the exit codes of the CLI contract."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except RecipegenError as e:
            if debug:
                raise
            raise BadInput(str(e)) from None
        except RunFailure as e:
            if debug:
                raise
            raise click.ClickException(str(e)) from None
        except TrainingInterrupted as e:
            click.echo(f"Interrupted after {e.epochs_done} completed epoch(s); "
                       f"continue with: recipegen train --resume {e.run_dir}", err=True)
            raise click.exceptions.Exit(130) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(130) from None
        except Exception as e:
            if debug:
                raise
            raise click.ClickException(f"{type(e).__name__}: {e} (run with --debug for the traceback)") from None


@click.group(cls=RecipegenGroup)
@click.version_option(package_name="recipegen")
@click.option("--debug", is_flag=True, help="Show full tracebacks and TensorFlow's own log lines.")
def cli(debug: bool) -> None:
    """Train a word-level recipe generator and sample recipes from it.

    \b
        recipegen train --config configs/quick.toml
        recipegen generate --temperature 0.5
        recipegen evaluate
        recipegen info
    """


@cli.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help=f"TOML config (default: {DEFAULT_CONFIG} if present, else the built-in book values).")
@click.option("--data", type=str, help="Corpus to train on (.json, .jsonl or .txt); overrides data.path.")
@click.option("--out", type=RUN_DIR, help="Run directory to write (default: runs/<timestamp>).")
@click.option("--epochs", type=click.IntRange(min=1), help="Overrides train.epochs.")
@click.option("--seed", type=int, help="Overrides seed (split, shuffling, initial weights, samples).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set model.cell=gru --set model.units=64. Repeatable.")
@click.option("--overwrite", is_flag=True, help="Replace the files of an existing run directory.")
@click.option("--resume", "resume_dir", type=RUN_DIR,
              help="Continue an interrupted run from its last completed epoch (with --epochs, train it longer).")
@click.option("--tensorboard", is_flag=True,
              help="Also write TensorBoard logs to RUN_DIR/tensorboard/ (sets train.tensorboard; with --resume, "
                   "from now on); view them with: tensorboard --logdir runs/")
@click.option("--strategy", type=click.Choice(STRATEGIES),
              help="Overrides train.strategy: one device (default), every GPU of this machine (mirrored), "
                   "or several machines described by TF_CONFIG (multiworker; run it on each).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or samples; print only the run directory.")
def train(config_path: Path | None, data: str | None, out: Path | None, epochs: int | None, seed: int | None,
          overrides: tuple[str, ...], overwrite: bool, resume_dir: Path | None, tensorboard: bool,
          strategy: str | None, quiet: bool) -> None:
    """Train a model and write a run directory.

    \b
        recipegen train --config configs/quick.toml --out runs/quick
        recipegen train --data my_recipes.jsonl --epochs 5 --set model.cell=gru --tensorboard
        recipegen train --resume runs/quick
        TF_CONFIG='{"cluster": ...}' recipegen train --strategy multiworker --out runs/big
    """
    from recipegen.config import load_config, parse_override

    if resume_dir is not None:
        given = [name for name, value in (("--config", config_path), ("--data", data), ("--out", out), ("--seed", seed),
                                          ("--set", overrides), ("--overwrite", overwrite)) if value]
        if given:
            raise click.UsageError(f"--resume continues a run with its own config; it cannot be combined with {', '.join(given)}")

    values = dict(parse_override(text) for text in overrides)
    for key, value in (("data.path", data), ("train.epochs", epochs), ("seed", seed), ("train.strategy", strategy)):
        if value is not None:
            values[key] = value
    if tensorboard:
        values["train.tensorboard"] = True
    if config_path is None and DEFAULT_CONFIG.is_file() and resume_dir is None:
        config_path = DEFAULT_CONFIG
    config = load_config(config_path, values) if resume_dir is None else None

    _start_tensorflow()
    from recipegen.run import new_run_dir
    from recipegen.train import resume, train as train_model

    _stop_on_sigterm()
    log = None if quiet else (lambda message: click.echo(message, err=True))
    if resume_dir is not None:
        result = resume(resume_dir, epochs=epochs, tensorboard=tensorboard, strategy=strategy, verbose=not quiet,
                        log=log)
    else:
        result = train_model(config, out or new_run_dir(), overwrite=overwrite, verbose=not quiet, log=log)
    if not result.chief:
        if not quiet:
            click.echo(f"Done: the chief worker (worker 0) saved {result.run_dir} on its machine")
        return
    if quiet:
        click.echo(str(result.run_dir))
        return
    m = result.metrics
    click.echo(f"Saved {result.run_dir}: best epoch {m['best_epoch']} of {m['epochs']}, "
               f"held-out perplexity {m['val_perplexity']:.2f}, accuracy {m['val_accuracy']:.1%}")


def decoding_options(command: Any) -> Any:
    """The steering options of generate and evaluate; each defaults to the run's sample.* setting."""
    options = [
        click.option("--no-repeat-ngram", type=click.IntRange(min=0), metavar="N",
                     help="Never repeat an N-token phrase within a section of a recipe; 0 = off "
                          "(default: the run's sample.no_repeat_ngram)."),
        click.option("--repetition-penalty", type=click.FloatRange(min=0), metavar="R",
                     help="Take R off a word's logit for each time the section has used it; 0 = off "
                          "(default: the run's sample.repetition_penalty)."),
        click.option("--ingredient-bias", type=click.FloatRange(min=0), metavar="B",
                     help="Steer the directions toward the foods the title and ingredient list name, until they "
                          "use them; 0 = off (default: the run's sample.ingredient_bias)."),
        click.option("--unlisted-penalty", type=click.FloatRange(min=0), metavar="P",
                     help="Steer the directions away from foods the ingredient list does not name; 0 = off, inf = "
                          "never (default: the run's sample.unlisted_penalty)."),
        click.option("--best-of", type=click.IntRange(min=1), metavar="K",
                     help="Sample K candidates per recipe and keep the one that holds together best "
                          "(default: the run's sample.best_of)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command()
@click.option("--model", "run_path", type=RUN_DIR,
              help="Run directory (default: the most recently saved run under ./runs).")
@click.option("--prompt", help="How each recipe starts (default: the run's sample.prompt, usually \"recipe for\"); "
                               "\"\" starts a recipe from nothing.")
@click.option("--ingredients", metavar="'A; B; ...'",
              help="The recipe's ingredient list, lines separated by ';' (runs trained with the full template).")
@click.option("--ingredients-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The recipe's ingredient list, one line per line of FILE (commas stay in their line).")
@click.option("--title", help="The recipe's title (default: the model writes it).")
@click.option("--temperature", "-t", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Sampling temperature; 0 is greedy (always the most likely word).")
@click.option("--top-k", type=click.IntRange(min=1), help="Sample only among the K most likely words.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), help="Sample only among the most likely words whose probability adds up to P.")
@decoding_options
@click.option("--max-tokens", type=click.IntRange(min=1), default=200, show_default=True, help="Longest recipe, in tokens after the prompt.")
@click.option("-n", "count", type=click.IntRange(min=1), default=1, show_default=True, help="How many recipes, sampled in parallel.")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed; the same seed gives the same recipes (default: random, shown in --json).")
@click.option("--show-probs", type=click.IntRange(min=0), default=0, metavar="K",
              help="After each recipe, a table of the K most likely next words and their probabilities at every step.")
@click.option("--xla", is_flag=True,
              help="Compile the decoder with XLA: about 1.5 s more to start, about 1.6x the tokens/s; for many or long recipes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def generate(run_path: Path | None, prompt: str | None, ingredients: str | None, ingredients_file: Path | None,
             title: str | None, temperature: float, top_k: int | None, top_p: float | None, no_repeat_ngram: int | None,
             repetition_penalty: float | None, ingredient_bias: float | None, unlisted_penalty: float | None,
             best_of: int | None, max_tokens: int, count: int, seed: int | None, show_probs: int, xla: bool,
             as_json: bool) -> None:
    """Sample recipes from a trained model.

    \b
        recipegen generate --temperature 0.5
        recipegen generate --prompt "recipe for chocolate cake |" -n 3 --seed 7 --json
        recipegen generate --ingredients "2 chicken breasts; 1 lemon; 3 cloves garlic" --title "lemon chicken"
        recipegen generate --temperature 0.8 --top-k 40 --top-p 0.9 --show-probs 5
    """
    asked = _asked_recipe(prompt, ingredients, ingredients_file, title)
    _start_tensorflow()
    from recipegen.decoding import Request, SettingError
    from recipegen.generate import Generator
    from recipegen.run import load_run

    requests = [Request(*asked)] if asked else None
    run = load_run(run_path)
    generator = Generator.from_run(run, jit_compile=xla)
    prompt = run.config.sample.prompt if prompt is None else prompt
    settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, no_repeat_ngram=no_repeat_ngram,
                    repetition_penalty=repetition_penalty, ingredient_bias=ingredient_bias,
                    unlisted_penalty=unlisted_penalty, best_of=best_of)
    try:
        generation = generator.generate(prompt, n=count, max_tokens=max_tokens, seed=seed, show_probs=show_probs,
                                        requests=requests, decoding=_run_decoding(run, settings))
    except SettingError as e:
        raise _bad_option(e, ingredients_file) from None
    if generation.unknown_words:
        click.echo(f"warning: not in the model's vocabulary, read as [UNK]: {', '.join(generation.unknown_words)}", err=True)
    foods = run.foods()

    if as_json:
        decoding = dataclasses.asdict(generation.decoding)
        click.echo(json.dumps(_strict_json({
            "run": str(run.path),
            "prompt": run.tokenizer.as_string(generation.prompt_tokens),
            "unknown_words": generation.unknown_words,
            **decoding, "max_tokens": max_tokens, "seed": generation.seed,
            "samples": [_sample_json(s, foods) for s in generation.samples],
        }), indent=2))
        return
    for i, sample in enumerate(generation.samples):
        if i:
            click.echo()
        click.echo(_as_page(sample))
        if sample.request is not None and sample.request.ingredients and sample.parsed is not None:
            click.echo(_food_note(sample, foods))
        if sample.steps:
            click.echo()
            click.echo(_probability_table(sample))


def _run_decoding(run: Any, settings: dict[str, Any]) -> Any:
    """The run's decoding settings (its config's sample.*) with the options that were given."""
    from recipegen.decoding import SettingError, configured_decoding

    try:
        return configured_decoding(run.config.sample, **settings)
    except SettingError as e:
        raise _bad_option(e) from None


def _bad_option(error: Any, ingredients_file: Path | None = None) -> click.BadParameter:
    """The library's SettingError as a one-line error for the option that set it."""
    option = "--ingredients-file" if error.setting == "ingredients" and ingredients_file else f"--{error.setting.replace('_', '-')}"
    return click.BadParameter(str(error), param_hint=option)


def _asked_recipe(prompt: str | None, ingredients: str | None, ingredients_file: Path | None,
                  title: str | None) -> tuple[str | None, tuple[str, ...]] | None:
    """The title and ingredient lines that --title and --ingredients(-file) ask for; None without them."""
    if ingredients is not None and ingredients_file is not None:
        raise click.UsageError("give the ingredient list once: --ingredients or --ingredients-file, not both")
    if ingredients is None and ingredients_file is None and title is None:
        return None
    if prompt is not None:
        raise click.UsageError("--prompt cannot be combined with --title or --ingredients, which write the prompt")
    if ingredients_file is not None:
        try:
            lines = ingredients_file.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise click.BadParameter(f"{ingredients_file}: cannot read it ({e})", param_hint="--ingredients-file") from None
        option = "--ingredients-file"
    else:
        lines = (ingredients or "").split(";")
        option = "--ingredients"
    lines = [" ".join(line.split()) for line in lines if line.strip()]
    if (ingredients is not None or ingredients_file is not None) and not lines:
        raise click.BadParameter("no ingredient in the list" + (" (separate lines with ';')" if ingredients is not None
                                                                 else ""), param_hint=option)
    if title is not None and not title.strip():
        raise click.BadParameter("the title is empty", param_hint="--title")
    return title, tuple(lines)


@cli.command()
@click.option("--model", "run_path", type=RUN_DIR,
              help="Run directory (default: the most recently saved run under ./runs).")
@click.option("--data", type=click.Path(path_type=Path),
              help="Score this corpus instead of the run's own held-out recipes.")
@click.option("--samples", "sample_count", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Also sample N recipes and measure their text (distinct n-grams, repeats, length, endings, "
                   "ingredient use), beside the same measures of real held-out recipes.")
@click.option("--temperature", "-t", "temperatures", type=click.FloatRange(min=0), multiple=True,
              help="Temperature for --samples; repeatable (default: the run's sample.temperatures).")
@click.option("--max-tokens", type=click.IntRange(min=1),
              help="Longest sample for --samples (default: the longest held-out recipe, so no real recipe would be cut).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for --samples (default: the run's seed).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Samples decoded together for --samples.")
@decoding_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def evaluate(run_path: Path | None, data: Path | None, sample_count: int, temperatures: tuple[float, ...],
             max_tokens: int | None, seed: int | None, batch_size: int, no_repeat_ngram: int | None,
             repetition_penalty: float | None, ingredient_bias: float | None, unlisted_penalty: float | None,
             best_of: int | None, as_json: bool) -> None:
    """Held-out perplexity and next-token accuracy, over real tokens only; with --samples, also
    measures of the text the model writes (defined in README.md, "Measures of samples").

    \b
        recipegen evaluate
        recipegen evaluate --samples 100 --temperature 0.7
        recipegen evaluate --model runs/quick --data other_recipes.json --json
    """
    if not all(math.isfinite(t) for t in temperatures):
        raise click.BadParameter("must be a finite number", param_hint="--temperature")
    _start_tensorflow()
    from recipegen.data import load_corpus
    from recipegen.evaluate import measure_run, score_texts
    from recipegen.pipeline import recipe_texts
    from recipegen.run import load_run, read_heldout

    run = load_run(run_path)
    texts = recipe_texts(load_corpus(data).recipes, run.template, run.tokenizer) if data else read_heldout(run.path)
    score = score_texts(run.model, run.vocabulary, texts, run.config.data.sequence_length, run.config.train.batch_size,
                        run.tokenizer)
    if score.tokens == 0:
        raise BadInput(f"{data or run.path}: no tokens to score")
    result: dict[str, Any] = {"run": str(run.path), "data": str(data) if data else "held-out split",
                              "recipes": len(texts)} | score.as_dict()
    if sample_count:
        decoding = _run_decoding(run, dict(no_repeat_ngram=no_repeat_ngram, repetition_penalty=repetition_penalty,
                                          ingredient_bias=ingredient_bias, unlisted_penalty=unlisted_penalty,
                                          best_of=best_of))
        result["samples"] = measure_run(run, texts, sample_count, temperatures or run.config.sample.temperatures,
                                        max_tokens, run.config.seed if seed is None else seed, batch_size, decoding)
    if as_json:
        click.echo(json.dumps(_strict_json(result), indent=2))
        return
    click.echo(f"{result['run']} on {result['data']} ({len(texts)} recipes, {score.tokens:,} tokens): "
               f"perplexity {score.perplexity:.2f}, accuracy {score.accuracy:.1%}")
    if sample_count:
        click.echo(_measures_table(result["samples"]))


@cli.command()
@click.argument("run_path", metavar="[RUN_DIR]", required=False, type=RUN_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(run_path: Path | None, as_json: bool) -> None:
    """Describe a run: architecture, parameters, vocabulary, corpus, training, and whether it
    finished or can be resumed. Read from the run's files; what a run has not written is unknown.

    \b
        recipegen info
        recipegen info runs/quick --json
    """
    from recipegen.info import describe_run, format_info

    description = describe_run(run_path, import_tensorflow=_start_tensorflow)
    click.echo(json.dumps(_strict_json(description), indent=2) if as_json else format_info(description))


@cli.command()
@click.argument("run_dir", type=RUN_DIR)
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it holds an earlier export.")
def export(run_dir: Path, out: Path, overwrite: bool) -> None:
    """Write a run as a TensorFlow SavedModel that turns a prompt into a recipe by itself:
    tokenizer, sampling and decoding inside, loadable without recipegen (README: "export").

    \b
        recipegen export runs/quick exported/quick
        recipegen export runs/quick exported/quick --overwrite
    """
    _start_tensorflow()
    from recipegen.export import ENDPOINT, export_run

    path = export_run(run_dir, out, overwrite=overwrite)
    click.echo(f"Saved {path}: tf.saved_model.load({str(path)!r}).{ENDPOINT}(prompt=...) writes a recipe")


def _measures_table(result: dict[str, Any]) -> str:
    """One row per measure; a column per temperature, and real recipes as the yardstick."""
    from recipegen.measures import LABELS, format_measure

    columns = [(f"T={row['temperature']:g}", row) for row in result["by_temperature"]]
    columns.append((f"real ({result['real']['samples']})", result["real"]))
    names = [name for name in LABELS if name in result["real"]]
    width = max(len(LABELS[name]) for name in names)
    widths = [max(8, len(title)) for title, _ in columns]
    off = {"no_repeat_ngram": 0, "repetition_penalty": 0.0, "ingredient_bias": 0.0, "unlisted_penalty": 0.0,
           "best_of": 1, "top_k": None, "top_p": None}
    steering = ", ".join(f"{key} {value:g}" for key, value in result["decoding"].items() if off.get(key) != value)
    lines = [f"{result['count']} samples after {result['prompt']!r}, at most {result['max_tokens']} tokens, "
             f"seed {result['seed']}, {steering or 'plain sampling'}:",
             f"  {'':<{width}}  " + "  ".join(f"{title:>{w}}" for (title, _), w in zip(columns, widths))]
    for name in names:
        cells = (f"{format_measure(name, row[name]):>{w}}" for (_, row), w in zip(columns, widths))
        lines.append(f"  {LABELS[name]:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def _strict_json(value: Any) -> Any:
    """NaN and infinity as null: JSON has no such numbers, and strict parsers reject Python's NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict_json(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_strict_json(v) for v in value]
    return value


def _sample_json(sample: Any, foods: set[str] | None) -> dict[str, Any]:
    result: dict[str, Any] = {"text": sample.text, "tokens": len(sample.tokens), "ended": sample.ended}
    if sample.parsed:
        result |= sample.parsed.as_dict()
        if foods is not None:
            result |= _food_json(sample.parsed, foods)
    if sample.steps:
        result["steps"] = [
            {"token": token, "top": [{"token": t, "p": round(p, 6)} for t, p in top]}
            for token, top in zip(sample.chosen, sample.steps)
        ]
    return result


def _food_json(recipe: Any, foods: set[str]) -> dict[str, list[str]]:
    """Which listed ingredients and title foods the directions use, and which other foods they cook."""
    from recipegen.measures import food_use

    use = food_use(recipe, foods)
    result = {"title_foods": use.title_foods, "title_foods_used": use.title_used}
    if recipe.ingredients is not None:
        result |= {"ingredients_used": use.used, "ingredients_unused": use.unused, "extra_foods": use.extra}
    return result


def _food_note(sample: Any, foods: set[str] | None) -> str:
    """One line under a recipe written for a given list: what of it the directions use."""
    from recipegen.measures import food_use

    use = food_use(sample.parsed, foods)
    note = f"(uses {len(use.used)} of {len(use.used) + len(use.unused)} given ingredients"
    if use.unused:
        note += f"; not: {'; '.join(use.unused)}"
    if use.extra:
        note += f"; other foods: {', '.join(use.extra)}"
    return note + ")"


def _probability_table(sample: Any) -> str:
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


def _as_page(sample: Any) -> str:
    """A recipe as a person writes it: the title, a bulleted ingredient list and numbered steps
    where the template has them, the directions as a paragraph where it does not (the book's),
    and a mark when the recipe was cut short by --max-tokens."""
    recipe = sample.parsed
    if recipe is None:  # the plain template: the text as written
        return sample.text if sample.ended else sample.text + " [...]"
    lines = [textwrap.fill(recipe.title or "(untitled)", width=88, subsequent_indent="  ")]
    if recipe.ingredients is None:
        if recipe.directions:
            lines.append(textwrap.fill(" ".join(recipe.directions), width=88, initial_indent="  ", subsequent_indent="  "))
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


def _stop_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled, a container stopped) ends training like Ctrl-C: resumable, exit 130."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _start_tensorflow() -> None:
    """Import TensorFlow, quietly unless --debug; commands call this once they know they run."""
    if not click.get_current_context().find_root().params.get("debug"):
        _import_tensorflow_quietly()


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA probing) kept off stderr.

    Some of those lines ignore TF_CPP_MIN_LOG_LEVEL, so stderr is pointed at /dev/null for
    the import alone; a Python exception from the import still surfaces as usual.
    Only commands that need TensorFlow pay for the import: ``--help`` never reaches here.
    """
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main() -> None:
    """The console entry point: every error, usage mistakes included, is a single line on stderr."""
    import sys

    try:
        code = cli.main(prog_name="recipegen", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # plain `recipegen`: the help, as click shows it
        click.echo(e.format_message(), err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:  # UsageError, BadParameter and BadInput are exit 2; others exit 1
        click.echo(f"Error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
