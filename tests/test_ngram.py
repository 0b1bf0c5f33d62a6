import math

import pytest

from recipegen.ngram import START, KneserNeyTrigram

CORPUS = [[3, 4, 5, 6, 2], [3, 4, 7, 6, 2], [3, 8, 5, 6, 6, 2], [3, 4, 5, 9, 2]]
VOCAB = 12  # ids 1..11 are possible targets


@pytest.fixture(scope="module")
def model():
    return KneserNeyTrigram(CORPUS, vocab_size=VOCAB - 1)


@pytest.mark.parametrize("context", [(START, START), (START, 3), (3, 4), (4, 5), (10, 11), (5, 6)])
def test_probabilities_sum_to_one_in_every_context(model, context):
    assert sum(model.probability(*context, w) for w in range(1, VOCAB)) == pytest.approx(1.0, abs=1e-9)


def test_seen_continuations_beat_unseen_ones(model):
    assert model.probability(3, 4, 5) > model.probability(3, 4, 7) > model.probability(3, 4, 11) > 0


def test_score_counts_every_token_after_the_first(model):
    score = model.score([[3, 4, 5, 6, 2]])
    assert score.tokens == 4
    expected = -sum(math.log(model.probability(u, v, w))
                    for u, v, w in [(START, 3, 4), (3, 4, 5), (4, 5, 6), (5, 6, 2)])
    assert score.total_loss == pytest.approx(expected)
    assert model.score(CORPUS).perplexity < KneserNeyTrigram(CORPUS[:1], VOCAB - 1).score(CORPUS).perplexity
