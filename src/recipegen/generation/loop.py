"""The compiled decoding loop: a trained model's own cells stepped one token at a time.

The book calls ``model.predict`` on the whole prefix for every new word, so a recipe costs time
quadratic in its length. Here the recurrent cells of the trained model are stepped directly: the
prompt is fed once to build each layer's state (LSTM h and c, GRU h), then each new token is a
single step of every layer. The whole loop is one ``tf.while_loop``, so Python is not called per
token, and ``n`` samples decode in parallel as one batch, each row stopping at its own end token.
Inside the same loop the logits are steered (steering.py) and given tokens written in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recipegen.generation.samplers import row_keys, sample_next, sampled_logits
from recipegen.generation.steering import MAX_TITLE_TOKENS, TITLE, RecipeReader, ban, repeated_ngram_bans
from recipegen.model import Recurrence, output_head, recurrent_layers
from recipegen.text import END_TOKEN, INGREDIENTS, MARKERS, PAD_ID, UNK_ID


class Decoder:
    """The graph side of generation, built once per model: its layers, the tokens never sampled,
    and the reader that follows a recipe's sections and foods (``vocabulary`` by name)."""

    def __init__(self, model: keras.Model, vocabulary: Sequence[str], level: str, template: str | None,
                 foods: set[str] | None):
        self.vocab_size = len(vocabulary)
        self.end_id = list(vocabulary).index(END_TOKEN)
        self.level = level
        self._embedding = model.get_layer("embedding")
        self._cells = [layer.cell for layer in recurrent_layers(model)]
        self._recurrence = Recurrence(model)
        self._output = output_head(model).logits
        # Padding is never a training target (its logit is untrained) and [UNK] is not a word
        # a reader can use: neither is ever sampled.
        banned = np.zeros(self.vocab_size, dtype=np.float32)
        banned[[PAD_ID, UNK_ID]] = -np.inf
        self.banned = tf.constant(banned)
        # While a title is written before a given list, only the list's own marker may close it.
        self._title_bans = tf.constant([token in MARKERS and token != INGREDIENTS for token in vocabulary])
        word_level = level == "word"
        self.reader = RecipeReader(vocabulary, template, foods if word_level else None, word_level=word_level)

    def initial_states(self, batch: tf.Tensor) -> list[list[tf.Tensor]]:
        return self._recurrence.zero_state(batch)

    def step(self, token: tf.Tensor, states: list[list[tf.Tensor]]) -> tuple[tf.Tensor, list[list[tf.Tensor]]]:
        """One token through every layer: (batch,) ids -> (batch, vocab) logits and new states."""
        x = self._embedding(token)  # (batch, embedding_dim)
        new_states = []
        for cell, state in zip(self._cells, states):
            x, state = cell(x, state, training=False)  # (batch, units)
            new_states.append(list(state))
        return self._output(x), new_states

    def decode(self, prompt: tf.Tensor, n: tf.Tensor, max_tokens: tf.Tensor, seed: tf.Tensor, *,
               temperature: float | tf.Tensor, top_k: int | tf.Tensor | None, top_p: float | tf.Tensor | None,
               min_p: float | tf.Tensor | None, title_temperature: float | tf.Tensor,
               no_repeat_ngram: int | tf.Tensor, repetition_penalty: float | tf.Tensor,
               ingredient_bias: float | tf.Tensor, unlisted_penalty: float | tf.Tensor, show_probs: int = 0,
               given: tf.Tensor | None = None, waits: bool | tf.Tensor = False, likelihood: bool = False,
               on_step: Callable[..., Any] | None = None) -> dict[str, tf.Tensor]:
        """The decoding loop, to run inside a ``tf.function``: prompt ids (at least one) -> (n, steps) ids.

        The settings are ``Decoding``'s (settings.py), every one given. As Python numbers (``generate``)
        a setting that is off leaves its work out of the graph; as scalar tensors (an export) each call
        decides, see samplers.py. Rows may differ: ``max_tokens`` and ``temperature`` one per row (n,),
        ``seed`` each row's own [seed, row] (n, 2), else row r draws from (seed, r).
        ``given`` (n, width), -1 padded: tokens written into each row as they are, from the first step
        on, or (``waits``, one bool or one per row) once the model closes its title with the list's
        marker. ``likelihood`` also sums each row's log-probabilities (under the model, before any
        steering) of the tokens it sampled. ``on_step(i, tokens, alive, count)`` sees every step's
        tokens while the loop runs, in order (a server streams them). A title is sampled at the
        higher of ``title_temperature`` and its row's temperature (a template with a title only).
        """
        call = _Call(prompt=prompt, n=n, max_tokens=tf.broadcast_to(max_tokens, [n]), seed=row_keys(seed, n),
                     show_probs=show_probs, given=given, waits=waits, likelihood=likelihood, on_step=on_step,
                     sampler=dict(temperature=tf.broadcast_to(tf.cast(temperature, tf.float32), [n]), top_k=top_k,
                                  top_p=top_p, min_p=min_p),
                     title_temperature=title_temperature, no_repeat_ngram=no_repeat_ngram,
                     repetition_penalty=repetition_penalty, ingredient_bias=ingredient_bias,
                     unlisted_penalty=unlisted_penalty)
        self._plan(call)
        states, carried = self._read_prompt(call, self._start(call))

        def sample_one(i, token, states, finished, out, carried):
            logits, states = self.step(token, states)
            model_logits = logits + self.banned
            carried = dict(carried)
            logits = self._steered(call, i, model_logits, carried)
            row_temperature = self._row_temperature(call, carried)
            keys = tf.concat([call.seed, tf.fill([n, 1], tf.cast(i, tf.int64))], axis=1)  # (n, 3): seed, row, step
            next_token = sample_next(logits, keys, **call.sampler, row_temperature=row_temperature)
            next_token, given_now = self._give(call, i, next_token, carried)
            if likelihood:
                scored = ~finished & ~given_now
                log_p = tf.gather(tf.nn.log_softmax(model_logits), next_token, batch_dims=1)
                carried["log_likelihood"] += tf.where(scored, log_p, 0.0)
                carried["scored"] += tf.cast(scored, tf.float32)
            next_token = tf.where(finished, PAD_ID, next_token)  # rows already ended emit padding
            if on_step is not None:  # the previous call's result is an input: the calls keep their order
                carried["emitted"] = tf.reshape(tf.numpy_function(
                    on_step, [i, next_token, ~finished, carried["emitted"]], tf.int32, stateful=True), [])
            carried["written"] += tf.cast(~finished & ~given_now, tf.int32)  # a row stops at its own max_tokens
            finished |= (carried["written"] >= call.max_tokens) | (next_token == self.end_id)
            self._remember(call, i, next_token, carried)
            out = self._written(call, i, out, next_token, given_now, logits, row_temperature)
            return i + 1, next_token, states, finished, out, carried

        # Fixed-size arrays: slots after every row has ended are never written and read as 0.
        out = {"tokens": tf.TensorArray(tf.int32, size=call.steps)}
        if given is not None:
            out["given"] = tf.TensorArray(tf.bool, size=call.steps)
        if show_probs:
            out.update(top_ids=tf.TensorArray(tf.int32, size=call.steps),
                       top_probs=tf.TensorArray(tf.float32, size=call.steps))
        _, _, _, _, out, carried = tf.while_loop(
            lambda i, token, states, finished, out, carried: (i < call.steps) & ~tf.reduce_all(finished), sample_one,
            (tf.constant(0), tf.fill([n], prompt[-1]), states, tf.zeros([n], tf.bool), out, carried),
        )
        result = {name: tf.experimental.numpy.swapaxes(array.stack(), 0, 1) for name, array in out.items()}
        if likelihood:
            result.update(log_likelihood=carried["log_likelihood"], scored=carried["scored"])
        return result

    def _plan(self, call: _Call) -> None:
        """What this trace does: a Python number that is off leaves its work out; a tensor decides per call."""
        call.blocks = tf.is_tensor(call.no_repeat_ngram) or call.no_repeat_ngram > 0
        call.steers = self.reader.has_foods and any(tf.is_tensor(s) or s > 0
                                                    for s in (call.ingredient_bias, call.unlisted_penalty))
        call.repeats = self.reader.reads_words and (tf.is_tensor(call.repetition_penalty)
                                                    or call.repetition_penalty > 0)
        titled = self.reader.template in ("book", "full")
        call.hot_titles = titled and (tf.is_tensor(call.title_temperature) or call.title_temperature > 0)
        call.reads = call.blocks or call.steers or call.repeats or call.hot_titles  # all four follow the sections
        call.waiting = tf.is_tensor(call.waits) or call.waits  # some row may wait for the model's title
        call.prompt_length = tf.size(call.prompt)
        call.steps = tf.reduce_max(call.max_tokens)  # the loop's length: the written tokens, the given ones besides
        if call.given is not None:
            call.given_length = tf.reduce_sum(tf.cast(call.given >= 0, tf.int32), axis=1)  # (n,)
            call.steps += tf.shape(call.given)[1]
            # A title the model has not closed is closed for it, leaving at least half the tokens.
            call.title_limit = tf.minimum(MAX_TITLE_TOKENS[self.level], tf.maximum(call.max_tokens // 2, 1))

    def _start(self, call: _Call) -> dict[str, Any]:
        """What the loop carries from step to step besides the states, for the work it does."""
        n = call.n
        carried: dict[str, Any] = {}
        if call.reads:
            listed = None
            if call.given is not None and call.waiting:  # the list of a row that waits is known from the start
                listed = tf.where(tf.broadcast_to(call.waits, [n])[:, None], call.given, -1)
            carried["reader"] = self.reader.initial_state(n, listed)
        if call.repeats:
            carried["used"] = tf.zeros(tf.stack([n, self.vocab_size]))  # times each word was written in the section
        if call.given is not None:
            carried["given_at"] = tf.zeros([n], tf.int32)  # the next given token of each row
            carried["giving"] = ~tf.broadcast_to(call.waits, [n])
        if call.blocks:  # each row's tokens so far, the prompt's included, -1 after them
            carried["history"] = tf.concat([tf.fill(tf.stack([n, call.prompt_length]), 0) + call.prompt[None, :],
                                            tf.fill(tf.stack([n, call.steps]), -1)], axis=1)  # (n, prompt + steps)
        carried["written"] = tf.zeros([n], tf.int32)  # tokens each row has written itself
        if call.on_step is not None:
            carried["emitted"] = tf.constant(0)
        if call.likelihood:
            carried["log_likelihood"] = tf.zeros([n])
            carried["scored"] = tf.zeros([n])
        return carried

    def _read_prompt(self, call: _Call, carried: dict[str, Any]) -> tuple[list[list[tf.Tensor]], dict[str, Any]]:
        """Every prompt token but the last only builds state; the last one is the first input of
        the sampling loop, whose logits predict the first new token. The reader reads them all."""
        prompt, n = call.prompt, call.n

        def feed(i, states, carried):
            _, states = self.step(tf.fill([n], prompt[i]), states)
            if call.reads:
                carried = dict(carried, reader=self.reader.observe(carried["reader"], tf.fill([n], prompt[i]), i))
            return i + 1, states, carried

        _, states, carried = tf.while_loop(
            lambda i, *_: i < call.prompt_length - 1, feed, (tf.constant(0), self.initial_states(n), carried))
        if call.reads:
            carried["reader"] = self.reader.observe(carried["reader"], tf.fill([n], prompt[-1]),
                                                    call.prompt_length - 1)
        return states, carried

    def _steered(self, call: _Call, i: tf.Tensor, logits: tf.Tensor, carried: dict[str, Any]) -> tf.Tensor:
        """The logits the sampler draws from: toward the recipe's foods, away from repeats, and
        closed to every marker but the list's while a title is written before a given list."""
        position = call.prompt_length + i  # where the next token goes
        if call.steers:
            logits = self.reader.steer(logits, carried["reader"], call.ingredient_bias, call.unlisted_penalty,
                                       position)
        if call.repeats:
            logits -= call.repetition_penalty * carried["used"]
        if call.blocks:
            since = carried["reader"]["since"]

            def blocked(logits=logits):
                return ban(logits, repeated_ngram_bans(carried["history"], position, since, call.no_repeat_ngram,
                                                       self.vocab_size, self.reader.is_word))

            if tf.is_tensor(call.no_repeat_ngram):  # an export decides on every call
                logits = tf.cond(call.no_repeat_ngram >= 2, blocked, lambda: logits)
            else:
                logits = blocked()
        if call.given is not None and call.waiting:
            in_title = (carried["given_at"] < call.given_length) & ~carried["giving"]
            logits = tf.where(in_title[:, None] & self._title_bans[None, :], float("-inf"), logits)
        return logits

    def _row_temperature(self, call: _Call, carried: dict[str, Any]) -> tf.Tensor | None:
        """Each row's temperature where titles are drawn hotter: its title's while it writes one."""
        if not call.hot_titles:
            return None
        recipe_temperature = call.sampler["temperature"]  # (n,); a greedy row stays greedy
        writing_title = (carried["reader"]["section"] == TITLE) & (recipe_temperature > 0)
        return tf.where(writing_title, tf.maximum(recipe_temperature, call.title_temperature), recipe_temperature)

    def _give(self, call: _Call, i: tf.Tensor, next_token: tf.Tensor,
              carried: dict[str, Any]) -> tuple[tf.Tensor, tf.Tensor]:
        """The sampled tokens with each row's next given token written over its own where the row
        is giving, and which rows were given theirs; ``carried`` moves on."""
        if call.given is None:
            return next_token, tf.zeros([call.n], tf.bool)
        given = call.given
        pending = carried["given_at"] < call.given_length
        giving = carried["giving"]
        if call.waiting:
            in_title = pending & ~giving
            giving |= in_title & ((next_token == given[:, 0]) | (i >= call.title_limit))
        given_now = giving & pending
        at = tf.minimum(carried["given_at"], tf.shape(given)[1] - 1)
        next_token = tf.where(given_now, tf.gather(given, at, batch_dims=1), next_token)
        carried["given_at"] += tf.cast(given_now, tf.int32)
        carried["giving"] = giving & (carried["given_at"] < call.given_length)
        return next_token, given_now

    def _remember(self, call: _Call, i: tf.Tensor, next_token: tf.Tensor, carried: dict[str, Any]) -> None:
        """The token into each row's history, the reader's sections and the words' counts."""
        n = call.n
        if call.blocks:
            at = tf.stack([tf.range(n), tf.fill([n], call.prompt_length + i)], axis=1)
            carried["history"] = tf.tensor_scatter_nd_update(carried["history"], at, next_token)
        if call.reads:
            section = carried["reader"]["section"]
            carried["reader"] = self.reader.observe(carried["reader"], next_token, call.prompt_length + i)
            if call.repeats:
                carried["used"] = self.reader.count_words(carried["used"], next_token,
                                                          carried["reader"]["section"] != section)

    def _written(self, call: _Call, i: tf.Tensor, out: dict[str, Any], next_token: tf.Tensor, given_now: tf.Tensor,
                 logits: tf.Tensor, row_temperature: tf.Tensor | None) -> dict[str, Any]:
        out = dict(out, tokens=out["tokens"].write(i, next_token))
        if call.given is not None:
            out["given"] = out["given"].write(i, given_now)
        if call.show_probs:
            probabilities = tf.nn.softmax(sampled_logits(logits, **call.sampler, row_temperature=row_temperature))
            top = tf.math.top_k(probabilities, k=call.show_probs)
            out.update(top_ids=out["top_ids"].write(i, top.indices), top_probs=out["top_probs"].write(i, top.values))
        return out


@dataclass
class _Call:
    """One call of the loop: its inputs and settings, and (``Decoder._plan``) what it does with them."""

    prompt: tf.Tensor
    n: tf.Tensor
    max_tokens: tf.Tensor
    seed: tf.Tensor
    show_probs: int
    given: tf.Tensor | None
    waits: bool | tf.Tensor
    likelihood: bool
    on_step: Callable[..., Any] | None
    sampler: dict[str, Any]  # samplers.sample_next's settings: temperature, top_k, top_p, min_p
    title_temperature: Any
    no_repeat_ngram: Any
    repetition_penalty: Any
    ingredient_bias: Any
    unlisted_penalty: Any
    blocks: bool = False
    steers: bool = False
    repeats: bool = False
    hot_titles: bool = False
    reads: bool = False
    waiting: bool = False
    prompt_length: Any = None
    steps: Any = None
    given_length: Any = None
    title_limit: Any = None

