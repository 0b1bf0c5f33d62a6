"""How a recipe is decoded, what it must hold and what comes out: plain data, without TensorFlow.

``Decoding`` gathers the sampler's settings (sampling.py) and the steering of guidance.py; every
setting is checked when one is built, and a bad one raises ``SettingError`` naming it, which the
CLI turns into a one-line error for the matching option. ``Request`` is a recipe's given title
and ingredient list (generate.py writes them into the sample). A ``Generation`` holds the
``Sample``s the decoder wrote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from recipegen.measures import SampleText
from recipegen.templates import ParsedRecipe
from recipegen.text import END_TOKEN

# The decoder holds every sample's whole history (n x (prompt + max_tokens) ids, and more when it
# steers), so the length limit needs a ceiling: a billion tokens asked for ends in a native
# allocation failure, not an error. Whole recipes are hundreds of words or a few thousand
# characters; this leaves room for any of them while a batch of 1,000 still fits in memory.
MAX_TOKENS = 100_000
# Seeds a user gives: training seeds NumPy, which takes 0 to 2**32 - 1; every command takes the same.
MAX_SEED = 2**32 - 1
MAX_BATCH_TOKENS = 100_000_000  # samples x their length in one batch: about 0.4 GB of ids per copy the loop keeps


class SettingError(ValueError):
    """A setting the generator cannot use; ``setting`` names it (the CLI maps it to its option):
    a decoding setting out of range, a prompt with no known word, a request the run cannot write."""

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Decoding:
    """How each next token is chosen: the sampler's settings and the steering of guidance.py.
    Checked once, here, whoever builds it."""

    temperature: float = 1.0  # divides the logits; 0 is greedy
    top_k: int | None = None  # sample among the k most likely tokens only
    top_p: float | None = None  # sample among the most likely tokens whose probability reaches p
    min_p: float | None = None  # sample among the tokens at least min_p times as likely as the likeliest
    # The title is drawn at this temperature where the recipe's is lower (not when greedy): a
    # careful recipe at 0.5, but not the same dish every time. 0 = the recipe's temperature.
    title_temperature: float = 0.0
    no_repeat_ngram: int = 0  # never repeat an n-gram of this many tokens within a section; 0 = off
    repetition_penalty: float = 0.0  # taken off a word's logit for each time the section has used it; 0 = off
    ingredient_bias: float = 0.0  # added to the logits of foods named but not yet used by the directions
    unlisted_penalty: float = 0.0  # taken off the logits of foods the list does not name (inf: never)
    best_of: int = 1  # candidates sampled per recipe; the one that holds together best is kept

    def __post_init__(self) -> None:
        check_sampling_args(self.temperature, self.top_k, self.top_p, self.min_p)
        if (not is_number(self.title_temperature) or not math.isfinite(self.title_temperature)
                or self.title_temperature < 0):
            raise SettingError("title_temperature", f"title_temperature must be a number >= 0 (0: the recipe's "
                                                    f"temperature), got {self.title_temperature!r}")
        if not is_integer(self.no_repeat_ngram) or self.no_repeat_ngram < 0 or self.no_repeat_ngram == 1:
            raise SettingError("no_repeat_ngram", f"no_repeat_ngram must be 0 (off) or an integer >= 2, "
                                                  f"got {self.no_repeat_ngram!r}")
        if (not is_number(self.repetition_penalty) or not math.isfinite(self.repetition_penalty)
                or self.repetition_penalty < 0):
            raise SettingError("repetition_penalty", f"repetition_penalty must be a number >= 0, "
                                                     f"got {self.repetition_penalty!r}")
        if not is_number(self.ingredient_bias) or not math.isfinite(self.ingredient_bias) or self.ingredient_bias < 0:
            raise SettingError("ingredient_bias", f"ingredient_bias must be a number >= 0, "
                                                  f"got {self.ingredient_bias!r}")
        if not is_number(self.unlisted_penalty) or math.isnan(self.unlisted_penalty) or self.unlisted_penalty < 0:
            raise SettingError("unlisted_penalty", f"unlisted_penalty must be a number >= 0 (inf: never), "
                                                   f"got {self.unlisted_penalty!r}")
        if not is_integer(self.best_of) or self.best_of < 1:
            raise SettingError("best_of", f"best_of must be an integer >= 1, got {self.best_of!r}")


def configured_decoding(sample: Any, **settings: Any) -> Decoding:
    """A run's decoding (its config's ``sample`` table), with the ``settings`` that are not None instead."""
    configured = dict(no_repeat_ngram=sample.no_repeat_ngram, repetition_penalty=sample.repetition_penalty,
                      ingredient_bias=sample.ingredient_bias, unlisted_penalty=sample.unlisted_penalty,
                      best_of=sample.best_of, title_temperature=sample.title_temperature,
                      min_p=sample.min_p or None)
    return Decoding(**configured | {key: value for key, value in settings.items() if value is not None})


@dataclass(frozen=True)
class Request:
    """What one recipe must hold, given rather than sampled: its title, its ingredient lines, or both."""

    title: str | None = None
    ingredients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sample:
    text: str  # the prompt and what followed, readable
    tokens: list[str]  # the tokens after the prompt, given ones included, without the end token
    ended: bool  # the model closed the recipe itself (else it hit max_tokens)
    # With show_probs=K: for each token after the prompt (the end token included), the K most
    # likely next tokens and their probabilities under the distribution that was sampled.
    steps: list[list[tuple[str, float]]] | None = None
    parsed: ParsedRecipe | None = None  # title, ingredients, steps, when the run's template has sections
    given: frozenset[int] = frozenset()  # positions in ``tokens`` that a Request gave
    request: Request | None = None

    @property
    def chosen(self) -> list[str]:
        """The tokens after the prompt with the end token, when the model wrote it: one per entry of ``steps``."""
        return self.tokens + ([END_TOKEN] if self.ended else [])

    @property
    def written(self) -> list[str]:
        """The tokens the model wrote itself: what the measures read."""
        return [token for i, token in enumerate(self.tokens) if i not in self.given]

    def for_measures(self) -> SampleText:
        return SampleText(tokens=self.written, ended=self.ended, parsed=self.parsed)


@dataclass(frozen=True)
class Generation:
    prompt_tokens: list[str]  # the prompt as the model read it
    unknown_words: list[str]  # prompt (and given) words outside the vocabulary, read as [UNK]
    seed: int
    samples: list[Sample] = field(default_factory=list)
    decoding: Decoding = field(default_factory=Decoding)


def check_sampling_args(temperature: float, top_k: int | None = None, top_p: float | None = None,
                        min_p: float | None = None) -> None:
    """Raise SettingError naming the argument and the value received."""
    if not is_number(temperature) or not math.isfinite(temperature) or temperature < 0:
        raise SettingError("temperature", f"temperature must be a number >= 0 (0 means greedy), got {temperature!r}")
    if top_k is not None and (not is_integer(top_k) or top_k < 1):
        raise SettingError("top_k", f"top_k must be an integer >= 1, got {top_k!r}")
    if top_p is not None and (not is_number(top_p) or not 0 < top_p <= 1):
        raise SettingError("top_p", f"top_p must be in (0, 1], got {top_p!r}")
    if min_p is not None and (not is_number(min_p) or not 0 < min_p <= 1):
        raise SettingError("min_p", f"min_p must be in (0, 1], got {min_p!r}")


def check_max_tokens(max_tokens: Any) -> None:
    if not is_integer(max_tokens) or not 1 <= max_tokens <= MAX_TOKENS:
        raise SettingError("max_tokens", f"max_tokens must be an integer from 1 to {MAX_TOKENS:,}, got {max_tokens!r}")


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
