"""TensorBoard logs, read back the way TensorBoard itself reads them."""

import csv
import json
from collections import Counter

import pytest
import tensorflow as tf
from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from recipegen.cli import cli
from recipegen.config import load_config
from recipegen.run import prepare_run_dir
from recipegen.train import resume, train

from conftest import TINY_OVERRIDES, tiny_set_args


def read_run(path):
    """{tag: [(step, value), ...]} of one TensorBoard run directory, every event kept."""
    accumulator = EventAccumulator(str(path), size_guidance={"tensors": 0})
    accumulator.Reload()
    return {tag: [(event.step, tf.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)]
            for tag in accumulator.Tags()["tensors"]}


def every_logged_value(log_dir):
    """(run, tag, step) of every value in every event file, repeats included."""
    return [(path.parent.name, value.tag, event.step)
            for path in sorted(log_dir.glob("*/events.out.tfevents.*"))
            for event in EventFileLoader(str(path)).Load() for value in event.summary.value]


@pytest.mark.slow  # trains a run of its own with TensorBoard logs, then reads every event file
def test_train_tensorboard_logs_each_epoch_and_the_samples(workdir):
    result = CliRunner().invoke(cli, ["train", "--data", "recipes.json", "--out", "run", "--quiet", "--tensorboard",
                                      *tiny_set_args()])
    assert result.exit_code == 0, result.output
    assert load_config(workdir / "run" / "config.toml").train.tensorboard
    history = list(csv.DictReader((workdir / "run" / "history.csv").open()))
    logs = workdir / "run" / "tensorboard"

    heldout, train_logs = read_run(logs / "heldout"), read_run(logs / "train")
    perplexity = heldout["epoch_perplexity"]
    assert [step for step, _ in perplexity] == [1, 2]
    assert ([float(value) for _, value in perplexity]
            == pytest.approx([float(r["val_perplexity"]) for r in history], rel=1e-5))
    assert ([float(v) for _, v in heldout["epoch_accuracy"]]
            == pytest.approx([float(r["val_accuracy"]) for r in history], rel=1e-5))
    assert ([float(v) for _, v in train_logs["epoch_loss"]]
            == pytest.approx([float(r["loss"]) for r in history], rel=1e-5))
    assert [float(v) for _, v in train_logs["epoch_learning_rate"]] == pytest.approx([0.01, 0.01])

    samples = [json.loads(line) for line in (workdir / "run" / "samples.jsonl").read_text().splitlines()]
    texts = read_run(logs / "samples")
    for temperature, tag in ((1.0, "T=1"), (0.0, "T=0")):
        assert [step for step, _ in texts[tag]] == [1, 2]
        for step, value in texts[tag]:
            expected = [s["text"] for s in samples if s["epoch"] == step and s["temperature"] == temperature]
            assert [t.decode() for t in value] == expected and len(expected) == TINY_OVERRIDES["sample.count"]
    assert [step for step, _ in texts["distinct_2/T=1"]] == [1, 2]


@pytest.mark.slow  # trains, is stopped and resumes
def test_resume_continues_the_logs_without_repeating_a_step(workdir):
    """A finished run without logs gets them from --resume --tensorboard, then trains on with them."""
    config = load_config(None, {**TINY_OVERRIDES, "data.path": "recipes.json", "train.epochs": 1})
    train(config, workdir / "run", verbose=False)
    logs = workdir / "run" / "tensorboard"
    assert not logs.exists(), "logs are off by default"

    resume(workdir / "run", tensorboard=True, verbose=False)  # no epoch to train: the past one is logged
    assert load_config(workdir / "run" / "config.toml").train.tensorboard, "the switch is saved with the run"
    assert [step for step, _ in read_run(logs / "heldout")["epoch_perplexity"]] == [1]
    resume(workdir / "run", epochs=3, verbose=False)

    logged = every_logged_value(logs)
    assert [tag for tag, count in Counter(logged).items() if count > 1] == []
    assert sorted(step for run, tag, step in logged if (run, tag) == ("heldout", "epoch_perplexity")) == [1, 2, 3]
    assert sorted(step for run, tag, step in logged if (run, tag) == ("samples", "T=0")) == [1, 2, 3]
    assert len(list((logs / "heldout").glob("events.out.tfevents.*"))) == 2, "the second resume appends a file"
    history = list(csv.DictReader((workdir / "run" / "history.csv").open()))
    logged_perplexity = [float(v) for _, v in read_run(logs / "heldout")["epoch_perplexity"]]
    assert logged_perplexity == pytest.approx([float(row["val_perplexity"]) for row in history], rel=1e-5)


def test_overwrite_removes_the_old_runs_logs(tmp_path):
    old = tmp_path / "run" / "tensorboard" / "heldout"
    old.mkdir(parents=True)
    (old / "events.out.tfevents.1.old").write_bytes(b"")
    prepare_run_dir(tmp_path / "run", overwrite=True)
    assert not (tmp_path / "run" / "tensorboard").exists()
