"""An interpolated Kneser-Ney trigram: the classical baseline a neural model has to beat.

A recurrent model that cannot beat it has learned little beyond local word statistics. It is
trained on the same token ids as the neural model (same vocabulary, same training recipes) and
scored on the same targets: every token of a held-out recipe after its first.

Highest order uses raw counts, lower orders continuation counts (how many distinct words
precede), each discounted by ``discount`` and interpolated with the order below; the unigram
level is interpolated with a uniform distribution so no word has zero probability.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from recipegen.score import Score

START = -1  # context padding before a recipe's first token; never a target


class KneserNeyTrigram:
    def __init__(self, sequences: Iterable[Sequence[int]], vocab_size: int, discount: float = 0.75):
        if not 0 < discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {discount!r}")
        self.discount = discount
        self.vocab_size = vocab_size  # possible targets (padding excluded)
        self.trigrams: Counter[tuple[int, int, int]] = Counter()
        for ids in sequences:
            padded = [START, START, *map(int, ids)]
            self.trigrams.update(zip(padded, padded[1:], padded[2:]))

        self.context_total: Counter[tuple[int, int]] = Counter()  # c(u v .)
        self.context_types: Counter[tuple[int, int]] = Counter()  # N1+(u v .)
        self.bigram_continuations: Counter[tuple[int, int]] = Counter()  # N1+(. v w)
        for (u, v, w), count in self.trigrams.items():
            self.context_total[u, v] += count
            self.context_types[u, v] += 1
            self.bigram_continuations[v, w] += 1
        self.middle_total: Counter[int] = Counter()  # N1+(. v .)
        self.middle_types: Counter[int] = Counter()  # N1+(v .) among continuations
        self.unigram_continuations: Counter[int] = Counter()  # N1+(. w)
        for (v, w), count in self.bigram_continuations.items():
            self.middle_total[v] += count
            self.middle_types[v] += 1
            self.unigram_continuations[w] += 1
        self.unigram_total = sum(self.unigram_continuations.values())

    def probability(self, u: int, v: int, w: int) -> float:
        d = self.discount
        p = self._unigram(w)
        middle = self.middle_total.get(v, 0)
        if middle:
            p = (max(self.bigram_continuations.get((v, w), 0) - d, 0) + d * self.middle_types[v] * p) / middle
        context = self.context_total.get((u, v), 0)
        if context:
            p = (max(self.trigrams.get((u, v, w), 0) - d, 0) + d * self.context_types[u, v] * p) / context
        return p

    def _unigram(self, w: int) -> float:
        d = self.discount
        seen = len(self.unigram_continuations)
        return (max(self.unigram_continuations.get(w, 0) - d, 0) + d * seen / self.vocab_size) / self.unigram_total

    def score(self, sequences: Iterable[Sequence[int]]) -> Score:
        """Negative log-likelihood of every token after each sequence's first (``correct`` is not computed)."""
        total, tokens = 0.0, 0
        for ids in sequences:
            padded = [START, *map(int, ids)]
            for u, v, w in zip(padded, padded[1:], padded[2:]):
                total -= math.log(self.probability(u, v, w))
                tokens += 1
        return Score(total_loss=total, tokens=tokens, correct=0)
