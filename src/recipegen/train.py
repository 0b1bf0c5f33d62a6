"""Training a recipe model and writing its run directory.

The story of a run: load the corpus, hold out a share of *recipes* (never of windows), adapt
the vocabulary on the training recipes only, cut them into windows, then fit with Adam on a
loss that ignores padding. At every epoch end the held-out recipes are scored exactly (token
sums, not batch means), the best model so far is saved, and the TextGenerator callback writes
a sample at each configured temperature.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from recipegen import __version__
from recipegen import config as config_module
from recipegen import run as run_files
from recipegen.config import Config
from recipegen.data import describe_skips, load_corpus, split_corpus
from recipegen.evaluate import Scorer
from recipegen.generate import Generator
from recipegen.model import build_model, compile_model
from recipegen.pipeline import adapt_vocabulary, count_targets, encode, make_dataset, make_windows, recipe_texts

Log = Callable[[str], None]


class TextGenerator(keras.callbacks.Callback):
    """Samples a recipe at each temperature at every epoch end, so progress can be read, not only plotted."""

    def __init__(self, generator: Generator, prompt: str, temperatures: tuple[float, ...], max_tokens: int,
                 seed: int, path: Path | None = None, log: Log | None = None):
        super().__init__()
        self.generator = generator
        self.prompt = prompt
        self.temperatures = temperatures
        self.max_tokens = max_tokens
        self.seed = seed
        self.path = path
        self.log = log
        self.samples: list[dict[str, Any]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for temperature in self.temperatures:
            generation = self.generator.generate(
                self.prompt, n=1, max_tokens=self.max_tokens, temperature=temperature, seed=self.seed + epoch
            )
            sample = generation.samples[0]
            self.samples.append({"epoch": epoch + 1, "temperature": temperature, "text": sample.text,
                                 "tokens": len(sample.tokens), "ended": sample.ended})
            if self.log:
                self.log(f"[epoch {epoch + 1}, temperature {temperature:g}] {sample.text}")
        if self.path is not None:
            run_files.write_jsonl(self.path, self.samples)


class EpochRecorder(keras.callbacks.Callback):
    """Scores the held-out recipes, keeps the best model, and writes history.csv each epoch.

    It runs before Keras's progress bar, so the validation figures it adds to ``logs`` show there.
    """

    def __init__(self, run_dir: Path, validation: Any, scorer: Scorer):
        super().__init__()
        self.run_dir = run_dir
        self.validation = validation
        self.scorer = scorer
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        score = self.scorer(self.validation)
        logs.update(val_loss=score.loss, val_perplexity=score.perplexity, val_accuracy=score.accuracy)
        row = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", float("nan"))),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "val_loss": score.loss,
            "val_perplexity": score.perplexity,
            "val_accuracy": score.accuracy,
            "seconds": round(time.perf_counter() - self._epoch_start, 3),
        }
        self.history.append(row)
        if self.best is None or score.loss < self.best["val_loss"]:
            run_files.save_model(self.model, self.run_dir / run_files.MODEL_FILE)
            self.best = row | {"val_tokens": score.tokens}
        run_files.write_csv(self.run_dir / run_files.HISTORY_FILE, self.history)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]


def train(config: Config, run_dir: Path, *, overwrite: bool = False, verbose: bool = True,
          log: Log | None = None) -> TrainResult:
    """Train a model as ``config`` says and write a complete run directory to ``run_dir``."""
    say = log or (lambda message: None)
    keras.utils.set_random_seed(config.seed)

    corpus = load_corpus(config.data.path)
    train_recipes, heldout_recipes = split_corpus(corpus.recipes, config.data.validation_fraction, config.seed)
    skipped = f" ({corpus.skipped} records skipped: {describe_skips(corpus.skip_reasons)})" if corpus.skipped else ""
    say(f"{corpus.source}: {len(corpus.recipes)} recipes{skipped}; "
        f"{len(train_recipes)} for training, {len(heldout_recipes)} held out")

    train_texts, heldout_texts = recipe_texts(train_recipes), recipe_texts(heldout_recipes)
    vocabulary = adapt_vocabulary(train_texts, config.data.vocab_size)
    train_windows = make_windows(encode(train_texts, vocabulary), config.data.sequence_length)
    heldout_windows = make_windows(encode(heldout_texts, vocabulary), config.data.sequence_length)
    train_data = make_dataset(train_windows, config.train.batch_size, shuffle=True, seed=config.seed)
    heldout_data = make_dataset(heldout_windows, config.train.batch_size, shuffle=False)
    say(f"vocabulary: {len(vocabulary)} tokens; {count_targets(train_windows)} training tokens "
        f"in {len(train_windows)} windows of {config.data.sequence_length}")

    run_files.prepare_run_dir(run_dir, overwrite=overwrite)
    run_files.write_json(run_dir / run_files.VOCABULARY_FILE, vocabulary)
    run_files.atomic_write_text(run_dir / run_files.CONFIG_FILE, config_module.dumps(config))
    run_files.write_jsonl(run_dir / run_files.HELDOUT_FILE, ({"text": text} for text in heldout_texts))

    model = build_model(config.model, len(vocabulary))
    compile_model(model, config.train)
    recorder = EpochRecorder(run_dir, heldout_data, Scorer(model))
    sampler = TextGenerator(
        Generator(model, vocabulary), config.sample.prompt, config.sample.temperatures, config.sample.max_tokens,
        seed=config.seed, path=run_dir / run_files.SAMPLES_FILE, log=log,
    )
    started = time.perf_counter()
    # Order matters: the recorder adds validation figures to the logs before the progress bar
    # prints them, and samples print after the bar's line for the epoch.
    callbacks = [recorder, keras.callbacks.ProgbarLogger(), sampler] if verbose else [recorder, sampler]
    model.fit(train_data, epochs=config.train.epochs, callbacks=callbacks, verbose="auto" if verbose else 0,
              shuffle=False)  # the dataset already shuffles windows each epoch
    seconds = time.perf_counter() - started

    best = recorder.best or {}
    metrics = {
        "run_format": run_files.RUN_FORMAT,
        "recipegen_version": __version__,
        "epochs": len(recorder.history),
        "best_epoch": best.get("epoch"),
        "val_loss": best.get("val_loss"),
        "val_perplexity": best.get("val_perplexity"),
        "val_accuracy": best.get("val_accuracy"),
        "val_tokens": best.get("val_tokens"),
        "train_seconds": round(seconds, 2),
        "corpus": corpus.source,
        "recipes": len(corpus.recipes),
        "skipped_records": corpus.skipped,
        "train_recipes": len(train_recipes),
        "heldout_recipes": len(heldout_recipes),
        "train_tokens": count_targets(train_windows),
        "vocab_size": len(vocabulary),
        "parameters": int(model.count_params()),
    }
    run_files.write_json(run_dir / run_files.METRICS_FILE, metrics)
    return TrainResult(run_dir=run_dir, metrics=metrics)

