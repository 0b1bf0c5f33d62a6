"""TensorBoard logs of a run, for ``tensorboard --logdir runs/``.

With ``train.tensorboard`` a run writes three TensorBoard runs under ``RUN_DIR/tensorboard/``:

    train/     epoch_loss, epoch_accuracy, epoch_learning_rate
    heldout/   epoch_loss, epoch_accuracy, epoch_perplexity
    samples/   the end-of-epoch samples as text, one tag per temperature (T=0.5), and their
               measures (distinct_2/T=0.5, ...)

Training and held-out curves share tag names, so TensorBoard draws them on one chart, as with
Keras's own TensorBoard callback. The step is the epoch number, counted from 1 as in
``history.csv``.

Nothing is tallied twice: the values come from the run's own records, the history rows that
``EpochRecorder`` keeps for state.json and the samples and measures ``TextGenerator`` keeps, and
a value is written only when the logs do not already hold that (run, tag, step). So a resumed run
continues the same logs without repeating a step, an epoch whose logs a crash cut short is filled
in, and ``train --resume --tensorboard`` on a run that had no logs writes its past epochs first.
Event files are appended to rather than replaced; each record carries a checksum, and a crash
leaves at most a cut last record, which TensorBoard skips.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

HISTORY_SCALARS = (  # (TensorBoard run, tag, history column)
    ("train", "epoch_loss", "loss"),
    ("train", "epoch_accuracy", "accuracy"),
    ("train", "epoch_learning_rate", "learning_rate"),
    ("heldout", "epoch_loss", "val_loss"),
    ("heldout", "epoch_accuracy", "val_accuracy"),
    ("heldout", "epoch_perplexity", "val_perplexity"),
)
NOT_MEASURES = frozenset({"epoch", "temperature", "samples"})  # sample_measures.csv columns that are not measures


class TensorBoardLogger(keras.callbacks.Callback):
    """Writes every epoch recorded so far that the logs lack; goes after EpochRecorder and TextGenerator.

    ``history``, ``samples`` and ``measures`` are the recorder's and the sampler's own lists,
    which they append to at every epoch end.
    """

    def __init__(self, log_dir: Path, history: list[dict[str, Any]], samples: list[dict[str, Any]],
                 measures: list[dict[str, Any]]):
        super().__init__()
        self.log_dir = log_dir
        self.history = history
        self.samples = samples
        self.measures = measures
        self.logged = logged_steps(log_dir)  # {(run, tag, step)} already in the event files
        self._writers: dict[str, Any] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.write()

    def write(self) -> None:
        """Log whatever the records hold and the logs do not, then flush."""
        for row in self.history:
            for run, tag, column in HISTORY_SCALARS:
                self._scalar(run, tag, int(row["epoch"]), row.get(column))
        for (epoch, temperature), texts in _texts_by_epoch_and_temperature(self.samples).items():
            self._text("samples", f"T={temperature:g}", epoch, texts)
        for row in self.measures:
            epoch, temperature = int(row["epoch"]), float(row["temperature"])
            for name, value in row.items():
                if name not in NOT_MEASURES:
                    self._scalar("samples", f"{name}/T={temperature:g}", epoch, value)
        for writer in self._writers.values():
            writer.flush()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def _scalar(self, run: str, tag: str, step: int, value: Any) -> None:
        number = _number(value)  # measures read back from CSV on --resume are strings; empty means none
        if number is None or (run, tag, step) in self.logged:
            return
        with self._writer(run).as_default():
            tf.summary.scalar(tag, number, step=step)
        self.logged.add((run, tag, step))

    def _text(self, run: str, tag: str, step: int, texts: list[str]) -> None:
        if (run, tag, step) in self.logged:
            return
        with self._writer(run).as_default():
            tf.summary.text(tag, tf.constant(texts), step=step)  # a list shows as a table, one sample a row
        self.logged.add((run, tag, step))

    def _writer(self, run: str) -> Any:
        """One file writer per TensorBoard run, opened on first use (each opening starts a new event file)."""
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(str(self.log_dir / run))
        return self._writers[run]


def logged_steps(log_dir: Path) -> set[tuple[str, str, int]]:
    """Every (run, tag, step) in the event files under ``log_dir``, read with TensorBoard's own loader."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    logged = set()
    for path in sorted(log_dir.glob("*/events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():  # a cut last record ends the file quietly
            for value in event.summary.value:
                logged.add((path.parent.name, value.tag, event.step))
    return logged


def _texts_by_epoch_and_temperature(samples: Iterable[dict[str, Any]]) -> dict[tuple[int, float], list[str]]:
    grouped: dict[tuple[int, float], list[str]] = {}
    for sample in samples:
        grouped.setdefault((int(sample["epoch"]), float(sample["temperature"])), []).append(sample["text"])
    return grouped


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
