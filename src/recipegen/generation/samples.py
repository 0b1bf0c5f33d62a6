"""What generation takes and gives, as plain data without TensorFlow: a recipe's ``Request`` (its
given title and ingredient lines, which the generator writes into the sample instead of sampling
them), and the ``Sample``s of a ``Generation`` with the settings that decoded them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recipegen.generation.settings import BY_NAME, Decoding, SettingError, check_max_tokens, is_integer
from recipegen.measures import SampleText
from recipegen.templates import ParsedRecipe
from recipegen.text import END_TOKEN


@dataclass(frozen=True)
class Request:
    """What one recipe must hold, given rather than sampled: its title, its ingredient lines, or both."""

    title: str | None = None
    ingredients: tuple[str, ...] = ()

    def check_for(self, template: str | None) -> None:
        """Raise SettingError unless a run with this template can write the request: known from
        the run's config alone, so a run that cannot is refused before its model loads."""
        if self.ingredients and template != "full":
            raise SettingError("ingredients", f"an ingredient list needs a run trained with the full template, not "
                                              f"the {template} template: train one with --config configs/full.toml")
        if self.title is None and not self.ingredients:
            raise SettingError("title", "a request gives a title, ingredients or both")
        if template not in ("book", "full"):
            raise SettingError("title", f"a title needs a run whose template has one (book or full), not "
                                        f"the {template} template")


@dataclass(frozen=True)
class Ask:
    """One caller's share of a batch: ``n`` samples (of a request, or after the batch's prompt) at
    its own temperature and length, row r drawn from the stream (seed, first_row + r)."""

    request: Request | None
    n: int
    seed: int
    temperature: float
    max_tokens: int
    first_row: int = 0

    def check(self) -> None:
        """Raise SettingError naming the first value the decoder cannot take."""
        if not is_integer(self.n) or self.n < 1:
            raise SettingError("n", f"n must be an integer >= 1, got {self.n!r}")
        if not is_integer(self.seed) or not 0 <= self.seed < 2**63:  # the decoder's seed is an int64
            raise SettingError("seed", f"seed must be an integer from 0 to 2**63 - 1, got {self.seed!r}")
        BY_NAME["temperature"].check(self.temperature)
        check_max_tokens(self.max_tokens)


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
