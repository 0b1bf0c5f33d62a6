"""The compiled decoding loop: a trained model's own cells stepped one token at a time.

The book calls ``model.predict`` on the whole prefix for every new word, so a recipe costs time
quadratic in its length. Here the recurrent cells of the trained model are stepped directly: the
prompt is fed once to build each layer's state (LSTM h and c, GRU h), then each new token is a
single step of every layer. The whole loop is one ``tf.while_loop``, so Python is not called per
token, and ``n`` samples decode in parallel as one batch, each row stopping at its own end token.
Inside the same loop the logits are steered (guidance.py) and given tokens written in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recipegen.guidance import MAX_TITLE_TOKENS, TITLE, RecipeReader, ban, repeated_ngram_bans
from recipegen.model import Recurrence, output_head, recurrent_layers
from recipegen.sampling import sample_next, sampled_logits
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

    def decode(self, prompt: tf.Tensor, n: tf.Tensor, max_tokens: tf.Tensor, seed: tf.Tensor,
               temperature: float | tf.Tensor, top_k: int | tf.Tensor | None, top_p: float | tf.Tensor | None,
               show_probs: int = 0, no_repeat_ngram: int | tf.Tensor = 0, repetition_penalty: float | tf.Tensor = 0.0,
               ingredient_bias: float | tf.Tensor = 0.0, unlisted_penalty: float | tf.Tensor = 0.0,
               given: tf.Tensor | None = None, waits: bool = False, likelihood: bool = False,
               min_p: float | tf.Tensor | None = None,
               title_temperature: float | tf.Tensor = 0.0) -> dict[str, tf.Tensor]:
        """The decoding loop, to run inside a ``tf.function``: prompt ids (at least one) -> (n, steps) ids.

        ``generate`` traces it once per setting, given as Python numbers, and leaves out of the
        graph whatever is off; an exported model (export.py) traces it once with the settings as
        scalar tensors, see sampling.py. ``given`` (n, width), -1 padded: tokens written into each
        row as they are, from the first step on, or (``waits``) from when the model closes the
        title with the list's marker. ``likelihood`` also sums each row's log-probabilities
        (under the model, before any steering) of the tokens it sampled. ``title_temperature``: the
        title is sampled at the higher of it and ``temperature`` (a template with a title only).
        """
        blocks = tf.is_tensor(no_repeat_ngram) or no_repeat_ngram > 0
        steers = self.reader.has_foods and any(tf.is_tensor(s) or s > 0 for s in (ingredient_bias, unlisted_penalty))
        repeats = self.reader.reads_words and (tf.is_tensor(repetition_penalty) or repetition_penalty > 0)
        titled = self.reader.template in ("book", "full")
        hot_titles = titled and (tf.is_tensor(title_temperature) or title_temperature > 0)
        reads = blocks or steers or repeats or hot_titles  # the reader follows sections for all four
        prompt_length = tf.size(prompt)
        carried: dict[str, Any] = {}
        if reads:
            listed = given if (given is not None and waits) else None
            carried["reader"] = self.reader.initial_state(n, listed)
        if repeats:
            carried["used"] = tf.zeros(tf.stack([n, self.vocab_size]))  # times each word was written in the section
        steps = max_tokens  # the loop's length: max_tokens written tokens, and the given ones besides
        if given is not None:
            given_length = tf.reduce_sum(tf.cast(given >= 0, tf.int32), axis=1)  # (n,)
            steps += tf.shape(given)[1]
            carried["given_at"] = tf.zeros([n], tf.int32)  # the next given token of each row
            carried["giving"] = tf.fill([n], not waits)
            carried["written"] = tf.zeros([n], tf.int32)  # tokens each row has written itself
            # A title the model has not closed is closed for it, leaving at least half the tokens.
            title_limit = tf.minimum(MAX_TITLE_TOKENS[self.level], tf.maximum(max_tokens // 2, 1))
        if blocks:  # each row's tokens so far, the prompt's included, -1 after them
            carried["history"] = tf.concat([tf.fill(tf.stack([n, prompt_length]), 0) + prompt[None, :],
                                            tf.fill(tf.stack([n, steps]), -1)], axis=1)  # (n, prompt + steps)
        if likelihood:
            carried["log_likelihood"] = tf.zeros([n])
            carried["scored"] = tf.zeros([n])

        # Every prompt token but the last only builds state; the last one is the first input
        # of the sampling loop, whose logits predict the first new token. The reader reads them all.
        def feed_prompt(i, states, carried):
            _, states = self.step(tf.fill([n], prompt[i]), states)
            if reads:
                carried = dict(carried, reader=self.reader.observe(carried["reader"], tf.fill([n], prompt[i]), i))
            return i + 1, states, carried

        _, states, carried = tf.while_loop(
            lambda i, *_: i < prompt_length - 1, feed_prompt, (tf.constant(0), self.initial_states(n), carried))
        if reads:
            carried["reader"] = self.reader.observe(carried["reader"], tf.fill([n], prompt[-1]), prompt_length - 1)

        def sample_one(i, token, states, finished, out, carried):
            logits, states = self.step(token, states)
            logits += self.banned
            model_logits = logits
            carried = dict(carried)
            if steers:
                logits = self.reader.steer(logits, carried["reader"], ingredient_bias, unlisted_penalty,
                                           prompt_length + i)
            if repeats:
                logits -= repetition_penalty * carried["used"]
            if blocks:
                position = prompt_length + i  # where the next token goes
                since = carried["reader"]["since"]

                def blocked(logits=logits):
                    return ban(logits, repeated_ngram_bans(carried["history"], position, since, no_repeat_ngram,
                                                           self.vocab_size, self.reader.is_word))

                if tf.is_tensor(no_repeat_ngram):  # an export decides on every call
                    logits = tf.cond(no_repeat_ngram >= 2, blocked, lambda: logits)
                else:
                    logits = blocked()
            if given is not None:
                pending = carried["given_at"] < given_length
                if waits:
                    in_title = pending & ~carried["giving"]
                    logits = tf.where(in_title[:, None] & self._title_bans[None, :], float("-inf"), logits)
            row_temperature = None
            if hot_titles:  # each row's temperature: its title's while it writes one
                writing_title = carried["reader"]["section"] == TITLE
                recipe_temperature = tf.cast(temperature, tf.float32)
                row_temperature = tf.where(writing_title, tf.maximum(recipe_temperature, title_temperature),
                                           recipe_temperature)
            next_token = sample_next(logits, tf.stack([seed, tf.cast(i, tf.int64)]), temperature, top_k, top_p, min_p,
                                     row_temperature)
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
                top = tf.math.top_k(tf.nn.softmax(sampled_logits(logits, temperature, top_k, top_p, min_p,
                                                                 row_temperature)), k=show_probs)
                out.update(top_ids=out["top_ids"].write(i, top.indices),
                           top_probs=out["top_probs"].write(i, top.values))
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

