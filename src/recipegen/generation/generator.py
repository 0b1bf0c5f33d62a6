"""Generating recipes from a trained model: prompts in, readable and parsed recipes out.

``Generator`` reads a prompt exactly as training text is standardized, asks the compiled decoder
(loop.py) for every sample as one batch, and turns its token ids back into ``Sample``s: text for
people, the recipe parsed by its template. A ``Request`` gives a recipe's title and/or ingredient
list: those tokens are *given*, written into the row at the right place instead of sampled. With
``best_of`` K, each recipe is sampled K times in the same batch and the one that holds together
best is kept (``measures.coherence``). ``generate_many`` decodes several callers' asks together.

With ``jit_compile=True`` XLA compiles the loop: about 1.6 times the tokens per second on CPU, but
the compile costs over a second per prompt length, sample count and token limit; a one-shot
``recipegen generate`` is faster without it (``benchmarks/generation.py`` measures both).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recipegen import stopping
from recipegen.generation.loop import Decoder
from recipegen.generation.samples import Ask, Generation, Request, Sample
from recipegen.generation.settings import (
    MAX_BATCH_TOKENS,
    MAX_TOKENS,
    SETTINGS,
    Decoding,
    SettingError,
    is_integer,
)
from recipegen.measures import coherence
from recipegen.templates import given_pieces, parse_recipe
from recipegen.text import END_TOKEN, PAD_ID, RECIPE_PREFIX, UNK_ID, WORDS, Tokenizer


class Generator:
    """A compiled incremental decoder over a trained model's own layers and weights.

    ``tokenizer`` reads prompts and writes samples at the run's token level; with a
    ``template`` each sample is also parsed back into a recipe, and with the run's ``foods``
    (foods.json) the directions can be steered toward the foods a recipe names.
    """

    def __init__(self, model: keras.Model, vocabulary: Sequence[str], tokenizer: Tokenizer = WORDS,
                 template: str | None = None, jit_compile: bool = False, foods: set[str] | None = None,
                 settings_as_inputs: bool = False):
        self.tokenizer = tokenizer
        self.template = template
        self.vocabulary = [tokenizer.name(entry) for entry in vocabulary]  # markers by name at every level
        self.jit_compile = jit_compile
        self.settings_as_inputs = settings_as_inputs
        self.foods = foods
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}
        if END_TOKEN not in self._ids:
            raise ValueError(f"vocabulary has no {END_TOKEN!r} token")
        self.end_id = self._ids[END_TOKEN]
        self.decoder = Decoder(model, self.vocabulary, tokenizer.level, template, foods)
        self.reader = self.decoder.reader
        self._decoders: dict[tuple, Any] = {}

    @classmethod
    def from_run(cls, run: Any, jit_compile: bool = False, settings_as_inputs: bool = False) -> Generator:
        """The generator of a loaded run (run.Run): its model, vocabulary, token level, template and foods."""
        return cls(run.model, run.vocabulary, run.tokenizer, run.template, jit_compile=jit_compile, foods=run.foods(),
                   settings_as_inputs=settings_as_inputs)

    @property
    def steerable(self) -> bool:
        """Whether foods can be steered: a word-level run with sections and food words (foods.json)."""
        return self.reader.has_foods and self.template in ("book", "full")

    def encode_prompt(self, prompt: str) -> tuple[list[str], list[int], list[str]]:
        """Tokens, ids and unknown tokens of a prompt standardized exactly like training text.

        An empty prompt starts a new recipe: the model reads an end token, which is what
        precedes every recipe in a packed training stream, and writes the recipe from its start.
        """
        tokens = self.tokenizer.prompt_tokens(prompt)
        if not tokens:
            return [], [self.end_id], []
        ids = [self._ids.get(token, UNK_ID) for token in tokens]
        unknown = [token for token, i in zip(tokens, ids) if i == UNK_ID]
        if len(unknown) == len(tokens):
            raise SettingError("prompt", f"prompt {prompt!r} has no {self.tokenizer.level} in the model's vocabulary")
        return tokens, ids, unknown

    def given_tokens(self, request: Request) -> tuple[list[str], bool]:
        """The tokens a request gives after the prompt "recipe for", and whether they wait for the
        model to write a title first (a list without a title)."""
        request.check_for(self.template)
        pieces = given_pieces(self.template, request.title, request.ingredients)
        tokens = self.tokenizer.tokens(self.tokenizer.model_text(pieces))
        if request.title is not None:
            tokens = tokens[len(self.tokenizer.prompt_tokens(RECIPE_PREFIX)):]
        return tokens, request.title is None

    def generate(self, prompt: str | None = RECIPE_PREFIX, n: int = 1, max_tokens: int = 200, seed: int | None = None,
                 show_probs: int = 0, requests: Sequence[Request] | None = None, decoding: Decoding | None = None,
                 **settings: Any) -> Generation:
        """``n`` samples after ``prompt``, or ``n`` per request after "recipe for" with what each
        request gives. ``settings`` are ``Decoding`` fields and override ``decoding``'s."""
        decoding = dataclasses.replace(decoding or Decoding(), **settings)
        if not is_integer(n) or n < 1:
            raise SettingError("n", f"n must be an integer >= 1, got {n!r}")
        if seed is None:
            seed = secrets.randbits(31)
        if requests is not None and not requests:
            raise SettingError("requests", "requests: none given")
        copies = n * decoding.best_of
        asks = [Ask(request, n, seed, decoding.temperature, max_tokens, first_row=i * copies)
                for i, request in enumerate(requests or [None])]
        generations = stopping.interruptible(  # a stop is acted on mid-decode
            lambda: self.generate_many(RECIPE_PREFIX if requests else prompt, asks, decoding, show_probs))
        return dataclasses.replace(generations[0], samples=[s for g in generations for s in g.samples],
                                   unknown_words=list(dict.fromkeys(w for g in generations for w in g.unknown_words)))

    def check(self, prompt: str | None, ask: Ask, decoding: Decoding) -> None:
        """Raise SettingError naming what ``generate_many`` would refuse in ``ask`` alone, so that
        one caller's mistake is refused before it shares a batch with others."""
        ask.check()
        _, prompt_ids, _ = self.encode_prompt(prompt or "")
        given = len(self.given_tokens(ask.request)[0]) if ask.request else 0
        self._check_size(ask.n * decoding.best_of, len(prompt_ids), given, ask.max_tokens, ask.n, decoding.best_of)

    def generate_many(self, prompt: str | None, asks: Sequence[Ask], decoding: Decoding, show_probs: int = 0,
                      on_step: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> list[Generation]:
        """One Generation per ask, every ask's rows decoded together in one batch after ``prompt``
        (or "recipe for" and what its request gives); ``decoding``'s temperature is replaced by
        each ask's own. Row r of an ask draws from (its seed, its first_row + r) alone, so an ask
        writes the same samples whatever else shares its batch. ``on_step(i, tokens, alive)``
        sees the batch's tokens at every step as they are decoded (rows in the order of the asks).
        """
        if not asks:
            return []
        for ask in asks:
            ask.check()
        if not is_integer(show_probs) or show_probs < 0:
            raise SettingError("show_probs", f"show_probs must be an integer >= 0, got {show_probs!r}")
        show_probs = min(show_probs, len(self.vocabulary))
        prompt_tokens, prompt_ids, unknown = self.encode_prompt(prompt or "")
        given_by_ask = [self.given_tokens(ask.request) if ask.request else ([], False) for ask in asks]
        copies = [ask.n * decoding.best_of for ask in asks]
        rows = sum(copies)
        self._check_size(rows, len(prompt_ids), max(len(tokens) for tokens, _ in given_by_ask),
                         max(ask.max_tokens for ask in asks), sum(ask.n for ask in asks), decoding.best_of)
        row_asks = [(ask, given, r) for ask, given, k in zip(asks, given_by_ask, copies) for r in range(k)]
        row_given = [tokens for _, (tokens, _), _ in row_asks]
        inputs = {"prompt": tf.constant(prompt_ids, tf.int32),
                  "max_tokens": tf.constant([ask.max_tokens for ask, _, _ in row_asks], tf.int32),
                  "seeds": tf.constant([[ask.seed, ask.first_row + r] for ask, _, r in row_asks], tf.int64,
                                       shape=(rows, 2)),
                  "temperatures": tf.constant([ask.temperature for ask, _, _ in row_asks], tf.float32)}
        if any(row_given):
            given = np.full((rows, max(map(len, row_given))), -1, dtype=np.int32)  # (rows, width), -1 padded
            for row, tokens in enumerate(row_given):
                given[row, :len(tokens)] = [self._ids.get(token, UNK_ID) for token in tokens]
            inputs |= {"given": tf.constant(given), "waits": tf.constant([waits for _, (_, waits), _ in row_asks])}
        outputs = self._decoder(decoding, show_probs, any(row_given), on_step)(inputs)
        candidates = self._samples(outputs, prompt_tokens, show_probs, [ask.request for ask, _, _ in row_asks],
                                   row_given)
        if decoding.best_of > 1:
            likelihood = (outputs["log_likelihood"] / tf.maximum(outputs["scored"], 1.0)).numpy()  # per sampled token
            candidates = [self._best(candidates[i:i + decoding.best_of], likelihood[i:i + decoding.best_of])
                          for i in range(0, len(candidates), decoding.best_of)]
        generations, start = [], 0
        for ask, (tokens, _) in zip(asks, given_by_ask):
            ask_unknown = unknown + [token for token in tokens if token not in self._ids]
            generations.append(Generation(prompt_tokens=prompt_tokens, unknown_words=list(dict.fromkeys(ask_unknown)),
                                          seed=ask.seed, samples=candidates[start:start + ask.n],
                                          decoding=dataclasses.replace(decoding, temperature=ask.temperature)))
            start += ask.n
        return generations

    @staticmethod
    def _check_size(rows: int, prompt: int, given: int, max_tokens: int, n: int, best_of: int) -> None:
        """Refuse a batch the loop cannot hold: every token counts, the prompt's and the given ones
        too (a row reads them all, and its history grows with them), within MAX_TOKENS a row and
        MAX_BATCH_TOKENS a batch."""
        if prompt + given > MAX_TOKENS:
            raise SettingError("ingredients" if given else "prompt",
                               f"{'the given title and ingredients' if given else 'the prompt'} make "
                               f"{prompt + given:,} tokens, more than the {MAX_TOKENS:,} one recipe may hold")
        length = prompt + given + max_tokens
        if rows * length > MAX_BATCH_TOKENS:
            raise SettingError("best_of" if best_of > n else "n",
                               f"{rows:,} samples (n {n:,} x best_of {best_of:,}) of up to {length:,} tokens are "
                               f"more than one batch can hold ({MAX_BATCH_TOKENS:,} tokens): ask for fewer or "
                               f"shorter ones")

    def generate_batches(self, prompt: str | None = RECIPE_PREFIX, n: int = 1, batch_size: int = 32,
                         seed: int | None = None, **options: Any) -> Iterator[Generation]:
        """``n`` samples as Generations of at most ``batch_size`` each, every batch decoded only once
        the one before has been taken, so memory does not grow with ``n``. Batch i is seeded with
        ``seed + i``, so its first batch is ``generate(prompt, batch_size, seed=seed)``; ``options``
        are ``generate``'s."""
        if not is_integer(batch_size) or batch_size < 1:
            raise SettingError("batch_size", f"batch_size must be an integer >= 1, got {batch_size!r}")
        if not is_integer(n) or n < 1:
            raise SettingError("n", f"n must be an integer >= 1, got {n!r}")
        seed = secrets.randbits(31) if seed is None else seed
        for batch, start in enumerate(range(0, n, batch_size)):
            yield self.generate(prompt, n=min(batch_size, n - start), seed=(seed + batch) % 2**63, **options)

    def _samples(self, outputs: dict[str, tf.Tensor], prompt_tokens: list[str], show_probs: int,
                 row_requests: list[Request | None], row_given: list[list[str]] | None) -> list[Sample]:
        """One sample per row of the decoder's outputs."""
        generated = outputs["tokens"].numpy()  # (rows, steps)
        given = outputs["given"].numpy() if "given" in outputs else None
        if show_probs:
            all_top_ids = outputs["top_ids"].numpy()  # (rows, steps, K)
            all_top_probs = outputs["top_probs"].numpy()
        samples = []
        for row_index, row in enumerate(generated):
            ids = row.tolist()
            if PAD_ID in ids:  # never sampled nor given: the row stopped at its own max_tokens
                ids = ids[:ids.index(PAD_ID)]
            ended = self.end_id in ids
            if ended:
                ids = ids[: ids.index(self.end_id)]
            tokens = [self.vocabulary[i] for i in ids]
            positions = sorted(np.flatnonzero(given[row_index, :len(ids)]).tolist()) if given is not None else []
            for position, token in zip(positions, row_given[row_index] if row_given else []):
                tokens[position] = token  # as given, even a word the vocabulary lacks
            steps = None
            if show_probs:
                n_steps = len(ids) + ended
                top_ids = all_top_ids[row_index, :n_steps]  # (steps, K)
                top_probs = all_top_probs[row_index, :n_steps]
                steps = [[(self.vocabulary[i], float(p)) for i, p in zip(ids_k, probs_k)]
                         for ids_k, probs_k in zip(top_ids, top_probs)]
            whole = prompt_tokens + tokens + ([END_TOKEN] if ended else [])
            parsed = parse_recipe(whole, self.template, self.tokenizer) if self.template else None
            samples.append(Sample(text=self.tokenizer.readable(whole), tokens=tokens, ended=ended, steps=steps,
                                  parsed=parsed, given=frozenset(positions),
                                  request=row_requests[row_index]))
        return samples

    def _best(self, candidates: list[Sample], likelihood: np.ndarray) -> Sample:
        """The candidate that ended, is well formed and uses most of its foods; then the most likely."""
        def rank(i: int) -> tuple:
            sample = candidates[i]
            well_formed = sample.parsed is not None and not sample.parsed.problems
            score = coherence(sample.parsed, self.foods) if sample.parsed is not None else 0
            return sample.ended, well_formed, score, float(likelihood[i])

        return candidates[max(range(len(candidates)), key=rank)]

    def _decoder(self, decoding: Decoding, show_probs: int, given: bool, on_step: Callable | None = None):
        """The loop traced for these settings, once: a setting that cannot act on this run is
        turned off first, so settings that decode alike share one trace; the temperature is each
        row's input, and ``best_of`` only asks the loop for each row's likelihood. With
        ``settings_as_inputs`` every setting is an input, and one trace serves them all."""
        acting = dataclasses.replace(
            decoding, temperature=1.0, best_of=1,
            repetition_penalty=decoding.repetition_penalty if self.reader.reads_words else 0.0,
            ingredient_bias=decoding.ingredient_bias if self.steerable else 0.0,
            unlisted_penalty=decoding.unlisted_penalty if self.steerable else 0.0,
            title_temperature=float(decoding.title_temperature))
        likelihood = decoding.best_of > 1
        key = (None if self.settings_as_inputs else acting, show_probs, given, likelihood, on_step)
        if key not in self._decoders:
            fixed = {} if self.settings_as_inputs else {spec.name: getattr(acting, spec.name) for spec in _PER_BATCH}

            def emit(i, tokens, alive, count):
                on_step(int(i), tokens, alive)
                return np.int32(count + 1)

            def decode(inputs):
                return self.decoder.decode(
                    inputs["prompt"], tf.shape(inputs["seeds"])[0], inputs["max_tokens"], inputs["seeds"],
                    temperature=inputs["temperatures"], given=inputs.get("given"), waits=inputs.get("waits", False),
                    show_probs=show_probs, likelihood=likelihood, on_step=emit if on_step else None,
                    **fixed, **inputs.get("settings", {}))

            # Every length left open: one trace serves every prompt, batch and limit.
            signature = {"prompt": tf.TensorSpec([None], tf.int32), "max_tokens": tf.TensorSpec([None], tf.int32),
                         "seeds": tf.TensorSpec([None, 2], tf.int64), "temperatures": tf.TensorSpec([None], tf.float32)}
            if given:
                signature |= {"given": tf.TensorSpec([None, None], tf.int32), "waits": tf.TensorSpec([None], tf.bool)}
            if self.settings_as_inputs:
                signature["settings"] = {spec.name: tf.TensorSpec([], tf.int32 if spec.kind is int else tf.float32)
                                         for spec in _PER_BATCH}
            self._decoders[key] = tf.function(decode, input_signature=[signature],
                                              jit_compile=self.jit_compile and on_step is None)
        decoder = self._decoders[key]
        if not self.settings_as_inputs:
            return decoder
        values = {spec.name: getattr(acting, spec.name) for spec in _PER_BATCH}
        numbers = {spec.name: tf.constant(spec.off if values[spec.name] is None else values[spec.name],
                                          tf.int32 if spec.kind is int else tf.float32) for spec in _PER_BATCH}
        return lambda inputs: decoder(inputs | {"settings": numbers})


_PER_BATCH = tuple(spec for spec in SETTINGS if spec.name not in ("temperature", "best_of"))  # one value a batch
