"""A model's score on real tokens: summed negative log-likelihood, tokens and hits, and what they make.

Sums, not means of batch means, so a padded batch counts exactly its real tokens. Pure Python:
the neural model's scorer (evaluate.py) and the Kneser-Ney baseline (ngram.py) both report one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Score:
    total_loss: float  # summed negative log-likelihood, in nats
    tokens: int  # real target tokens scored
    correct: int  # targets that were the model's most likely token

    @property
    def loss(self) -> float:
        return self.total_loss / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        if not self.tokens:
            return float("nan")
        return math.exp(self.loss) if self.loss < 709 else float("inf")  # exp overflows a float past ~709.78

    @property
    def accuracy(self) -> float:
        return self.correct / self.tokens if self.tokens else float("nan")

    def as_dict(self) -> dict[str, float | int]:
        return {"perplexity": self.perplexity, "loss": self.loss, "accuracy": self.accuracy, "tokens": self.tokens}
