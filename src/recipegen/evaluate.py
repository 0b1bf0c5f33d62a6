"""Held-out perplexity and next-token accuracy over real tokens only, and measures of samples.

Scores are sums over tokens, not means of per-batch means: a batch that is mostly padding
counts exactly as much as its real tokens, so a padded batch scores the same as an unpadded one.

``measure_samples`` samples recipes and reads them with ``measures.text_measures``;
``reference_samples`` reads real recipes the same way, cut to the same length after the same
prompt, so each figure has a yardstick beside it; ``measure_run`` does both for a run, and
``evaluate_run`` is all of ``recipegen evaluate``: the score, and the measures when asked.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recipegen import stopping
from recipegen.corpora.sources import present
from recipegen.data import load_corpus, reading_of
from recipegen.errors import DataError, RunError
from recipegen.generation.generator import Generator
from recipegen.generation.samples import Sample
from recipegen.generation.settings import BY_NAME, Decoding, check_max_tokens, configured_decoding
from recipegen.measures import SampleText, text_measures
from recipegen.model import Recurrence
from recipegen.pipeline import batches_dataset, encode, recipe_batches, recipe_texts
from recipegen.prepare import split_flat
from recipegen.realism import COPY_NGRAM, NgramIndex, copying, reading, realism
from recipegen.run import TOKENS_FILE, Run, load_run, read_heldout
from recipegen.score import Score
from recipegen.templates import parse_recipe
from recipegen.text import END_TOKEN, UNK_ID, WORDS, Tokenizer

WHOLE_RECIPES = "whole recipes"  # how held-out recipes are scored (before: "windows" of data.sequence_length)
CHUNK = 128  # positions scored per call: the full softmax of a whole long recipe would not fit in memory


class Scorer:
    """Scores batches of whole recipes (inputs, targets, weights), with one compiled function per model.

    Each recipe is read from its first token to its last in one state, as ``generate`` writes
    one: the batch is scored ``CHUNK`` positions at a time and the recurrent state is carried
    from each stretch to the next (model.Recurrence), so the figure is the model's on whole
    recipes, however long, and does not depend on how they are cut.

    A ``stoppable`` scorer (``recipegen evaluate``) acts on a stop inside each stretch
    (stopping.interruptible); training's is not, since a stop during an epoch's end would lose the epoch.
    """

    def __init__(self, model: keras.Model, chunk: int = CHUNK, stoppable: bool = False):
        self._recurrence = Recurrence(model)
        self._chunk = chunk
        self._run = stopping.interruptible if stoppable else (lambda work: work())

        @tf.function(reduce_retracing=True)
        def score_chunk(inputs, targets, weights, states):
            features, states = self._recurrence(inputs, states)
            logits = self._recurrence.logits(features)  # (batch, time, vocab)
            # The cross-entropy as log-sum-exp less the target's logit: TensorFlow's fused op also
            # writes its gradient, a (batch, time, vocabulary) tensor, and scoring was 1.4x slower with it.
            losses = tf.reduce_logsumexp(logits, axis=-1) - tf.gather(logits, targets, batch_dims=2)
            hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), targets), tf.float32)
            sums = (tf.reduce_sum(tf.cast(losses, tf.float64) * tf.cast(weights, tf.float64)),
                    tf.reduce_sum(weights), tf.reduce_sum(hits * weights))
            return sums, states

        self._score_chunk = score_chunk

    def __call__(self, dataset: tf.data.Dataset) -> Score:
        total_loss, tokens, correct = 0.0, 0, 0
        for inputs, targets, weights in dataset:
            states = self._recurrence.zero_state(tf.shape(inputs)[0])
            for start in range(0, int(tf.shape(inputs)[1]), self._chunk):
                stretch = slice(start, start + self._chunk)
                (batch_loss, batch_tokens, batch_correct), states = self._run(partial(
                    self._score_chunk, inputs[:, stretch], targets[:, stretch], weights[:, stretch], states))
                total_loss += float(batch_loss)
                tokens += int(batch_tokens)
                correct += int(batch_correct)
        return Score(total_loss=total_loss, tokens=tokens, correct=correct)


def score_texts(model: keras.Model, vocabulary: Sequence[str], texts: Sequence[str], batch_size: int,
                tokenizer: Tokenizer = WORDS) -> Score:
    """Score training-form texts (standardized, end token included), each whole; a stop ends it at once."""
    batches = batches_dataset(recipe_batches(encode(texts, vocabulary, tokenizer), batch_size))
    return Scorer(model, stoppable=True)(batches)


def measure_samples(generator: Generator, prompt: str, count: int, temperature: float, max_tokens: int, seed: int,
                    batch_size: int = 32, foods: set[str] | None = None,
                    decoding: Decoding | None = None) -> tuple[dict[str, float], list[Sample]]:
    """Sample ``count`` recipes a batch at a time, seeded as ``Generator.generate_batches`` seeds
    them, and measure them."""
    samples: list[Sample] = []
    for generation in generator.generate_batches(prompt, count, batch_size, seed, max_tokens=max_tokens,
                                                 decoding=decoding, temperature=temperature):
        samples += generation.samples
        stopping.check()
    return text_measures([s.for_measures() for s in samples], foods), samples


def reference_samples(texts: Sequence[str], prompt_tokens: Sequence[str], max_tokens: int, template: str,
                      tokenizer: Tokenizer) -> list[SampleText]:
    """Real recipes (training-form texts) as if a model had written them after ``prompt_tokens``
    with the same ``max_tokens``: the prompt is taken off where the text starts with it, and a
    recipe longer than the limit counts as not ended, cut where sampling would have stopped."""
    references = []
    for text in texts:
        tokens = tokenizer.tokens(text)
        prompt = list(prompt_tokens) if tokens[: len(prompt_tokens)] == list(prompt_tokens) else []
        body = tokens[len(prompt):]
        body = body[: body.index(END_TOKEN)] if END_TOKEN in body else body
        ended = len(body) < max_tokens  # sampling stops after max_tokens tokens, the end token included
        body = body if ended else body[:max_tokens]
        whole = prompt + body + ([END_TOKEN] if ended else [])
        references.append(SampleText(tokens=body, ended=ended, parsed=parse_recipe(whole, template, tokenizer)))
    return references


def longest_recipe(texts: Sequence[str], tokenizer: Tokenizer) -> int:
    """Tokens in the longest training-form text, end token included: a limit no real recipe reaches."""
    return max((len(tokenizer.tokens(text)) for text in texts), default=1)


def chosen(texts: Sequence[str], count: int, seed: int) -> list[str]:
    """``count`` of ``texts`` drawn at random (seeded), in their order. Held-out recipes keep the
    corpus's order, often alphabetical by title: its first ``count`` would be a yardstick of dishes
    whose names start with "a", which a classifier tells from any model's samples by the title alone."""
    if count >= len(texts):
        return list(texts)
    picked = np.random.default_rng(seed).choice(len(texts), size=count, replace=False)
    return [texts[i] for i in sorted(picked)]


def measure_run(run: Run, texts: Sequence[str], count: int, temperatures: Sequence[float], max_tokens: int | None,
                seed: int, batch_size: int = 32, decoding: Decoding | None = None) -> dict:
    """``count`` samples of a run at each temperature, measured, and as many of ``texts`` (real
    recipes in training form, drawn at random with ``seed``) measured alike. ``max_tokens``
    defaults to the longest of ``texts``; ``decoding`` (its temperature aside) to the run's sample settings."""
    generator = Generator.from_run(run)
    decoding = decoding or configured_decoding(run.config.sample)
    prompt = run.config.sample.prompt
    try:
        prompt_tokens = generator.encode_prompt(prompt)[0]
    except ValueError as e:
        raise RunError(f"{run.path}: sample.prompt: {e}") from None
    if max_tokens is None:
        max_tokens = longest_recipe(texts, run.tokenizer)
    foods = run.foods()
    real_texts = chosen(texts, count, seed)
    real_tokens = [run.tokenizer.tokens(text) for text in real_texts]
    real_reading = [reading(tokens, run.tokenizer) for tokens in real_tokens]
    index = copy_index(run)
    ids = {token: i for i, token in enumerate(generator.vocabulary)}

    def copied(token_lists: Iterable[Sequence[str]]) -> dict[str, Any]:
        if index is None:
            return {"copied_ngrams": math.nan, "longest_copied": None}
        return copying((np.array([ids.get(t, UNK_ID) for t in tokens], np.int64) for tokens in token_lists), index)

    by_temperature = []
    for temperature in temperatures:
        measured, samples = measure_samples(generator, prompt, count, temperature, max_tokens, seed, batch_size,
                                            foods, decoding)
        written = [prompt_tokens + sample.tokens for sample in samples]
        told = realism([reading(tokens, run.tokenizer) for tokens in written], real_reading, seed=seed)
        by_temperature.append({"temperature": temperature} | measured | {"realism_auc": told.auc}
                              | copied(written) | {"realism": told.as_dict()})
    real = reference_samples(real_texts, prompt_tokens, max_tokens, run.template, run.tokenizer)
    settings = {key: value for key, value in dataclasses.asdict(decoding).items() if key != "temperature"}
    return {"count": count, "prompt": prompt, "max_tokens": max_tokens, "seed": seed, "decoding": settings,
            "by_temperature": by_temperature, "real": text_measures(real, foods) | copied(real_tokens),
            "copy_ngram": COPY_NGRAM if index is not None else None}


def copy_index(run: Run) -> NgramIndex | None:
    """The 8-grams of the run's training recipes, for ``realism.copying``; None at the character level
    (8 characters are part of a word, not a phrase) or where the training recipes are gone."""
    if run.tokenizer.level != "word":
        return None
    tokens_file = run.path / TOKENS_FILE
    if tokens_file.is_file():
        with np.load(tokens_file) as arrays:
            return NgramIndex(split_flat(arrays["train_ids"], arrays["train_lengths"]))
    if run.config.data.stream and present(run.config.data.path):
        from recipegen.stream import prepare_stream

        streamed = prepare_stream(run.config, run.vocabulary, rule=run.split)
        return NgramIndex(streamed.train_ids())
    return None


def evaluate_run(run_path: Path | None, data: Path | None = None, samples: int = 0,
                 temperatures: Sequence[float] = (), max_tokens: int | None = None, seed: int | None = None,
                 batch_size: int = 32, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score a run (the latest under ./runs when ``run_path`` is None) on its held-out recipes or
    on the corpus ``data``; with ``samples``, also measure that many samples at each temperature
    (default: the run's ``sample.temperatures``), decoded as the run's config and ``settings`` say."""
    run = load_run(run_path)
    decoding = configured_decoding(run.config.sample, **(settings or {}))  # a bad setting fails before any work
    if max_tokens is not None:
        check_max_tokens(max_tokens)
    temperatures = tuple(temperatures) or run.config.sample.temperatures
    for temperature in temperatures:
        BY_NAME["temperature"].check(temperature)
    if data:
        texts = recipe_texts(load_corpus(data, reading_of(run.config.data)).recipes, run.template, run.tokenizer)
    else:
        texts = read_heldout(run.path)
    score = score_texts(run.model, run.vocabulary, texts, run.config.train.batch_size, run.tokenizer)
    stopping.check()
    if score.tokens == 0:
        raise (DataError if data else RunError)(f"{data or run.path}: no tokens to score")
    result: dict[str, Any] = {"run": str(run.path), "data": str(data) if data else "held-out split",
                              "recipes": len(texts)} | score.as_dict() | {"scoring": WHOLE_RECIPES}
    if samples:
        result["samples"] = measure_run(run, texts, samples, temperatures, max_tokens,
                                        run.config.seed if seed is None else seed, batch_size, decoding)
    return result
