"""One typed, frozen configuration for a run, loaded from TOML and overridable key by key.

The defaults below are ``configs/default.toml``'s (a test keeps the two in step): the book's
architecture (Generative Deep Learning, 2nd ed., chapter 5) with training settings that
``benchmarks/training.py`` showed better than the book's; ``configs/book.toml`` has the book's. Every run writes
its resolved config to ``config.toml`` in the run directory, so a run can be reproduced
from that file alone.
"""

from __future__ import annotations

import codecs
import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipegen import shipped
from recipegen.errors import ConfigError
from recipegen.generation.settings import BY_NAME, CONFIGURED, MAX_SEED, MAX_TOKENS
from recipegen.templates import AUTO, TEMPLATES, template_markers
from recipegen.text import TOKEN_LEVELS
from recipegen.typed_toml import build, get_dotted, origin, parse_value, set_dotted

CELLS = ("lstm", "gru")
PIPELINES = ("pack", "pad")
STRATEGIES = ("default", "mirrored", "multiworker")
SOFTMAXES = ("full", "sampled")
CHAR_NGRAM = 10  # the shortest phrase, in characters, that sample.no_repeat_ngram may block at the character level


@dataclass(frozen=True)
class FieldsConfig:
    """Which column (CSV) or key (JSON) holds each part of a recipe, where its usual names do not
    fit (corpora/records.py lists them); "" = found by name."""

    title: str = ""
    ingredients: str = ""
    directions: str = ""


@dataclass(frozen=True)
class DataConfig:
    # A file, a folder (every corpus file under it) or a glob: .json (Epicurious list or schema.org
    # JSON-LD), .jsonl, .txt (blank-line separated), .csv/.tsv, .html, .md, .paprikarecipes, .zip
    path: str = "data/recipes.json"
    validation_fraction: float = 0.2  # share of recipes held out for validation and `evaluate`
    vocab_size: int = 10_000  # TextVectorization max_tokens, padding and [UNK] included
    sequence_length: int = 100  # tokens per training window (book: 200)
    pipeline: str = "pack"  # "pack": recipes end to end; "pad": one truncated window per recipe (book)
    # "book": Recipe for <title> | <directions>; "full": with ingredients; "plain": the text as is;
    # "auto": "full" when most training recipes have an ingredient list, else "book" (the run records which)
    template: str = "book"
    tokens: str = "word"  # "word" (book) or "char": one token per character
    stream: bool = False  # read a .jsonl, .csv, .txt corpus (or a folder) a record at a time, never whole in memory
    vocab_sample: int = 0  # adapt the vocabulary on the first N training recipes; 0 = on all of them
    shuffle_buffer: int = 10_000  # with stream = true: recipes shuffled together (a streaming shuffle is local)
    # which column (CSV) or key (JSON) holds each part, where its usual names do not fit; "" = found by name
    fields: FieldsConfig = field(default_factory=FieldsConfig)
    encoding: str = "utf-8"  # of the corpus's text files; e.g. "latin-1" or "cp1252" for older exports


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "lstm"  # "lstm" or "gru"
    layers: int = 1  # stacked recurrent layers
    units: int = 256  # units per recurrent layer (book: 128)
    embedding_dim: int = 100  # size of each word vector
    dropout: float = 0.2  # on the input of each recurrent layer and of the output layer (book: 0)
    locked_dropout: bool = False  # one dropout mask for every step of a sequence (variational), not one per step
    embedding_dropout: float = 0.0  # whole words dropped from the input (their vectors zeroed); 0 = off
    tie_embeddings: bool = True  # the output layer is the embedding matrix (plus a projection if units differ)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100  # passes over the training recipes; early stopping usually ends sooner (book: 25)
    batch_size: int = 64  # windows per gradient step (book: 32)
    learning_rate: float = 0.014  # Adam's step size (book: Keras's default, 0.001)
    clipnorm: float = 1.0  # clip each gradient to this norm; 0 = no clipping (book: 0)
    reduce_lr_patience: int = 2  # epochs without a better validation loss before the rate is cut; 0 = never
    reduce_lr_factor: float = 0.5  # multiplies the learning rate at each cut
    min_learning_rate: float = 1e-5  # the rate is never cut below this
    lr_decay: float = 1.0  # multiplies the learning rate after every epoch, plateau or not; 1 = off
    early_stopping_patience: int = 6  # epochs without a better validation loss before stopping; 0 = never
    max_minutes: float = 0.0  # stop after the epoch during which this much training time has passed; 0 = no limit
    steps_per_epoch: int = 0  # batches per epoch; 0 = one whole pass over the training recipes
    deterministic: bool = True  # TensorFlow op determinism: same seed, same weights (slower on GPU)
    tensorboard: bool = False  # also write TensorBoard logs to RUN_DIR/tensorboard/ (book: true, its notebook did)
    strategy: str = "default"  # "default" (one device), "mirrored" (this machine's GPUs), "multiworker" (TF_CONFIG)
    softmax: str = "sampled"  # or "full" (book): train on the true word and sampled_classes others; scores are full
    sampled_classes: int = 512  # candidate words per step with softmax = "sampled"
    unroll: bool = True  # on a CPU, the recurrent loop of a training window unrolled: same numbers, faster steps


@dataclass(frozen=True)
class SampleBasics:
    prompt: str = "recipe for"  # how each end-of-epoch sample starts
    temperatures: tuple[float, ...] = (1.0, 0.5)  # samples at every epoch end at each temperature (book: 1.0)
    count: int = 8  # samples per temperature at every epoch end, measured together (book: 1)
    # Longest sample, in tokens, at every epoch end and the default of generate and export; 0 = as long
    # as the longest training recipe, so the model can end every recipe it writes (book: 100).
    max_tokens: int = 0


# The [sample] table: the basics above and one key per decoding setting a run configures, with the
# default generation/settings.py gives it (chosen by benchmarks/coherence.py; the book has none of
# them). generate, evaluate and export take them as their defaults.
SampleConfig = dataclasses.make_dataclass(
    "SampleConfig", [(spec.name, spec.kind, field(default=spec.configured)) for spec in CONFIGURED],
    bases=(SampleBasics,), frozen=True)
SampleConfig.__module__ = __name__


@dataclass(frozen=True)
class Config:
    seed: int = 42  # one seed for the split, the shuffling, the initial weights and the samples
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)  # type: ignore[valid-type]


# What a key means in a run's config.toml written before the key existed: how that run was
# trained, whatever today's default is.
BEFORE_IT_EXISTED = {"model.tie_embeddings": False, "train.softmax": "full", "model.locked_dropout": False,
                     "model.embedding_dropout": 0.0, "train.lr_decay": 1.0, "train.unroll": False}


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Read a TOML config (or start from the defaults) and apply dotted-key overrides.

    ``overrides`` maps keys such as ``"model.units"`` to values; strings are parsed as TOML
    values where they can be (``"64"`` -> 64), so ``--set model.units=64`` works from a shell.
    """
    return _load(path, overrides)


def load_run_config(path: Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """A run's own config.toml: a key it lacks because it was written before the key existed
    reads as that run was trained (BEFORE_IT_EXISTED), not as today's default."""
    return _load(path, overrides, absent=BEFORE_IT_EXISTED)


def _load(path: str | Path | None, overrides: Mapping[str, Any] | None,
          absent: Mapping[str, Any] | None = None) -> Config:
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        raw = _read_toml(shipped.config_path(path))
    for key, value in (absent or {}).items():
        section, _, name = key.rpartition(".")
        if isinstance(raw.get(section, {}), dict) and name not in raw.get(section, {}):
            set_dotted(raw, key, value)
    overridden = set(overrides or {})
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value)
    config = build(Config, raw, source, prefix="", overridden=overridden)
    validate(config, source, overridden)
    return config


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``key=value`` from the command line, reading the value as TOML when it is one."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. model.units=64")
    return key.strip(), parse_value(value.strip())


def to_dict(config: Config) -> dict[str, Any]:
    """Plain nested dicts (tuples as lists), ready for TOML or JSON."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return list(value)
        return value

    return {
        key: ({k: plain(v) for k, v in value.items()} if isinstance(value, dict) else plain(value))
        for key, value in dataclasses.asdict(config).items()
    }


def dumps(config: Config) -> str:
    import tomli_w

    return tomli_w.dumps(to_dict(config))


def validate(config: Config, source: str = "config", overridden: set[str] | frozenset[str] = frozenset()) -> None:
    """Reject values that would fail later, deep inside TensorFlow, with a worse message."""
    checks = [
        ("data.validation_fraction", 0 < config.data.validation_fraction < 1, "must be between 0 and 1 (exclusive)"),
        ("data.vocab_size", config.data.vocab_size >= 3 + len(template_markers(config.data.template)),
         f"must be at least {3 + len(template_markers(config.data.template))} "
         f"(padding, [UNK], the {config.data.template} template's markers, and one token)"),
        ("data.sequence_length", config.data.sequence_length >= 2, "must be at least 2"),
        ("data.pipeline", config.data.pipeline in PIPELINES, f"must be one of {', '.join(PIPELINES)}"),
        ("data.template", config.data.template in (*TEMPLATES, AUTO), f"must be one of {', '.join(TEMPLATES)}, {AUTO}"),
        ("data.tokens", config.data.tokens in TOKEN_LEVELS, f"must be one of {', '.join(TOKEN_LEVELS)}"),
        ("data.vocab_sample", config.data.vocab_sample >= 0, "must be >= 0 (0 adapts on every training recipe)"),
        ("data.shuffle_buffer", config.data.shuffle_buffer >= 1, "must be at least 1"),
        ("data.encoding", _is_text_encoding(config.data.encoding), "must be a text encoding Python knows, "
                                                                   "e.g. \"utf-8\", \"latin-1\", \"cp1252\""),
        ("train.steps_per_epoch", config.train.steps_per_epoch >= 0, "must be >= 0 (0 means one whole pass)"),
        ("model.cell", config.model.cell in CELLS, f"must be one of {', '.join(CELLS)}"),
        ("seed", 0 <= config.seed <= MAX_SEED, f"must be from 0 to {MAX_SEED:,}"),
        ("model.layers", config.model.layers >= 1, "must be at least 1"),
        ("model.units", config.model.units >= 1, "must be at least 1"),
        ("model.embedding_dim", config.model.embedding_dim >= 1, "must be at least 1"),
        ("model.dropout", 0 <= config.model.dropout < 1, "must be in [0, 1)"),
        ("model.embedding_dropout", 0 <= config.model.embedding_dropout < 1, "must be in [0, 1)"),
        ("train.epochs", config.train.epochs >= 1, "must be at least 1"),
        ("train.batch_size", config.train.batch_size >= 1, "must be at least 1"),
        ("train.learning_rate", config.train.learning_rate > 0 and math.isfinite(config.train.learning_rate),
         "must be a positive number"),
        ("train.clipnorm", config.train.clipnorm >= 0, "must be >= 0 (0 turns clipping off)"),
        ("train.reduce_lr_patience", config.train.reduce_lr_patience >= 0, "must be >= 0 (0 turns it off)"),
        ("train.reduce_lr_factor", 0 < config.train.reduce_lr_factor < 1, "must be between 0 and 1 (exclusive)"),
        ("train.min_learning_rate", config.train.min_learning_rate >= 0, "must be >= 0"),
        ("train.lr_decay", 0 < config.train.lr_decay <= 1, "must be in (0, 1] (1 turns it off)"),
        ("train.max_minutes", config.train.max_minutes >= 0, "must be >= 0 (0 means no limit)"),
        ("train.early_stopping_patience", config.train.early_stopping_patience >= 0, "must be >= 0 (0 turns it off)"),
        ("train.strategy", config.train.strategy in STRATEGIES, f"must be one of {', '.join(STRATEGIES)}"),
        ("train.softmax", config.train.softmax in SOFTMAXES, f"must be one of {', '.join(SOFTMAXES)}"),
        ("train.sampled_classes", config.train.sampled_classes >= 1, "must be at least 1"),
        ("sample.temperatures", all(BY_NAME["temperature"].accepts(t) for t in config.sample.temperatures),
         f"must each be {BY_NAME['temperature'].config_rule}"),
        ("sample.count", config.sample.count >= 1, "must be at least 1"),
        ("sample.max_tokens", 0 <= config.sample.max_tokens <= MAX_TOKENS,
         f"must be from 1 to {MAX_TOKENS:,}, or 0 for the longest training recipe"),
        *((f"sample.{spec.name}", spec.accepts(getattr(config.sample, spec.name)), f"must be {spec.config_rule}")
          for spec in CONFIGURED),
        ("sample.no_repeat_ngram", config.data.tokens == "word" or not 0 < config.sample.no_repeat_ngram < CHAR_NGRAM,
         f"counts characters with data.tokens = \"char\": use 0 (off) or at least {CHAR_NGRAM}, or a word would "
         "never be written twice"),
    ]
    for key, ok, problem in checks:
        if not ok:
            value = get_dotted(config, key)
            raise ConfigError(f"{origin(key, source, overridden)}: {key} = {value!r} {problem}")


def _is_text_encoding(name: str) -> bool:
    try:
        return codecs.lookup(name)._is_text_encoding  # rot13 and base64 are codecs, but not of bytes to text
    except LookupError:
        return False


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        names = ", ".join(shipped.config_names())
        raise ConfigError(f"{path}: config file not found (shipped configs: {names})") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
