"""A corpus made ready for training, held in memory or streamed: one way in, one interface out.

``prepare(config)`` reads the corpus a config names, holds out a share of *recipes* (never of
windows), adapts the vocabulary on the training recipes only and returns a ``PreparedCorpus``:

- ``InMemoryData`` (this module): every recipe tokenized once, whole, kept as token ids; each
  epoch shuffles every recipe. Fast and exact.
- ``stream.StreamedData`` (``data.stream = true``): the corpus read a record at a time, every
  time it is needed, so memory stays flat however large it is.

Training only uses what the protocol names. ``write_corpus_files`` writes what a run keeps of its
corpus, and ``resume_data`` is the one place where a resumed run's corpus is checked against the
fingerprint the run recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import tensorflow as tf

from recipegen import run as run_files
from recipegen import stopping
from recipegen.config import Config
from recipegen.corpora.records import describe_skips
from recipegen.corpora.sources import fingerprint, resolve
from recipegen.data import SPLIT_RULE, load_corpus, reading_of, split_corpus
from recipegen.errors import DataError, RunError
from recipegen.files import save_arrays, write_json, write_jsonl
from recipegen.foods import food_lexicon
from recipegen.pipeline import (
    adapt_vocabulary,
    batches_dataset,
    count_targets,
    encode,
    epoch_windows,
    make_dataset,
    recipe_batches,
    recipe_texts,
)
from recipegen.stream import prepare_stream
from recipegen.templates import chosen_template, template_markers
from recipegen.text import Tokenizer, tokenizer_for

Log = Callable[[str], None]


class PreparedCorpus(Protocol):
    """What training needs of a corpus, in memory or streamed."""

    vocabulary: list[str]
    foods: set[str] | None  # the food words of the training recipes (foods.py); None without ingredient lists
    template: str  # the template the texts are written in: data.template, "auto" resolved
    read_error: DataError | None  # why an epoch could not read the corpus (a streamed file gone), once one could not

    @property
    def source(self) -> str: ...
    @property
    def recipes(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def train_recipes(self) -> int: ...
    @property
    def heldout_recipes(self) -> int: ...
    @property
    def longest_recipe(self) -> int:
        """Tokens in the longest training recipe, end token included."""

    def epoch_dataset(self, config: Config, epoch: int) -> tuple[tf.data.Dataset, int | None]:
        """One epoch's batches of (inputs, targets, weights), and their real tokens when known ahead."""

    def heldout_dataset(self, config: Config) -> tf.data.Dataset:
        """The held-out recipes, each whole (evaluate.Scorer carries the state through it)."""

    def train_ids(self) -> Iterator[np.ndarray]:
        """Each training recipe's token ids (a streamed corpus is read once more)."""

    def save(self, run_dir: Path) -> None:
        """Write the held-out texts and the corpus's fingerprint into a new run."""


@dataclass(frozen=True)
class InMemoryData:
    source: str
    recipes: int
    skipped: int
    vocabulary: list[str]
    train_sequences: list[np.ndarray]  # token ids of each training recipe, end token included
    heldout_sequences: list[np.ndarray]  # token ids of each held-out recipe, end token included
    heldout_texts: list[str]
    foods: set[str] | None = None
    template: str = "book"
    read_error: DataError | None = None  # read once, before training: an epoch cannot fail to read it

    @property
    def train_recipes(self) -> int:
        return len(self.train_sequences)

    @property
    def heldout_recipes(self) -> int:
        return len(self.heldout_texts)

    @property
    def longest_recipe(self) -> int:
        return max(map(len, self.train_sequences), default=1)

    def epoch_dataset(self, config: Config, epoch: int) -> tuple[tf.data.Dataset, int]:
        """One epoch's batches, in an order that depends on (seed, epoch) alone, and their real tokens."""
        steps, batch_size = config.train.steps_per_epoch, config.train.batch_size
        windows = epoch_windows(self.train_sequences, config.data.sequence_length, config.data.pipeline,
                                seed=(config.seed, epoch))
        if steps:
            windows = windows[: steps * batch_size]
        return make_dataset(windows, batch_size), count_targets(windows)

    def heldout_dataset(self, config: Config) -> tf.data.Dataset:
        return batches_dataset(recipe_batches(self.heldout_sequences, config.train.batch_size))

    def train_ids(self) -> Iterator[np.ndarray]:
        return iter(self.train_sequences)

    def save(self, run_dir: Path) -> None:
        write_jsonl(run_dir / run_files.HELDOUT_FILE, ({"text": text} for text in self.heldout_texts))
        save_tokens(self, run_dir, resolve(self.source).digest())


def prepare(config: Config, vocabulary: list[str] | None = None, say: Log = lambda message: None,
            rule: str = SPLIT_RULE) -> PreparedCorpus:
    """The corpus of ``config``, streamed (``data.stream``) or in memory, split by ``rule``;
    ``vocabulary`` is adapted unless given."""
    if config.data.stream:
        data: PreparedCorpus = prepare_stream(config, vocabulary=vocabulary, say=say, rule=rule)
    else:
        data = prepare_data(config, vocabulary=vocabulary, say=say, rule=rule)
    stopping.check()  # a stop asked while reading: nothing has been written yet
    return data


def prepare_data(config: Config, vocabulary: list[str] | None = None, say: Log = lambda message: None,
                 rule: str = SPLIT_RULE) -> InMemoryData:
    """Corpus -> split (by ``rule``) -> vocabulary (adapted on training recipes, unless given) -> token ids."""
    corpus = load_corpus(config.data.path, reading_of(config.data))
    train_recipes, heldout_recipes = split_corpus(corpus.recipes, config.data.validation_fraction, config.seed, rule)
    template = chosen_template(config.data.template, sum(bool(r.ingredients) for r in train_recipes),
                               len(train_recipes))
    if template != config.data.template:
        say(f"template auto: {template} ({sum(bool(r.ingredients) for r in train_recipes)} of {len(train_recipes)} "
            "training recipes have an ingredient list)")
    skipped = f" ({corpus.skipped} records skipped: {describe_skips(corpus.skip_reasons)})" if corpus.skipped else ""
    say(f"{corpus.source}: {len(corpus.recipes)} recipes{skipped}; "
        f"{len(train_recipes)} for training, {len(heldout_recipes)} held out")
    tokenizer = tokenizer_for(config.data.tokens)
    train_texts = recipe_texts(train_recipes, template, tokenizer)
    heldout_texts = recipe_texts(heldout_recipes, template, tokenizer)
    if vocabulary is None:
        sample = train_texts[: config.data.vocab_sample] if config.data.vocab_sample else train_texts
        vocabulary = adapt_vocabulary(sample, config.data.vocab_size, tokenizer, template_markers(template))
    train_sequences = encode(train_texts, vocabulary, tokenizer)
    heldout_sequences = encode(heldout_texts, vocabulary, tokenizer)
    say(f"vocabulary: {len(vocabulary)} {config.data.tokens} tokens; "
        f"{sum(len(ids) for ids in train_sequences):,} training tokens; {template} template, "
        f"{config.data.pipeline} pipeline, windows of {config.data.sequence_length}")
    foods = food_lexicon((line for r in train_recipes for line in r.ingredients),
                         (step for r in train_recipes for step in r.directions)) or None
    without = sum(not r.ingredients for r in train_recipes)
    if template == "full" and without:
        say(f"full template: {without} of {len(train_recipes)} training recipes have no ingredient list")
    return InMemoryData(corpus.source, len(corpus.recipes), corpus.skipped, vocabulary, train_sequences,
                        heldout_sequences, heldout_texts, foods, template)


def with_template(config: Config, template: str) -> Config:
    """``config`` with the template its corpus was written in ("auto" resolved): what the run records."""
    return dataclasses.replace(config, data=dataclasses.replace(config.data, template=template))


def write_corpus_files(data: PreparedCorpus, run_dir: Path) -> None:
    """What a new run keeps of its corpus: the vocabulary, the held-out texts and the fingerprint
    (with the token cache in memory), and the food words."""
    write_json(run_dir / run_files.VOCABULARY_FILE, data.vocabulary)
    data.save(run_dir)
    if data.foods is not None:
        write_json(run_dir / run_files.FOODS_FILE, sorted(data.foods))


def save_tokens(data: InMemoryData, run_dir: Path, corpus_digest: str) -> None:
    """Cache the tokenized corpus in the run, so --resume does not read and tokenize it again."""
    def flat(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.array([len(ids) for ids in sequences], dtype=np.int64)
        return (np.concatenate(sequences) if sequences else np.zeros(0, np.int32)), lengths

    train_ids, train_lengths = flat(data.train_sequences)
    heldout_ids, heldout_lengths = flat(data.heldout_sequences)
    save_arrays(run_dir / run_files.TOKENS_FILE, train_ids=train_ids, train_lengths=train_lengths,
                heldout_ids=heldout_ids, heldout_lengths=heldout_lengths)
    meta = {"corpus_sha256": corpus_digest, "source": data.source, "recipes": data.recipes, "skipped": data.skipped,
            "longest_recipe": data.longest_recipe}
    write_json(run_dir / run_files.TOKENS_META_FILE, meta)


def resume_data(run_dir: Path, config: Config, say: Log = lambda message: None,
                rule: str = SPLIT_RULE) -> PreparedCorpus:
    """The corpus of a run being resumed, split by the run's own ``rule``, with the run's own
    vocabulary and food words.

    A streamed corpus is read again and must be the one the run started with. In memory, the
    run's token cache serves while the corpus file is unchanged (or gone); a file that changed is
    read again and refused unless it gives the same training tokens and held-out recipes (a
    corpus reformatted, not edited).
    """
    vocabulary = run_files.read_json(run_dir / run_files.VOCABULARY_FILE)
    changed = f"{config.data.path}: the corpus changed since {run_dir} started"
    if config.data.stream:
        meta = run_files.read_json(run_dir / run_files.TOKENS_META_FILE)
        if fingerprint(config.data.path) != meta["corpus_sha256"]:
            raise RunError(f"{changed}; start a new run instead")
        data: PreparedCorpus = prepare_stream(config, vocabulary=vocabulary, say=say, rule=rule)
        data.heldout_file = run_dir / run_files.HELDOUT_FILE
    else:
        cached, digest = load_tokens(run_dir, vocabulary, tokenizer_for(config.data.tokens), config.data.template)
        now = fingerprint(config.data.path)
        if cached is not None and (now is None or now == digest):
            say(f"{cached.source}: {'unchanged' if now else 'gone'}; using the run's tokenized corpus")
            data = cached
        else:
            data = prepare_data(config, vocabulary=vocabulary, say=say, rule=rule)
            if data.heldout_texts != run_files.read_heldout(run_dir):
                raise RunError(f"{changed} (its held-out recipes differ); start a new run instead")
            if cached is not None and not _same_sequences(data.train_sequences, cached.train_sequences):
                raise RunError(f"{changed} (its training recipes differ); start a new run instead")
    foods = run_files.read_foods(run_dir)
    return dataclasses.replace(data, foods=foods) if foods is not None else data


def load_tokens(run_dir: Path, vocabulary: list[str], tokenizer: Tokenizer,
                template: str) -> tuple[InMemoryData | None, str | None]:
    """The tokenized corpus a run cached, and the sha256 of the file it came from; (None, None) without a cache."""
    meta_file, tokens_file = run_dir / run_files.TOKENS_META_FILE, run_dir / run_files.TOKENS_FILE
    if not (meta_file.is_file() and tokens_file.is_file()):
        return None, None
    meta = run_files.read_json(meta_file)
    arrays = np.load(tokens_file)
    heldout_texts = run_files.read_heldout(run_dir)
    if "heldout_ids" in arrays:
        heldout_sequences = split_flat(arrays["heldout_ids"], arrays["heldout_lengths"])
    else:  # a cache written before held-out recipes were scored whole: they are encoded again
        heldout_sequences = encode(heldout_texts, vocabulary, tokenizer)
    data = InMemoryData(meta["source"], meta["recipes"], meta["skipped"], vocabulary,
                        split_flat(arrays["train_ids"], arrays["train_lengths"]), heldout_sequences, heldout_texts,
                        template=template)
    return data, meta["corpus_sha256"]


def split_flat(ids: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """The sequences that ``save_tokens`` wrote end to end, apart again."""
    return np.split(ids, np.cumsum(lengths)[:-1]) if lengths.size else []


def _same_sequences(ours: list[np.ndarray], theirs: list[np.ndarray]) -> bool:
    return len(ours) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(ours, theirs))
