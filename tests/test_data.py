import json

import pytest

from recipegen.data import load_corpus, split_corpus
from recipegen.errors import DataError

from conftest import RECIPES


def test_json_list_loads_every_recipe(corpus_path):
    corpus = load_corpus(corpus_path)
    assert len(corpus.recipes) == len(RECIPES)
    assert corpus.skipped == 0
    assert corpus.recipes[1].title == "Lemon Rice"
    assert corpus.recipes[1].ingredients == ("1 cup rice", "1 lemon", "1/2 teaspoon salt")


def test_malformed_records_are_skipped_and_counted(tmp_path):
    records = [
        {"title": "Good", "directions": ["Cook it."]},
        {"title": None, "directions": ["No title."]},
        {"directions": ["Missing title."]},
        {"title": "No directions"},
        {"title": "Null directions", "directions": None},
        {"title": "Empty steps", "directions": ["", "  "]},
        "not an object",
        {"title": "One string", "directions": "Stir well.", "ingredients": None},
    ]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records))
    corpus = load_corpus(path)
    assert [r.title for r in corpus.recipes] == ["Good", "One string"]
    assert corpus.recipes[1].directions == ("Stir well.",)
    assert corpus.skipped == 6
    assert corpus.skip_reasons == {"without a title": 2, "without directions": 3, "not an object": 1}


def test_jsonl_skips_blank_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECIPES[:3]) + "\n\n" + json.dumps({"title": "x"}) + "\n")
    corpus = load_corpus(path)
    assert len(corpus.recipes) == 3 and corpus.skipped == 1


def test_jsonl_names_the_bad_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(RECIPES[0]) + "\n{oops\n")
    with pytest.raises(DataError, match=r"r\.jsonl: invalid JSON on line 2"):
        load_corpus(path)


def test_plain_text_blocks_are_title_then_directions(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("Toast\nToast the bread.\nButter it.\n\n\nRecipe for Tea\nBoil water.\n\nLonely title\n")
    corpus = load_corpus(path)
    assert [(r.title, r.directions) for r in corpus.recipes] == [
        ("Toast", ("Toast the bread.", "Butter it.")),
        ("Tea", ("Boil water.",)),
    ]
    assert corpus.skipped == 1


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.json", None, "no such file"),
        ("empty.json", "", "file is empty"),
        ("bad.json", '[{"title": "x",', "invalid JSON at line 1"),
        ("object.json", '{"title": "x"}', "expected a JSON list of recipe objects, got dict"),
        ("numbers.json", "[1, 2, 3]", "no usable recipe"),
        ("recipes.csv", "title,directions", "unknown corpus format"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as error:
        load_corpus(path)
    assert name in str(error.value)


def test_directory_and_non_utf8_are_errors(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_corpus(tmp_path)
    path = tmp_path / "latin1.json"
    path.write_bytes('[{"title": "Crème", "directions": ["x"]}]'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_corpus(path)


def test_split_is_by_recipe_deterministic_and_disjoint(corpus_path):
    recipes = load_corpus(corpus_path).recipes
    train, held_out = split_corpus(recipes, 0.2, seed=3)
    again_train, again_held_out = split_corpus(recipes, 0.2, seed=3)
    assert (train, held_out) == (again_train, again_held_out)
    assert len(held_out) == 2 and len(train) == len(recipes) - 2
    assert not {r.title for r in train} & {r.title for r in held_out}
    assert split_corpus(recipes, 0.2, seed=4)[1] != held_out or split_corpus(recipes, 0.2, seed=5)[1] != held_out


def test_split_keeps_both_sides_non_empty(corpus_path):
    recipes = load_corpus(corpus_path).recipes
    assert len(split_corpus(recipes, 0.01, seed=0)[1]) == 1
    assert len(split_corpus(recipes, 0.99, seed=0)[0]) == 1
    with pytest.raises(DataError, match="at least 2"):
        split_corpus(recipes[:1], 0.5, seed=0)
