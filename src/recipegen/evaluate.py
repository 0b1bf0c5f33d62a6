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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from recipegen import stopping
from recipegen.data import load_corpus
from recipegen.decoding import Decoding, check_max_tokens, configured_decoding
from recipegen.errors import DataError, RunError
from recipegen.generate import Generator, Sample
from recipegen.measures import SampleText, text_measures
from recipegen.pipeline import encode, make_dataset, recipe_texts, recipe_windows
from recipegen.run import Run, load_run, read_heldout
from recipegen.score import Score
from recipegen.templates import parse_recipe
from recipegen.text import END_TOKEN, WORDS, Tokenizer


class Scorer:
    """Scores batches of (inputs, targets, weights) with one compiled function per model."""

    def __init__(self, model: keras.Model):
        self._model = model

        @tf.function(reduce_retracing=True)
        def score_batch(inputs, targets, weights):
            logits = self._model(inputs, training=False)  # (batch, time, vocab)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), targets), tf.float32)
            return (
                tf.reduce_sum(tf.cast(losses, tf.float64) * tf.cast(weights, tf.float64)),
                tf.reduce_sum(weights),
                tf.reduce_sum(hits * weights),
            )

        self._score_batch = score_batch

    def __call__(self, dataset: tf.data.Dataset) -> Score:
        total_loss, tokens, correct = 0.0, 0, 0
        for inputs, targets, weights in dataset:
            batch_loss, batch_tokens, batch_correct = self._score_batch(inputs, targets, weights)
            total_loss += float(batch_loss)
            tokens += int(batch_tokens)
            correct += int(batch_correct)
        return Score(total_loss=total_loss, tokens=tokens, correct=correct)


def score_texts(
    model: keras.Model, vocabulary: Sequence[str], texts: Sequence[str], sequence_length: int, batch_size: int,
    tokenizer: Tokenizer = WORDS,
) -> Score:
    """Score training-form texts (standardized, end token included) the way training windows them."""
    windows = recipe_windows(encode(texts, vocabulary, tokenizer), sequence_length)
    if len(windows) == 0:
        return Score(total_loss=0.0, tokens=0, correct=0)
    return Scorer(model)(make_dataset(windows, batch_size))



def measure_samples(generator: Generator, prompt: str, count: int, temperature: float, max_tokens: int, seed: int,
                    batch_size: int = 32, foods: set[str] | None = None,
                    decoding: Decoding | None = None) -> tuple[dict[str, float], list[Sample]]:
    """Sample ``count`` recipes in batches (batch i seeded with ``seed + i``) and measure them."""
    samples: list[Sample] = []
    for i, start in enumerate(range(0, count, batch_size)):
        stopping.check()
        n = min(batch_size, count - start)
        generation = generator.generate(prompt, n=n, max_tokens=max_tokens, seed=seed + i, decoding=decoding,
                                        temperature=temperature)
        samples += generation.samples
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


def measure_run(run: Run, texts: Sequence[str], count: int, temperatures: Sequence[float], max_tokens: int | None,
                seed: int, batch_size: int = 32, decoding: Decoding | None = None) -> dict:
    """``count`` samples of a run at each temperature, measured, and as many of ``texts`` (real
    recipes in training form) measured alike. ``max_tokens`` defaults to the longest of ``texts``;
    ``decoding`` (its temperature aside) to the run's sample settings."""
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
    by_temperature = []
    for temperature in temperatures:
        measured, _ = measure_samples(generator, prompt, count, temperature, max_tokens, seed, batch_size, foods,
                                      decoding)
        by_temperature.append({"temperature": temperature} | measured)
    real = reference_samples(texts[:count], prompt_tokens, max_tokens, run.template, run.tokenizer)
    settings = {key: value for key, value in dataclasses.asdict(decoding).items() if key != "temperature"}
    return {"count": count, "prompt": prompt, "max_tokens": max_tokens, "seed": seed, "decoding": settings,
            "by_temperature": by_temperature, "real": text_measures(real, foods)}


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
        dataclasses.replace(decoding, temperature=temperature)
    texts = recipe_texts(load_corpus(data).recipes, run.template, run.tokenizer) if data else read_heldout(run.path)
    score = score_texts(run.model, run.vocabulary, texts, run.config.data.sequence_length, run.config.train.batch_size,
                        run.tokenizer)
    stopping.check()
    if score.tokens == 0:
        raise (DataError if data else RunError)(f"{data or run.path}: no tokens to score")
    result: dict[str, Any] = {"run": str(run.path), "data": str(data) if data else "held-out split",
                              "recipes": len(texts)} | score.as_dict()
    if samples:
        result["samples"] = measure_run(run, texts, samples, temperatures, max_tokens,
                                        run.config.seed if seed is None else seed, batch_size, decoding)
    return result
