from pathlib import Path

import pytest

from recipegen.config import Config, dumps, load_config, parse_override
from recipegen.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_default_toml_matches_the_built_in_defaults():
    assert load_config(CONFIGS / "default.toml") == Config()


def test_book_toml_keeps_the_books_values():
    config = load_config(CONFIGS / "book.toml")
    assert (config.data.vocab_size, config.data.sequence_length, config.model.embedding_dim, config.model.units) == (
        10_000, 200, 100, 128)
    assert (config.model.cell, config.model.layers, config.train.batch_size, config.train.epochs) == ("lstm", 1, 32, 25)
    assert (config.data.pipeline, config.model.dropout, config.train.learning_rate) == ("pad", 0.0, 0.001)
    assert config.data.validation_fraction == 0.2 and config.sample.temperatures == (1.0,)
    assert ((config.data.template, config.data.tokens, config.sample.count, config.sample.max_tokens)
            == ("book", "word", 1, 100))
    assert config.train.tensorboard, "the book's notebook logs to TensorBoard"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    load_config(path)


def test_overrides_apply_by_dotted_key():
    config = load_config(None, {"model.cell": "gru", "model.units": 64, "seed": 7, "sample.temperatures": [0, 1]})
    assert (config.model.cell, config.model.units, config.seed) == ("gru", 64, 7)
    assert config.sample.temperatures == (0.0, 1.0)


def test_override_values_parse_as_toml_or_bare_words():
    assert parse_override("model.units=64") == ("model.units", 64)
    assert parse_override("model.cell=gru") == ("model.cell", "gru")
    assert parse_override("sample.temperatures=[0.5, 1]") == ("sample.temperatures", [0.5, 1])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("model.units")


def test_resolved_config_round_trips_through_toml(tmp_path):
    config = load_config(None, {"model.layers": 2, "train.learning_rate": 0.003})
    path = tmp_path / "config.toml"
    path.write_text(dumps(config))
    assert load_config(path) == config


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model.colour": "red"}, "unknown key model.colour"),
        ({"optimizer.name": "sgd"}, "unknown key optimizer"),
        ({"model.units": "many"}, "model.units must be an integer, got 'many'"),
        ({"model.units": 1.5}, "model.units must be an integer"),
        ({"model.dropout": True}, "model.dropout must be a number"),
        ({"model.units": 0}, "model.units = 0 must be at least 1"),
        ({"model.dropout": -0.1}, "model.dropout = -0.1 must be in"),
        ({"model.cell": "transformer"}, "model.cell = 'transformer' must be one of lstm, gru"),
        ({"data.vocab_size": 3}, "data.vocab_size = 3 must be at least 4"),
        ({"data.validation_fraction": 1.0}, "data.validation_fraction = 1.0 must be between 0 and 1"),
        ({"data.validation_fraction": 0}, "data.validation_fraction = 0.0 must be between 0 and 1"),
        ({"sample.temperatures": [-1]}, "sample.temperatures"),
        ({"data.template": "poem"}, "data.template = 'poem' must be one of book, full, plain"),
        ({"data.tokens": "byte"}, "data.tokens = 'byte' must be one of word, char"),
        ({"data.template": "full", "data.vocab_size": 7}, "data.vocab_size = 7 must be at least 8"),
        ({"sample.count": 0}, "sample.count = 0 must be at least 1"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_config(None, overrides)


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nunits = 3")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("[model]\nunit = 3\n")
    with pytest.raises(ConfigError, match="typo.toml: unknown key model.unit"):
        load_config(typo)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().seed = 1  # type: ignore[misc]


def test_errors_say_whether_the_file_or_an_override_is_wrong(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[model]\nunits = 16\n")
    with pytest.raises(ConfigError, match=r"^override: unknown key model\.colour"):
        load_config(path, {"model.colour": "red"})
    with pytest.raises(ConfigError, match=r"^override: model\.units = 0 must be at least 1"):
        load_config(path, {"model.units": 0})
    path.write_text("[model]\nunits = 0\n")
    with pytest.raises(ConfigError, match=r"mine\.toml: model\.units = 0 must be at least 1"):
        load_config(path, {"model.layers": 2})
