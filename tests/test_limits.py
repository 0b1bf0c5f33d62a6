"""Settings are checked in the types the loop uses (float32, int32), wherever they come from, and
every token a batch holds counts in its limits: a value the checks pass never crashes the graph."""

import math

import numpy as np
import pytest

from recipegen.generation.settings import BY_NAME, FLOAT32_TINY, Decoding, SettingError

BEYOND_32_BITS = [("temperature", 1e39), ("temperature", 1e-40), ("top_p", 1e-40), ("ingredient_bias", 1e39),
                  ("repetition_penalty", 1e308), ("no_repeat_ngram", 1_000_000_000), ("top_k", 2**31),
                  ("title_temperature", 1e-45), ("min_p", 1e-39)]


@pytest.mark.parametrize("name, value", BEYOND_32_BITS)
def test_a_value_beyond_its_32_bit_type_is_a_setting_error(name, value):
    with pytest.raises(SettingError) as refused:
        Decoding(**{name: value})
    assert refused.value.setting == name and repr(value) in str(refused.value)


@pytest.mark.parametrize("name, value", [(name, value) for name, value in BEYOND_32_BITS
                                         if name not in ("top_k", "top_p")])  # not config keys
def test_the_same_value_in_a_config_is_refused_before_training(name, value):
    from recipegen.config import load_config
    from recipegen.errors import ConfigError

    key, value = ("sample.temperatures", [value]) if name == "temperature" else (f"sample.{name}", value)
    with pytest.raises(ConfigError, match=f"{key} = "):
        load_config(None, {key: value})


@pytest.mark.parametrize("name", ["temperature", "title_temperature", "ingredient_bias", "repetition_penalty"])
def test_the_exported_models_check_refuses_what_float32_makes_infinite(name):
    """An export's inputs are float32 already: 1e39 arrives as inf. (A denormal such as 1e-40
    arrives as a number TensorFlow's CPU kernels read as 0, and acts as 0: greedy, or off.)"""
    import tensorflow as tf

    spec = BY_NAME[name]
    assert not bool(spec.accepts(tf.constant(1e39, tf.float32)))
    assert bool(spec.accepts(tf.constant(0.5, tf.float32)))


def test_the_smallest_temperature_samples_the_likeliest_token_not_nan():
    import tensorflow as tf

    from recipegen.generation.samplers import sample_next, sampled_logits

    logits = tf.constant([[2.0, 7.5, -1.0, float("-inf")], [30.0, 29.0, 0.0, 1.0]])
    scaled = sampled_logits(logits, FLOAT32_TINY).numpy()
    assert not np.isnan(scaled).any() and (scaled.max(axis=-1) == 0).all()
    for step in range(5):
        drawn = sample_next(logits, tf.constant([1, step], tf.int64), FLOAT32_TINY).numpy()
        assert drawn.tolist() == [1, 0]


def test_every_token_of_a_row_counts_and_the_setting_that_made_it_too_long_is_named():
    from recipegen.generation.generator import Generator
    from recipegen.generation.settings import MAX_BATCH_TOKENS, MAX_TOKENS

    with pytest.raises(SettingError) as refused:
        Generator._check_size(rows=1, prompt=2, given=MAX_TOKENS, max_tokens=10, n=1, best_of=1)
    assert refused.value.setting == "ingredients"
    with pytest.raises(SettingError) as refused:  # the given tokens make the batch too large
        Generator._check_size(rows=10**4, prompt=2, given=MAX_TOKENS // 2, max_tokens=10, n=10**4, best_of=1)
    assert 10**4 * (MAX_TOKENS // 2) > MAX_BATCH_TOKENS > 10**4 * (2 + 10), "the given tokens alone make it too large"
    assert refused.value.setting == "n"
    with pytest.raises(SettingError) as refused:
        Generator._check_size(rows=10**8, prompt=2, given=0, max_tokens=5, n=1, best_of=10**8)
    assert refused.value.setting == "best_of"
    Generator._check_size(rows=1, prompt=2, given=MAX_TOKENS - 2, max_tokens=MAX_TOKENS, n=1, best_of=1)


@pytest.mark.parametrize("args, option", [
    (["--temperature", "1e39"], "--temperature"),
    (["--temperature", "1e-40"], "--temperature"),
    (["--top-p", "1e-40"], "--top-p"),
    (["--ingredient-bias", "1e39"], "--ingredient-bias"),
    (["--repetition-penalty", "1e308"], "--repetition-penalty"),
    (["--no-repeat-ngram", "1000000000"], "--no-repeat-ngram"),
    (["--best-of", "100000000", "--max-tokens", "5"], "--best-of"),
])
def test_the_command_line_refuses_them_in_one_line_naming_the_option(tiny_run, capsys, args, option):
    from recipegen.cli import run_command

    assert run_command(["generate", "--model", str(tiny_run), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: Invalid value for {option}:") and len(err.strip().splitlines()) == 1, err


def test_unlisted_penalty_may_still_be_infinite():
    assert Decoding(unlisted_penalty=math.inf).unlisted_penalty == math.inf
