"""The CLI contract under bad input, interruptions, divergence and repeated seeds."""

import csv
import json
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from click.testing import CliRunner

from recipegen.cli import cli

from conftest import RECIPEGEN, RECIPES, TINY_OVERRIDES, needs_entry_point, tiny_set_args


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def one_epoch_run(workdir):
    """``run``: a tiny run of one epoch, trained through the CLI on ``recipes.json``."""
    first = invoke("train", "--data", "recipes.json", "--out", "run", "--quiet", *tiny_set_args({"train.epochs": 1}))
    assert first.exit_code == 0, first.output
    return workdir / "run"


# --- bad data: exit 2, one line naming the file -----------------------------------------------

BAD_CORPORA = {
    "empty.json": (b"", "empty.json: file is empty"),
    "broken.json": (b'[{"title": "Toast",\n "directions": [', "broken.json: invalid JSON at line 2"),
    "object.json": (b'{"title": "Toast"}', "object.json: no usable recipe (1 records skipped: 1 without directions)"),
    "number.json": (b'42', "number.json: expected a JSON list of recipe objects (or a schema.org Recipe), got int"),
    "strings.json": (b'["toast", "tea"]', "strings.json: no usable recipe (2 records skipped: 2 not an object)"),
    "untitled.json": (b'[{"title": null, "directions": ["x"]}, {"directions": ["y"]}]',
                      "untitled.json: no usable recipe (2 records skipped: 2 without a title)"),
    "latin1.json": ('[{"title": "Crème brûlée", "directions": ["Bake."]}]'.encode("latin-1"), "latin1.json: not UTF-8"),
    "single.json": (b'[{"title": "Toast", "directions": ["Toast it."]}]', "at least 2 are needed"),
}


@pytest.mark.parametrize("name", sorted(BAD_CORPORA))
def test_bad_corpus_is_exit_2_with_the_file_named(workdir, name):
    content, message = BAD_CORPORA[name]
    (workdir / name).write_bytes(content)
    result = invoke("train", "--data", name, "--quiet", *tiny_set_args())
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (workdir / "runs").exists(), "nothing is written for a corpus that cannot be used"


def test_missing_path_and_directory_are_exit_2(workdir):
    assert invoke("train", "--data", "nope.json").exit_code == 2
    (workdir / "folder.json").mkdir()
    result = invoke("train", "--data", "folder.json")
    assert result.exit_code == 2 and "folder.json: folder holds no corpus file" in result.output


def test_skipped_records_are_counted_in_the_log(workdir):
    records = RECIPES + [{"title": None, "directions": ["x"]}, {"title": "No steps"}]
    (workdir / "mixed.json").write_text(json.dumps(records))
    result = invoke("train", "--data", "mixed.json", "--out", "run", *tiny_set_args({"train.epochs": 1}))
    assert result.exit_code == 0, result.output
    assert "2 records skipped: 1 without a title, 1 without directions" in result.output


def test_run_from_another_version_is_refused(tiny_run, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(tiny_run, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    (copy / "metrics.json").write_text(json.dumps(metrics | {"run_format": 99}))
    result = invoke("generate", "--model", copy)
    assert result.exit_code == 2 and "run format 99 is not supported" in result.output


def test_resume_refuses_other_options_and_runs_without_state(workdir, tiny_run):
    result = invoke("train", "--resume", tiny_run, "--config", "x.toml")
    assert result.exit_code == 2 and "cannot be combined with --config" in result.output
    (workdir / "empty_run").mkdir()
    result = invoke("train", "--resume", "empty_run")
    assert result.exit_code == 2 and "nothing to resume" in result.output


# --- divergence --------------------------------------------------------------------------------

def test_nan_loss_stops_with_exit_1_and_keeps_the_last_good_checkpoint(workdir):
    result = invoke("train", "--data", "recipes.json", "--out", "run", "--quiet",
                    *tiny_set_args({"train.learning_rate": 1e38, "train.epochs": 3}))
    assert result.exit_code == 1, result.output
    assert "loss became nan at epoch 1" in result.output and "Traceback" not in result.output
    state = json.loads((workdir / "run" / "state.json").read_text())
    assert state["epochs_done"] == 0 and (workdir / "run" / state["checkpoint"]).is_file()
    assert not (workdir / "run" / "metrics.json").exists()


# --- determinism -------------------------------------------------------------------------------

@pytest.mark.slow  # trains two runs to compare them
def test_same_seed_same_weights_and_history(workdir):
    from recipegen.config import load_config
    from recipegen.run import load_run
    from recipegen.train import train

    config = load_config(None, {**TINY_OVERRIDES, "data.path": "recipes.json", "model.dropout": 0.1})
    runs = [train(config, workdir / name, verbose=False).run_dir for name in ("a", "b")]
    models = [load_run(run).model for run in runs]
    for left, right in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(left, right)
    histories = [[{k: v for k, v in row.items() if k != "seconds"}
                  for row in csv.DictReader((run / "history.csv").open())]
                 for run in runs]
    assert histories[0] == histories[1]


@pytest.mark.slow  # trains runs of its own to compare an interrupted one with a straight one
@pytest.mark.parametrize("overrides", [
    {"model.dropout": 0.2},
    {"model.dropout": 0.2, "model.locked_dropout": True, "model.embedding_dropout": 0.1, "train.lr_decay": 0.7},
], ids=["dropout", "locked-dropout-and-decay"])
def test_resumed_run_matches_an_uninterrupted_one(workdir, overrides):
    """Optimizer state, epoch counter, data order and dropout's random state survive a resume."""
    from recipegen.config import load_config
    from recipegen.train import resume, train

    config = load_config(None, {**TINY_OVERRIDES, "data.path": "recipes.json", "train.epochs": 3, **overrides})
    straight = train(config, workdir / "straight", verbose=False)
    short = load_config(None, {**TINY_OVERRIDES, "data.path": "recipes.json", "train.epochs": 1, **overrides})
    train(short, workdir / "resumed", verbose=False)
    resumed = resume(workdir / "resumed", epochs=3, verbose=False)
    assert resumed.metrics["epochs"] == 3
    rows = [list(csv.DictReader((workdir / name / "history.csv").open())) for name in ("straight", "resumed")]
    assert [r["epoch"] for r in rows[1]] == ["1", "2", "3"]
    for a, b in zip(*rows):
        assert float(a["val_loss"]) == pytest.approx(float(b["val_loss"]), rel=1e-5)
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5)
    assert straight.metrics["val_loss"] == pytest.approx(resumed.metrics["val_loss"], rel=1e-5)
    measures = [list(csv.DictReader((workdir / name / "sample_measures.csv").open()))
                for name in ("straight", "resumed")]
    assert [m["epoch"] for m in measures[1]] == ["1", "1", "2", "2", "3", "3"]  # two temperatures per epoch
    assert measures[0] == measures[1]


def test_a_run_from_before_the_steering_settings_resumes(workdir):
    """Its config has no sample.no_repeat_ngram & co. (the defaults apply) nor the softmax and
    tying keys (it trained as they were then: full softmax, untied), and its sample measures lack
    the columns added since: resuming writes them, left empty for the old epochs."""
    from recipegen.config import load_config
    from recipegen.run import load_run
    from recipegen.train import resume, train

    config = load_config(None, {**TINY_OVERRIDES, "data.path": "recipes.json", "train.epochs": 1,
                                "train.softmax": "full", "model.tie_embeddings": False})
    run = train(config, workdir / "old", verbose=False).run_dir
    new_keys = ("no_repeat_ngram", "repetition_penalty", "ingredient_bias", "unlisted_penalty", "best_of",
                "tie_embeddings", "softmax", "sampled_classes")
    lines = (run / "config.toml").read_text().splitlines()
    (run / "config.toml").write_text("\n".join(line for line in lines if not line.startswith(new_keys)) + "\n")
    rows = list(csv.DictReader((run / "sample_measures.csv").open()))
    old_columns = [name for name in rows[0] if name not in ("title_foods_used", "extra_foods")]
    with (run / "sample_measures.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=old_columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    assert resume(run, epochs=2, verbose=False).metrics["epochs"] == 2
    kept = load_run(run).config
    assert (kept.train.softmax, kept.model.tie_embeddings) == ("full", False)
    assert 'softmax = "full"' in (run / "config.toml").read_text()
    measures = list(csv.DictReader((run / "sample_measures.csv").open()))
    assert [m["epoch"] for m in measures] == ["1", "1", "2", "2"]
    assert measures[0]["title_foods_used"] == "" and measures[-1]["title_foods_used"] != ""


# --- real processes killed and resumed ----------------------------------------------------------

def start_training(workdir, epochs):
    args = [RECIPEGEN, "train", "--data", "recipes.json", "--out", "run", "--quiet",
            *tiny_set_args({"train.epochs": epochs, "sample.temperatures": []})]
    return subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epochs(workdir, process, epochs, timeout=120):
    deadline = time.monotonic() + timeout
    state_file = workdir / "run" / "state.json"
    while time.monotonic() < deadline:
        if state_file.is_file() and json.loads(state_file.read_text())["epochs_done"] >= epochs:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.kill()
    pytest.fail("training did not reach the epoch in time")


@pytest.mark.slow  # a training process of its own, killed and resumed
@needs_entry_point
def test_sigkill_mid_run_then_resume_finishes_the_run(workdir):
    process = start_training(workdir, epochs=40)
    wait_for_epochs(workdir, process, 2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    state = json.loads((workdir / "run" / "state.json").read_text())
    assert state["epochs_done"] >= 2 and (workdir / "run" / state["checkpoint"]).is_file()
    assert len(list((workdir / "run").glob("checkpoint-*.keras"))) <= 2

    resumed = subprocess.run([RECIPEGEN, "train", "--resume", "run", "--quiet"], cwd=workdir,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    metrics = json.loads((workdir / "run" / "metrics.json").read_text())
    assert metrics["epochs"] == 40
    history = list(csv.DictReader((workdir / "run" / "history.csv").open()))
    assert [int(row["epoch"]) for row in history] == list(range(1, 41))
    generated = subprocess.run([RECIPEGEN, "generate", "--model", "run", "--max-tokens", "5", "--seed", "1"],
                               cwd=workdir, capture_output=True, text=True, timeout=120)
    assert generated.returncode == 0 and generated.stdout.strip()


def test_resume_uses_the_runs_tokens_even_without_the_corpus(workdir, one_epoch_run):
    (workdir / "recipes.json").unlink()
    result = invoke("train", "--resume", "run", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "gone; using the run's tokenized corpus" in result.output
    assert json.loads((workdir / "run" / "metrics.json").read_text())["epochs"] == 2


def test_resume_refuses_a_corpus_whose_training_recipes_changed(workdir, one_epoch_run):
    heldout = (workdir / "run" / "heldout.jsonl").read_text().lower()
    edited = [dict(r) for r in RECIPES]
    trained = next(r for r in edited if r["title"].lower() not in heldout)
    trained["directions"] = ["Throw it all in a pot."]
    (workdir / "recipes.json").write_text(json.dumps(edited))
    result = invoke("train", "--resume", "run", "--epochs", "2")
    assert result.exit_code == 2, result.output
    assert "recipes.json: the corpus changed since run started (its training recipes differ)" in result.output
    assert json.loads((workdir / "run" / "state.json").read_text())["epochs_done"] == 1


def test_resume_accepts_the_same_corpus_written_differently(workdir, one_epoch_run):
    (workdir / "recipes.json").write_text(json.dumps(RECIPES, indent=2))  # other bytes, same recipes
    result = invoke("train", "--resume", "run", "--epochs", "2", "--quiet")
    assert result.exit_code == 0, result.output


# --- limits that would not fit in memory ----------------------------------------------------------

@pytest.mark.parametrize("args, option", [
    (["generate", "--max-tokens", "1000000000"], "--max-tokens"),
    (["generate", "--max-tokens", "3000000000"], "--max-tokens"),
    (["generate", "-n", "100000", "--max-tokens", "5000"], "-n"),
    (["evaluate", "--samples", "1", "--max-tokens", "1000000000"], "--max-tokens"),
])
def test_a_length_beyond_memory_is_bad_input_naming_the_option(tiny_run, args, option, capsys):
    from recipegen.cli import run_command

    assert run_command([*args, "--model", str(tiny_run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: Invalid value for {option}:") and len(err.strip().splitlines()) == 1, err


def test_a_training_sample_length_beyond_memory_is_refused_before_training(workdir):
    result = invoke("train", "--data", "recipes.json", "--out", "run", *tiny_set_args(),
                    "--set", "sample.max_tokens=1000000000")
    assert result.exit_code == 2 and "sample.max_tokens = 1000000000 must be from 1 to 100,000" in result.output
    assert not (workdir / "run").exists()


# --- seeds: the range that is used, or exit 2 naming the option ------------------------------------

@pytest.mark.parametrize("args, message", [
    (["train", "--seed", "4294967296"], "Invalid value for '--seed': 4294967296 is not in the range 0<=x<=4294967295"),
    (["train", "--set", "seed=-1"], "seed = -1 must be from 0 to 4,294,967,295"),
    (["generate", "--seed", str(2**70)], "Invalid value for '--seed'"),
    (["evaluate", "--samples", "1", "--seed", "-1"], "Invalid value for '--seed'"),
])
def test_a_seed_out_of_range_is_bad_input(workdir, args, message, capsys):
    from recipegen.cli import run_command

    assert run_command(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_the_library_refuses_a_seed_its_decoder_would_wrap(tiny_run):
    from recipegen.generation.generator import Generator
    from recipegen.generation.settings import SettingError
    from recipegen.run import load_run

    with pytest.raises(SettingError, match="seed must be an integer from 0 to 2\\*\\*63 - 1"):
        Generator.from_run(load_run(tiny_run)).generate(max_tokens=2, seed=2**70)


# --- one writer per run directory ----------------------------------------------------------------

def test_a_run_directory_in_use_is_refused(workdir, one_epoch_run):
    from recipegen.run import locked

    before = {p.name: p.read_bytes() for p in (workdir / "run").iterdir() if p.is_file()}
    with locked(workdir / "run"):  # as another process training it would hold it
        again = invoke("train", "--data", "recipes.json", "--out", "run", "--overwrite", *tiny_set_args())
        assert again.exit_code == 2 and "run: in use by another recipegen process" in again.output, again.output
        resumed = invoke("train", "--resume", "run", "--epochs", "2")
        assert resumed.exit_code == 2 and "run: in use by another recipegen process" in resumed.output
    assert {p.name: p.read_bytes() for p in (workdir / "run").iterdir() if p.is_file()} == before
    assert invoke("train", "--resume", "run", "--epochs", "2", "--quiet").exit_code == 0  # free again


def test_resuming_a_finished_run_without_more_epochs_changes_nothing(workdir, one_epoch_run):
    before = {p.name: p.read_bytes() for p in (workdir / "run").iterdir() if p.is_file()}
    result = invoke("train", "--resume", "run")
    assert result.exit_code == 0, result.output
    assert "run: finished after 1 epochs, nothing to train" in result.stderr
    assert {p.name: p.read_bytes() for p in (workdir / "run").iterdir() if p.is_file()} == before


# --- permissions: what the umask says, as for any file a user creates -------------------------------

@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_run_files_honour_the_umask(workdir, mask):
    import os

    previous = os.umask(mask)
    try:
        result = invoke("train", "--data", "recipes.json", "--out", "run", "--quiet",
                        *tiny_set_args({"train.epochs": 1}))
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in (workdir / "run").iterdir() if p.is_file()}
    assert modes and set(modes.values()) == {0o666 & ~mask}, {name: oct(mode) for name, mode in modes.items()}


# --- smaller holes -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, write", [
    ("bom.json", lambda recipes: json.dumps(recipes)),
    ("bom.jsonl", lambda recipes: "\n".join(json.dumps(r) for r in recipes)),
])
def test_a_corpus_starting_with_a_byte_order_mark_is_read(workdir, name, write):
    from recipegen.data import load_corpus

    (workdir / name).write_text("\ufeff" + write(RECIPES), encoding="utf-8")
    assert [r.title for r in load_corpus(name).recipes] == [r["title"] for r in RECIPES]


def test_ingredients_given_as_one_string_are_read_line_by_line(workdir):
    from recipegen.data import load_corpus

    records = [dict(RECIPES[0], ingredients="2 slices bread\n1 tablespoon butter"), RECIPES[1]]
    (workdir / "strings.json").write_text(json.dumps(records))
    assert load_corpus("strings.json").recipes[0].ingredients == ("2 slices bread", "1 tablespoon butter")


def test_a_separator_inside_a_book_title_does_not_start_the_directions():
    from recipegen.templates import Recipe, given_pieces, recipe_pieces

    recipe = Recipe(title="Fish | Chips", directions=("Fry the fish.",), ingredients=())
    text = recipe_pieces(recipe, "book")[0]
    assert text.count("|") == 1 and text.startswith("Recipe for Fish / Chips |")
    assert given_pieces("book", "fish | chips", ()) == ["recipe for fish / chips |"]


def test_a_truncated_model_is_reported_as_damaged_not_missing(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    model = run / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    result = invoke("generate", "--model", run, "--max-tokens", "3")
    assert result.exit_code == 2
    assert "model.keras: not a whole .keras file (truncated or damaged)" in result.output


def test_control_characters_of_a_prompt_are_not_sent_to_the_terminal(tiny_run):
    result = invoke("generate", "--model", tiny_run, "--prompt", "recipe for \x1b[31mred toast", "--max-tokens", "3")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\\x1b" in result.stdout


@pytest.mark.slow  # a process of its own
@needs_entry_point
def test_a_reader_that_goes_away_ends_generate_quietly(tiny_run):
    shell = f"set -o pipefail; {RECIPEGEN} generate --model {tiny_run} -n 2 --max-tokens 12 | true"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert result.returncode == 141, result.stderr  # as any program whose reader has gone: 128 + SIGPIPE
    assert result.stderr == ""


def test_an_unexpected_error_of_many_lines_is_told_in_its_first(tiny_run, monkeypatch):
    import recipegen.info

    def fails(*args, **kwargs):
        raise ValueError("the first line\n  File 'graph.py', line 1\n    op = ...\n")

    monkeypatch.setattr(recipegen.info, "describe_run", fails)
    result = invoke("info", tiny_run)
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: ValueError: the first line (run with --debug for the traceback)")


@pytest.mark.slow  # processes of their own
@needs_entry_point
@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&-"])
def test_a_closed_stdout_or_stderr_is_written_nowhere_and_the_command_exits_as_it_would(tiny_run, closed):
    for args, code in ((f"info {tiny_run}", 0), ("--version", 0), ("info /nowhere/at/all", 2)):
        result = subprocess.run(["bash", "-c", f"{RECIPEGEN} {args} {closed}"], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == code, (args, result.stderr)
        assert "Traceback" not in result.stderr
        if closed.startswith(">&-"):
            assert result.stdout == ""
        elif code == 0:
            assert result.stdout, "stdout still open: the result is there"
