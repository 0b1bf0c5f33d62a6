"""generate --jsonl: many recipes to a file, a batch at a time, whole or not at all."""

import json
import signal
from pathlib import Path

from click.testing import CliRunner

from recipegen.cli import cli


def generate_jsonl(run, target, *args):
    return CliRunner().invoke(cli, ["generate", "--model", str(run), "--max-tokens", "6", "--jsonl", str(target),
                                    *map(str, args)])


def test_every_recipe_is_one_json_line_and_batches_follow_the_seed(tiny_run, tmp_path):
    result = generate_jsonl(tiny_run, tmp_path / "recipes.jsonl", "-n", 7, "--batch-size", 3, "--seed", 5)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "recipes.jsonl").read_text().splitlines()]
    assert [row["index"] for row in rows] == list(range(7))
    assert [row["seed"] for row in rows] == [5, 5, 5, 6, 6, 6, 7]
    assert all(row["text"].startswith("Recipe for") and row["tokens"] <= 6 for row in rows)
    # The first batch is what one generate call with the same seed writes.
    single = CliRunner().invoke(cli, ["generate", "--model", str(tiny_run), "--max-tokens", "6", "-n", "3",
                                      "--seed", "5", "--json"])
    assert [s["text"] for s in json.loads(single.stdout)["samples"]] == [row["text"] for row in rows[:3]]
    assert list(tmp_path.iterdir()) == [tmp_path / "recipes.jsonl"]  # no temporary file left behind


def test_the_same_seed_gives_the_same_bytes_on_stdout_and_in_a_file(tiny_run, tmp_path):
    generate_jsonl(tiny_run, tmp_path / "a.jsonl", "-n", 5, "--batch-size", 2, "--seed", 9)
    again = generate_jsonl(tiny_run, "-", "-n", 5, "--batch-size", 2, "--seed", 9)
    assert again.exit_code == 0
    assert again.stdout == (tmp_path / "a.jsonl").read_text()
    assert "5 recipes to stdout" in again.stderr


def test_a_stop_between_batches_leaves_the_old_file_and_no_half_one(tiny_run, tmp_path, monkeypatch):
    from recipegen import stopping
    from recipegen.generation.generator import Generator

    target = tmp_path / "recipes.jsonl"
    target.write_text("an earlier file\n")
    decode = Generator.generate

    def decode_then_ctrl_c(self, *args, **kwargs):  # Ctrl-C arrives while the first batch decodes
        stopping._record(signal.SIGINT, None)
        return decode(self, *args, **kwargs)

    monkeypatch.setattr(Generator, "generate", decode_then_ctrl_c)
    try:
        result = generate_jsonl(tiny_run, target, "-n", 6, "--batch-size", 2, "--seed", 1)
    finally:
        stopping.reset()
    assert result.exit_code == 130
    assert target.read_text() == "an earlier file\n"
    assert list(tmp_path.iterdir()) == [target]


def test_jsonl_refuses_json_and_a_missing_directory(tiny_run, tmp_path):
    both = generate_jsonl(tiny_run, tmp_path / "a.jsonl", "--json")
    assert both.exit_code == 2 and "--json and --jsonl" in both.output
    nowhere = generate_jsonl(tiny_run, tmp_path / "missing" / "a.jsonl")
    assert nowhere.exit_code == 2 and "--jsonl" in nowhere.output and "missing" in nowhere.output


def test_a_symlink_keeps_its_link_and_its_target_gets_the_recipes(tiny_run, tmp_path):
    target = tmp_path / "kept" / "recipes.jsonl"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    result = generate_jsonl(tiny_run, link, "-n", 2, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target
    assert len(target.read_text().splitlines()) == 2 and "old" not in target.read_text()


def test_a_fifo_is_written_to_as_a_stream_and_stays_a_fifo(tiny_run, tmp_path):
    import os
    import stat
    import threading

    fifo = tmp_path / "recipes.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    result = generate_jsonl(tiny_run, fifo, "-n", 3, "--seed", 1)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "the FIFO was replaced by a file"
    assert [json.loads(line)["index"] for line in received[0].splitlines()] == [0, 1, 2]


def test_an_unwritable_directory_is_refused_before_the_model_loads(tiny_run, tmp_path, monkeypatch):
    import os

    import keras
    import pytest

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Root may write anywhere, so the directory's mode alone cannot make the test: os.access says no.
    monkeypatch.setattr(os, "access",
                        lambda path, mode: Path(path).resolve() != locked.resolve() and real_access(path, mode))
    monkeypatch.setattr(keras.saving, "load_model", lambda *args, **kwargs: pytest.fail("the model was loaded"))
    result = generate_jsonl(tiny_run, locked / "recipes.jsonl")
    assert result.exit_code == 2 and f"cannot write in {locked}" in result.output, result.output
    assert list(locked.iterdir()) == []
