import numpy as np
import pytest

from recipegen.config import ModelConfig
from recipegen.generate import Generator
from recipegen.model import build_model
from recipegen.text import END_TOKEN

VOCABULARY = ["", "[UNK]", END_TOKEN, "recipe", "for", "cake", "|", "mix", "bake", ".", "salt", "sugar"]
END_ID = VOCABULARY.index(END_TOKEN)


def model_for(cell="lstm", layers=1, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    return build_model(ModelConfig(cell=cell, layers=layers, units=6, embedding_dim=4), len(VOCABULARY))


@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("lstm", 3), ("gru", 1), ("gru", 2)])
def test_incremental_steps_match_the_full_sequence_model(cell, layers):
    """The decoder's carried state gives the same next-token logits as running the whole prefix."""
    import tensorflow as tf

    model = model_for(cell, layers)
    generator = Generator(model, VOCABULARY)
    prefix = np.array([[3, 4, 5, 6, 7, 10, 9, 8]], dtype=np.int32)
    full = model(prefix).numpy()[0]  # (time, vocab)
    states = generator._initial_states(tf.constant(1))
    for t in range(prefix.shape[1]):
        logits, states = generator._step(tf.constant(prefix[:, t]), states)
        np.testing.assert_allclose(logits.numpy()[0], full[t], atol=1e-5)


def test_same_seed_same_recipes():
    generator = Generator(model_for(), VOCABULARY)
    a = generator.generate("recipe for", n=3, max_tokens=20, seed=11)
    b = generator.generate("recipe for", n=3, max_tokens=20, seed=11)
    assert [s.text for s in a.samples] == [s.text for s in b.samples]
    assert a.seed == 11


def test_batch_rows_stop_at_their_own_end_token_or_max_tokens():
    model = model_for()
    bias = np.zeros(len(VOCABULARY), dtype=np.float32)
    bias[END_ID] = 1.5  # end is likely but not certain, so rows end at different steps
    kernel, _ = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([kernel * 0, bias])
    generation = Generator(model, VOCABULARY).generate("recipe for", n=16, max_tokens=8, temperature=1.0, seed=3)
    lengths = {len(s.tokens) for s in generation.samples}
    assert len(lengths) > 1
    for sample in generation.samples:
        assert len(sample.tokens) <= 8
        assert END_TOKEN not in sample.tokens and "" not in sample.tokens and "[UNK]" not in sample.tokens
        assert sample.ended or len(sample.tokens) == 8


def test_greedy_is_deterministic_without_seed():
    generator = Generator(model_for(), VOCABULARY)
    texts = {generator.generate("recipe for", max_tokens=10, temperature=0).samples[0].text for _ in range(3)}
    assert len(texts) == 1


def test_prompt_is_standardized_and_unknown_words_reported():
    generator = Generator(model_for(), VOCABULARY)
    generation = generator.generate("Recipe FOR chocolate Cake |", max_tokens=3, seed=0)
    assert generation.prompt_tokens == ["recipe", "for", "chocolate", "cake", "|"]
    assert generation.unknown_words == ["chocolate"]
    assert generation.samples[0].text.startswith("Recipe for chocolate cake |")


def test_prompt_without_known_words_is_an_error():
    with pytest.raises(ValueError, match="no word in the model's vocabulary"):
        Generator(model_for(), VOCABULARY).generate("zucchini flambé")


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"max_tokens": 0}, {"temperature": -1}, {"top_k": 0}, {"top_p": 2.0}])
def test_bad_arguments_raise_before_decoding(kwargs):
    with pytest.raises(ValueError):
        Generator(model_for(), VOCABULARY).generate("recipe for", **kwargs)


def test_show_probs_lists_the_sampled_distribution():
    generator = Generator(model_for(), VOCABULARY)
    greedy = generator.generate("recipe for", max_tokens=6, temperature=0, seed=0, show_probs=3).samples[0]
    assert len(greedy.steps) == len(greedy.tokens) + greedy.ended
    for token, top in zip(greedy.tokens, greedy.steps):
        probabilities = [p for _, p in top]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6
        assert top[0][0] == token  # greedy picks the most likely word
    filtered = generator.generate("recipe for", max_tokens=6, temperature=1.5, top_k=2, seed=0, show_probs=3)
    for top in filtered.samples[0].steps:
        assert sum(p for _, p in top[:2]) == pytest.approx(1, abs=1e-5) and top[2][1] == 0


def test_show_probs_does_not_change_the_sample():
    generator = Generator(model_for(), VOCABULARY)
    plain = generator.generate("recipe for", n=4, max_tokens=10, seed=9)
    shown = generator.generate("recipe for", n=4, max_tokens=10, seed=9, show_probs=2)
    assert [s.text for s in plain.samples] == [s.text for s in shown.samples]


def test_xla_and_graph_decoders_agree_when_greedy():
    model = model_for("gru", 2)
    texts = [Generator(model, VOCABULARY, jit_compile=jit).generate("recipe for", n=3, max_tokens=12, temperature=0).samples
             for jit in (False, True)]
    assert [s.tokens for s in texts[0]] == [s.tokens for s in texts[1]]
