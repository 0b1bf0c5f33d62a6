"""Generating recipes from a trained model, one token at a time with carried state.

The book calls ``model.predict`` on the whole prefix for every new word, so a recipe costs
time quadratic in its length. Here the recurrent cells of the trained model are stepped
directly: the prompt is fed once to build each layer's state (LSTM h and c, GRU h), then each
new token is a single step of every layer. The whole loop is one ``tf.function`` built on
``tf.while_loop``, so Python is not called per token, and ``n`` samples decode in parallel as
one batch, each row stopping at its own end token.

Inside the same loop (guidance.py): n-grams already written in a section can be blocked, and
the directions steered toward the foods the title and ingredient list name. A ``Request`` gives
a recipe's title and/or ingredient list: those tokens are *given*, written into the row at the
right place (the list right after the title the model writes) instead of sampled. With
``best_of`` K, each recipe is sampled K times in the same batch and the candidate that holds
together best is kept (``measures.coherence``).

With ``jit_compile=True`` XLA compiles the loop: about 1.6 times the tokens per second on CPU,
but the compile costs over a second per prompt length, sample count and token limit, more than
the plain graph's tracing. A one-shot ``recipegen generate`` is therefore faster without it;
XLA pays off for many or long recipes from one process (``benchmarks/generation.py`` measures both).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recipegen.decoding import Decoding, Request, SettingError, configured_decoding, is_integer
from recipegen.guidance import MAX_TITLE_TOKENS, RecipeReader, ban, repeated_ngram_bans
from recipegen.measures import SampleText, coherence
from recipegen.model import recurrent_layers
from recipegen.sampling import sample_next, sampled_logits
from recipegen.templates import ParsedRecipe, parse_recipe
from recipegen.text import (DIRECTIONS, END_TOKEN, INGREDIENTS, ITEM, MARKERS, PAD_ID, RECIPE_PREFIX, SEPARATOR,
                            UNK_ID, WORDS, Tokenizer)

__all__ = ["Decoding", "Generation", "Generator", "Request", "Sample", "SettingError", "configured_decoding"]


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


class Generator:
    """A compiled incremental decoder over a trained model's own layers and weights.

    ``tokenizer`` reads prompts and writes samples at the run's token level; with a
    ``template`` each sample is also parsed back into a recipe, and with the run's ``foods``
    (foods.json) the directions can be steered toward the foods a recipe names.
    """

    def __init__(self, model: keras.Model, vocabulary: Sequence[str], tokenizer: Tokenizer = WORDS,
                 template: str | None = None, jit_compile: bool = False, foods: set[str] | None = None):
        self.tokenizer = tokenizer
        self.template = template
        self.vocabulary = [tokenizer.name(entry) for entry in vocabulary]  # markers by name at every level
        self.jit_compile = jit_compile
        self.foods = foods
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}
        if END_TOKEN not in self._ids:
            raise ValueError(f"vocabulary has no {END_TOKEN!r} token")
        self.end_id = self._ids[END_TOKEN]
        self._embedding = model.get_layer("embedding")
        self._cells = [layer.cell for layer in recurrent_layers(model)]
        self._output = model.get_layer("logits")
        # Padding is never a training target (its logit is untrained) and [UNK] is not a word
        # a reader can use: neither is ever sampled.
        banned = np.zeros(len(self.vocabulary), dtype=np.float32)
        banned[[PAD_ID, UNK_ID]] = -np.inf
        self._banned = tf.constant(banned)
        # While a title is written before a given list, only the list's own marker may close it.
        title_bans = np.array([token in MARKERS and token != INGREDIENTS for token in self.vocabulary])
        self._title_bans = tf.constant(title_bans)
        word_level = tokenizer.level == "word"
        self.reader = RecipeReader(self.vocabulary, template, foods if word_level else None, word_level=word_level)
        self._decoders: dict[tuple, Any] = {}

    @classmethod
    def from_run(cls, run: Any, jit_compile: bool = False) -> Generator:
        """The generator of a loaded run (run.Run): its model, vocabulary, token level, template and foods."""
        return cls(run.model, run.vocabulary, run.tokenizer, run.template, jit_compile=jit_compile, foods=run.foods())

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
        if request.ingredients and self.template != "full":
            raise SettingError("ingredients", f"an ingredient list needs a run trained with the full template, not "
                                              f"the {self.template} template: train one with --config configs/full.toml")
        if request.title is None and not request.ingredients:
            raise SettingError("title", "a request gives a title, ingredients or both")
        if self.template not in ("book", "full"):
            raise SettingError("title", f"a title needs a run whose template has one (book or full), not "
                                        f"the {self.template} template")
        pieces: list[str] = []
        if request.title is not None:
            title = " ".join(request.title.split())
            pieces.append(f"{RECIPE_PREFIX} {title} {SEPARATOR}" if self.template == "book" else f"{RECIPE_PREFIX} {title}")
        if self.template == "full":
            pieces.append(INGREDIENTS)
        if request.ingredients:
            for i, line in enumerate(request.ingredients):
                pieces += [ITEM, line] if i else [line]
            pieces.append(DIRECTIONS)
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
        if not is_integer(show_probs) or show_probs < 0:
            raise SettingError("show_probs", f"show_probs must be an integer >= 0, got {show_probs!r}")
        show_probs = min(show_probs, len(self.vocabulary))
        if not is_integer(n) or n < 1:
            raise SettingError("n", f"n must be an integer >= 1, got {n!r}")
        if not is_integer(max_tokens) or max_tokens < 1:
            raise SettingError("max_tokens", f"max_tokens must be an integer >= 1, got {max_tokens!r}")
        if seed is None:
            seed = secrets.randbits(31)
        if requests is not None and not requests:
            raise SettingError("requests", "requests: none given")
        if requests:
            prompt = RECIPE_PREFIX
        prompt_tokens, prompt_ids, unknown = self.encode_prompt(prompt or "")

        copies = n * decoding.best_of  # rows per request, or in all without requests
        row_requests: list[Request | None] = [r for r in requests for _ in range(copies)] if requests else [None] * copies
        row_given: list[list[str]] | None = None  # each row's given tokens, as the request wrote them
        given, waits = None, False
        if requests:
            given_by_request = [self.given_tokens(r) for r in requests]
            if len({waiting for _, waiting in given_by_request}) > 1:
                raise SettingError("requests", "requests in one call either all give a title or none does")
            waits = given_by_request[0][1]
            row_given = [tokens for tokens, _ in given_by_request for _ in range(copies)]
            unknown += [token for tokens, _ in given_by_request for token in tokens if token not in self._ids]
            given = np.full((len(row_given), max(map(len, row_given))), -1, dtype=np.int32)  # (rows, width), -1 padded
            for row, tokens in enumerate(row_given):
                given[row, :len(tokens)] = [self._ids.get(token, UNK_ID) for token in tokens]

        decode = self._decoder(decoding, show_probs, given is not None, waits)
        inputs = [tf.constant(prompt_ids, tf.int32), tf.constant(len(row_requests), tf.int32),
                  tf.constant(max_tokens, tf.int32), tf.constant(seed % 2**63, tf.int64)]
        outputs = decode(*inputs, tf.constant(given)) if given is not None else decode(*inputs)
        candidates = self._samples(outputs, prompt_tokens, show_probs, row_requests, row_given)
        if decoding.best_of > 1:
            likelihood = (outputs["log_likelihood"] / tf.maximum(outputs["scored"], 1.0)).numpy()  # per sampled token
            candidates = [self._best(candidates[i:i + decoding.best_of], likelihood[i:i + decoding.best_of])
                          for i in range(0, len(candidates), decoding.best_of)]
        return Generation(prompt_tokens=prompt_tokens, unknown_words=list(dict.fromkeys(unknown)), seed=seed,
                          samples=candidates, decoding=decoding)

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

    def _decoder(self, decoding: Decoding, show_probs: int, given: bool, waits: bool):
        key = (float(decoding.temperature), decoding.top_k, decoding.top_p, decoding.no_repeat_ngram,
               decoding.repetition_penalty if self.reader.reads_words else 0.0,
               decoding.ingredient_bias if self.steerable else 0.0, decoding.unlisted_penalty if self.steerable else 0.0,
               show_probs, given, waits, decoding.best_of > 1)
        if key not in self._decoders:
            temperature, top_k, top_p, no_repeat, repetition, bias, penalty, show, _, _, likelihood = key

            def decode(prompt, n, max_tokens, seed, given_ids=None):
                return self.decode(prompt, n, max_tokens, seed, temperature, top_k, top_p, show_probs=show,
                                   no_repeat_ngram=no_repeat, repetition_penalty=repetition, ingredient_bias=bias,
                                   unlisted_penalty=penalty, given=given_ids, waits=waits, likelihood=likelihood)

            # Every length left open: one trace serves every prompt, batch and limit.
            signature = [tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
                         tf.TensorSpec([], tf.int64)] + ([tf.TensorSpec([None, None], tf.int32)] if given else [])
            self._decoders[key] = tf.function(decode, input_signature=signature, jit_compile=self.jit_compile)
        return self._decoders[key]

    def _initial_states(self, batch: tf.Tensor) -> list[list[tf.Tensor]]:
        states = []
        for cell in self._cells:
            sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
            states.append([tf.zeros(tf.stack([batch, size])) for size in sizes])
        return states

    def _step(self, token: tf.Tensor, states: list[list[tf.Tensor]]) -> tuple[tf.Tensor, list[list[tf.Tensor]]]:
        """One token through every layer: (batch,) ids -> (batch, vocab) logits and new states."""
        x = self._embedding(token)  # (batch, embedding_dim)
        new_states = []
        for cell, state in zip(self._cells, states):
            x, state = cell(x, state, training=False)  # (batch, units)
            new_states.append(list(state))
        return self._output(x), new_states

    def decode(self, prompt: tf.Tensor, n: tf.Tensor, max_tokens: tf.Tensor, seed: tf.Tensor,
               temperature: float | tf.Tensor, top_k: int | tf.Tensor | None, top_p: float | tf.Tensor | None,
               show_probs: int = 0, no_repeat_ngram: int | tf.Tensor = 0, repetition_penalty: float | tf.Tensor = 0.0,
               ingredient_bias: float | tf.Tensor = 0.0, unlisted_penalty: float | tf.Tensor = 0.0,
               given: tf.Tensor | None = None, waits: bool = False, likelihood: bool = False) -> dict[str, tf.Tensor]:
        """The decoding loop, to run inside a ``tf.function``: prompt ids (at least one) -> (n, steps) ids.

        ``generate`` traces it once per setting, given as Python numbers, and leaves out of the
        graph whatever is off; an exported model (export.py) traces it once with the settings as
        scalar tensors, see sampling.py. ``given`` (n, width), -1 padded: tokens written into each
        row as they are, from the first step on, or (``waits``) from when the model closes the
        title with the list's marker. ``likelihood`` also sums each row's log-probabilities
        (under the model, before any steering) of the tokens it sampled.
        """
        blocks = tf.is_tensor(no_repeat_ngram) or no_repeat_ngram > 0
        steers = self.reader.has_foods and any(tf.is_tensor(s) or s > 0 for s in (ingredient_bias, unlisted_penalty))
        repeats = self.reader.reads_words and (tf.is_tensor(repetition_penalty) or repetition_penalty > 0)
        reads = blocks or steers or repeats  # the reader follows sections for all three
        prompt_length = tf.size(prompt)
        carried: dict[str, Any] = {}
        if reads:
            listed = given if (given is not None and waits) else None
            carried["reader"] = self.reader.initial_state(n, listed)
        if repeats:
            carried["used"] = tf.zeros(tf.stack([n, len(self.vocabulary)]))  # times each word was written in the section
        steps = max_tokens  # the loop's length: max_tokens written tokens, and the given ones besides
        if given is not None:
            given_length = tf.reduce_sum(tf.cast(given >= 0, tf.int32), axis=1)  # (n,)
            steps += tf.shape(given)[1]
            carried["given_at"] = tf.zeros([n], tf.int32)  # the next given token of each row
            carried["giving"] = tf.fill([n], not waits)
            carried["written"] = tf.zeros([n], tf.int32)  # tokens each row has written itself
            # A title the model has not closed is closed for it, leaving at least half the tokens.
            title_limit = tf.minimum(MAX_TITLE_TOKENS[self.tokenizer.level], tf.maximum(max_tokens // 2, 1))
        if blocks:  # each row's tokens so far, the prompt's included, -1 after them
            carried["history"] = tf.concat([tf.fill(tf.stack([n, prompt_length]), 0) + prompt[None, :],
                                            tf.fill(tf.stack([n, steps]), -1)], axis=1)  # (n, prompt + steps)
        if likelihood:
            carried["log_likelihood"] = tf.zeros([n])
            carried["scored"] = tf.zeros([n])

        # Every prompt token but the last only builds state; the last one is the first input
        # of the sampling loop, whose logits predict the first new token. The reader reads them all.
        def feed_prompt(i, states, carried):
            _, states = self._step(tf.fill([n], prompt[i]), states)
            if reads:
                carried = dict(carried, reader=self.reader.observe(carried["reader"], tf.fill([n], prompt[i]), i))
            return i + 1, states, carried

        _, states, carried = tf.while_loop(
            lambda i, *_: i < prompt_length - 1, feed_prompt, (tf.constant(0), self._initial_states(n), carried))
        if reads:
            carried["reader"] = self.reader.observe(carried["reader"], tf.fill([n], prompt[-1]), prompt_length - 1)

        def sample_one(i, token, states, finished, out, carried):
            logits, states = self._step(token, states)
            logits += self._banned
            model_logits = logits
            carried = dict(carried)
            if steers:
                logits = self.reader.steer(logits, carried["reader"], ingredient_bias, unlisted_penalty, prompt_length + i)
            if repeats:
                logits -= repetition_penalty * carried["used"]
            if blocks:
                position = prompt_length + i  # where the next token goes
                since = carried["reader"]["since"]
                bans = lambda: ban(logits, repeated_ngram_bans(carried["history"], position, since, no_repeat_ngram,
                                                               len(self.vocabulary), self.reader.is_word))
                logits = tf.cond(no_repeat_ngram >= 2, bans, lambda: logits) if tf.is_tensor(no_repeat_ngram) else bans()
            if given is not None:
                pending = carried["given_at"] < given_length
                if waits:
                    in_title = pending & ~carried["giving"]
                    logits = tf.where(in_title[:, None] & self._title_bans[None, :], float("-inf"), logits)
            next_token = sample_next(logits, tf.stack([seed, tf.cast(i, tf.int64)]), temperature, top_k, top_p)
            given_now = tf.zeros([n], tf.bool)
            if given is not None:
                giving = carried["giving"]
                if waits:
                    giving |= in_title & ((next_token == given[:, 0]) | (i >= title_limit))
                given_now = giving & pending
                at = tf.minimum(carried["given_at"], tf.shape(given)[1] - 1)
                next_token = tf.where(given_now, tf.gather(given, at, batch_dims=1), next_token)
                carried["given_at"] += tf.cast(given_now, tf.int32)
                carried["giving"] = giving & (carried["given_at"] < given_length)
            if likelihood:
                scored = ~finished & ~given_now
                log_p = tf.gather(tf.nn.log_softmax(model_logits), next_token, batch_dims=1)
                carried["log_likelihood"] += tf.where(scored, log_p, 0.0)
                carried["scored"] += tf.cast(scored, tf.float32)
            next_token = tf.where(finished, PAD_ID, next_token)  # rows already ended emit padding
            if given is not None:  # a row stops once it has written max_tokens tokens itself
                carried["written"] += tf.cast(~finished & ~given_now, tf.int32)
                finished |= carried["written"] >= max_tokens
            finished = finished | (next_token == self.end_id)
            if blocks:
                at = tf.stack([tf.range(n), tf.fill([n], prompt_length + i)], axis=1)
                carried["history"] = tf.tensor_scatter_nd_update(carried["history"], at, next_token)
            if reads:
                section = carried["reader"]["section"]
                carried["reader"] = self.reader.observe(carried["reader"], next_token, prompt_length + i)
            if repeats:
                carried["used"] = self.reader.count_words(carried["used"], next_token,
                                                          carried["reader"]["section"] != section)
            out = dict(out, tokens=out["tokens"].write(i, next_token))
            if given is not None:
                out["given"] = out["given"].write(i, given_now)
            if show_probs:
                top = tf.math.top_k(tf.nn.softmax(sampled_logits(logits, temperature, top_k, top_p)), k=show_probs)
                out.update(top_ids=out["top_ids"].write(i, top.indices), top_probs=out["top_probs"].write(i, top.values))
            return i + 1, next_token, states, finished, out, carried

        # Fixed-size arrays: slots after every row has ended are never written and read as 0.
        out = {"tokens": tf.TensorArray(tf.int32, size=steps)}
        if given is not None:
            out["given"] = tf.TensorArray(tf.bool, size=steps)
        if show_probs:
            out.update(top_ids=tf.TensorArray(tf.int32, size=steps), top_probs=tf.TensorArray(tf.float32, size=steps))
        _, _, _, _, out, carried = tf.while_loop(
            lambda i, token, states, finished, out, carried: (i < steps) & ~tf.reduce_all(finished),
            sample_one,
            (tf.constant(0), tf.fill([n], prompt[-1]), states, tf.zeros([n], tf.bool), out, carried),
        )
        # (steps, n, ...) -> (n, steps, ...)
        result = {name: tf.experimental.numpy.swapaxes(array.stack(), 0, 1) for name, array in out.items()}
        if likelihood:
            result.update(log_likelihood=carried["log_likelihood"], scored=carried["scored"])
        return result

