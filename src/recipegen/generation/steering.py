"""Steering the decoder inside its compiled loop: no repeated n-grams, and foods that hold together.

Samplers (samplers.py) only draw the next token; the functions here change the logits they draw
from, one step at a time, from what the sample holds so far. All of it is tensor ops on state the
decoding loop carries, so Python is never called per token and every row of a batch is steered
by its own text.

- ``repeated_ngram_bans``: the tokens that would complete an n-gram already written in the same
  section of a sample (title, ingredient list, directions). Scoping by section keeps a list's
  "1 / 2 cup" from forbidding the directions to say it again, while a loop in the directions
  ("stir in the flour and stir in the flour ...") is cut at its first repeat.
- ``RecipeReader``: reads a sample as it is written, as the template parser and the measures
  (foods.py) read it afterwards: which section it is in, which foods the title and the ingredient
  list name, which of them the directions have used. ``steer`` then adds a bias to the foods the
  directions have not used yet where the model finds them plausible, favours the end once none
  remain, and subtracts a penalty from foods that the list does not name: a checklist, as in
  Kiddon et al. (2016), kept by the decoder rather than learnt.

Everything derives from the token stream (prompt, given and sampled tokens alike), so the same
steering works in ``recipegen generate``, the epoch-end samples, evaluation and the export.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from recipegen.foods import CONNECTIVES, words
from recipegen.text import DIRECTIONS, END_TOKEN, INGREDIENTS, ITEM, SEPARATOR, STEP

TITLE, LIST, STEPS = 0, 1, 2  # the section a sample is in; "STEPS" is the directions
# A wanted food is pushed only where the model already finds it at least e**-6 (1/400) as likely as
# its first choice: "heat the [chicken]" yes, "preheat the [chicken]" no. Without this a strong
# bias writes every food of the list into the first sentence (benchmarks/coherence.py).
PLAUSIBLE = 6.0
# Once the directions have used every food of the title and the ingredient list, the end of the recipe
# is made e**2 (7) times as likely: at temperature 0.5 directions otherwise ramble on past their work.
# (Not with the book template: its only checklist, the title's one or two foods, is done too early.)
FINISHED = 2.0
MAX_TITLE_TOKENS = {"word": 30, "char": 150}  # a title the model has not closed by then is closed for it


def repeated_ngram_bans(history: tf.Tensor, length: tf.Tensor, since: tf.Tensor, n: int | tf.Tensor,
                        vocab_size: int, is_word: tf.Tensor | None = None) -> tf.Tensor:
    """(batch, vocab) bool: the tokens that would repeat an n-gram of ``history[b, since[b]:length]``.

    ``history`` (batch, capacity) holds each row's tokens so far, ``length`` of them (a scalar: rows
    advance together); the next token goes to position ``length``. An n-gram counts only if all of
    it lies in the row's current section, which starts at ``since`` (batch,). With ``is_word``
    (vocab,), only an n-gram whose first n - 1 tokens hold a word blocks its last: quantities are
    numbers and marks, and "1 / 2" may be followed by "cup" in every line of a list.
    """
    capacity = tf.shape(history)[1]
    offsets = tf.range(n - 1)  # (n - 1,)
    starts = tf.range(capacity)  # (capacity,): where each earlier (n - 1)-gram would start
    windows = tf.gather(history, tf.minimum(starts[:, None] + offsets[None, :], capacity - 1), axis=1)  # (b, cap, n-1)
    suffix = tf.gather(history, tf.maximum(length - n + 1 + offsets, 0), axis=1)  # (b, n - 1): the last n - 1 tokens
    follows = starts + n - 1  # (capacity,): where the token that completed each earlier n-gram is
    valid = ((starts[None, :] >= since[:, None]) & (follows[None, :] < length)  # (b, capacity)
             & (length - n + 1 >= since)[:, None])
    if is_word is not None:
        valid &= tf.reduce_any(tf.gather(is_word, tf.maximum(suffix, 0)) > 0, axis=1)[:, None]
    match = tf.reduce_all(windows == suffix[:, None, :], axis=2) & valid
    # Few n-grams ever match: scatter only those, not a zero for every position.
    found = tf.cast(tf.where(match), tf.int32)  # (matches, 2): row, start
    rows = found[:, 0]
    followers = tf.gather_nd(history, tf.stack([rows, tf.minimum(found[:, 1] + n - 1, capacity - 1)], axis=1))
    counts = tf.scatter_nd(tf.stack([rows, followers], axis=1), tf.ones_like(rows),
                           tf.stack([tf.shape(history)[0], vocab_size]))
    return counts > 0


def ban(logits: tf.Tensor, banned: tf.Tensor) -> tf.Tensor:
    """``logits`` with every ``banned`` entry at -inf."""
    return tf.where(banned, float("-inf"), logits)


class RecipeReader:
    """Follows sections and foods as a sample is written; steers the directions toward its foods.

    Built once per decoder from the run's vocabulary (markers by name), template and food words
    (foods.py; None or empty where the run has none, as at the character level, where a food is
    several tokens: then only the sections are followed, for ``repeated_ngram_bans``).

    State, per row: ``section``; ``wanted`` and ``allowed`` (batch, foods + 1), 1 for the foods
    the directions should still use and for the foods the title and list name (the last column
    stands for "not a food" and stays 0); and the ingredient line being read: its main food so far
    and whether a comma, a connective ("for", "to", ...) or a parenthesis has ended the part that
    names it, as ``foods.main_word`` reads a line.
    """

    def __init__(self, vocabulary: Sequence[str], template: str | None, foods: set[str] | None = None,
                 word_level: bool = True):
        self.template = template
        self.vocab_size = len(vocabulary)
        ids = {token: i for i, token in enumerate(vocabulary)}
        food_list = sorted(foods or ())
        group = {food: g for g, food in enumerate(food_list)}
        self.n_foods = len(food_list)
        token_food = np.full(len(vocabulary), self.n_foods, dtype=np.int32)  # n_foods: not a food
        for i, token in enumerate(vocabulary):
            read = words(token)
            if len(read) == 1 and read[0] in group and token.isalpha():
                token_food[i] = group[read[0]]
        self.has_foods = bool((token_food < self.n_foods).any())
        # Letters and words: what makes an n-gram worth blocking (the characters of a word, at the
        # character level), and at the word level what the repetition penalty counts.
        self.is_word = tf.constant([token.isalpha() for token in vocabulary], tf.float32)
        self.reads_words = word_level
        self._counted = self.is_word if word_level else tf.zeros([len(vocabulary)])
        # Markers that a section never holds (the template parser would complain), by section.
        misplaced = {"book": {TITLE: (), STEPS: (SEPARATOR,)},
                     "full": {TITLE: (ITEM, DIRECTIONS, STEP, END_TOKEN), LIST: (INGREDIENTS, STEP, END_TOKEN),
                              STEPS: (INGREDIENTS, ITEM, DIRECTIONS)}}.get(template, {})
        self._misplaced = tf.constant([[token in misplaced.get(section, ()) for token in vocabulary]
                                       for section in (TITLE, LIST, STEPS)])  # (sections, vocab)
        self._token_food = tf.constant(token_food)
        self._real_foods = tf.constant([1.0] * self.n_foods + [0.0])  # (foods + 1,): the last column is no food

        def id_of(*tokens: str) -> tf.Tensor:
            return tf.constant([ids[t] for t in tokens if t in ids] or [-1], tf.int32)

        self.end_id = ids.get(END_TOKEN, -1)
        self.max_title = MAX_TITLE_TOKENS["word" if word_level else "char"]
        closer = {"book": SEPARATOR, "full": INGREDIENTS}.get(template)
        self._closes_title = tf.constant([token == closer for token in vocabulary])
        self._separator = id_of(SEPARATOR)
        self._opens_list = id_of(INGREDIENTS, ITEM)
        self._opens_steps = id_of(DIRECTIONS, STEP)
        self._ends_item = id_of(ITEM, DIRECTIONS, STEP, END_TOKEN)
        self._ends_part = id_of(",", *CONNECTIVES)  # ";" and "." too would end more than main_word ends
        self._open_paren, self._close_paren = ids.get("(", -1), ids.get(")", -1)

    def initial_state(self, batch: tf.Tensor, listed: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """A new sample, in its title. ``listed`` (batch, tokens), -1 padded: a given ingredient list
        whose foods are allowed from the start (the title should promise only what it holds)."""
        foods = tf.zeros(tf.stack([batch, self.n_foods + 1]))
        allowed, list_known = foods, tf.zeros([batch], tf.bool)
        if listed is not None:
            groups = tf.gather(self._token_food, tf.maximum(listed, 0))  # (batch, tokens)
            groups = tf.where(listed >= 0, groups, self.n_foods)
            allowed = tf.minimum(tf.reduce_sum(tf.one_hot(groups, self.n_foods + 1), axis=1), 1.0)
            allowed = allowed * self._real_foods
            list_known = tf.reduce_any(listed >= 0, axis=1)
        return {
            "section": tf.fill([batch], TITLE),
            "since": tf.zeros([batch], tf.int32),
            "wanted": foods,
            "allowed": allowed,
            "list_known": list_known,
            "item_food": tf.fill([batch], self.n_foods),
            "item_done": tf.zeros([batch], tf.bool),
            "in_parentheses": tf.zeros([batch], tf.bool),
        }

    def observe(self, state: dict[str, tf.Tensor], token: tf.Tensor, position: tf.Tensor) -> dict[str, tf.Tensor]:
        """The state after ``token`` (batch,) was written at ``position`` of each row."""
        section = state["section"]
        food = tf.gather(self._token_food, tf.maximum(token, 0))  # (batch,)
        is_food = food < self.n_foods
        hit = tf.one_hot(food, self.n_foods + 1)  # (batch, foods + 1); the "not a food" column never counts
        in_title, in_list, in_steps = section == TITLE, section == LIST, section == STEPS
        wanted, allowed = state["wanted"], state["allowed"]
        item_food, item_done, in_parentheses = state["item_food"], state["item_done"], state["in_parentheses"]

        # The title's foods are promises: the directions should use them.
        named = (in_title & is_food)[:, None]
        wanted = tf.where(named, tf.maximum(wanted, hit), wanted)
        allowed = tf.where(named, tf.maximum(allowed, hit), allowed)
        # Every food of the list is allowed; each line's main food is wanted once the line ends.
        allowed = tf.where((in_list & is_food)[:, None], tf.maximum(allowed, hit), allowed)
        reading = in_list & is_food & ~item_done & ~in_parentheses
        item_food = tf.where(reading, food, item_food)
        item_done |= in_list & _among(token, self._ends_part) & (item_food < self.n_foods)
        in_parentheses = in_list & (in_parentheses | (token == self._open_paren)) & (token != self._close_paren)
        line_ends = in_list & _among(token, self._ends_item)
        wanted = tf.where(line_ends[:, None], tf.maximum(wanted, tf.one_hot(item_food, self.n_foods + 1)), wanted)
        item_food = tf.where(line_ends, self.n_foods, item_food)
        item_done &= ~line_ends
        in_parentheses &= ~line_ends
        # A food the directions name is used.
        wanted = tf.where((in_steps & is_food)[:, None], wanted * (1 - hit), wanted)

        if self.template == "book":
            new_section = tf.where(in_title & _among(token, self._separator), STEPS, section)
        elif self.template == "full":
            new_section = tf.where(in_title & _among(token, self._opens_list), LIST, section)
            new_section = tf.where(~in_steps & _among(token, self._opens_steps), STEPS, new_section)
        else:
            new_section = section
        wanted = wanted * self._real_foods
        return {
            "section": new_section,
            "since": tf.where(new_section != section, position + 1, state["since"]),
            "wanted": wanted,
            "allowed": allowed,
            "list_known": state["list_known"],
            "item_food": item_food,
            "item_done": item_done,
            "in_parentheses": in_parentheses,
        }

    def count_words(self, used: tf.Tensor, token: tf.Tensor, new_section: tf.Tensor) -> tf.Tensor:
        """(batch, vocab) times each word was written in the current section, after ``token``
        (batch,); ``new_section`` rows start counting again."""
        used = tf.where(new_section[:, None], 0.0, used)
        at = tf.stack([tf.range(tf.shape(token)[0]), tf.maximum(token, 0)], axis=1)
        return tf.tensor_scatter_nd_add(used, at, tf.gather(self._counted, tf.maximum(token, 0)))

    def steer(self, logits: tf.Tensor, state: dict[str, tf.Tensor], bias: float | tf.Tensor,
              penalty: float | tf.Tensor, position: tf.Tensor) -> tf.Tensor:
        """Logits (batch, vocab) with the checklist applied.

        In the directions, ``bias`` is added to every food still wanted, where it is plausible
        (``PLAUSIBLE``), and the end is favoured once none is (``FINISHED``); with a list (the full
        template, or a given list from the title on), ``penalty`` is taken off every food that
        neither the title nor the list names. The adjustment is worked out per food, then spread
        over the vocabulary in one gather. And a marker is only written where the template puts
        it: no second list in the directions, no end before them, and a title that has run to
        ``MAX_TITLE_TOKENS`` is closed. ``position`` is where the next token goes.
        """
        in_steps = state["section"] == STEPS  # (batch,)
        checked = state["list_known"] & (state["section"] == TITLE)
        if self.template == "full":
            checked |= in_steps
        foods = slice(0, self.n_foods)
        wanted = state["wanted"][:, foods] * tf.cast(in_steps, tf.float32)[:, None]  # (batch, foods)
        unlisted = (1 - state["allowed"][:, foods]) * tf.cast(checked, tf.float32)[:, None]
        # A penalty of inf would make inf * 0 = NaN for the foods it spares: a finite one as large
        # leaves exactly zero probability all the same.
        penalty = tf.minimum(tf.cast(penalty, tf.float32), 1e9)

        def spread(per_food):  # (batch, foods) -> (batch, vocab), 0 for tokens that are not foods
            per_column = tf.concat([per_food, tf.zeros_like(per_food[:, :1])], axis=1)
            # Gathering rows of the transpose is several times faster on CPU than gathering columns.
            return tf.transpose(tf.gather(tf.transpose(per_column), self._token_food))
        plausible = logits >= tf.reduce_max(logits, axis=1, keepdims=True) - PLAUSIBLE  # (batch, vocab)
        logits += tf.where(plausible, spread(bias * wanted), 0.0) - spread(penalty * unlisted)
        if self.template == "full":  # every food of the list is used: the recipe may end
            done = in_steps & ~tf.reduce_any(state["wanted"] > 0, axis=1) & tf.reduce_any(state["allowed"] > 0, axis=1)
            is_end = tf.range(self.vocab_size) == self.end_id  # (vocab,)
            logits = tf.where(done[:, None] & is_end[None, :] & (bias > 0), logits + FINISHED, logits)
        steering = (bias > 0) | (penalty > 0)  # a Python bool, or a tensor in an export
        long_title = (state["section"] == TITLE) & (position - state["since"] >= self.max_title)  # (batch,)
        forbidden = tf.gather(self._misplaced, state["section"]) | (long_title[:, None] & ~self._closes_title[None, :])
        return tf.where(forbidden & steering, float("-inf"), logits)


def _among(token: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
    """(batch,) bool: whether each token is one of ``ids``."""
    return tf.reduce_any(token[:, None] == ids[None, :], axis=1)
