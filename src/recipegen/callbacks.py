"""The callbacks of a training run: what happens at every epoch end besides the gradient steps.

- ``EpochRecorder`` scores the held-out recipes exactly, keeps the best model, cuts the learning
  rate on a plateau, stops early or at the time limit, writes ``history.csv`` and a checkpoint
  with everything ``--resume`` needs (``save_checkpoint``, dropout's random state included), and
  stops at once on a NaN loss.
- ``TextGenerator`` samples recipes at each configured temperature and measures them.
- ``RunProgress`` is Keras's progress bar, counting epochs out of the run's total.

Their order in ``train._fit`` matters: the recorder adds the validation figures to the logs before
the progress bar prints them, and samples print after the bar's line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from recipegen import run as run_files
from recipegen import stopping
from recipegen.evaluate import Scorer
from recipegen.files import write_csv, write_json, write_jsonl
from recipegen.generation.generator import Generator
from recipegen.generation.samples import Ask
from recipegen.generation.settings import Decoding
from recipegen.measures import describe_measures, text_measures

Log = Callable[[str], None]


class TextGenerator(keras.callbacks.Callback):
    """Samples recipes at each temperature at every epoch end and measures them, so progress can
    be read, not only plotted: samples go to ``samples.jsonl``, their measures (distinct n-grams,
    repeats, length, endings, ingredient use) to ``sample_measures.csv``, one row per epoch and
    temperature."""

    def __init__(self, generator: Generator, prompt: str, temperatures: tuple[float, ...], max_tokens: int,
                 seed: int, count: int = 1, foods: set[str] | None = None, run_dir: Path | None = None,
                 log: Log | None = None, samples: list | None = None, measures: list | None = None,
                 decoding: Decoding | None = None, recorded: Callable[[int], bool] | None = None):
        super().__init__()
        self.recorded = recorded  # whether the recorder kept an epoch (not diverged, not cut short by a stop)
        self.generator = generator
        self.decoding = decoding
        self.prompt = prompt
        self.temperatures = temperatures
        self.max_tokens = max_tokens
        self.seed = seed
        self.count = count
        self.foods = foods
        self.run_dir = run_dir
        self.log = log
        self.samples: list[dict[str, Any]] = list(samples or [])
        self.measures: list[dict[str, Any]] = list(measures or [])

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.recorded is not None and not self.recorded(epoch):
            return  # a diverged or unfinished epoch has nothing worth sampling
        if getattr(self.model, "stop_training", False) and logs is not None and not _finite(logs.get("loss")):
            return
        self.sample_epoch(epoch)

    def sample_epoch(self, epoch: int) -> None:
        """The samples and measures of the model as it is at the end of ``epoch`` (counted from 0).

        Every temperature's samples decode together, as one batch of one trace for the whole run
        (temperature is each row's own); each temperature's samples are the ones it would write alone."""
        decoding = self.decoding or Decoding()
        asks = [Ask(None, self.count, self.seed + epoch, temperature, self.max_tokens)
                for temperature in self.temperatures]
        generations = stopping.interruptible(lambda: self.generator.generate_many(self.prompt, asks, decoding))
        for temperature, generation in zip(self.temperatures, generations):
            for sample in generation.samples:
                row = {"epoch": epoch + 1, "temperature": temperature, "text": sample.text,
                       "tokens": len(sample.tokens), "ended": sample.ended}
                self.samples.append(row | (sample.parsed.as_dict() if sample.parsed else {}))
            measured = text_measures([sample.for_measures() for sample in generation.samples], self.foods)
            self.measures.append({"epoch": epoch + 1, "temperature": temperature} | _rounded(measured))
            if self.log:
                self.log(f"[epoch {epoch + 1}, temperature {temperature:g}] {_shortened(generation.samples[0].text)}")
                self.log(f"  {describe_measures(measured)}")
        if self.run_dir is not None:
            write_jsonl(self.run_dir / run_files.SAMPLES_FILE, self.samples)
            write_csv(self.run_dir / run_files.SAMPLE_MEASURES_FILE, self.measures)


class RunProgress(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, numbering epochs out of the run's total ("Epoch 3/40"): training
    calls ``fit`` once per epoch, so Keras alone would print "Epoch 3/3"."""

    def __init__(self, epochs: int):
        super().__init__()
        self.run_epochs = epochs

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.epochs = self.run_epochs


class EpochRecorder(keras.callbacks.Callback):
    """Scores the held-out recipes, keeps the best model, checkpoints, and writes history each epoch.

    It runs before Keras's progress bar, so the validation figures it adds to ``logs`` show
    there. It also watches every batch for a NaN or infinite loss and stops training on one,
    without saving anything from the diverged epoch; and for a stop asked by a signal
    (stopping.py), which ends the epoch after the batch in progress, likewise unsaved: the run
    resumes from the last whole epoch and reaches the weights of an uninterrupted run.
    """

    def __init__(self, run_dir: Path, validation: Any, scorer: Scorer, state: dict[str, Any], config: Any):
        super().__init__()
        self.config = config  # TrainConfig: patience, factors
        self.run_dir = run_dir
        self.validation = validation
        self.scorer = scorer
        self.state = state  # epochs_done, history, best, checkpoint: exactly what state.json holds
        self.diverged: tuple[int, int, float] | None = None  # (epoch, batch, loss)
        self.cut_short = False  # a signal stopped the epoch before its last batch
        self._epoch = 0
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not _finite(loss) and self.diverged is None:
            self.diverged = (self._epoch + 1, batch + 1, float(loss))
            self.model.stop_training = True
        if stopping.requested():
            self.cut_short = True
            self.model.stop_training = True

    def recorded(self, epoch: int) -> bool:
        return self.state["epochs_done"] == epoch + 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.diverged or self.cut_short:
            return
        logs = logs if logs is not None else {}
        train_seconds = time.perf_counter() - self._epoch_start  # the epoch's steps, before validation
        score = self.scorer(self.validation)
        logs.update(val_loss=score.loss, val_perplexity=score.perplexity, val_accuracy=score.accuracy)
        row = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", float("nan"))),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "val_loss": score.loss,
            "val_perplexity": score.perplexity,
            "val_accuracy": score.accuracy,
            "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
            "seconds": round(train_seconds, 3),
        }
        self.state["history"].append(row)
        best = self.state.get("best")
        if best is None or score.loss < best["val_loss"]:
            run_files.save_model(self.model, self.run_dir / run_files.MODEL_FILE)
            self.state["best"] = row | {"val_tokens": score.tokens}
            self.state["epochs_without_improvement"] = 0
        else:
            self.state["epochs_without_improvement"] = self.state.get("epochs_without_improvement", 0) + 1
        self._adjust_after_plateau(epoch)
        write_csv(self.run_dir / run_files.HISTORY_FILE, self.state["history"])
        save_checkpoint(self.model, self.run_dir, self.state, epochs_done=epoch + 1)

    def _adjust_after_plateau(self, epoch: int) -> None:
        """ReduceLROnPlateau, the epoch's decay and EarlyStopping, with their counters kept in state.json
        for --resume (the learning rate itself is the optimizer's, in the checkpoint)."""
        stale = self.state["epochs_without_improvement"]
        rate = self.model.optimizer.learning_rate
        factor = self.config.lr_decay
        if self.config.reduce_lr_patience and stale and stale % self.config.reduce_lr_patience == 0:
            factor *= self.config.reduce_lr_factor
        if factor < 1:
            rate.assign(max(float(rate.numpy()) * factor, self.config.min_learning_rate))
        if self.config.early_stopping_patience and stale >= self.config.early_stopping_patience:
            self.state["stopped_early_after"] = epoch + 1
            self.model.stop_training = True
        spent_minutes = sum(row["seconds"] for row in self.state["history"]) / 60
        if self.config.max_minutes and spent_minutes >= self.config.max_minutes:
            self.state["stopped_early_after"] = epoch + 1
            self.state["stopped_by_time_limit"] = True


def save_checkpoint(model: keras.Model, run_dir: Path, state: dict[str, Any], epochs_done: int) -> None:
    """New checkpoint first, then the state that names it, then the old checkpoint goes."""
    previous = state.get("checkpoint")
    path = run_dir / run_files.CHECKPOINT.format(epochs_done)
    run_files.save_model(model, path)
    state.update(epochs_done=epochs_done, checkpoint=path.name, seed_states=seed_states(model))
    write_json(run_dir / run_files.STATE_FILE, state)
    if previous and previous != path.name:
        (run_dir / previous).unlink(missing_ok=True)


def _seed_generators(model: keras.Model) -> dict[str, Any]:
    """Each layer's (and recurrent cell's) random-seed generator, by layer name."""
    generators = {}
    for layer in model.layers:
        for owner, suffix in ((layer, ""), (getattr(layer, "cell", None), ".cell")):
            generator = getattr(owner, "seed_generator", None)
            if generator is not None:
                generators[layer.name + suffix] = generator
    return generators


def seed_states(model: keras.Model) -> dict[str, list[int]]:
    """Dropout's random state: a saved .keras model does not keep it, so state.json does."""
    return {name: generator.state.numpy().tolist() for name, generator in _seed_generators(model).items()}


def restore_seed_states(model: keras.Model, states: dict[str, list[int]]) -> None:
    for name, generator in _seed_generators(model).items():
        if name in states:
            generator.state.assign(np.array(states[name], dtype=generator.state.dtype))


def _shortened(text: str, limit: int = 300) -> str:
    """The head of a long sample for the log; samples.jsonl has the whole text."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _rounded(measures: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) if isinstance(value, float) else value for name, value in measures.items()}


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
