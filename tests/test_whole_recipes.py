"""Whole recipes end to end: the full template through train, generate and evaluate; measures
of samples; and the character-level model on plain text that is not a recipe."""

import csv
import json

import pytest
from click.testing import CliRunner

from recipegen.cli import cli
from recipegen.generation.samples import Sample
from recipegen.render import as_page
from recipegen.templates import ParsedRecipe

from conftest import RECIPES, tiny_set_args

# Written for this test: a few paragraphs of a small play, for the character-level model.
PLAY = """\
FERRYMAN
The river is high tonight, and the lamps are out.
Who pays the fare must also hold the rope.

TRAVELLER
I have two coins and one good hand.
Take both, and let us cross before the rain.

FERRYMAN
Two coins will do. The hand you keep for the rope.
Sit low, and do not look down at the water.

TRAVELLER
I never look down. I only count the stars.
"""


def invoke(*args, cwd):
    """Run the command in this process (no TensorFlow import per call) from ``cwd``."""
    import os

    previous = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("full")
    (root / "recipes.json").write_text(json.dumps(RECIPES))
    result = invoke("train", "--data", "recipes.json", "--out", "run", "--quiet",
                    *tiny_set_args({"data.template": "full", "train.epochs": 2, "sample.max_tokens": 40}),
                    "--seed", "14", cwd=root)  # a seed that keeps the toast and the rice in training
    assert result.exit_code == 0, result.output
    return root


def test_full_template_run_keeps_its_template_and_foods(full_run):
    run = full_run / "run"
    assert 'template = "full"' in (run / "config.toml").read_text()
    foods = set(json.loads((run / "foods.json").read_text()))
    assert {"bread", "butter", "rice", "egg"} <= foods
    vocabulary = json.loads((run / "vocabulary.json").read_text())
    assert {"<ingredients>", "<item>", "<directions>", "<step>", "<end>"} <= set(vocabulary)
    held_out = [json.loads(line)["text"] for line in (run / "heldout.jsonl").read_text().splitlines()]
    assert all(" <ingredients> " in text and " <directions> " in text for text in held_out)
    measures = list(csv.DictReader((run / "sample_measures.csv").open()))
    assert len(measures) == 4 and {"ingredients_used", "foods_listed", "well_formed"} <= set(measures[0])


def test_generate_json_returns_the_parsed_recipe(full_run):
    result = invoke("generate", "--model", "run", "-n", "3", "--seed", "2", "--max-tokens", "30", "--json",
                    cwd=full_run)
    assert result.exit_code == 0, result.output
    for sample in json.loads(result.stdout)["samples"]:
        assert sample["text"].startswith("Recipe for")
        assert isinstance(sample["title"], str)
        assert isinstance(sample["ingredients"], list) and isinstance(sample["directions"], list)
        assert isinstance(sample["problems"], list)
        assert sample["ended"] or "no end token: cut short" in sample["problems"]


def test_a_prompt_can_open_a_section_with_its_marker(full_run):
    result = invoke("generate", "--model", "run", "--prompt", "recipe for toast <ingredients> 2 slices bread <item>",
                    "--seed", "1", "--max-tokens", "5", "--json", cwd=full_run)
    output = json.loads(result.stdout)
    assert output["prompt"] == "recipe for toast <ingredients> 2 slices bread <item>"
    assert output["unknown_words"] == []
    assert output["samples"][0]["ingredients"][0] == "2 slices bread"


def test_plain_output_is_a_recipe_page():
    parsed = ParsedRecipe(title="Lemon rice", ingredients=["1 cup rice", "1 lemon"],
                          directions=["Rinse the rice.", "Simmer with the lemon."])
    page = as_page(Sample(text="...", tokens=[], ended=True, parsed=parsed))
    assert page == ("Lemon rice\n\nIngredients\n  - 1 cup rice\n  - 1 lemon\n\n"
                    "Directions\n  1. Rinse the rice.\n  2. Simmer with the lemon.")
    cut = as_page(Sample(text="...", tokens=[], ended=False, parsed=ParsedRecipe("Soup", [], [])))
    assert cut == "Soup\n\nIngredients\n  (none)\n\nDirections\n  (none) [...]"
    book = as_page(Sample(text="...", tokens=[], ended=True, parsed=ParsedRecipe("Soup", None, ["Boil.", "Eat."])))
    assert book == "Soup\n  Boil. Eat."


def test_evaluate_samples_measures_samples_beside_held_out_recipes(full_run):
    args = ["evaluate", "--model", "run", "--samples", "5", "--batch-size", "2", "-t", "1.0", "-t", "0", "--json"]
    first, second = invoke(*args, cwd=full_run), invoke(*args, cwd=full_run)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout, "seeded: the same samples every time"
    result = json.loads(first.stdout)
    samples = result["samples"]
    assert samples["count"] == 5 and samples["seed"] == 14 and samples["prompt"] == "recipe for"
    assert [row["temperature"] for row in samples["by_temperature"]] == [1.0, 0.0]
    held_out = [json.loads(line)["text"] for line in (full_run / "run" / "heldout.jsonl").read_text().splitlines()]
    assert samples["real"]["samples"] == min(5, len(held_out))
    assert samples["real"]["ended"] == 1.0, "the default limit is the longest held-out recipe"
    assert samples["real"]["well_formed"] == 1.0, "real recipes parse without a problem"
    for row in samples["by_temperature"] + [samples["real"]]:
        assert {"mean_tokens", "ended", "distinct_1", "distinct_2", "repeated_4grams", "ingredients_used",
                "foods_listed", "well_formed"} <= set(row)
        assert all(value is None or 0 <= value <= 1 for name, value in row.items()
                   if name not in ("samples", "mean_tokens", "temperature", "realism", "longest_copied", "dish_drift",
                                   "extra_foods"))
        assert row["mean_tokens"] <= samples["max_tokens"]
        assert {"copied_ngrams", "longest_copied", "dish_drift", "distinct_titles"} <= set(row)
    for row in samples["by_temperature"]:  # 5 samples against 2 held-out recipes: too few for 5 folds
        assert row["realism_auc"] is None and row["realism"]["samples"] == 5 and row["realism"]["real"] == 2

    table = invoke("evaluate", "--model", "run", "--samples", "3", "--max-tokens", "20", cwd=full_run)
    assert table.exit_code == 0, table.output
    assert "3 samples after 'recipe for', at most 20 tokens, seed 14, title_temperature 1, no_repeat_ngram 3, " \
           "ingredient_bias 8, unlisted_penalty 8:" in table.stdout
    assert "ingredients used" in table.stdout and "real (" in table.stdout


def test_character_model_trains_on_a_play_and_writes_from_nothing(tmp_path):
    (tmp_path / "play.txt").write_text(PLAY)
    result = invoke("train", "--data", "play.txt", "--out", "run", "--quiet",
                    *tiny_set_args({"data.tokens": "char", "data.template": "plain", "data.vocab_size": 60,
                                    "sample.no_repeat_ngram": 0,
                                    "data.validation_fraction": 0.25, "sample.prompt": "", "sample.max_tokens": 30}),
                    cwd=tmp_path)
    assert result.exit_code == 0, result.output
    vocabulary = json.loads((tmp_path / "run" / "vocabulary.json").read_text())
    assert all(len(token) == 1 for token in vocabulary[2:]), "one character per token"
    assert {" ", "\n", "f", "."} <= set(vocabulary)
    held_out = (tmp_path / "run" / "heldout.jsonl").read_text()
    assert "\\n" in held_out, "lines stay lines at the character level"

    result = invoke("generate", "--model", "run", "--prompt", "FERRYMAN\n", "-n", "2", "--seed", "4",
                    "--max-tokens", "25", "--show-probs", "2", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["prompt"] == "ferryman\n"
    for sample in output["samples"]:
        assert sample["text"].lower().startswith("ferryman\n") and sample["tokens"] <= 25
        assert "title" not in sample, "the plain template has no sections"
        assert all(len(step["token"]) == 1 or step["token"] == "<end>" for step in sample["steps"])

    result = invoke("generate", "--model", "run", "--prompt", "", "--seed", "4", "--max-tokens", "25", cwd=tmp_path)
    assert result.exit_code == 0 and result.stdout.strip()

    result = invoke("evaluate", "--model", "run", "--samples", "3", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["tokens"] > 0 and output["samples"]["real"]["ended"] == 1.0


# --- a recipe with these ingredients -----------------------------------------------------------------

def test_generate_writes_a_recipe_for_a_given_list(full_run):
    result = invoke("generate", "--model", "run", "--ingredients", "2 eggs; 1 slice bread, toasted ;;", "-n", "2",
                    "--seed", "3", "--max-tokens", "40", "--json", cwd=full_run)
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["no_repeat_ngram"] == 3 and output["ingredient_bias"] == 8.0, "the run's own settings by default"
    for sample in output["samples"]:
        assert sample["ingredients"] == ["2 eggs", "1 slice bread, toasted"], "empty lines dropped, commas kept"
        assert sorted(sample["ingredients_used"] + sample["ingredients_unused"]) == sorted(sample["ingredients"])
        assert isinstance(sample["extra_foods"], list) and isinstance(sample["title_foods_used"], list)

    text = invoke("generate", "--model", "run", "--ingredients", "2 eggs; 1 slice bread", "--title", "Egg toast",
                  "--seed", "3", "--max-tokens", "40", cwd=full_run)
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("Egg toast\n\nIngredients\n  - 2 eggs\n  - 1 slice bread\n\nDirections\n")
    assert "given ingredients" in text.stdout.splitlines()[-1]


def test_an_ingredients_file_keeps_one_line_per_line(full_run):
    (full_run / "list.txt").write_text("2 cups stock, warm\n\n1 onion\n", encoding="utf-8")
    result = invoke("generate", "--model", "run", "--ingredients-file", "list.txt", "--seed", "1", "--max-tokens", "30",
                    "--json", cwd=full_run)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["samples"][0]["ingredients"] == ["2 cups stock, warm", "1 onion"]


@pytest.mark.parametrize("args, message", [
    (["--ingredients", " ; ;"], "--ingredients"),
    (["--ingredients-file", "empty.txt"], "--ingredients-file"),
    (["--ingredients-file", "latin1.txt"], "--ingredients-file"),
    (["--ingredients-file", "missing.txt"], "--ingredients-file"),
    (["--ingredients", "2 eggs", "--prompt", "recipe for"], "--prompt"),
    (["--ingredients", "2 eggs", "--ingredients-file", "empty.txt"], "--ingredients-file"),
    (["--title", "  "], "--title"),
    (["--ingredients", "2 eggs", "--no-repeat-ngram", "1"], "--no-repeat-ngram"),
    (["--ingredient-bias", "nan"], "--ingredient-bias"),
])
def test_bad_lists_and_settings_are_one_line_exit_2(full_run, args, message):
    (full_run / "empty.txt").write_text("\n  \n")
    (full_run / "latin1.txt").write_bytes("2 jalapeños\n".encode("latin-1"))
    result = invoke("generate", "--model", "run", *args, cwd=full_run)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_run_without_an_ingredient_list_says_how_to_train_one(tiny_run, tmp_path, monkeypatch, capsys):
    """Refused from the run's config, before its model is loaded."""
    import keras

    from recipegen.cli import run_command

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(keras.saving, "load_model", lambda *args, **kwargs: pytest.fail("the model was loaded"))
    # what the entry point runs, which prints click's usage errors as one line too
    assert run_command(["generate", "--model", str(tiny_run), "--ingredients", "2 eggs"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("Error: ")
    assert "--ingredients" in err and "configs/full.toml" in err


def test_evaluate_samples_reports_the_food_measures(full_run):
    result = invoke("evaluate", "--model", "run", "--samples", "3", "--max-tokens", "30", "--no-repeat-ngram", "0",
                    "--json", cwd=full_run)
    assert result.exit_code == 0, result.output
    samples = json.loads(result.stdout)["samples"]
    assert samples["decoding"]["no_repeat_ngram"] == 0 and samples["decoding"]["unlisted_penalty"] == 8.0
    assert {"title_foods_used", "extra_foods"} <= set(samples["real"]) and "extra_foods" in samples["by_temperature"][0]


def test_a_title_alone_starts_a_book_template_recipe(tiny_run, tmp_path):
    result = invoke("generate", "--model", tiny_run, "--title", "Buttered toast", "--seed", "2", "--max-tokens", "10",
                    "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    sample = json.loads(result.stdout)["samples"][0]
    assert sample["text"].startswith("Recipe for buttered toast |") and sample["title"] == "Buttered toast"
    assert sample["tokens"] <= 10 + 3, "the given title and '|' do not count against --max-tokens"
