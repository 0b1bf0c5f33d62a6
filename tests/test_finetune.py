"""Fine-tuning (train --init-from): a new run from a finished run's weights, on another corpus."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from recipegen.cli import cli

from conftest import tiny_set_args

# Another cook's recipes: the same kitchen, some words the base never read ("zucchini", "grill").
OTHER_RECIPES = [
    {"title": f"Grilled {food}", "ingredients": [f"2 {food}", "1 tablespoon olive oil", "salt"],
     "directions": [f"Heat the grill. Brush the {food} with oil and salt.",
                    f"Grill the {food} for {minutes} minutes, turning once, and serve warm."]}
    for food, minutes in [("zucchini", 6), ("onion", 10), ("tomatoes", 4), ("carrots", 12), ("bread", 2),
                          ("lemon", 3), ("eggplant", 8), ("peppers", 7), ("apple", 5), ("mushrooms", 6)]
]


@pytest.fixture(scope="module")
def other_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("other") / "other.json"
    path.write_text(json.dumps(OTHER_RECIPES), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def finetuned(tiny_run, other_corpus):
    """One epoch from the base at a learning rate too small to move it: the run starts where the base is."""
    out = other_corpus.parent / "finetuned"
    result = CliRunner().invoke(cli, ["train", "--init-from", str(tiny_run), "--data", str(other_corpus),
                                      "--out", str(out), *tiny_set_args({"train.epochs": 1}),
                                      "--set", "train.learning_rate=1e-9", "--set", "model.dropout=0.0"])
    assert result.exit_code == 0, result.output
    return out, result


def test_a_fine_tuned_run_starts_from_the_base_weights(tiny_run, finetuned):
    import keras

    from recipegen.evaluate import score_texts
    from recipegen.run import load_run, read_heldout

    out, _ = finetuned
    base = load_run(tiny_run)
    tuned = keras.saving.load_model(out / "model.keras")
    for ours, theirs in zip(tuned.get_weights(), base.model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    # The first epoch's held-out loss is the base's own loss on the new corpus's held-out recipes.
    config = base.config
    expected = score_texts(base.model, base.vocabulary, read_heldout(out), config.train.batch_size,
                           base.tokenizer)
    history = json.loads((out / "state.json").read_text())["history"]
    assert history[0]["val_loss"] == pytest.approx(expected.loss, rel=1e-5)
    assert json.loads((out / "vocabulary.json").read_text()) == base.vocabulary


def test_words_outside_the_base_vocabulary_are_counted_and_recorded(tiny_run, finetuned):
    out, result = finetuned
    record = json.loads((out / "base.json").read_text())
    with np.load(out / "tokens.npz") as arrays:
        ids = arrays["train_ids"]
    assert record["unknown_tokens"] == int(np.sum(ids == 1)) > 0  # "zucchini", "grill", ...
    assert record["train_tokens"] == ids.size
    assert record["run"] == str(tiny_run.resolve())
    share = record["unknown_tokens"] / record["train_tokens"]
    assert f"{record['unknown_tokens']:,} of {ids.size:,} training tokens ({share:.1%})" in result.stderr

    info = CliRunner().invoke(cli, ["info", str(out)])
    assert f"fine-tuned from  {tiny_run.resolve()}" in info.output
    described = json.loads(CliRunner().invoke(cli, ["info", str(out), "--json"]).output)
    assert described["base"] == record


def test_a_fine_tuned_run_resumes_evaluates_and_generates_like_any_run(finetuned):
    out, _ = finetuned
    resumed = CliRunner().invoke(cli, ["train", "--resume", str(out), "--epochs", "2", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    state = json.loads((out / "state.json").read_text())
    assert state["epochs_done"] == 2 and (out / "base.json").is_file()
    evaluated = CliRunner().invoke(cli, ["evaluate", "--model", str(out), "--json"])
    assert evaluated.exit_code == 0 and json.loads(evaluated.output)["tokens"] > 0
    generated = CliRunner().invoke(cli, ["generate", "--model", str(out), "--max-tokens", "5", "--json"])
    assert generated.exit_code == 0 and json.loads(generated.stdout)["samples"][0]["text"].startswith("Recipe for")


@pytest.mark.parametrize("key, value", [("model.units", 16), ("model.cell", "gru"), ("data.vocab_size", 500),
                                        ("data.template", "full"), ("model.tie_embeddings", False)])
def test_changing_the_architecture_or_vocabulary_is_refused_by_name(tiny_run, other_corpus, tmp_path, key, value):
    result = CliRunner().invoke(cli, ["train", "--init-from", str(tiny_run), "--data", str(other_corpus),
                                      "--out", str(tmp_path / "run"), "--set", f"{key}={json.dumps(value)}"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and key in result.output
    assert not (tmp_path / "run").exists()


def test_the_config_lends_its_training_settings_and_the_base_its_architecture(tiny_run):
    from recipegen.options import training_config

    config, base = training_config("book", ("train.learning_rate=0.003", f"model.units={8}"), "x.json", None, None,
                                   None, False, None, False, None, tiny_run)
    assert base.path == tiny_run
    assert (config.model.units, config.model.embedding_dim, config.data.vocab_size) == (8, 8, 120)  # the base's
    assert config.model.tie_embeddings == base.config.model.tie_embeddings  # book.toml says untied
    assert (config.train.learning_rate, config.train.softmax, config.data.path) == (0.003, "full", "x.json")


@pytest.mark.parametrize("files, message", [(None, "no such run directory"),
                                            (("config.toml", "model.keras", "vocabulary.json"), "has not finished"),
                                            (("config.toml",), "not a trained run")])
def test_a_missing_or_unfinished_base_is_one_line_exit_2(tiny_run, other_corpus, tmp_path, files, message):
    base = tmp_path / "base"
    if files:
        base.mkdir()
        for name in files:
            (base / name).write_bytes((tiny_run / name).read_bytes())
    result = CliRunner().invoke(cli, ["train", "--init-from", str(base), "--data", str(other_corpus),
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_base_resumed_since_its_metrics_were_written_is_unfinished(tiny_run, tmp_path):
    """metrics.json of an earlier finish does not make a run resumed for more epochs a finished base."""
    from recipegen.errors import RunError
    from recipegen.finetune import read_base

    base = tmp_path / "base"
    base.mkdir()
    for name in ("config.toml", "model.keras", "vocabulary.json", "state.json"):
        (base / name).write_bytes((tiny_run / name).read_bytes())
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    (base / "metrics.json").write_text(json.dumps(metrics | {"epochs": metrics["epochs"] - 1}))
    with pytest.raises(RunError, match="has not finished \\(resumed for more epochs since its metrics.json\\)"):
        read_base(base)
    (base / "metrics.json").write_text(json.dumps(metrics))
    assert read_base(base).finished and "model" not in vars(read_base(base)), "the model waits for training"


def test_a_character_level_base_fine_tunes_with_a_config_made_for_words(tiny_run, tmp_path):
    """The default config blocks repeated 3-token phrases, which at the character level would
    forbid any word twice; unless the command line says otherwise, the base's own setting holds."""
    from recipegen.config import dumps, load_run_config
    from recipegen.options import training_config

    base_dir = shutil.copytree(tiny_run, tmp_path / "char-base")
    config = load_run_config(base_dir / "config.toml", {"data.tokens": "char", "sample.no_repeat_ngram": 12})
    (base_dir / "config.toml").write_text(dumps(config))
    fine, _ = training_config(None, (), "x.json", None, None, None, False, None, False, None, base_dir)
    assert (fine.data.tokens, fine.sample.no_repeat_ngram) == ("char", 12)
    given, _ = training_config(None, ("sample.no_repeat_ngram=0",), "x.json", None, None, None, False, None, False,
                               None, base_dir)
    assert given.sample.no_repeat_ngram == 0


@pytest.mark.parametrize("existing", [False, True], ids=["new-directory", "empty-directory"])
def test_a_start_that_fails_leaves_no_half_made_run(tiny_run, other_corpus, tmp_path, existing):
    """A base whose model is damaged fails once the new run's files are being written: they go,
    so the next try starts clean instead of meeting "already exists" and a run it cannot resume."""
    base = shutil.copytree(tiny_run, tmp_path / "base")
    (base / "model.keras").write_bytes(b"not a keras file")
    out = tmp_path / "new"
    if existing:
        out.mkdir()
    result = CliRunner().invoke(cli, ["train", "--init-from", str(base), "--data", str(other_corpus),
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and "model.keras: not a whole .keras file" in result.output, result.output
    assert (list(out.iterdir()) == []) if existing else not out.exists()
