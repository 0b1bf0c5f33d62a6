"""The three commands through the installed ``recipegen`` entry point, as a shell script would call them."""

import json
import math
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from recipegen.cli import cli

from conftest import RECIPEGEN, needs_entry_point, tiny_set_args

pytestmark = needs_entry_point


def run(*args, cwd=None):
    return subprocess.run([RECIPEGEN, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run trained by the real command; the run directory is its only stdout line in --quiet."""
    from conftest import RECIPES

    root = tmp_path_factory.mktemp("cli")
    (root / "recipes.json").write_text(json.dumps(RECIPES))
    result = run("train", "--data", "recipes.json", "--epochs", "1", "--seed", "3", "--quiet", *tiny_set_args(),
                 cwd=root)
    assert result.returncode == 0, result.stderr
    return root, result.stdout.strip()


@pytest.mark.slow  # starts a process of its own (the trained fixture)
def test_train_quiet_prints_only_the_run_directory(trained):
    root, run_dir = trained
    assert run_dir.startswith("runs/") and (root / run_dir / "model.keras").is_file()
    config = (root / run_dir / "config.toml").read_text()
    assert "epochs = 1" in config and "seed = 3" in config and "units = 8" in config


@pytest.mark.slow  # starts a process of its own
def test_train_prints_its_progress_on_stderr_and_only_the_summary_on_stdout(tmp_path):
    from conftest import RECIPES

    (tmp_path / "recipes.json").write_text(json.dumps(RECIPES))
    result = run("train", "--data", "recipes.json", "--out", "run", *tiny_set_args(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("Saved run: best epoch ")
    assert "Epoch 2/2" in result.stderr, "Keras's progress bar"
    assert re.search(r"(?<!\d)(\d+)/\1(?!\d)", result.stderr), "its last frame: every batch of the epoch done"
    assert "[epoch 2, temperature 1]" in result.stderr
    quiet = run("train", "--data", "recipes.json", "--out", "quiet", "--quiet", *tiny_set_args(), cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == "quiet\n", "`train --quiet > out` leaves the run directory alone"


@pytest.mark.slow  # starts a process of its own
def test_generate_json_finds_the_latest_run_and_is_reproducible(trained):
    root, run_dir = trained
    args = ["generate", "--prompt", "Recipe for LEMON toast |", "-n", "2", "--seed", "5", "--max-tokens", "10",
            "--json"]
    first, second = run(*args, cwd=root), run(*args, cwd=root)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    output = json.loads(first.stdout)
    assert output["run"] == run_dir
    assert output["prompt"] == "recipe for lemon toast |"
    assert output["seed"] == 5 and len(output["samples"]) == 2
    assert all(s["text"].startswith("Recipe for lemon toast |") and s["tokens"] <= 10 for s in output["samples"])


@pytest.mark.slow  # starts a process of its own
def test_generate_with_xla_gives_the_same_greedy_recipe(trained):
    root, _ = trained
    args = ["generate", "--temperature", "0", "--max-tokens", "12", "-n", "2", "--json"]
    plain, compiled = run(*args, cwd=root), run(*args, "--xla", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    assert ([s["text"] for s in json.loads(plain.stdout)["samples"]]
            == [s["text"] for s in json.loads(compiled.stdout)["samples"]])


@pytest.mark.slow  # starts a process of its own
def test_generate_plain_text_is_readable(trained):
    root, _ = trained
    result = run("generate", "--prompt", "recipe for toast , with butter . |", "--temperature", "0",
                 "--max-tokens", "12", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Toast, with butter."), "the title, as a person writes it"
    assert " , " not in result.stdout and " ." not in result.stdout


@pytest.mark.slow  # starts a process of its own
def test_generate_show_probs_table_and_json(trained):
    root, _ = trained
    table = run("generate", "--max-tokens", "4", "--seed", "2", "--show-probs", "3", cwd=root)
    assert table.returncode == 0, table.stderr
    header = next(line for line in table.stdout.splitlines() if line.lstrip().startswith("step"))
    assert header.split() == ["step", "word", "#1", "#2", "#3"]
    output = json.loads(run("generate", "--max-tokens", "4", "--seed", "2", "--show-probs", "3", "--json",
                            cwd=root).stdout)
    steps = output["samples"][0]["steps"]
    assert 1 <= len(steps) <= 4 and all(len(step["top"]) == 3 for step in steps)


@pytest.mark.slow  # starts a process of its own
def test_generate_reports_unknown_prompt_words_on_stderr(trained):
    root, _ = trained
    result = run("generate", "--prompt", "recipe for zucchini", "--max-tokens", "3", "--json", "--seed", "1", cwd=root)
    assert result.returncode == 0
    assert json.loads(result.stdout)["unknown_words"] == ["zucchini"]
    assert "zucchini" in result.stderr


@pytest.mark.slow  # starts a process of its own
def test_evaluate_scores_the_held_out_split(trained):
    root, run_dir = trained
    result = run("evaluate", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    metrics = json.loads((root / run_dir / "metrics.json").read_text())
    assert output["data"] == "held-out split" and output["recipes"] == metrics["heldout_recipes"] >= 1
    assert output["tokens"] == metrics["val_tokens"]
    assert (math.isfinite(output["perplexity"])
            and output["perplexity"] == pytest.approx(metrics["val_perplexity"], rel=1e-5))

    plain = run("evaluate", "--model", run_dir, "--data", "recipes.json", cwd=root)
    assert plain.returncode == 0, plain.stderr
    assert "perplexity" in plain.stdout and "10 recipes" in plain.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--data", "missing.json"], "missing.json: no such file"),
        (["train", "--set", "model.units=0"], "model.units = 0 must be at least 1"),
        (["train", "--set", "model.colour=red"], "unknown key model.colour"),
        (["train", "--config", "nope.toml"], "nope.toml: config file not found"),
        (["generate", "--model", "nowhere"], "nowhere: no such run directory"),
        (["generate", "--temperature", "-1"], "--temperature"),
        (["generate", "--temperature", "warm"], "--temperature"),
        (["generate", "--top-p", "0"], "--top-p"),
        (["generate", "--top-k", "0"], "--top-k"),
        (["generate", "--max-tokens", "0"], "--max-tokens"),
        (["evaluate", "--model", "nowhere"], "nowhere: no such run directory"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow  # starts a process of its own
@pytest.mark.parametrize("args", [["generate", "--temperature", "-1"], ["generate", "--bogus"],
                                  ["train", "--epochs", "0"], ["evaluate", "--model", "nowhere"]])
def test_errors_from_the_entry_point_are_exactly_one_line(tmp_path, args):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("Error: ")


@pytest.mark.slow  # starts a process of its own
def test_prompt_without_known_words_is_exit_2(trained):
    root, _ = trained
    result = run("generate", "--prompt", "zucchini flambé", cwd=root)
    assert result.returncode == 2
    assert "--prompt" in result.stderr and "no word in the model's vocabulary" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_generate_without_any_run_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["generate"])
    assert result.exit_code == 2 and "recipegen train" in result.output


@pytest.mark.slow  # starts a process of its own
def test_existing_run_directory_is_refused_without_overwrite(trained, tmp_path):
    root, run_dir = trained
    before = (root / run_dir / "model.keras").read_bytes()
    result = run("train", "--data", "recipes.json", "--out", run_dir, "--quiet", *tiny_set_args(), cwd=root)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (root / run_dir / "model.keras").read_bytes() == before


@pytest.mark.slow  # starts a process of its own
def test_help_does_not_import_tensorflow():
    code = (
        "import sys; from click.testing import CliRunner; from recipegen.cli import cli; "
        "r = CliRunner().invoke(cli, ['train', '--help']); assert r.exit_code == 0, r.output; "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=os.environ | {"PYTHONWARNINGS": "ignore"})
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.slow  # starts a process of its own
def test_python_dash_m_recipegen_is_the_same_command(tmp_path):
    for args in (["--version"], ["generate", "--top-k", "0"], ["nonsense"]):
        module = subprocess.run([sys.executable, "-m", "recipegen", *args], capture_output=True, text=True,
                                cwd=tmp_path)
        script = run(*args, cwd=tmp_path)
        assert (module.returncode, module.stdout, module.stderr) == (script.returncode, script.stdout, script.stderr)


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "version" in result.output
