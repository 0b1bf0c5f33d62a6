import csv
import json
import math
import shutil

import pytest

from recipegen.callbacks import TextGenerator
from recipegen.data import BLAKE2B, PERMUTATION
from recipegen.errors import RunError
from recipegen.evaluate import score_texts
from recipegen.generation.generator import Generator
from recipegen.run import load_run, prepare_run_dir, read_heldout, read_run
from recipegen.templates import Recipe, recipe_text
from recipegen.text import WORDS

from conftest import RECIPES, TINY_OVERRIDES


def test_run_directory_is_self_contained(tiny_run):
    names = {p.name for p in tiny_run.iterdir()}
    assert {"model.keras", "vocabulary.json", "config.toml", "heldout.jsonl", "history.csv",
            "samples.jsonl", "metrics.json"} <= names
    assert not [n for n in names if n.startswith(".") and n != ".lock"], "temporary files left behind"

    history = list(csv.DictReader((tiny_run / "history.csv").open()))
    assert [int(row["epoch"]) for row in history] == [1, 2]
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and math.isfinite(metrics["val_perplexity"])
    assert metrics["val_loss"] == min(float(row["val_loss"]) for row in history)

    samples = [json.loads(line) for line in (tiny_run / "samples.jsonl").read_text().splitlines()]
    temperatures, count = TINY_OVERRIDES["sample.temperatures"], TINY_OVERRIDES["sample.count"]
    assert [(s["epoch"], s["temperature"]) for s in samples] == [
        (e, t) for e in (1, 2) for t in temperatures for _ in range(count)]
    assert all(s["text"].startswith("Recipe for") for s in samples)
    assert all({"title", "directions", "problems"} <= set(s) for s in samples), "book samples are parsed too"

    measures = list(csv.DictReader((tiny_run / "sample_measures.csv").open()))
    assert ([(int(m["epoch"]), float(m["temperature"])) for m in measures]
            == [(e, t) for e in (1, 2) for t in temperatures])
    assert all(int(m["samples"]) == count and 0 <= float(m["ended"]) <= 1 for m in measures)


def test_saved_model_and_vocabulary_reproduce_the_recorded_score(tiny_run):
    run = load_run(tiny_run)
    assert run.config.model.units == TINY_OVERRIDES["model.units"]
    score = score_texts(run.model, run.vocabulary, read_heldout(tiny_run), 4)
    assert score.tokens == run.metrics["val_tokens"]
    assert score.loss == pytest.approx(run.metrics["val_loss"], rel=1e-5)


def test_heldout_recipes_are_not_in_the_vocabulary_source(tiny_run):
    """The vocabulary is adapted on training recipes only: a word only held-out recipes use is unknown."""
    run = load_run(tiny_run)
    heldout = set(read_heldout(tiny_run))
    all_texts = {recipe_text(Recipe(r["title"], tuple(r["directions"])), "book", WORDS) for r in RECIPES}
    heldout_words = {w for text in heldout for w in text.split()}
    train_words = {w for text in all_texts - heldout for w in text.split()}
    assert heldout_words - train_words, "the tiny corpus should have held-out-only words"
    assert not (heldout_words - train_words) & set(run.vocabulary)


def test_text_generator_callback_samples_each_temperature_each_epoch(tiny_run, tmp_path):
    run = load_run(tiny_run)
    lines = []
    callback = TextGenerator(Generator(run.model, run.vocabulary), "recipe for", (1.0, 0.5), max_tokens=5,
                             seed=1, count=3, run_dir=tmp_path, log=lines.append)
    callback.on_epoch_end(0)
    callback.on_epoch_end(1)
    written = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert ([(s["epoch"], s["temperature"]) for s in written]
            == [(e, t) for e in (1, 2) for t in (1.0, 0.5) for _ in range(3)])
    assert all(s["tokens"] <= 5 for s in written)
    measures = list(csv.DictReader((tmp_path / "sample_measures.csv").open()))
    assert [(m["epoch"], m["temperature"], m["samples"]) for m in measures] == [
        ("1", "1.0", "3"), ("1", "0.5", "3"), ("2", "1.0", "3"), ("2", "0.5", "3")]
    # Each measure row is what text_measures says of that epoch's samples.
    first = [s["tokens"] for s in written[:3]]
    assert float(measures[0]["mean_tokens"]) == pytest.approx(sum(first) / 3, abs=1e-4)
    assert len(lines) == 8 and lines[0].startswith("[epoch 1, temperature 1] Recipe for")
    assert lines[1].lstrip().startswith("mean tokens")


def test_an_existing_run_is_not_overwritten_by_accident(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.keras").write_text("precious")
    with pytest.raises(RunError, match="already exists"):
        prepare_run_dir(tmp_path / "run")
    assert (tmp_path / "run" / "model.keras").read_text() == "precious"
    prepare_run_dir(tmp_path / "run", overwrite=True)
    assert not (tmp_path / "run" / "model.keras").exists()


def test_incomplete_or_mismatched_runs_are_refused(tiny_run, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    (broken / "vocabulary.json").write_text(json.dumps(["", "[UNK]", "<end>"]))
    with pytest.raises(RunError, match="vocabulary has 3 tokens but the model expects"):
        load_run(broken)
    (broken / "model.keras").unlink()
    with pytest.raises(RunError, match="incomplete run directory, missing model.keras"):
        load_run(broken)
    with pytest.raises(RunError, match="no such run directory"):
        load_run(tmp_path / "nowhere")


@pytest.mark.slow  # trains until early stopping ends the run: the quick suite's longest test
def test_plateau_cuts_the_learning_rate_and_early_stopping_ends_the_run(tmp_path):
    """A rate too small to move float32 weights keeps the validation loss flat from epoch 1 on."""
    from recipegen.config import load_config
    from recipegen.train import train

    data = tmp_path / "recipes.json"
    data.write_text(json.dumps(RECIPES))
    config = load_config(None, {**TINY_OVERRIDES, "data.path": str(data), "train.epochs": 6,
                                "train.learning_rate": 1e-12, "train.min_learning_rate": 1e-14,
                                "train.reduce_lr_patience": 1, "train.early_stopping_patience": 2,
                                "sample.temperatures": []})
    result = train(config, tmp_path / "run", verbose=False)
    history = list(csv.DictReader((tmp_path / "run" / "history.csv").open()))
    assert [int(row["epoch"]) for row in history] == [1, 2, 3]
    assert [float(row["learning_rate"]) for row in history] == pytest.approx([1e-12, 1e-12, 5e-13])
    assert result.metrics["stopped_early_after"] == 3 and result.metrics["best_epoch"] == 1


def test_progress_bar_counts_epochs_out_of_the_run():
    """fit runs once per epoch, with epochs=epoch+1; the bar still says "Epoch 3/40"."""
    from recipegen.callbacks import RunProgress

    progress = RunProgress(40)
    progress.set_params({"verbose": 1, "epochs": 3, "steps": 5})
    assert progress.epochs == 40 and progress.target == 5


def test_template_auto_writes_lists_where_the_recipes_have_them_and_samples_may_run_to_the_longest(tmp_path):
    """"auto" becomes "full" for a corpus with ingredient lists (the run records which), and
    sample.max_tokens = 0 lets a sample run as long as the longest training recipe."""
    from recipegen.config import load_config
    from recipegen.train import train

    corpus = tmp_path / "recipes.json"
    corpus.write_text(json.dumps(RECIPES))
    config = load_config(None, {**TINY_OVERRIDES, "data.path": str(corpus), "data.template": "auto",
                                "sample.max_tokens": 0, "train.epochs": 1})
    run_dir = train(config, tmp_path / "run", verbose=False).run_dir
    run = load_run(run_dir)
    assert run.template == "full" and "<ingredients>" in run.vocabulary
    longest = json.loads((run_dir / "tokens.json").read_text())["longest_recipe"]
    texts = [recipe_text(Recipe(r["title"], tuple(r["directions"]), tuple(r["ingredients"])), "full", WORDS)
             for r in RECIPES]
    assert max(len(text.split()) for text in texts) >= longest > 40
    assert run.max_tokens() == longest
    assert all(s["tokens"] <= longest for s in map(json.loads, (run_dir / "samples.jsonl").read_text().splitlines()))

    without_lists = [{"title": r["title"], "directions": r["directions"]} for r in RECIPES]
    corpus.write_text(json.dumps(without_lists[:6] + RECIPES[6:]))  # 4 of 10 with a list
    from recipegen.prepare import prepare_data

    assert prepare_data(config).template == "book"


def test_a_run_is_read_without_its_model_until_it_is_used(tiny_run):
    """So a command can check a run's config before it pays for the model."""
    run = read_run(tiny_run)
    assert "model" not in vars(run) and run.template == "book"
    assert run.finished and run.resumable and run.split == BLAKE2B == run.state["split"]
    assert run.model is run.model and "model" in vars(run)


@pytest.mark.parametrize("name, content, message", [
    ("state.json", "[]", "state.json: expected a JSON object"),
    ("metrics.json", "{", "metrics.json: unreadable JSON"),
    ("state.json", '{"split": "by moon phase"}', "state.json: unknown split rule 'by moon phase'"),
    ("vocabulary.json", '{"a": 1}', "vocabulary.json: expected a JSON list of tokens"),
    ("vocabulary.json", '["", "[UNK]", "<end>", "salt", "salt"]', "vocabulary.json: the token 'salt' appears more"),
    ("vocabulary.json", '["", "[UNK]", "salt", "pepper"]', "vocabulary.json: no <end> token"),
])
def test_a_damaged_run_file_is_named(tiny_run, tmp_path, name, content, message):
    broken = shutil.copytree(tiny_run, tmp_path / "run")
    (broken / name).write_text(content)
    with pytest.raises(RunError, match=message):
        read_run(broken)


def test_metrics_of_an_earlier_finish_do_not_make_a_resumed_run_finished(tiny_run, tmp_path):
    """A run that finished after 1 epoch, was resumed for 3 and stopped after its second: its
    metrics.json is the first finish's, and the run is not finished until epoch 3 is done."""
    from recipegen import config as config_module
    from recipegen.config import load_run_config
    from recipegen.train import resume

    run_dir = shutil.copytree(tiny_run, tmp_path / "run")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps(metrics | {"epochs": 1}))
    config = load_run_config(run_dir / "config.toml", {"train.epochs": 3})
    (run_dir / "config.toml").write_text(config_module.dumps(config))
    assert not read_run(run_dir).finished and read_run(run_dir).resumable

    result = resume(run_dir, verbose=False)
    assert result.metrics["epochs"] == 3 and read_run(run_dir).finished
    assert [row["epoch"] for row in csv.DictReader((run_dir / "history.csv").open())] == ["1", "2", "3"]


def test_a_run_from_before_the_rule_resumes_with_its_permutation_split(tmp_path):
    """In-memory runs held out a seeded permutation's first share and recorded no rule. Resumed
    with their corpus read again (here: no token cache), they are split as they were, and the
    held-out recipes are checked against the run's."""
    from recipegen.config import load_config
    from recipegen.train import resume, train

    corpus = tmp_path / "recipes.json"
    corpus.write_text(json.dumps(RECIPES))
    config = load_config(None, {**TINY_OVERRIDES, "data.path": str(corpus), "train.epochs": 1,
                                "sample.temperatures": []})
    with pytest.MonkeyPatch.context() as patch:  # as the code before the rule was recorded split in memory
        patch.setattr("recipegen.train.SPLIT_RULE", PERMUTATION)
        run_dir = train(config, tmp_path / "run", verbose=False).run_dir
    (run_dir / "tokens.npz").unlink()
    state = json.loads((run_dir / "state.json").read_text())
    assert state["split"] == PERMUTATION
    (run_dir / "state.json").write_text(json.dumps(state | {"split": BLAKE2B}))
    with pytest.raises(RunError, match="its held-out recipes differ"):  # the new rule would hold out others
        resume(run_dir, epochs=2, verbose=False)

    del state["split"]
    (run_dir / "state.json").write_text(json.dumps(state))
    assert read_run(run_dir).split == PERMUTATION
    assert resume(run_dir, epochs=2, verbose=False).metrics["epochs"] == 2
    assert json.loads((run_dir / "state.json").read_text())["split"] == PERMUTATION, "recorded from now on"


@pytest.mark.parametrize("command", [["generate"], ["evaluate"], ["info"]])
def test_a_vocabulary_with_a_repeated_token_is_bad_input_for_every_command(tiny_run, tmp_path, capsys, command):
    from recipegen.cli import run_command

    broken = shutil.copytree(tiny_run, tmp_path / "run")
    vocabulary = json.loads((broken / "vocabulary.json").read_text())
    (broken / "vocabulary.json").write_text(json.dumps(vocabulary + [vocabulary[-1]]))
    args = [*command, str(broken)] if command == ["info"] else [*command, "--model", str(broken)]
    assert run_command(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {broken / 'vocabulary.json'}: the token ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name, content, command, message", [
    ("samples.jsonl", "not json\n", ["train", "--resume", "{run}", "--epochs", "3", "--quiet"],
     "samples.jsonl: line 1 is not valid JSON"),
    ("samples.jsonl", '{"epoch": "two"}\n', ["train", "--resume", "{run}", "--epochs", "3", "--quiet"],
     "samples.jsonl: line 1 is not an object with epoch (int)"),
    ("heldout.jsonl", "[1, 2]\n", ["evaluate", "--model", "{run}"], "heldout.jsonl: line 1 is not an object with text"),
])
def test_a_damaged_run_file_read_as_json_lines_is_bad_input_naming_it(tiny_run, tmp_path, capsys, name, content,
                                                                        command, message):
    from recipegen.cli import run_command

    broken = shutil.copytree(tiny_run, tmp_path / "run")
    (broken / name).write_text(content)
    assert run_command([part.format(run=broken) for part in command]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("content", ["epoch,temperature\nlast,1.0\n", "epoch,temperature\n1\x00,1.0\n"])
def test_a_damaged_measures_file_is_bad_input_naming_it(tiny_run, tmp_path, capsys, content):
    from recipegen.cli import run_command

    broken = shutil.copytree(tiny_run, tmp_path / "run")
    (broken / "sample_measures.csv").write_text(content)
    assert run_command(["train", "--resume", str(broken), "--epochs", "3", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "sample_measures.csv: " in err and len(err.strip().splitlines()) == 1, err
