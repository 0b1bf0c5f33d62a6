"""Streaming corpora (data.stream = true): the tf.data pipeline cuts windows exactly as the
in-memory pipeline does, the split needs no memory, and a streamed run is a normal run."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from recipegen.config import load_config
from recipegen.data import CRC32, Split
from recipegen.errors import DataError, RunError
from recipegen.pipeline import pack_windows
from recipegen.run import load_run
from recipegen.stream import StreamedData, _packed, prepare_stream
from recipegen.train import resume, train

from conftest import RECIPES, TINY_OVERRIDES


def sequences(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, 50, n).astype(np.int32) for n in lengths]


@pytest.mark.parametrize("lengths, length", [([3, 7, 1, 12], 4), ([5], 4), ([4, 4], 4), ([1, 1, 1], 3), ([30, 2], 16)])
def test_streamed_packing_cuts_the_same_windows_as_the_in_memory_one(lengths, length):
    seqs = sequences(lengths)
    ids = tf.data.Dataset.from_generator(lambda: iter(seqs), output_signature=tf.TensorSpec([None], tf.int32))
    streamed = [w.numpy() for w in _packed(ids, length).filter(lambda w: tf.size(w) >= 2)]
    expected = pack_windows(seqs, length)
    assert len(streamed) == len(expected)
    for window, row in zip(streamed, expected):
        np.testing.assert_array_equal(window, row[: len(window)])
        assert not row[len(window):].any(), "the in-memory window is the same, padded"


def test_the_split_is_a_function_of_position_and_seed():
    picks = [Split(42, 0.2).held_out(i) for i in range(20_000)]
    assert picks == [Split(42, 0.2).held_out(i) for i in range(20_000)]
    assert 0.18 < np.mean(picks) < 0.22
    assert picks != [Split(7, 0.2).held_out(i) for i in range(20_000)]


@pytest.fixture
def jsonl(tmp_path):
    path = tmp_path / "recipes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECIPES * 3) + '{"title": ""}\n')
    return path


def stream_config(path, **overrides):
    return load_config(None, {**TINY_OVERRIDES, "data.path": str(path), "data.stream": True,
                              "data.validation_fraction": 0.25, **overrides})


def test_prepare_stream_counts_splits_and_adapts_in_one_pass(jsonl):
    data = prepare_stream(stream_config(jsonl, **{"data.template": "full"}))
    assert data.recipes == 30 and data.skipped == 1 and data.train_recipes + data.heldout_recipes == 30
    assert data.heldout_recipes == sum(Split(42, 0.25).held_out(i) for i in range(30))  # the skipped line is no recipe
    assert {"<end>", "<ingredients>", "<item>"} <= set(data.vocabulary) and "toast" in data.vocabulary
    assert {"bread", "butter", "egg"} <= data.foods
    sampled = prepare_stream(stream_config(jsonl, **{"data.vocab_sample": 1}))
    assert len(sampled.vocabulary) < len(data.vocabulary)


def test_unstreamable_or_broken_corpora_fail_before_anything_is_written(tmp_path, jsonl):
    as_json = tmp_path / "recipes.json"
    as_json.write_text(json.dumps(RECIPES))
    with pytest.raises(DataError, match="cannot be streamed; use JSON Lines"):
        train(stream_config(as_json), tmp_path / "run1", verbose=False)
    with jsonl.open("a") as f:
        f.write("{not json\n")
    with pytest.raises(DataError, match=r"recipes.jsonl: invalid JSON on line 32"):
        train(stream_config(jsonl), tmp_path / "run2", verbose=False)
    assert not (tmp_path / "run1").exists() and not (tmp_path / "run2").exists()


@pytest.mark.slow  # trains, resumes and evaluates a streamed run
def test_a_streamed_run_is_a_normal_run_and_resumes(jsonl, tmp_path):
    from recipegen.generation.generator import Generator

    config = stream_config(jsonl, **{"train.epochs": 1, "train.steps_per_epoch": 3})
    result = train(config, tmp_path / "run", verbose=False)
    assert result.metrics["train_recipes"] + result.metrics["heldout_recipes"] == 30
    assert result.metrics["val_tokens"] > 0
    held = (tmp_path / "run" / "heldout.jsonl").read_text().splitlines()
    assert len(held) == result.metrics["heldout_recipes"]
    run = load_run(tmp_path / "run")
    assert Generator(run.model, run.vocabulary).generate("recipe for", max_tokens=5, seed=1).samples

    resumed = resume(tmp_path / "run", epochs=2, verbose=False)
    assert resumed.metrics["epochs"] == 2
    jsonl.write_text(jsonl.read_text().replace("Toast", "Crumpets"))
    with pytest.raises(RunError, match="the corpus changed"):
        resume(tmp_path / "run", epochs=3, verbose=False)


def gone(path):
    path.rename(path.with_suffix(".gone"))


def grown(path):
    with path.open("a") as f:
        f.write(json.dumps(RECIPES[0]) + "\n")


def garbled_in_place(path):
    """Same size, same modification time, not JSON any more: seen only once the epoch reads it."""
    stat = path.stat()
    path.write_bytes(b"x" + path.read_bytes()[1:])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.slow  # trains twice
@pytest.mark.parametrize("change, problem", [
    (gone, "cannot read it any more"),
    (grown, "changed since training started"),
    (garbled_in_place, "invalid JSON on line 1"),
])
def test_a_streamed_corpus_that_changes_between_epochs_stops_the_run_naming_it(jsonl, tmp_path, monkeypatch,
                                                                               change, problem):
    """Every epoch reads the file again: one gone or changed stops the run with exit 2's error, and
    the epochs done stay resumable on the corpus as it was."""
    kept = jsonl.read_bytes()
    first_epoch = StreamedData.epoch_dataset

    def epoch_dataset(self, config, epoch):
        if epoch == 1:
            change(jsonl)
        return first_epoch(self, config, epoch)

    monkeypatch.setattr(StreamedData, "epoch_dataset", epoch_dataset)
    config = stream_config(jsonl, **{"train.epochs": 2, "train.steps_per_epoch": 2})
    with pytest.raises(DataError, match=rf"recipes.jsonl: {problem}.*keeps its 1 finished epoch\(s\): resume it"):
        train(config, tmp_path / "run", verbose=False)
    monkeypatch.undo()
    jsonl.write_bytes(kept)
    assert resume(tmp_path / "run", verbose=False).metrics["epochs"] == 2


def test_steps_per_epoch_caps_an_in_memory_epoch(corpus_path, tmp_path):
    config = load_config(None, {**TINY_OVERRIDES, "data.path": str(corpus_path), "train.steps_per_epoch": 1,
                                "train.epochs": 1})
    result = train(config, tmp_path / "run", verbose=False)
    assert (0 < result.metrics["train_tokens_per_epoch"]
            <= TINY_OVERRIDES["train.batch_size"] * TINY_OVERRIDES["data.sequence_length"])


def distinct_recipes(count):
    return [{"title": f"{r['title']} {n}", "directions": r["directions"], "ingredients": r["ingredients"]}
            for n in range(count // len(RECIPES) + 1) for r in RECIPES][:count]


@pytest.mark.parametrize("count, fraction", [(30, 0.25), (2, 0.2), (3, 0.01), (3, 0.99), (10, 0.5)])
@pytest.mark.parametrize("template", ["book", "auto"])
def test_a_corpus_streamed_holds_out_the_recipes_it_holds_out_in_memory(tmp_path, count, fraction, template):
    """One rule for both, down to the recipe moved across where the hash leaves a side empty."""
    from recipegen.prepare import prepare_data

    path = tmp_path / "recipes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in distinct_recipes(count)))
    config = stream_config(path, **{"data.validation_fraction": fraction, "data.template": template})
    streamed = prepare_stream(config)
    in_memory = prepare_data(load_config(None, {**TINY_OVERRIDES, "data.path": str(path),
                                                 "data.validation_fraction": fraction, "data.template": template}))
    assert list(streamed.texts(heldout=True)) == in_memory.heldout_texts
    assert (streamed.train_recipes, streamed.heldout_recipes) == (in_memory.train_recipes, in_memory.heldout_recipes)
    assert streamed.train_recipes >= 1 and streamed.heldout_recipes >= 1
    assert streamed.template == in_memory.template and streamed.vocabulary == in_memory.vocabulary


def test_a_streamed_run_from_before_the_rule_resumes_with_its_crc32_split(tmp_path):
    """Streamed runs split by crc32 and recorded no rule: resumed, such a run is split as it was."""
    path = tmp_path / "recipes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in distinct_recipes(40)))
    config = stream_config(path, **{"train.epochs": 1, "train.steps_per_epoch": 2, "sample.temperatures": []})
    old = [i for i in range(40) if Split(42, 0.25, CRC32).held_out(i)]
    assert len(old) != sum(Split(42, 0.25).held_out(i) for i in range(40)), "the rules differ in count here"
    with pytest.MonkeyPatch.context() as patch:  # as the code before the rule was recorded split it
        patch.setattr("recipegen.train.SPLIT_RULE", CRC32)
        train(config, tmp_path / "run", verbose=False)
    state_file = tmp_path / "run" / "state.json"
    state = json.loads(state_file.read_text())
    assert state.pop("split") == CRC32
    state_file.write_text(json.dumps(state))
    assert load_run(tmp_path / "run").split == CRC32

    resumed = resume(tmp_path / "run", epochs=2, verbose=False)
    assert resumed.metrics["heldout_recipes"] == len(old)
    assert json.loads(state_file.read_text())["split"] == CRC32, "recorded from now on"
    held = [json.loads(line)["text"] for line in (tmp_path / "run" / "heldout.jsonl").read_text().splitlines()]
    assert len(held) == len(old)


@pytest.mark.slow  # trains three small runs
def test_a_csv_a_folder_and_a_glob_train_stream_and_resume(tmp_path):
    """A RecipeNLG-shaped CSV streams like JSON Lines; a folder's fingerprint covers every file, so a
    run on a folder whose files changed is not resumed on it."""
    import csv

    from recipegen.info import describe_run

    folder = tmp_path / "exports"
    folder.mkdir()
    with (folder / "full_dataset.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["", "title", "ingredients", "directions", "link", "source", "NER"])
        for i, r in enumerate(RECIPES * 2):
            writer.writerow([i, r["title"], json.dumps(r["ingredients"]), json.dumps(r["directions"]), "", "", "[]"])
    (folder / "more.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECIPES))
    steps = {"train.epochs": 1, "train.steps_per_epoch": 2}
    streamed = train(stream_config(folder / "full_dataset.csv", **steps), tmp_path / "csv", verbose=False)
    assert streamed.metrics["train_recipes"] + streamed.metrics["heldout_recipes"] == 20
    assert resume(tmp_path / "csv", epochs=2, verbose=False).metrics["epochs"] == 2

    in_memory = load_config(None, {**TINY_OVERRIDES, "data.path": str(folder), **steps})
    result = train(in_memory, tmp_path / "folder", verbose=False)
    assert result.metrics["train_recipes"] + result.metrics["heldout_recipes"] == 30
    assert describe_run(tmp_path / "folder")["corpus"]["source"] == str(folder)
    globbed = train(stream_config(str(folder / "*.jsonl"), **steps), tmp_path / "glob", verbose=False)
    assert globbed.metrics["train_recipes"] + globbed.metrics["heldout_recipes"] == 10

    (folder / "more.jsonl").write_text((folder / "more.jsonl").read_text().replace("Toast", "Crumpets"))
    with pytest.raises(RunError, match="the corpus changed"):
        resume(tmp_path / "folder", epochs=2, verbose=False)
