"""Corpora as their publishers write them: CSV and TSV (RecipeNLG, Food.com, Kaggle shapes), schema.org
JSON-LD, saved pages, Markdown, Paprika, Mealie and Tandoor exports, folders and globs, and
``recipegen data``. Every file here is written by the test, in the published shape; no TensorFlow."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from recipegen.cli import run_command
from recipegen.corpora import archives
from recipegen.corpora.formats import Reading
from recipegen.corpora.sources import resolve
from recipegen.data import load_corpus
from recipegen.errors import DataError
from recipegen.templates import Recipe

from conftest import RECIPES


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def recipenlg(path: Path, recipes=RECIPES) -> Path:
    """RecipeNLG's full_dataset.csv: an unnamed index column, JSON lists in the list columns."""
    return write_csv(path, ["", "title", "ingredients", "directions", "link", "source", "NER"],
                     [[i, r["title"], json.dumps(r["ingredients"]), json.dumps(r["directions"]), "www.example.com",
                       "Gathered", json.dumps([])] for i, r in enumerate(recipes)])


def as_recipe(record: dict) -> Recipe:
    return Recipe(title=record["title"], directions=tuple(record["directions"]),
                  ingredients=tuple(record["ingredients"]))


def test_a_recipenlg_csv_reads_its_stringified_lists_as_lists(tmp_path):
    corpus = load_corpus(recipenlg(tmp_path / "full_dataset.csv"))
    assert corpus.recipes == [as_recipe(r) for r in RECIPES]


def test_a_food_com_csv_reads_python_literal_lists_and_its_own_column_names(tmp_path):
    header = ["name", "id", "minutes", "contributor_id", "submitted", "tags", "nutrition", "n_steps", "steps",
              "description", "ingredients", "n_ingredients"]
    rows = [[r["title"].lower(), i, 30, 1, "2005-09-16", str(["easy"]), str([51.5, 0.0]), len(r["directions"]),
             str([d.lower() for d in r["directions"]]), "a note, not a step", str(r["ingredients"]),
             len(r["ingredients"])] for i, r in enumerate(RECIPES)]
    corpus = load_corpus(write_csv(tmp_path / "RAW_recipes.csv", header, rows))
    assert corpus.recipes[1] == Recipe(title="lemon rice", ingredients=tuple(RECIPES[1]["ingredients"]),
                                       directions=tuple(d.lower() for d in RECIPES[1]["directions"]))


def test_a_kaggle_csv_with_a_bom_splits_its_instructions_at_line_breaks(tmp_path):
    rows = [[0, "Roast Chicken", str(["1 (3½–4-lb.) whole chicken", "2¾ tsp. kosher salt"]),
             "Pat the chicken dry.\nRoast 1 hour.\n\nRest 10 minutes.", "roast-chicken", str(["chicken"])]]
    path = write_csv(tmp_path / "kaggle.csv", ["", "Title", "Ingredients", "Instructions", "Image_Name",
                                               "Cleaned_Ingredients"], rows, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    (recipe,) = load_corpus(path).recipes
    assert recipe == Recipe(title="Roast Chicken", ingredients=("1 (3½–4-lb.) whole chicken", "2¾ tsp. kosher salt"),
                            directions=("Pat the chicken dry.", "Roast 1 hour.", "Rest 10 minutes."))


@pytest.mark.parametrize("suffix, delimiter", [(".tsv", "\t"), (".csv", ";"), (".csv", "|"), (".csv", "\t")])
def test_the_delimiter_is_found_from_the_header(tmp_path, suffix, delimiter):
    path = write_csv(tmp_path / f"recipes{suffix}", ["Title", "Ingredients", "Directions"],
                     [["Soup, hot", "carrots", "Boil them; serve."]], delimiter=delimiter)
    assert load_corpus(path).recipes == [Recipe(title="Soup, hot", ingredients=("carrots",),
                                                directions=("Boil them; serve.",))]


def test_data_fields_names_columns_the_usual_names_miss(tmp_path):
    path = write_csv(tmp_path / "sheet.csv", ["dish", "what you need", "how"], [["Toast", "bread", "Toast it."]])
    with pytest.raises(DataError, match=r"sheet.csv: no title or directions column among 'dish', 'what you need', "
                                        r"'how'; name it in data.fields"):
        load_corpus(path)
    reading = Reading(fields={"title": "dish", "ingredients": "What You Need", "directions": "how"})
    assert load_corpus(path, reading).recipes == [Recipe("Toast", ("Toast it.",), ("bread",))]
    with pytest.raises(DataError, match="data.fields.title names column 'name', which the header does not have"):
        load_corpus(path, Reading(fields={"title": "name", "directions": "how"}))


def schema_recipe(**fields) -> dict:
    return {"@type": "Recipe", "name": "Apple Pie", "recipeIngredient": ["2 cups flour", "6 apples"], **fields}


def test_json_ld_in_a_graph_with_sections_entities_and_tags(tmp_path):
    document = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "name": "a page"},
        {"@type": "BreadcrumbList", "itemListElement": []},
        schema_recipe(**{
            "@type": ["Recipe", "NewsArticle"], "name": "Apple &amp; <b>Pear</b> Pie",
            "ingredients": ["legacy list, not read"],
            "recipeInstructions": [
                {"@type": "HowToSection", "name": "Crust", "itemListElement": [
                    {"@type": "HowToStep", "text": "Rub the butter into the flour."},
                    {"@type": "HowToStep", "text": "Chill <i>30 minutes</i>."}]},
                {"@type": "HowToSection", "name": "Filling", "itemListElement": [
                    {"@type": "HowToStep", "text": "Slice the apples&nbsp;thin."}]}]})]}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(document))
    corpus = load_corpus(path)
    assert corpus.recipes == [Recipe(title="Apple & Pear Pie", ingredients=("2 cups flour", "6 apples"),
                                     directions=("Rub the butter into the flour.", "Chill 30 minutes.",
                                                 "Slice the apples thin."))]
    assert corpus.skip_reasons == {"not a schema.org Recipe": 2}


@pytest.mark.parametrize("instructions, steps", [
    ("Mix.<br>Bake 40 minutes.", ("Mix.", "Bake 40 minutes.")),
    (["Mix.", "Bake 40 minutes."], ("Mix.", "Bake 40 minutes.")),
    ([{"@type": "HowToStep", "text": "Mix."}, {"@type": "HowToStep", "name": "Bake 40 minutes."}],
     ("Mix.", "Bake 40 minutes.")),
    ("<ol><li>Mix.</li><li>Bake 40 minutes.</li></ol>", ("Mix.", "Bake 40 minutes.")),
])
def test_every_shape_of_recipe_instructions(tmp_path, instructions, steps):
    path = tmp_path / "recipes.jsonl"
    path.write_text(json.dumps(schema_recipe(recipeInstructions=instructions)) + "\n")
    assert load_corpus(path).recipes[0].directions == steps


def test_a_saved_page_reads_the_recipe_among_its_json_ld_blocks(tmp_path):
    page = ('<!doctype html><html><head><title>Pie</title>'
            '<script type="application/ld+json">{"@type": "Organization", "name": "Bakery"}</script>'
            '<script type="application/ld+json">'
            + json.dumps(schema_recipe(recipeInstructions="Mix.\nBake.")) +
            '</script><script>var x = "<not json-ld>";</script></head><body><p>Pie<br></body></html>')
    (tmp_path / "pie.html").write_text(page)
    corpus = load_corpus(tmp_path / "pie.html")
    assert corpus.recipes == [Recipe("Apple Pie", ("Mix.", "Bake."), ("2 cups flour", "6 apples"))]
    assert corpus.skip_reasons == {"not a schema.org Recipe": 1}


def test_a_markdown_recipe_and_an_index_page(tmp_path):
    (tmp_path / "lemon-bars.md").write_text(
        '---\ntitle: "Lemon Bars"\ntags: [dessert]\n---\n\nA bright bar.\n\n## Ingredients\n\n'
        "- 1 cup **flour**\n- For the filling:\n  - 2 lemons\n  * 1 cup sugar\n\n"
        "## Directions\n\n1. Heat the oven to 350°F.\n"
        "2. Press the [crust](/crust) into a pan\n   and bake 20 minutes.\n\n"
        "Cool before cutting.\n\n## Notes\n\nKeeps three days.\n")
    (tmp_path / "_index.md").write_text("# Recipes\n\n- [Lemon bars](lemon-bars.md)\n")
    corpus = load_corpus(tmp_path)
    assert corpus.recipes == [Recipe(
        title="Lemon Bars", ingredients=("1 cup flour", "For the filling:", "2 lemons", "1 cup sugar"),
        directions=("Heat the oven to 350°F.", "Press the crust into a pan and bake 20 minutes.",
                    "Cool before cutting."))]
    assert corpus.skip_reasons == {"Markdown files without a Directions section": 1}


def paprika(path: Path, recipes=RECIPES[:3]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for i, r in enumerate(recipes):
            record = {"name": r["title"], "ingredients": "\n".join(r["ingredients"]),
                      "directions": "\n".join(r["directions"]), "photo_data": None, "uid": str(i)}
            archive.writestr(f"{r['title']}.paprikarecipe", gzip.compress(json.dumps(record).encode()))
    return path


def test_app_exports_paprika_mealie_and_tandoor(tmp_path):
    assert load_corpus(paprika(tmp_path / "box.paprikarecipes")).recipes == sorted(
        (as_recipe(r) for r in RECIPES[:3]), key=lambda r: r.title)  # members in name order
    with zipfile.ZipFile(tmp_path / "mealie.zip", "w") as archive:
        archive.writestr("recipes/pancakes/pancakes.json", json.dumps({
            "name": "Pancakes", "recipeIngredient": [{"quantity": 1, "display": "1 cup flour"}, {"note": "1 egg"}],
            "recipeInstructions": [{"title": "", "text": "Whisk."}, {"text": "Fry."}]}))
        archive.writestr("recipes/pancakes/images/original.webp", b"\x00\x01")
    assert load_corpus(tmp_path / "mealie.zip").recipes == [Recipe("Pancakes", ("Whisk.", "Fry."),
                                                                   ("1 cup flour", "1 egg"))]
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("recipe.json", json.dumps({"name": "Onion Soup", "steps": [
            {"instruction": "Slice the onions.", "ingredients": [
                {"food": {"name": "onions"}, "unit": {"name": "g"}, "amount": "500.000", "note": ""}]},
            {"instruction": "Simmer 1 hour.", "ingredients": []}]}))
    with zipfile.ZipFile(tmp_path / "tandoor.zip", "w") as archive:
        archive.writestr("1.zip", inner.getvalue())
    assert load_corpus(tmp_path / "tandoor.zip").recipes == [
        Recipe("Onion Soup", ("Slice the onions.", "Simmer 1 hour."), ("500 g onions",))]


def test_a_folder_mixing_formats_reads_in_sorted_order_and_skips_what_it_cannot_read(tmp_path):
    folder = tmp_path / "exports"
    (folder / "b").mkdir(parents=True)
    recipenlg(folder / "b" / "nlg.csv", RECIPES[:4])
    paprika(folder / "a.paprikarecipes", RECIPES[4:6])
    (folder / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECIPES[6:]))
    (folder / "d.json").write_text("{broken")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8")
    (folder / ".git").mkdir()
    (folder / ".git" / "x.json").write_text(json.dumps(RECIPES))
    corpus = load_corpus(folder)
    assert [r.title for r in corpus.recipes] == sorted(r["title"] for r in RECIPES[4:6]) + [
        r["title"] for r in RECIPES[:4]] + [r["title"] for r in RECIPES[6:]]
    assert corpus.skip_reasons == {"files not read (invalid JSON)": 1}
    source = resolve(folder)
    assert source.ignored == 1 and len(source.files) == 4
    digest = source.digest()
    (folder / "c.jsonl").write_text((folder / "c.jsonl").read_text() + json.dumps(RECIPES[0]) + "\n")
    assert resolve(folder).digest() != digest, "the fingerprint covers every file"
    globbed = load_corpus(str(folder / "**" / "*.csv"))
    assert [r.title for r in globbed.recipes] == [r["title"] for r in RECIPES[:4]]


def test_json_lines_of_schema_recipes(tmp_path):
    path = tmp_path / "recipes.ndjson"
    path.write_text(json.dumps(schema_recipe(recipeInstructions=["Mix."])) + "\n"
                    + json.dumps({"@type": "Person", "name": "x"}) + "\n")
    corpus = load_corpus(path)
    assert len(corpus.recipes) == 1 and corpus.skip_reasons == {"not a schema.org Recipe": 1}


def zip_bomb(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("recipes.json", b" " * size)
    return path


BAD = {
    "one column": ("x.csv", lambda p: p.write_text("title:ingredients:directions\nSoup:carrot:Boil.\n"),
                   r"x.csv: no title or directions column among 'title:ingredients:directions'; the header is one "
                   r"column split by comma: is the delimiter one of , tab ; \|\?; name it in data.fields"),
    "missing column": ("x.csv", lambda p: p.write_text("title,notes\nSoup,good\n"),
                       r"x.csv: no directions column among 'title', 'notes'; name it in data.fields "
                       r"\(e.g. --set data.fields.directions=COLUMN\)"),
    "list that does not parse": (
        "x.csv", lambda p: p.write_text('title,directions\nSoup,ok\nStew,"[\'Brown the beef, \'Simmer\']"\n'),
        r"x.csv: line 3, column 'directions': a list that does not parse"),
    "binary": ("x.csv", lambda p: p.write_bytes(bytes(range(256)) * 8), r"x.csv: not UTF-8 text \(line 2, byte 117\)"),
    "latin-1": ("x.csv", lambda p: p.write_bytes("title,directions\nCrème brûlée,Bake.\n".encode("latin-1")),
                r"x.csv: not UTF-8 text \(line 2, byte 2\); if it is in another encoding, set data.encoding"),
    "truncated zip": ("x.paprikarecipes", lambda p: p.write_bytes(paprika(p).read_bytes()[:200]),
                      r"x.paprikarecipes: not a whole zip file"),
    "zip bomb": ("x.zip", lambda p: zip_bomb(p, 3 << 20), r"x.zip: expands past 1,048,576 bytes at recipes.json; "
                                                          r"a zip bomb, or not a recipe export"),
    "broken JSON-LD": ("x.html", lambda p: p.write_text('<script type="application/ld+json">{"@type": "Recipe",'
                                                        '</script>'),
                       r"x.html: no usable recipe \(2 records skipped: 1 JSON-LD blocks that are not JSON, "
                       r"1 pages without a schema.org Recipe\)"),
    "a folder with nothing usable": ("x", lambda p: (p.mkdir(), (p / "a.txt").write_text("only a title\n")),
                                     r"x: no usable recipe \(1 records skipped: 1 without directions\)"),
    "a pattern matching nothing": ("*.csv", lambda p: None, r"\*.csv: pattern holds no corpus file"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, capsys, case):
    monkeypatch.setattr(archives, "MAX_EXPANDED", 1 << 20)
    name, write, message = BAD[case]
    monkeypatch.chdir(tmp_path)
    write(tmp_path / name)
    (tmp_path / "out.jsonl").write_text("an older file\n")
    before = sorted(os.listdir(tmp_path))
    assert run_command(["data", name, "--to", "out.jsonl"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert pytest.importorskip("re").search(message, err), err
    assert sorted(os.listdir(tmp_path)) == before and (tmp_path / "out.jsonl").read_text() == "an older file\n"


def test_a_latin_1_csv_reads_with_data_encoding(tmp_path, capsys):
    path = tmp_path / "old.csv"
    path.write_bytes("title,directions\nCrème brûlée,Bake.\n".encode("latin-1"))
    assert run_command(["data", str(path), "--set", "data.encoding=latin-1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == ["recipe for crème brûlée | bake . <end>"]
    assert run_command(["data", str(path), "--set", "data.encoding=rot13"]) == 2
    assert "data.encoding = 'rot13' must be a text encoding" in capsys.readouterr().err


def test_recipegen_data_reports_and_writes_json_lines_that_read_back_the_same(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    recipenlg(folder / "a.csv", RECIPES[:6])
    (folder / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECIPES[6:]) + '{"title": "no steps"}\n')
    assert run_command(["data", str(folder), "--json", "--to", str(tmp_path / "all.jsonl")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(f["format"], f["recipes"]) for f in report["files"]] == [("CSV", 6), ("JSON Lines", 4)]
    assert report["recipes"] == 10 and report["skip_reasons"] == {"without directions": 1}
    assert report["fields"] == {"title": ["title"], "ingredients": ["ingredients"], "directions": ["directions"]}
    assert report["examples"][0] == "recipe for buttered toast | toast the bread until golden . spread with butter " \
                                    "and serve warm . <end>"
    assert report["words"] == sum(len(" ".join([r["title"], *r["ingredients"], *r["directions"]]).split())
                                  for r in RECIPES)
    assert load_corpus(tmp_path / "all.jsonl").recipes == load_corpus(folder).recipes
    assert run_command(["data", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "recipes: 10 read; 1 skipped: 1 without directions" in text and "a.csv" in text


def test_data_to_refuses_to_write_into_the_corpus(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    recipenlg(folder / "a.csv")
    assert run_command(["data", str(folder), "--to", str(folder / "all.jsonl")]) == 2
    assert "--to" in capsys.readouterr().err and sorted(os.listdir(folder)) == ["a.csv"]


def test_train_refuses_a_run_directory_inside_its_corpus_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    recipenlg(tmp_path / "a.csv")
    assert run_command(["train", "--data", "."]) == 2
    assert "the default --out runs/ lies inside the corpus ." in capsys.readouterr().err
    assert run_command(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert f"--out {tmp_path / 'run'}: lies inside the corpus" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["a.csv"]
