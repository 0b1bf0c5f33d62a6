"""The ``recipegen`` command: parse options, load the config, call the library.

TensorFlow is imported inside the commands that need it, so ``recipegen --help`` stays instant. Bad input
(a path, a key, an option) is one line on stderr and exit 2; failures while running exit 1; Ctrl-C and
SIGTERM exit 130 at the next safe point (stopping.py); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from recipegen import stopping
from recipegen.config import STRATEGIES
from recipegen.exits import RecipegenGroup, run_group
from recipegen.generation.settings import BY_NAME, MAX_SEED
from recipegen.options import (
    RUN_DIR,
    asked_recipe,
    bad_option,
    checked_by,
    checked_max_tokens,
    config_and_set_options,
    config_option,
    data_config,
    decoding_options,
    json_option,
    jsonl_output,
    run_option,
    serve_options,
    set_option,
    training_config,
)
from recipegen.runtime import need_extra, start_tensorflow


@click.group(cls=RecipegenGroup)
@click.version_option(package_name="recipegen")
@click.option("--debug", is_flag=True, help="Show full tracebacks and TensorFlow's own log lines.")
def cli(debug: bool) -> None:
    """Train a word-level recipe generator and sample recipes from it.

    \b
        recipegen train --config configs/quick.toml
        recipegen generate --temperature 0.5
        recipegen evaluate
    """


@cli.command()
@config_option
@click.option("--data", type=str, help="Corpus to train on: a file, a folder or a glob (formats: docs/corpora.md); "
                                       "overrides data.path.")
@click.option("--out", type=RUN_DIR, help="Run directory to write (default: runs/<timestamp>).")
@click.option("--epochs", type=click.IntRange(min=1), help="Overrides train.epochs.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED),
              help="Overrides seed (split, shuffling, initial weights, samples).")
@set_option
@click.option("--overwrite", is_flag=True, help="Replace the files of an existing run directory.")
@click.option("--resume", "resume_dir", type=RUN_DIR,
              help="Continue an interrupted run from its last completed epoch (with --epochs, train it longer).")
@click.option("--init-from", "init_from", type=RUN_DIR,
              help="Fine-tune: start from this finished run's weights, vocabulary and architecture, and train "
                   "on --data with the config's training settings.")
@click.option("--tensorboard", is_flag=True,
              help="Also write TensorBoard logs to RUN_DIR/tensorboard/ (sets train.tensorboard; with --resume, "
                   "from now on); view them with: tensorboard --logdir runs/")
@click.option("--strategy", type=click.Choice(STRATEGIES),
              help="Overrides train.strategy: one device (default), every GPU of this machine (mirrored), "
                   "or several machines described by TF_CONFIG (multiworker; run it on each).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or samples; print only the run directory.")
def train(config_path: Path | None, data: str | None, out: Path | None, epochs: int | None, seed: int | None,
          overrides: tuple[str, ...], overwrite: bool, resume_dir: Path | None, init_from: Path | None,
          tensorboard: bool, strategy: str | None, quiet: bool) -> None:
    """Train a model and write a run directory.

    \b
        recipegen train --config configs/quick.toml --out runs/quick
        recipegen train --data my_recipes.jsonl --epochs 5 --set model.cell=gru --tensorboard
        recipegen train --resume runs/quick
        recipegen train --init-from runs/big --data family_recipes.json --set train.learning_rate=0.001
        TF_CONFIG='{"cluster": ...}' recipegen train --strategy multiworker --out runs/big
    """
    config, base = training_config(config_path, overrides, data, epochs, seed, strategy, tensorboard, resume_dir,
                                   overwrite, out, init_from)
    start_tensorflow()
    from recipegen.render import training_summary
    from recipegen.run import new_run_dir
    from recipegen.train import resume
    from recipegen.train import train as train_model

    log = None if quiet else (lambda message: click.echo(message, err=True))
    with contextlib.redirect_stdout(sys.stderr):  # Keras's progress bar is progress, not a result
        if resume_dir is not None:
            result = resume(resume_dir, epochs=epochs, tensorboard=tensorboard, strategy=strategy, verbose=not quiet,
                            log=log)
        else:
            result = train_model(config, out or new_run_dir(), overwrite=overwrite, verbose=not quiet, log=log,
                                 base=base)
    summary = training_summary(result, quiet)
    if summary:
        click.echo(summary)


@cli.command()
@run_option
@click.option("--prompt", help="How each recipe starts (default: the run's sample.prompt, usually \"recipe for\"); "
                               "\"\" starts a recipe from nothing.")
@click.option("--ingredients", metavar="'A; B; ...'",
              help="The recipe's ingredient list, lines separated by ';' (runs trained with the full template).")
@click.option("--ingredients-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The recipe's ingredient list, one line per line of FILE (commas stay in their line).")
@click.option("--title", help="The recipe's title (default: the model writes it).")
@decoding_options()
@click.option("--max-tokens", type=int, callback=checked_max_tokens,
              help="Longest recipe, in tokens after the prompt (default: the run's sample.max_tokens, or with 0 "
                   "there, as long as its longest training recipe, so the model can end every recipe).")
@click.option("-n", "count", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many recipes, sampled in parallel (with --jsonl, a batch at a time).")
@click.option("--jsonl", "jsonl_path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write one JSON object per recipe to FILE (- for stdout), a batch at a time, with a progress "
                   "bar on stderr; FILE appears only when complete.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="With --jsonl: recipes decoded together (batch i is seeded with seed + i).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED),
              help="Random seed; the same seed gives the same recipes (default: random, shown in --json).")
@click.option("--show-probs", type=click.IntRange(min=0), default=0, metavar="K",
              help="After each recipe, a table of the K most likely next words and their probabilities at every step.")
@click.option("--xla", is_flag=True,
              help="Compile the decoder with XLA: about 1.5 s more to start, about 1.6x the tokens/s; "
                   "for many or long recipes.")
@json_option
def generate(run_path: Path | None, prompt: str | None, ingredients: str | None, ingredients_file: Path | None,
             title: str | None, max_tokens: int | None, count: int, jsonl_path: Path | None, batch_size: int,
             seed: int | None, show_probs: int, xla: bool, as_json: bool, **settings: Any) -> None:
    """Sample recipes from a trained model.

    \b
        recipegen generate --temperature 0.5
        recipegen generate --prompt "recipe for chocolate cake |" -n 3 --seed 7 --json
        recipegen generate --ingredients "2 chicken breasts; 1 lemon; 3 cloves garlic" --title "lemon chicken"
        recipegen generate --temperature 0.8 --top-k 40 --top-p 0.9 --show-probs 5
        recipegen generate -n 10000 --jsonl recipes.jsonl --seed 1
    """
    asked = asked_recipe(prompt, ingredients, ingredients_file, title)
    jsonl_output(jsonl_path, as_json)
    start_tensorflow()
    from recipegen.generate import generate_run
    from recipegen.generation.samples import Request
    from recipegen.generation.settings import SettingError
    from recipegen.render import generation_json, generation_text, unknown_words_warning

    try:
        generating = generate_run(run_path, prompt, Request(*asked) if asked else None, max_tokens, show_probs,
                                  jit_compile=xla, **settings)
        run = generating.run
        if jsonl_path is not None:
            from recipegen.jsonl import write_jsonl
            from recipegen.paths import refuse_overlap

            if str(jsonl_path) != "-":
                refuse_overlap("--jsonl", jsonl_path, [("the run", run.path)])
            write_jsonl(jsonl_path, generating.batches(count, batch_size, seed), count, run.foods())
            return
        generation = generating.generate(count, seed)
    except SettingError as e:
        raise bad_option(e, ingredients_file) from None
    stopping.check()  # asked to stop while decoding: no half-wanted output
    if generation.unknown_words:
        click.echo(unknown_words_warning(generation.unknown_words), err=True)
    if as_json:
        prompt_read = run.tokenizer.as_string(generation.prompt_tokens)
        click.echo(json.dumps(generation_json(generation, str(run.path), prompt_read, generating.max_tokens,
                                              run.foods()), indent=2))
    else:
        click.echo(generation_text(generation, run.foods()))


@cli.command()
@run_option
@click.option("--data", type=click.Path(path_type=Path),
              help="Score this corpus instead of the run's own held-out recipes.")
@click.option("--samples", "sample_count", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Also sample N recipes and measure their text (distinct n-grams, repeats, length, endings, "
                   "ingredient use), beside the same measures of real held-out recipes.")
@click.option("--temperature", "-t", "temperatures", type=float, multiple=True,
              callback=checked_by(BY_NAME["temperature"]),
              help="Temperature for --samples; repeatable (default: the run's sample.temperatures).")
@click.option("--max-tokens", type=int, callback=checked_max_tokens,
              help="Longest sample for --samples (default: the longest held-out recipe, "
                   "so no real recipe would be cut).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), help="Seed for --samples (default: the run's seed).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Samples decoded together for --samples.")
@decoding_options(skip=("temperature",))
@json_option
def evaluate(run_path: Path | None, data: Path | None, sample_count: int, temperatures: tuple[float, ...],
             max_tokens: int | None, seed: int | None, batch_size: int, as_json: bool, **settings: Any) -> None:
    """Held-out perplexity and next-token accuracy, over real tokens only; with --samples, also
    measures of the text the model writes (defined in docs/generation.md, "Measures of samples").

    \b
        recipegen evaluate
        recipegen evaluate --samples 100 --temperature 0.7
        recipegen evaluate --model runs/quick --data other_recipes.json --json
    """
    start_tensorflow()
    from recipegen.evaluate import evaluate_run
    from recipegen.generation.settings import SettingError
    from recipegen.render import evaluation_text, strict_json

    try:
        result = evaluate_run(run_path, data, sample_count, temperatures, max_tokens, seed, batch_size, settings)
    except SettingError as e:
        raise bad_option(e) from None
    click.echo(json.dumps(strict_json(result), indent=2) if as_json else evaluation_text(result))


@cli.command()
@click.argument("run_path", metavar="[RUN_DIR]", required=False, type=RUN_DIR)
@json_option
def info(run_path: Path | None, as_json: bool) -> None:
    """Describe a run: architecture, parameters, vocabulary, corpus, training, and whether it
    finished or can be resumed. Read from the run's files; what a run has not written is unknown.

    \b
        recipegen info
        recipegen info runs/quick --json
    """
    from recipegen.info import describe_run, format_info
    from recipegen.render import strict_json

    description = describe_run(run_path, import_tensorflow=start_tensorflow)
    click.echo(json.dumps(strict_json(description), indent=2) if as_json else format_info(description))


@cli.command()
@click.argument("run_dir", type=RUN_DIR)
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it holds an earlier export.")
def export(run_dir: Path, out: Path, overwrite: bool) -> None:
    """Write a run as a TensorFlow SavedModel that turns a prompt into a recipe by itself:
    tokenizer, sampling and decoding inside, loadable without recipegen (docs/training.md, "Export").

    \b
        recipegen export runs/quick exported/quick
        recipegen export runs/quick exported/quick --overwrite
    """
    start_tensorflow()
    from recipegen.export import ENDPOINT, export_run

    path = export_run(run_dir, out, overwrite=overwrite)
    click.echo(f"Saved {path}: tf.saved_model.load({str(path)!r}).{ENDPOINT}(prompt=...) writes a recipe")


@cli.command("data")
@click.argument("path")
@config_and_set_options
@click.option("--to", type=click.Path(path_type=Path), help="Also write the recipes as JSON Lines to FILE, whole.")
@json_option
def data_command(path: str, config_path: Path | None, overrides: tuple[str, ...], to: Path | None, as_json: bool):
    """What recipegen reads from PATH (a file, a folder, a glob): files, formats, recipes, records skipped
    and why, fields used, the first recipes as the model sees them. Loads no TensorFlow.

    \b
        recipegen data full_dataset.csv
        recipegen data RAW_recipes.csv --set data.fields.directions=steps --to recipes.jsonl
    """
    from recipegen.corpora.report import inspect_corpus, rows_of
    from recipegen.render import strict_json, terminal_safe

    reading, template = data_config(config_path, overrides, path, to)
    report = inspect_corpus(path, reading, template, to)
    click.echo(json.dumps(strict_json(report), indent=2) if as_json else terminal_safe("\n".join(rows_of(report))))


@cli.command()
@run_option
@serve_options
def serve(run_path: Path | None, host: str, port: int, max_batch: int, api_key: str | None, grace: float) -> None:
    """Serve recipes over HTTP: a page to cook from at /, recipegen's /v1/recipes, an OpenAI-compatible
    /v1/completions (streamed too), /v1/models, /health and the OpenAPI schema at /docs (docs/serve.md).

    \b
        pip install 'recipegen[serve]'
        recipegen serve --model runs/quick --port 8000
    """
    need_extra("serve", "fastapi", "uvicorn")
    start_tensorflow()
    from recipegen.serve.server import serve_run
    serve_run(run_path, host, port, max_batch, api_key or None, grace, say=lambda line: click.echo(line, err=True))


def run_command(args: list[str] | None = None) -> int:
    return run_group(cli, args)  # every error, usage mistakes included, one line on stderr
