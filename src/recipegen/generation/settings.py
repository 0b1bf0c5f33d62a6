"""Every decoding setting, defined once: its name, type, off value, range, run default and help.

A setting is a field of ``Decoding`` whose metadata holds its ``Setting``. Everything else is
derived from these fields, so adding or changing a setting is one edit here: the checks of
``Decoding`` itself, the config's ``[sample]`` table (config.py builds ``SampleConfig``'s decoding
keys and their checks from ``CONFIGURED``), the command-line options of generate and evaluate
(``Setting.option``), the exported model's arguments and in-graph checks (export.py), the "plain
sampling" rendering (``not_off``) and the generator's cache of traced loops.

A bad value raises ``SettingError`` naming the setting, which the CLI turns into a one-line
error for the matching option. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The decoder holds every sample's whole history (n x (prompt + max_tokens) ids, and more when it
# steers), so the length limit needs a ceiling: a billion tokens asked for ends in a native
# allocation failure, not an error. Whole recipes are hundreds of words or a few thousand
# characters; this leaves room for any of them while a batch of 1,000 still fits in memory.
MAX_TOKENS = 100_000
# Seeds a user gives: training seeds NumPy, which takes 0 to 2**32 - 1; every command takes the same.
MAX_SEED = 2**32 - 1
MAX_BATCH_TOKENS = 100_000_000  # samples x their length in one batch: about 0.4 GB of ids per copy the loop keeps
# What the loop's 32-bit numbers hold: the largest float32, its smallest normal number, the largest int32.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38
INT32_MAX = 2**31 - 1


class SettingError(ValueError):
    """A setting the generator cannot use; ``setting`` names it (the CLI maps it to its option):
    a decoding setting out of range, a prompt with no known word, a request the run cannot write."""

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


NOT_CONFIGURED = object()  # a setting chosen per call only, with no key in a run's config


@dataclass(frozen=True)
class Setting:
    """One decoding setting. Its range is ``low`` to ``high`` (each end open or closed); ``off`` is
    the number that turns it off, accepted besides the range where it lies outside it (0 for
    no_repeat_ngram, whose range starts at 2). Where ``nullable``, the library spells off as None
    and only the config and the exported model, whose values are numbers, use ``off``.

    The loop computes in 32 bits, so a value must also fit the type it is used as (``usable``):
    a float32 turns 1e39 into infinity and 1e-46 into 0, and an int32 wraps past 2**31 - 1.
    ``limit`` caps a range that has no ceiling of its own where larger values only cost memory."""

    kind: type  # int or float
    off: int | float  # the number that leaves decoding as plain sampling
    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True  # the default excludes infinity
    rule: str = ""  # the range as errors say it: "{name} must be {rule}, got ..."
    help: str = ""  # the command-line option's help (and docs/cli.md's)
    metavar: str = "X"
    configured: Any = NOT_CONFIGURED  # a run's default: config.toml's sample.<name> (NOT_CONFIGURED: no such key)
    nullable: bool = False
    limit: float = math.inf
    name: str = ""  # filled in from the field

    def accepts(self, value: Any) -> bool:
        """Whether a number is in range or off, and usable. The comparisons also work on scalar
        tensors, with ``&`` and ``|``, so the exported model checks with this very rule; NaN fails
        them all."""
        return (self.in_range(value) | (value == self.off)) & self.usable(value)

    def in_range(self, value: Any) -> Any:
        above = value > self.low if self.low_open else value >= self.low
        if self.kind is int and self.high == math.inf:  # no integer is infinite (nor can an int32 tensor say inf)
            return above
        below = value < self.high if self.high_open else value <= self.high
        return above & below

    def usable(self, value: Any) -> Any:
        """Within ``limit`` and what the 32-bit type holds; infinity is left to the range to allow."""
        if self.kind is int:
            return value <= min(self.limit, INT32_MAX)
        fits = (value <= min(self.limit, FLOAT32_MAX)) | (value == math.inf)
        return fits & ((value == 0) | (value >= FLOAT32_TINY) | (value <= -FLOAT32_TINY))

    @property
    def usable_rule(self) -> str:
        if self.kind is int:
            return f"at most {min(self.limit, INT32_MAX):,}"
        return f"fit a 32-bit float (0, or {FLOAT32_TINY:.2g} to {min(self.limit, FLOAT32_MAX):.2g})"

    def check(self, value: Any) -> None:
        """Raise SettingError unless ``Decoding`` can take ``value``: where ``nullable``, off is
        None and not its number (top_k 0 is a mistake, not a way to say "no filter")."""
        if self.nullable and value is None:
            return
        typed = is_integer(value) if self.kind is int else is_number(value)
        if not typed or not (self.in_range(value) if self.nullable else self.in_range(value) | (value == self.off)):
            raise SettingError(self.name, f"{self.name} must be {self.rule}, got {value!r}")
        if not self.usable(value):
            raise SettingError(self.name, f"{self.name} must be {self.usable_rule}, got {value!r}")

    @property
    def config_rule(self) -> str:
        """The range a config's (or an export's) number must be in, where off is a number too."""
        return (f"{self.rule}, or {self.off:g} (off)" if self.nullable else self.rule) + f", and {self.usable_rule}"

    def library_value(self, number: Any) -> Any:
        """A config's or export's number as ``Decoding`` takes it: off as None where nullable."""
        return None if self.nullable and number == self.off else number

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def setting(off: Any, **spec: Any) -> Any:
    """A ``Decoding`` field defined by its ``Setting``; the library's default is off."""
    nullable = spec.pop("nullable", False)
    return dataclasses.field(default=None if nullable else off,
                             metadata={"setting": Setting(off=off, nullable=nullable, **spec)})


@dataclass(frozen=True)
class Decoding:
    """How each next token is chosen: the samplers' settings (samplers.py) and the steering
    (steering.py). Checked once, here, whoever builds it."""

    temperature: float = setting(
        1.0, kind=float, low=0, rule="a number >= 0 (0 means greedy)", metavar="T",
        help="Divides the logits before sampling: low is careful, high is adventurous; 0 is greedy "
             "(the likeliest token every time)")
    top_k: int | None = setting(
        0, kind=int, low=1, nullable=True, rule="an integer >= 1", metavar="K",
        help="Sample among the K most likely tokens only (default: no top-k filter)")
    top_p: float | None = setting(
        1.0, kind=float, low=0, low_open=True, high=1, high_open=False, nullable=True, rule="in (0, 1]", metavar="P",
        help="Sample among the most likely tokens whose probability reaches P (nucleus sampling; default: none)")
    min_p: float | None = setting(
        0.0, kind=float, low=0, low_open=True, high=1, high_open=False, nullable=True, rule="in (0, 1]",
        metavar="P", configured=0.0,
        help="Sample only tokens at least P times as likely as the likeliest; 0 = off")
    title_temperature: float = setting(
        0.0, kind=float, low=0, rule="a number >= 0 (0: the recipe's temperature)", metavar="T", configured=1.0,
        help="Draw each title at T where the recipe's temperature is lower, so careful recipes are not all the "
             "same dish; 0 = the recipe's")
    no_repeat_ngram: int = setting(
        0, kind=int, low=2, rule="0 (off) or an integer >= 2", metavar="N", configured=3, limit=MAX_TOKENS,
        help="Never repeat an N-token phrase within a section of a recipe; 0 = off")
    repetition_penalty: float = setting(
        0.0, kind=float, low=0, rule="a number >= 0", metavar="R", configured=0.0,
        help="Take R off a word's logit for each time the section has used it; 0 = off")
    ingredient_bias: float = setting(
        0.0, kind=float, low=0, rule="a number >= 0", metavar="B", configured=8.0,
        help="Steer the directions toward the foods the title and ingredient list name, until they use them; "
             "0 = off")
    unlisted_penalty: float = setting(
        0.0, kind=float, low=0, high_open=False, rule="a number >= 0 (inf: never)", metavar="P", configured=8.0,
        help="Steer the directions away from foods the ingredient list does not name; 0 = off, inf = never")
    best_of: int = setting(
        1, kind=int, low=1, rule="an integer >= 1", metavar="K", configured=1,
        help="Sample K candidates per recipe and keep the one that holds together best; 1 = off")

    def __post_init__(self) -> None:
        for spec in SETTINGS:
            spec.check(getattr(self, spec.name))


SETTINGS = tuple(dataclasses.replace(f.metadata["setting"], name=f.name) for f in dataclasses.fields(Decoding))
BY_NAME = {spec.name: spec for spec in SETTINGS}
CONFIGURED = tuple(spec for spec in SETTINGS if spec.configured is not NOT_CONFIGURED)  # keys of a run's [sample]


def configured_decoding(sample: Any, **settings: Any) -> Decoding:
    """A run's decoding (its config's ``sample`` table), with the ``settings`` that are not None instead."""
    configured = {spec.name: spec.library_value(getattr(sample, spec.name)) for spec in CONFIGURED}
    return Decoding(**configured | {key: value for key, value in settings.items() if value is not None})


def not_off(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings (name: value) that are not off: what a summary names besides "plain sampling"."""
    return {name: value for name, value in settings.items()
            if name in BY_NAME and value is not None and value != BY_NAME[name].off}


def check_max_tokens(max_tokens: Any) -> None:
    if not is_integer(max_tokens) or not 1 <= max_tokens <= MAX_TOKENS:
        raise SettingError("max_tokens", f"max_tokens must be an integer from 1 to {MAX_TOKENS:,}, got {max_tokens!r}")


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
