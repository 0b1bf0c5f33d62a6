"""`recipegen info`: every figure checked against the run's files or recomputed from the recipes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from recipegen.cli import cli
from recipegen.files import file_digest
from recipegen.info import describe_run
from recipegen.run import load_run, read_heldout
from recipegen.templates import Recipe, recipe_text
from recipegen.text import WORDS

from conftest import RECIPEGEN, RECIPES, TINY_OVERRIDES, needs_entry_point


def info(*args):
    result = CliRunner().invoke(cli, ["info", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def training_words(run_dir):
    """Each training recipe's words, from the recipes themselves: all of them minus the held-out ones."""
    heldout = set(read_heldout(run_dir))
    return [text.split()
            for text in (recipe_text(Recipe(r["title"], tuple(r["directions"])), "book", WORDS) for r in RECIPES)
            if text not in heldout]


def test_json_agrees_with_the_run(tiny_run):
    described = json.loads(info(tiny_run, "--json"))
    run = load_run(tiny_run)
    assert described["run"] == str(tiny_run) and described["finished"] and described["resumable"]
    assert described["model"] == {"cell": "lstm", "layers": 1, "units": TINY_OVERRIDES["model.units"],
                                  "embedding_dim": TINY_OVERRIDES["model.embedding_dim"], "dropout": 0.2,
                                  "locked_dropout": False, "embedding_dropout": 0.0,
                                  "tie_embeddings": run.config.model.tie_embeddings,
                                  "parameters": run.model.count_params()}
    assert described["vocabulary"] == {"size": len(run.vocabulary), "tokens": "word", "template": "book"}

    corpus, words = described["corpus"], training_words(tiny_run)
    assert (corpus["recipes"], corpus["skipped_records"], corpus["heldout_recipes"]) == (len(RECIPES), 0, 2)
    assert corpus["split_rule"] == "blake2b"
    assert corpus["train_recipes"] == len(words) == len(RECIPES) - 2
    assert corpus["train_tokens"] == sum(map(len, words))
    lengths = [len(w) for w in words]
    assert corpus["recipe_tokens"] == pytest.approx(
        {"p50": np.percentile(lengths, 50), "p90": np.percentile(lengths, 90), "p99": np.percentile(lengths, 99),
         "max": max(lengths)})
    unknown = sum(word not in run.vocabulary for w in words for word in w)
    assert corpus["oov_rate"] == pytest.approx(unknown / corpus["train_tokens"])
    assert corpus["heldout_tokens"] == run.metrics["val_tokens"]

    training = described["training"]
    assert (training["epochs_done"], training["epochs"], training["best_epoch"]) == (2, 2, run.metrics["best_epoch"])
    assert training["softmax"] == run.config.train.softmax
    sampled = training["softmax"] == "sampled"
    assert training["sampled_classes"] == (run.config.train.sampled_classes if sampled else None)
    assert training["val_perplexity"] == pytest.approx(run.metrics["val_perplexity"])
    assert training["val_accuracy"] == pytest.approx(run.metrics["val_accuracy"])
    assert training["seconds"] == pytest.approx(run.metrics["train_seconds"], abs=0.01)


def test_text_names_every_figure(tiny_run):
    text = info(tiny_run)
    labels = [line.split("  ")[0] for line in text.splitlines()]
    assert labels == ["run", "status", "model", "parameters", "vocabulary", "corpus", "split", "training tokens",
                      "held-out tokens", "recipe length", "training time", "batches", "softmax", "best epoch"]
    parameters = load_run(tiny_run).model.count_params()
    assert f"parameters       {parameters:,}\n" in text
    assert "finished after 2 epochs" in text
    assert "lstm, 1 layer of 8 units, embedding 8 (tied to the output layer), dropout 0.2" in text
    assert "softmax          sampled, 512 candidates per step (held-out scores use the full softmax)" in text
    assert "unknown" not in text


def test_out_of_vocabulary_rate_counts_unk_among_training_tokens(tiny_run, tmp_path):
    """The same run re-tokenized with a vocabulary too small for it: many words become [UNK]."""
    from recipegen.prepare import prepare_data, save_tokens

    run_dir = shutil.copytree(tiny_run, tmp_path / "run")
    config = load_run(run_dir).config
    vocabulary = json.loads((run_dir / "vocabulary.json").read_text())[:40]
    data = prepare_data(config, vocabulary=vocabulary)
    save_tokens(data, run_dir, file_digest(Path(config.data.path)))
    (run_dir / "vocabulary.json").write_text(json.dumps(vocabulary))

    words = [word for w in training_words(run_dir) for word in w]
    expected = sum(word not in vocabulary for word in words) / len(words)
    assert expected > 0.2
    assert describe_run(run_dir)["corpus"]["oov_rate"] == pytest.approx(expected)


def test_an_unfinished_run_shows_what_it_has(tiny_run, tmp_path):
    run_dir = shutil.copytree(tiny_run, tmp_path / "run")
    (run_dir / "metrics.json").unlink()
    (run_dir / "tokens.npz").unlink()
    described = describe_run(run_dir)
    assert not described["finished"] and described["resumable"]
    assert described["model"]["parameters"] == load_run(tiny_run).model.count_params(), "counted from the model"
    assert described["corpus"]["train_tokens"] is None and described["corpus"]["recipes"] == len(RECIPES)
    assert described["training"]["epochs_done"] == 2
    text = info(run_dir)
    assert f"continue with: recipegen train --resume {run_dir}" in text and "recipe length    unknown" in text

    (run_dir / "state.json").unlink()
    for model in run_dir.glob("*.keras"):
        model.unlink()
    described = describe_run(run_dir)
    assert not described["resumable"] and described["model"]["parameters"] is None
    assert described["training"]["best_epoch"] is None
    assert "not resumable" in info(run_dir)


def test_without_a_directory_it_reads_the_latest_run(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_run, tmp_path / "runs" / "only")
    assert json.loads(info("--json"))["run"] == "runs/only"


@pytest.mark.slow  # starts a process of its own
@needs_entry_point
@pytest.mark.parametrize("where, message", [(".", "not a run directory (no config.toml)"),
                                            ("nowhere", "nowhere: no such run directory"),
                                            (None, "no trained run under runs/ "
                                                   "(train one with `recipegen train`, or pass RUN_DIR)")])
def test_not_a_run_is_one_line_exit_2(tmp_path, where, message):
    result = subprocess.run([RECIPEGEN, "info", *([where] if where else [])], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow  # starts a process of its own
def test_info_of_a_finished_run_does_not_import_tensorflow(tiny_run):
    code = ("import sys; from click.testing import CliRunner; from recipegen.cli import cli; "
            f"r = CliRunner().invoke(cli, ['info', {str(tiny_run)!r}, '--json']); assert r.exit_code == 0, r.output; "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_a_run_resumed_since_it_finished_is_unfinished(tiny_run, tmp_path):
    """Its metrics.json is an earlier finish's: the run is what its state says, as for --resume."""
    run_dir = shutil.copytree(tiny_run, tmp_path / "run")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps(metrics | {"epochs": 1}))
    described = describe_run(run_dir)
    assert not described["finished"] and described["resumable"]
    assert described["training"]["epochs_done"] == 2
    assert f"unfinished, 2 of 2 epochs done; continue with: recipegen train --resume {run_dir}" in info(run_dir)
