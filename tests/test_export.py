"""The exported SavedModel: loadable by plain TensorFlow, and writing what ``Generator`` writes."""

import json
import os
import re
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from recipegen import export
from recipegen.cli import cli
from recipegen.errors import ExportError
from recipegen.generation.generator import Generator
from recipegen.generation.settings import configured_decoding
from recipegen.run import load_run
from recipegen.text import CHARS, MARKERS, WORDS, tokenize

from conftest import RECIPES, TINY_OVERRIDES

# Run in a fresh interpreter that imports TensorFlow only: the export must need nothing else.
PLAIN_TENSORFLOW = """
import json, sys
import tensorflow as tf

generator = tf.saved_model.load(sys.argv[1])
prompt = sys.argv[2]
steering = json.loads(sys.argv[3])  # the run's own defaults, which a serving call must spell out

def as_json(out):
    return {"text": out["text"].numpy().decode(), "tokens": [t.decode() for t in out["tokens"].numpy()],
            "ended": bool(out["ended"]), "seed": int(out["seed"])}

serve = generator.signatures["serving_default"]
result = {
    "greedy": as_json(generator.generate(prompt=prompt, max_tokens=12, temperature=0.0)),
    "seeded": [as_json(generator.generate(prompt=prompt, max_tokens=12, temperature=1.0, seed=7)) for _ in range(2)],
    "serving": as_json(serve(prompt=tf.constant(prompt), max_tokens=tf.constant(12), temperature=tf.constant(0.0),
                             top_k=tf.constant(0), top_p=tf.constant(1.0), seed=tf.constant(0, tf.int64),
                             no_repeat_ngram=tf.constant(steering["no_repeat_ngram"]),
                             repetition_penalty=tf.constant(steering["repetition_penalty"]),
                             ingredient_bias=tf.constant(steering["ingredient_bias"]),
                             unlisted_penalty=tf.constant(steering["unlisted_penalty"]),
                             min_p=tf.constant(float(steering["min_p"] or 0.0)),
                             title_temperature=tf.constant(steering["title_temperature"]))),
}
assert "recipegen" not in sys.modules, "loading the export imported recipegen"
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    return export.export_run(tiny_run, tmp_path_factory.mktemp("export") / "generator")


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported))


@pytest.fixture(scope="module")
def generator(tiny_run):
    return Generator.from_run(load_run(tiny_run))


@pytest.fixture(scope="module")
def decoding(tiny_run):
    """The run's own decoding settings: the export's defaults."""
    return configured_decoding(load_run(tiny_run).config.sample)


def call(loaded, prompt, **settings):
    out = loaded.generate(prompt=prompt, **settings)
    return {"text": out["text"].numpy().decode(), "tokens": [t.decode() for t in out["tokens"].numpy()],
            "ended": bool(out["ended"]), "seed": int(out["seed"]),
            "unknown_words": [t.decode() for t in out["unknown_words"].numpy()]}


@pytest.mark.slow  # starts a process of its own
def test_plain_tensorflow_loads_the_export_and_writes_what_the_generator_writes(exported, generator, decoding,
                                                                                tmp_path):
    prompt = "Recipe for LEMON toast |"
    steering = {key: getattr(decoding, key) for key in ("no_repeat_ngram", "repetition_penalty", "ingredient_bias",
                                                        "unlisted_penalty", "min_p", "title_temperature")}
    result = subprocess.run([sys.executable, "-c", PLAIN_TENSORFLOW, str(exported), prompt, json.dumps(steering)],
                            capture_output=True, text=True, cwd=tmp_path,
                            env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)

    greedy = generator.generate(prompt, max_tokens=12, temperature=0, decoding=decoding).samples[0]
    assert output["greedy"]["tokens"] == greedy.tokens and output["greedy"]["text"] == greedy.text
    assert output["greedy"]["text"].startswith("Recipe for lemon toast |")
    assert output["serving"] == output["greedy"] | {"seed": 0}

    first, second = output["seeded"]
    assert first == second and first["seed"] == 7, "the same seed writes the same recipe"
    seeded = generator.generate(prompt, max_tokens=12, temperature=1.0, seed=7, decoding=decoding).samples[0]
    assert first["tokens"] == seeded.tokens, "the exported sampler draws what the Generator draws"


def test_every_weight_is_stored_once(exported, tiny_run):
    stored = sum(int(np.prod(shape))
                 for name, shape in tf.train.list_variables(str(exported / "variables" / "variables"))
                 if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert stored == load_run(tiny_run).model.count_params()


@pytest.mark.parametrize("prompt", ["recipe for", "Recipe for zucchini toast, (warm) |", "",
                                    "recipe for toast <step> a"])
@pytest.mark.parametrize("settings", [
    dict(temperature=0.0), dict(temperature=0.8, top_k=5, top_p=0.9, seed=3),
    dict(temperature=1.0, seed=5, no_repeat_ngram=0, ingredient_bias=0.0, unlisted_penalty=0.0),
    dict(temperature=1.0, seed=5, no_repeat_ngram=2, ingredient_bias=3.0, unlisted_penalty=float("inf")),
    dict(temperature=0.0, repetition_penalty=0.7, no_repeat_ngram=0),
])
def test_export_matches_the_generator(loaded, generator, decoding, prompt, settings):
    generation = generator.generate(prompt, max_tokens=15, decoding=decoding, **settings)
    expected = generation.samples[0]
    got = call(loaded, prompt, max_tokens=15, **settings)
    assert got["tokens"] == expected.tokens
    assert got["text"] == expected.text
    assert got["ended"] == expected.ended
    assert got["unknown_words"] == generation.unknown_words


def test_defaults_use_the_runs_prompt_and_a_random_seed_that_is_reported(loaded, tiny_run):
    prompt = load_run(tiny_run).config.sample.prompt
    default = loaded.generate()
    text, seed = default["text"].numpy().decode(), int(default["seed"])
    assert text.lower().startswith(prompt) and seed >= 0
    assert call(loaded, prompt, seed=seed)["text"] == text, "the reported seed writes the recipe again"


@pytest.mark.parametrize("settings, message", [
    (dict(prompt="zucchini flambé"), "prompt has no word in the vocabulary of the model"),
    (dict(temperature=-1.0), "temperature must be a number >= 0"),
    (dict(top_p=0.0), "top_p must be in (0, 1]"),
    (dict(top_k=-1), "top_k must be an integer >= 1, or 0 (off)"),
    (dict(max_tokens=0), "max_tokens must be from 1 to 100000"),
    (dict(max_tokens=1_000_000_000), "max_tokens must be from 1 to 100000"),
    (dict(no_repeat_ngram=1), "no_repeat_ngram must be 0 (off) or an integer >= 2"),
    (dict(ingredient_bias=float("nan")), "ingredient_bias must be a number >= 0"),
    (dict(unlisted_penalty=-1.0), "unlisted_penalty must be a number >= 0"),
])
def test_bad_calls_fail_in_the_graph_naming_the_argument(loaded, settings, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
        loaded.generate(**{"prompt": "recipe for"} | settings)


# --- in-graph text: the same as text.py, NFKC aside -------------------------------------------------

prompt_text = st.lists(
    st.sampled_from(list("abcXYZ019 .,;:!?'-/|()%°\n\t\r") + ["é", "Ç", "ß", "—", "İ", "Σ", "\u00a0", "\x01", "\ue001"]
                    + list(MARKERS)),
    max_size=20,
).map("".join).filter(lambda text: unicodedata.normalize("NFKC", text) == text)


@settings(max_examples=150, deadline=None)
@given(prompt_text)
def test_prompts_are_read_as_tokenizer_prompt_tokens_reads_them(text):
    for tokenizer in (WORDS, CHARS):
        tokens = export.prompt_model_tokens(tf.constant(text), tokenizer.level).numpy()
        assert [tokenizer.name(t.decode()) for t in tokens] == tokenizer.prompt_tokens(text), tokenizer.level


def test_no_nfkc_in_the_graph():
    """The one documented difference: compatibility characters are not folded (Python reads "ﬁ" as "fi")."""
    assert tokenize("ﬁsh") == ["fish"]
    assert export.prompt_model_tokens(tf.constant("ﬁsh"), "word").numpy().tolist() == ["ﬁsh".encode()]


recipe_tokens = st.lists(
    st.sampled_from(tokenize("recipe for mom's all-purpose cake | add 1/2 cup sugar, salt; 1,000 g at 350°f (1.5 "
                             "hours)! [note] 10:30 100% $5 #1 { ok } ? - é") + ["<step>", "<item>"]),
    max_size=16,
)


@settings(max_examples=150, deadline=None)
@given(recipe_tokens)
def test_words_are_written_back_as_detokenize_writes_them(tokens):
    assert export.readable(tf.constant(tokens, tf.string), "word").numpy().decode() == WORDS.readable(tokens)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(list("ab .!?\n|>") + [m for m in MARKERS if m != "<end>"]), max_size=12))
def test_characters_are_written_back_as_the_char_tokenizer_writes_them(tokens):
    symbols = tf.constant([CHARS.symbol(t) if t in MARKERS else t for t in tokens], tf.string)
    assert export.readable(symbols, "char").numpy().decode() == CHARS.readable(tokens)


# --- a character-level run --------------------------------------------------------------------------

@pytest.mark.slow  # trains a character-level run of its own, then exports it
def test_character_level_run_exports_and_matches_the_generator(tmp_path):
    from recipegen.config import load_config
    from recipegen.train import train

    (tmp_path / "recipes.json").write_text(json.dumps(RECIPES))
    config = load_config(None, TINY_OVERRIDES | {"data.path": str(tmp_path / "recipes.json"), "data.tokens": "char",
                                                 "data.vocab_size": 60, "train.epochs": 1,
                                                 "sample.no_repeat_ngram": 12})
    run_dir = train(config, tmp_path / "run", verbose=False).run_dir
    run = load_run(run_dir)
    generator = Generator.from_run(run)
    loaded = tf.saved_model.load(str(export.export_run(run_dir, tmp_path / "exported")))
    for prompt in ["Recipe for toast ", "recipe for\n", ""]:
        expected = generator.generate(prompt, max_tokens=20, temperature=0, no_repeat_ngram=12).samples[0]
        got = call(loaded, prompt, max_tokens=20, temperature=0.0)
        assert got["tokens"] == expected.tokens and got["text"] == expected.text


# --- the command: atomic, never over something else ---------------------------------------------------

def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_export_command_refuses_an_existing_out_unless_overwrite(tiny_run, tmp_path):
    out = tmp_path / "generator"
    result = invoke("export", tiny_run, out)
    assert result.exit_code == 0, result.output
    assert (out / "saved_model.pb").is_file() and str(out) in result.output
    before = (out / "saved_model.pb").stat().st_mtime_ns

    refused = invoke("export", tiny_run, out)
    assert refused.exit_code == 2 and "already exists (use --overwrite" in refused.output
    assert len(refused.output.strip().splitlines()) == 1 and "Traceback" not in refused.output
    assert (out / "saved_model.pb").stat().st_mtime_ns == before

    replaced = invoke("export", tiny_run, out, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert (out / "saved_model.pb").stat().st_mtime_ns != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator"], "no temporary directory is left behind"


def test_export_command_errors_are_one_line_exit_2(tiny_run, tmp_path):
    missing = invoke("export", tmp_path / "nowhere", tmp_path / "out")
    assert missing.exit_code == 2 and "nowhere: no such run directory" in missing.output
    assert len(missing.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    refused = invoke("export", tiny_run, precious, "--overwrite")
    assert refused.exit_code == 2 and "is not a SavedModel directory" in refused.output
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_failed_export_leaves_the_old_one_whole(tiny_run, tmp_path, monkeypatch):
    import keras

    out = tmp_path / "generator"
    export.export_run(tiny_run, out)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def fail_halfway(self, path, **kwargs):
        os.makedirs(path)
        open(os.path.join(path, "saved_model.pb"), "w").close()
        raise OSError("disk full")

    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        export.export_run(tiny_run, out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator"]
    with pytest.raises(ExportError):
        export.export_run(tiny_run, out)


def test_what_appears_at_out_during_an_export_is_never_replaced(tiny_run, tmp_path, monkeypatch):
    """OUT is checked again, under a lock on its directory, just before the rename: a directory
    made there while the model was written stays as it is, and so would another export's."""
    from recipegen import export
    from recipegen.errors import ExportError

    out = tmp_path / "exported"
    build = export.build_archive

    def build_while_someone_writes_out(run):
        archive = build(run)
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        return archive

    monkeypatch.setattr(export, "build_archive", build_while_someone_writes_out)
    with pytest.raises(ExportError, match="already exists"):
        export.export_run(tiny_run, out)
    assert (out / "notes.txt").read_text() == "mine"
    assert [path.name for path in tmp_path.iterdir()] == ["exported"], "no temporary directory left"
