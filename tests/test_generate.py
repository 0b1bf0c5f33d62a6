import numpy as np
import pytest

from recipegen.config import ModelConfig
from recipegen.generation.generator import Generator
from recipegen.model import build_model
from recipegen.text import END_TOKEN

VOCABULARY = ["", "[UNK]", END_TOKEN, "recipe", "for", "cake", "|", "mix", "bake", ".", "salt", "sugar"]
END_ID = VOCABULARY.index(END_TOKEN)


def model_for(cell="lstm", layers=1, seed=0, tie_embeddings=True):
    import keras

    keras.utils.set_random_seed(seed)
    config = ModelConfig(cell=cell, layers=layers, units=6, embedding_dim=4, tie_embeddings=tie_embeddings)
    return build_model(config, len(VOCABULARY))


@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("lstm", 3), ("gru", 1), ("gru", 2)])
def test_incremental_steps_match_the_full_sequence_model(cell, layers):
    """The decoder's carried state gives the same next-token logits as running the whole prefix."""
    import tensorflow as tf

    model = model_for(cell, layers)
    generator = Generator(model, VOCABULARY)
    prefix = np.array([[3, 4, 5, 6, 7, 10, 9, 8]], dtype=np.int32)
    full = model(prefix).numpy()[0]  # (time, vocab)
    states = generator.decoder.initial_states(tf.constant(1))
    for t in range(prefix.shape[1]):
        logits, states = generator.decoder.step(tf.constant(prefix[:, t]), states)
        np.testing.assert_allclose(logits.numpy()[0], full[t], atol=1e-5)


def test_same_seed_same_recipes():
    generator = Generator(model_for(), VOCABULARY)
    a = generator.generate("recipe for", n=3, max_tokens=20, seed=11)
    b = generator.generate("recipe for", n=3, max_tokens=20, seed=11)
    assert [s.text for s in a.samples] == [s.text for s in b.samples]
    assert a.seed == 11


def test_batch_rows_stop_at_their_own_end_token_or_max_tokens():
    model = model_for(tie_embeddings=False)  # its own output layer, whose weights the test sets
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


@pytest.mark.parametrize("kwargs, setting", [({"n": 0}, "n"), ({"max_tokens": 0}, "max_tokens"),
                                             ({"temperature": -1}, "temperature"), ({"top_k": 0}, "top_k"),
                                             ({"top_p": 2.0}, "top_p")])
def test_bad_arguments_raise_before_decoding(kwargs, setting, monkeypatch):
    from recipegen.generation.settings import SettingError

    generator = Generator(model_for(), VOCABULARY)
    monkeypatch.setattr(generator, "_decoder", lambda *args: pytest.fail("the loop was traced or run"))
    with pytest.raises(SettingError) as refused:
        generator.generate("recipe for", **kwargs)
    assert refused.value.setting == setting


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
    texts = [Generator(model, VOCABULARY, jit_compile=jit).generate("recipe for", n=3, max_tokens=12,
                                                                    temperature=0).samples
             for jit in (False, True)]
    assert [s.tokens for s in texts[0]] == [s.tokens for s in texts[1]]


# --- everything off is the plain sampler; requests; best of K ----------------------------------------

def test_with_everything_off_the_decoder_samples_exactly_as_a_plain_loop_does():
    """The reference: feed the prompt, then step and sample, one Python call per token."""
    import tensorflow as tf

    from recipegen.generation.samplers import sample_next

    model = model_for("lstm", 2)
    generator = Generator(model, VOCABULARY, template="book", foods={"cake", "salt", "sugar"})
    prompt = ["recipe", "for", "cake"]
    for temperature, seed in [(1.0, 3), (0.7, 11), (0.0, 0)]:
        states = generator.decoder.initial_states(tf.constant(2))
        for token in prompt[:-1]:
            _, states = generator.decoder.step(tf.fill([2], VOCABULARY.index(token)), states)
        token, expected, finished = tf.fill([2], VOCABULARY.index(prompt[-1])), [[], []], [False, False]
        for i in range(12):
            logits, states = generator.decoder.step(token, states)
            token = sample_next(logits + generator.decoder.banned, tf.constant([seed, i], tf.int64), temperature)
            for row in range(2):
                if not finished[row]:
                    finished[row] = int(token[row]) == END_ID
                    if not finished[row]:
                        expected[row].append(VOCABULARY[int(token[row])])
        generation = generator.generate(" ".join(prompt), n=2, max_tokens=12, seed=seed, temperature=temperature,
                                        no_repeat_ngram=0, repetition_penalty=0.0, ingredient_bias=0.0,
                                        unlisted_penalty=0.0, best_of=1)
        assert [s.tokens for s in generation.samples] == expected


FULL = ["", "[UNK]", END_TOKEN, "<ingredients>", "<item>", "<directions>", "<step>", "recipe", "for", "lemon", "rice",
        "2", "eggs", "salt", "cook", "the", ".", ","]


def full_generator(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(ModelConfig(units=6, embedding_dim=4), len(FULL))
    return Generator(model, FULL, template="full", foods={"lemon", "rice", "egg", "salt"})


def test_a_given_list_is_written_as_given_after_the_title_the_model_writes():
    from recipegen.generation.samples import Request

    # Steering on: markers are then never written out of place, so the parse is the list alone.
    generation = full_generator().generate(n=3, max_tokens=40, seed=4, temperature=1.0, ingredient_bias=1.0,
                                           requests=[Request(ingredients=("2 eggs", "1 cup rice, rinsed"))])
    assert generation.unknown_words == ["1", "cup", "rinsed"]
    for sample in generation.samples:
        assert sample.parsed.ingredients == ["2 eggs", "1 cup rice, rinsed"], "as given, even unknown words"
        title_end = sample.tokens.index("<ingredients>")
        assert sorted(sample.given) == list(range(title_end, title_end + 10)), "the list right after the title"
        assert sample.written == [t for i, t in enumerate(sample.tokens) if not title_end <= i < title_end + 10]


def test_a_given_title_comes_first_and_each_request_gets_its_own_rows():
    from recipegen.generation.samples import Request

    requests = [Request(title="Lemon rice", ingredients=("rice", "1 lemon")),
                Request(title="Eggs", ingredients=("2 eggs",))]
    generation = full_generator().generate(n=2, max_tokens=30, seed=1, requests=requests, unlisted_penalty=1.0)
    assert [s.request for s in generation.samples] == [requests[0]] * 2 + [requests[1]] * 2
    assert all(s.tokens[:8] == ["lemon", "rice", "<ingredients>", "rice", "<item>", "1", "lemon", "<directions>"]
               and s.given == frozenset(range(8)) and s.parsed.title == "Lemon rice"
               and s.parsed.ingredients == ["Rice", "1 lemon"] for s in generation.samples[:2])
    assert all(s.parsed.title == "Eggs" and s.parsed.ingredients == ["2 eggs"] for s in generation.samples[2:])


@pytest.mark.parametrize("settings_as_inputs", [False, True], ids=["traced per setting", "settings as inputs"])
def test_asks_decoded_in_one_batch_write_what_each_writes_alone(settings_as_inputs):
    """A server's batch mixes callers: a title, a list alone (the model writes the title first),
    a plain recipe; each row's own temperature, length and seed. Sharing a batch changes nothing."""
    from recipegen.generation.samples import Ask, Request
    from recipegen.generation.settings import Decoding

    generator = full_generator()
    generator.settings_as_inputs = settings_as_inputs
    decoding = Decoding(ingredient_bias=2.0, unlisted_penalty=1.0, no_repeat_ngram=2)
    asks = [Ask(Request(title="Lemon rice"), 2, 7, 0.8, 20),
            Ask(Request(ingredients=("2 eggs", "salt")), 1, 3, 0.0, 25),
            Ask(None, 3, 9, 1.3, 12),
            Ask(Request(title="Eggs", ingredients=("2 eggs",)), 1, 7, 1.0, 30)]
    together = generator.generate_many("recipe for", asks, decoding)
    for ask, generation in zip(asks, together):
        alone = generator.generate_many("recipe for", [ask], decoding)[0]
        assert [s.tokens for s in generation.samples] == [s.tokens for s in alone.samples]
        assert generation.seed == ask.seed and generation.decoding.temperature == ask.temperature
        for sample in generation.samples:
            assert len(sample.written) <= ask.max_tokens and "" not in sample.tokens  # a short row stops at its end
    assert together[0].samples[0].tokens != together[0].samples[1].tokens  # each row its own stream
    assert together[1].samples[0].parsed.ingredients == ["2 eggs", "Salt"]


@pytest.mark.parametrize("template, request_, message", [
    ("book", dict(ingredients=("2 eggs",)), "needs a run trained with the full template"),
    ("plain", dict(title="Toast"), "a title needs a run whose template has one"),
    ("full", dict(), "a request gives a title, ingredients or both"),
])
def test_requests_a_run_cannot_write_are_refused(template, request_, message):
    from recipegen.generation.samples import Request

    generator = Generator(model_for(), VOCABULARY, template=template)
    with pytest.raises(ValueError, match=message):
        generator.generate(requests=[Request(**request_)])


@pytest.mark.parametrize("setting, value", [("no_repeat_ngram", 1), ("repetition_penalty", -1.0),
                                            ("ingredient_bias", float("inf")), ("unlisted_penalty", float("nan")),
                                            ("best_of", 0), ("temperature", -2.0)])
def test_decoding_settings_are_checked_once_and_named(setting, value):
    from recipegen.generation.settings import Decoding, SettingError

    with pytest.raises(SettingError, match=setting) as raised:
        Decoding(**{setting: value})
    assert raised.value.setting == setting


def test_best_of_keeps_the_candidate_that_ended_is_well_formed_uses_its_foods_then_is_likeliest():
    from recipegen.generation.samples import Sample
    from recipegen.templates import ParsedRecipe

    generator = full_generator()
    listed = dict(title="Rice", ingredients=["1 cup rice", "salt"])
    uses_both = Sample("", [], True, parsed=ParsedRecipe(**listed, directions=["Cook the rice with salt."]))
    uses_one = Sample("", [], True, parsed=ParsedRecipe(**listed, directions=["Cook the rice."]))
    cut_short = Sample("", [], False, parsed=ParsedRecipe(**listed, directions=["Cook the rice with salt."]))
    likelihood = np.array([-3.0, -1.0, -0.5])
    assert generator._best([uses_both, uses_one, cut_short], likelihood) is uses_both
    assert generator._best([uses_one, uses_one], np.array([-2.0, -1.0])) is uses_one
    generation = generator.generate(n=2, max_tokens=20, seed=0, best_of=3)
    assert len(generation.samples) == 2 and generation.decoding.best_of == 3


def test_a_title_temperature_varies_the_dish_and_leaves_greedy_alone():
    """Near-greedy recipes are all one dish; titles drawn hotter differ. Greedy stays greedy."""
    model = model_for(seed=4, tie_embeddings=False)
    kernel, bias = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([kernel * 100, bias])  # a confident model: no near ties
    generator = Generator(model, VOCABULARY, template="book")
    cold = generator.generate("recipe for", n=16, max_tokens=12, seed=2, temperature=1e-4)
    assert len({s.text for s in cold.samples}) == 1
    varied = generator.generate("recipe for", n=16, max_tokens=12, seed=2, temperature=1e-4, title_temperature=1e4)
    titles = {s.parsed.title for s in varied.samples}
    assert len(titles) > 1
    greedy = generator.generate("recipe for", n=2, max_tokens=12, temperature=0.0)
    assert greedy.samples == generator.generate("recipe for", n=2, max_tokens=12, temperature=0.0,
                                                title_temperature=50.0).samples
