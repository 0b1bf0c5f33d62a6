"""Generating recipes from a trained model, one token at a time with carried state.

The book calls ``model.predict`` on the whole prefix for every new word, so a recipe costs
time quadratic in its length. Here the recurrent cells of the trained model are stepped
directly: the prompt is fed once to build each layer's state (LSTM h and c, GRU h), then each
new token is a single step of every layer. The whole loop is one ``tf.function`` built on
``tf.while_loop``, so Python is not called per token, and ``n`` samples decode in parallel as
one batch, each row stopping at its own end token.

With ``jit_compile=True`` XLA compiles the loop: about 1.6 times the tokens per second on CPU,
but the compile costs over a second per prompt length, sample count and token limit, more than
the plain graph's tracing. A one-shot ``recipegen generate`` is therefore faster without it;
XLA pays off for many or long recipes from one process (``benchmarks/generation.py`` measures both).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from recipegen.model import recurrent_layers
from recipegen.sampling import check_sampling_args, sample_next, sampled_logits
from recipegen.templates import ParsedRecipe, parse_recipe
from recipegen.text import END_TOKEN, PAD_ID, RECIPE_PREFIX, UNK_ID, WORDS, Tokenizer


@dataclass(frozen=True)
class Sample:
    text: str  # the prompt and what followed, readable
    tokens: list[str]  # generated tokens only, without the end token
    ended: bool  # the model closed the recipe itself (else it hit max_tokens)
    # With show_probs=K: for each generated token (the end token included), the K most likely
    # next tokens and their probabilities under the distribution that was sampled.
    steps: list[list[tuple[str, float]]] | None = None
    parsed: ParsedRecipe | None = None  # title, ingredients, steps, when the run's template has sections

    @property
    def chosen(self) -> list[str]:
        """The generated tokens with the end token, when the model wrote it: one per entry of ``steps``."""
        return self.tokens + ([END_TOKEN] if self.ended else [])


@dataclass(frozen=True)
class Generation:
    prompt_tokens: list[str]  # the prompt as the model read it
    unknown_words: list[str]  # prompt words outside the vocabulary, read as [UNK]
    seed: int
    samples: list[Sample] = field(default_factory=list)


class Generator:
    """A compiled incremental decoder over a trained model's own layers and weights.

    ``tokenizer`` reads prompts and writes samples at the run's token level; with a
    ``template`` each sample is also parsed back into a recipe.
    """

    def __init__(self, model: keras.Model, vocabulary: Sequence[str], tokenizer: Tokenizer = WORDS,
                 template: str | None = None, jit_compile: bool = False):
        self.tokenizer = tokenizer
        self.template = template
        self.vocabulary = [tokenizer.name(entry) for entry in vocabulary]  # markers by name at every level
        self.jit_compile = jit_compile
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
        self._decoders: dict[tuple, tf.types.experimental.PolymorphicFunction] = {}

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
            raise ValueError(f"prompt {prompt!r} has no {self.tokenizer.level} in the model's vocabulary")
        return tokens, ids, unknown

    def generate(
        self,
        prompt: str = RECIPE_PREFIX,
        n: int = 1,
        max_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        show_probs: int = 0,
    ) -> Generation:
        check_sampling_args(temperature, top_k, top_p)
        if isinstance(show_probs, bool) or not isinstance(show_probs, int) or show_probs < 0:
            raise ValueError(f"show_probs must be an integer >= 0, got {show_probs!r}")
        show_probs = min(show_probs, len(self.vocabulary))
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
        if seed is None:
            seed = secrets.randbits(31)
        prompt_tokens, prompt_ids, unknown = self.encode_prompt(prompt)

        decode = self._decoder(float(temperature), top_k, top_p, show_probs)
        outputs = decode(
            tf.constant(prompt_ids, tf.int32), tf.constant(n, tf.int32), tf.constant(max_tokens, tf.int32),
            tf.constant(seed % 2**63, tf.int64),
        )
        generated = outputs["tokens"].numpy()  # (n, steps)

        if show_probs:
            all_top_ids = outputs["top_ids"].numpy()  # (n, steps, K)
            all_top_probs = outputs["top_probs"].numpy()
        samples = []
        for row_index, row in enumerate(generated):
            ids = row.tolist()
            ended = self.end_id in ids
            if ended:
                ids = ids[: ids.index(self.end_id)]
            tokens = [self.vocabulary[i] for i in ids]
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
                                  parsed=parsed))
        return Generation(prompt_tokens=prompt_tokens, unknown_words=unknown, seed=seed, samples=samples)

    def _decoder(self, temperature: float, top_k: int | None, top_p: float | None, show_probs: int):
        key = (temperature, top_k, top_p, show_probs)
        if key not in self._decoders:
            self._decoders[key] = tf.function(
                lambda prompt, n, max_tokens, seed: self.decode(prompt, n, max_tokens, seed, *key),
                reduce_retracing=True,
                jit_compile=self.jit_compile,
            )
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
               show_probs: int = 0) -> dict[str, tf.Tensor]:
        """The decoding loop, to run inside a ``tf.function``: prompt ids (at least one) -> (n, steps) ids.

        ``generate`` traces it once per sampling setting, given as Python numbers; an exported
        model (export.py) traces it once with the settings as scalar tensors, see sampling.py.
        """
        # Every prompt token but the last only builds state; the last one is the first input
        # of the sampling loop, whose logits predict the first new token.
        def feed_prompt(i, states):
            _, states = self._step(tf.fill([n], prompt[i]), states)
            return i + 1, states

        _, states = tf.while_loop(
            lambda i, _: i < tf.size(prompt) - 1, feed_prompt, (tf.constant(0), self._initial_states(n))
        )

        def sample_one(i, token, states, finished, out):
            logits, states = self._step(token, states)
            logits += self._banned
            next_token = sample_next(logits, tf.stack([seed, tf.cast(i, tf.int64)]), temperature, top_k, top_p)
            next_token = tf.where(finished, PAD_ID, next_token)  # rows already ended emit padding
            finished = finished | (next_token == self.end_id)
            out = dict(out, tokens=out["tokens"].write(i, next_token))
            if show_probs:
                top = tf.math.top_k(tf.nn.softmax(sampled_logits(logits, temperature, top_k, top_p)), k=show_probs)
                out.update(top_ids=out["top_ids"].write(i, top.indices), top_probs=out["top_probs"].write(i, top.values))
            return i + 1, next_token, states, finished, out

        # Fixed-size arrays: slots after every row has ended are never written and read as 0.
        out = {"tokens": tf.TensorArray(tf.int32, size=max_tokens)}
        if show_probs:
            out.update(top_ids=tf.TensorArray(tf.int32, size=max_tokens), top_probs=tf.TensorArray(tf.float32, size=max_tokens))
        _, _, _, _, out = tf.while_loop(
            lambda i, token, states, finished, out: (i < max_tokens) & ~tf.reduce_all(finished),
            sample_one,
            (tf.constant(0), tf.fill([n], prompt[-1]), states, tf.zeros([n], tf.bool), out),
        )
        # (steps, n, ...) -> (n, steps, ...)
        return {name: tf.experimental.numpy.swapaxes(array.stack(), 0, 1) for name, array in out.items()}
