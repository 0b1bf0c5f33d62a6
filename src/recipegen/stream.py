"""Training on corpora larger than memory: the corpus is streamed through tf.data, never loaded.

With ``data.stream = true`` a JSON Lines or plain-text corpus is read a record at a time, every
time it is needed, and memory stays flat however large the file is:

1. One pass counts and checks every record (a malformed line fails before anything is
   written), decides each record's side of the split from its position alone, and feeds the
   training recipes (all, or the first ``data.vocab_sample``) to ``TextVectorization.adapt``,
   which keeps token counts, not text.
2. The held-out recipes are streamed into the run's ``heldout.jsonl``, and scoring reads them
   back from there.
3. Each epoch streams the training recipes again: shuffled within a buffer of
   ``data.shuffle_buffer`` recipes (a streaming shuffle is local, unlike the in-memory one),
   vectorized in the pipeline, laid end to end and cut into windows (``pack``) or truncated
   (``pad``), as in pipeline.py.

The split is data.py's, by a hash of the record's position and the seed, so it is the same on
every pass, the same as the corpus held in memory would have, and costs no memory. Held-out
shares are exact only on average. Where the hash leaves a side empty, which recipe moves across
depends on how many recipes there are, known only at the end of a pass: the pass is then made
again with that recipe on its side (``Split.settled``), so the vocabulary, template and counts
are those of the settled split, as in memory.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from recipegen import run as run_files
from recipegen import stopping
from recipegen.config import Config
from recipegen.corpora.records import describe_skips
from recipegen.corpora.sources import Source, resolve
from recipegen.data import SPLIT_RULE, Split, reading_of
from recipegen.errors import DataError
from recipegen.files import replacing, write_json
from recipegen.foods import FoodCounter
from recipegen.pipeline import adapt_vocabulary, batch_windows, make_vectorizer, shifted
from recipegen.templates import AUTO, chosen_template, recipe_text, template_markers
from recipegen.text import PAD_ID, tokenizer_for

TEXTS_PER_BATCH = 256  # texts vectorized together in the pipeline
WINDOW_SHUFFLE = 1024  # windows shuffled again after packing, so one batch mixes recipes
BUCKETS = [2**k for k in range(4, 14)]  # held-out recipe lengths scored together: 16-31 tokens, 32-63, ...


@dataclass
class StreamedData:
    """A corpus read on demand: a ``prepare.PreparedCorpus``, like ``prepare.InMemoryData``."""

    config: Config
    corpus: Source
    vocabulary: list[str]
    split: Split
    recipes: int = 0
    skipped: int = 0
    train_recipes: int = 0
    heldout_recipes: int = 0
    longest_recipe: int = 1  # tokens in the longest training recipe, end token included
    skip_reasons: dict[str, int] = field(default_factory=dict)
    foods: set[str] | None = None
    heldout_file: Path | None = None  # where the held-out texts were streamed to
    stamp: tuple[tuple[str, int, int], ...] = ()  # each file's (name, size, mtime) when it was first counted
    read_error: DataError | None = None  # why an epoch could not read the file, once one could not

    @property
    def path(self) -> Path:
        """How messages name the corpus: its file, or the folder or glob given."""
        return self.corpus.files[0] if self.corpus.single else Path(self.corpus.given)

    @property
    def source(self) -> str:
        return str(self.path)

    @property
    def template(self) -> str:
        return self.config.data.template

    def texts(self, heldout: bool) -> Iterator[str]:
        """Training texts of one side of the split, in file order, read lazily.

        Read inside tf.data, where an error becomes an ``UnknownError`` that names neither the file
        nor the problem: it is kept in ``read_error`` first, for training to report instead."""
        config, tokenizer = self.config, tokenizer_for(self.config.data.tokens)
        try:
            for position, recipe in enumerate(self.corpus.recipes(reading_of(config.data), {})):
                if self.split.held_out(position) == heldout:
                    yield recipe_text(recipe, config.data.template, tokenizer)
        except DataError as e:
            self.read_error = e
            raise
        except (OSError, UnicodeDecodeError) as e:
            self.read_error = DataError(f"{self.path}: cannot read it ({getattr(e, 'strerror', None) or e})")
            raise

    def check_unchanged(self) -> None:
        """DataError unless the file is still the one counted: every epoch reads it again, and a
        file that changed would shift which recipes are held out and train on some of them."""
        try:
            stamp = self.corpus.stamp()
        except OSError as e:
            raise DataError(f"{e.filename or self.path}: cannot read it any more ({e.strerror})") from None
        if stamp != self.stamp:
            raise DataError(f"{self.path}: changed since training started; a streamed corpus must stay as it "
                            "was while it trains")

    def save(self, run_dir: Path) -> None:
        """Stream the held-out texts into the run, and note the corpus they came from."""
        self.heldout_file = run_dir / run_files.HELDOUT_FILE
        with replacing(self.heldout_file) as tmp, tmp.open("w", encoding="utf-8") as f:
            for text in self.texts(heldout=True):
                f.write(json.dumps({"text": text}) + "\n")
        meta = {"corpus_sha256": self.corpus.digest(), "source": self.source, "recipes": self.recipes,
                "skipped": self.skipped, "streamed": True, "longest_recipe": self.longest_recipe}
        write_json(run_dir / run_files.TOKENS_META_FILE, meta)

    def epoch_dataset(self, config: Config, epoch: int) -> tuple[tf.data.Dataset, int | None]:
        """One epoch's batches of (inputs, targets, weights); the token count is not known ahead.

        ``config`` is the run's, possibly with more epochs than at the start (--resume --epochs)."""
        self.check_unchanged()
        texts = _text_dataset(lambda: self.texts(heldout=False))
        steps = config.train.steps_per_epoch
        # Whole passes reshuffle by (seed, epoch); fixed-size epochs walk one endless seeded
        # stream, epoch after epoch, so no part of the corpus is starved.
        seed = config.seed if steps else (config.seed * 1_000_003 + epoch) % 2**31
        texts = texts.shuffle(config.data.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if steps:
            texts = texts.repeat()
        ids = self._ids(texts)
        length = config.data.sequence_length
        windows = _packed(ids, length) if config.data.pipeline == "pack" else ids.map(lambda r: r[: length + 1])
        windows = windows.filter(lambda w: tf.size(w) >= 2).shuffle(WINDOW_SHUFFLE, seed=seed)
        batches = batch_windows(windows, config.train.batch_size, length + 1)
        if steps:
            batches = batches.skip(epoch * steps).take(steps)
        return batches.prefetch(tf.data.AUTOTUNE), None

    def heldout_dataset(self, config: Config) -> tf.data.Dataset:
        """Each held-out recipe whole, in batches of about the same length (evaluate.Scorer reads them)."""
        if self.heldout_file is None:
            raise RuntimeError("save() the held-out recipes into a run directory first")
        file = self.heldout_file
        texts = _text_dataset(lambda: (json.loads(line)["text"] for line in file.open(encoding="utf-8")
                                       if line.strip()))
        recipes = self._ids(texts).filter(lambda ids: tf.size(ids) >= 2)
        return _bucketed(recipes, config.train.batch_size).prefetch(tf.data.AUTOTUNE)

    def train_ids(self) -> Iterator[np.ndarray]:
        """Each training recipe's token ids, from one more pass over the file."""
        return self._ids(_text_dataset(lambda: self.texts(heldout=False))).as_numpy_iterator()

    def _ids(self, texts: tf.data.Dataset) -> tf.data.Dataset:
        vectorizer = make_vectorizer(self.vocabulary, tokenizer_for(self.config.data.tokens))
        return (texts.batch(TEXTS_PER_BATCH).map(vectorizer, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
                .map(lambda row: tf.cast(row, tf.int32)))  # a dense row, not a rank-0 ragged one


def prepare_stream(config: Config, vocabulary: list[str] | None = None, say=lambda message: None,
                   split: Split | None = None, rule: str = SPLIT_RULE) -> StreamedData:
    """Count and check the corpus, and adapt the vocabulary, in one streaming pass (two where the
    hash leaves a side of the split empty). ``split`` defaults to the seed's by ``rule`` (a run's own,
    where it was trained by an older one)."""
    corpus = resolve(config.data.path)
    if not corpus.streamable:
        name = corpus.files[0]
        raise DataError(f"{name}: a {name.suffix} file is read whole and cannot be streamed; use JSON Lines "
                        f"(recipegen data {name} --to {name.with_suffix('.jsonl').name} writes them) or CSV, "
                        "or set data.stream = false")
    split = split or Split(config.seed, config.data.validation_fraction, rule)
    stamp = corpus.stamp()  # before the first pass: a change during it is seen at the first epoch
    if config.data.template == AUTO:  # one more pass, to see whether the recipes have ingredient lists
        config, split = _with_template(config, corpus, split, say)
    data = StreamedData(config, corpus, vocabulary or [], split, stamp=stamp)
    path = data.path
    tokenizer = tokenizer_for(config.data.tokens)
    foods = FoodCounter()

    def counted_texts() -> Iterator[str]:
        """Every record passes here once: counted, split, and the first training texts adapted on."""
        sample = config.data.vocab_sample
        for position, recipe in enumerate(corpus.recipes(reading_of(config.data), data.skip_reasons)):
            if stopping.requested():
                return  # the pass ends early; prepare() raises the stop once back in the main thread
            data.recipes += 1
            if split.held_out(position):
                data.heldout_recipes += 1
                continue
            data.train_recipes += 1
            foods.add(recipe.ingredients, recipe.directions)
            text = recipe_text(recipe, config.data.template, tokenizer)
            data.longest_recipe = max(data.longest_recipe, len(tokenizer.tokens(text)))
            if not sample or data.train_recipes <= sample:
                yield text

    if vocabulary is None:
        failures: list[DataError] = []

        def checked_texts() -> Iterator[str]:
            try:
                yield from counted_texts()
            except DataError as e:  # tf.data would turn it into an UnknownError with a traceback inside
                failures.append(e)
                raise

        try:
            data.vocabulary = adapt_vocabulary(_text_dataset(checked_texts).batch(1024), config.data.vocab_size,
                                               tokenizer, template_markers(config.data.template))
        except tf.errors.OpError:
            if failures:
                raise failures[0] from None
            raise
    else:
        for _ in counted_texts():
            pass
    stopping.check()  # before the counts of a pass cut short are taken for an empty corpus
    data.skipped = sum(data.skip_reasons.values())
    if not data.recipes:
        raise DataError(f"{path}: no usable recipe "
                        f"({data.skipped} records skipped: {describe_skips(data.skip_reasons)})")
    if data.recipes < 2:
        raise DataError(f"{path}: corpus has 1 recipe; at least 2 are needed to hold some out for validation")
    if not data.train_recipes or not data.heldout_recipes:
        return prepare_stream(config, vocabulary, say, _settled(split, path, data.recipes, data.heldout_recipes))
    data.foods = foods.lexicon() or None
    skipped = f" ({data.skipped} records skipped: {describe_skips(data.skip_reasons)})" if data.skipped else ""
    say(f"{path}: streamed {data.recipes} recipes{skipped}; {data.train_recipes} for training, "
        f"{data.heldout_recipes} held out")
    say(f"vocabulary: {len(data.vocabulary)} {config.data.tokens} tokens"
        f"{f' from the first {config.data.vocab_sample} training recipes' if config.data.vocab_sample else ''}; "
        f"{config.data.template} template, {config.data.pipeline} pipeline, windows of {config.data.sequence_length}")
    return data


def _with_template(config: Config, corpus: Source, split: Split, say) -> tuple[Config, Split]:
    """``config`` with the template "auto" chooses for the training recipes of the streamed corpus,
    and ``split`` settled (the pass made again where the hash left a side empty)."""
    with_lists = recipes = held = 0
    for position, recipe in enumerate(corpus.recipes(reading_of(config.data), {})):
        if stopping.requested():
            break  # prepare() raises the stop; what a pass cut short chose is never used
        if split.held_out(position):
            held += 1
        else:
            recipes += 1
            with_lists += bool(recipe.ingredients)
    if recipes + held >= 2 and not (recipes and held) and not stopping.requested():
        return _with_template(config, corpus, _settled(split, corpus.given, recipes + held, held), say)
    template = chosen_template(AUTO, with_lists, recipes)
    say(f"template auto: {template} ({with_lists} of {recipes} training recipes have an ingredient list)")
    return dataclasses.replace(config, data=dataclasses.replace(config.data, template=template)), split


def _settled(split: Split, path: Path | str, recipes: int, held: int) -> Split:
    """The split to pass over the corpus again with, after a pass that left a side empty."""
    if split.moved is not None:  # a settled split leaves neither side empty: the file changed between passes
        raise DataError(f"{path}: changed while it was being read; train again once it is written")
    return split.settled(recipes, held)


def _text_dataset(texts) -> tf.data.Dataset:
    return tf.data.Dataset.from_generator(texts, output_signature=tf.TensorSpec((), tf.string))


def _packed(ids: tf.data.Dataset, length: int) -> tf.data.Dataset:
    """Recipes end to end, cut into windows of ``length + 1`` that overlap by one token.

    The stream is cut into chunks of ``length``; each window is a chunk plus the first token of
    the next one, carried by ``scan``. An empty chunk at the end lets the last chunk out.
    """
    chunks = ids.unbatch().batch(length)
    chunks = chunks.concatenate(tf.data.Dataset.from_tensors(tf.zeros([0], tf.int32)))

    def window(previous: tf.Tensor, chunk: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return chunk, tf.concat([previous, chunk[:1]], axis=0)

    return chunks.scan(tf.zeros([0], tf.int32), window)


def _bucketed(sequences: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Batches of (inputs, targets, weights) of sequences of about the same length, each batch padded
    to its longest: ``pipeline.recipe_batches`` for a stream, whose lengths are not known ahead."""
    batches = sequences.bucket_by_sequence_length(lambda ids: tf.size(ids), BUCKETS,
                                                  [batch_size] * (len(BUCKETS) + 1), padding_values=PAD_ID)
    return batches.map(shifted, num_parallel_calls=tf.data.AUTOTUNE)
