"""Can a simple classifier tell a model's recipes from real ones? And do they read as real because they are copied?

Perplexity rewards a model for predicting real recipes; it does not say whether the recipes it
writes read as real. A reader's impression is hard to count, but a plain classifier's is not:
``realism`` trains a logistic regression on tf-idf weighted word n-grams (Keras's own
``TextVectorization`` and one ``Dense`` unit, no other dependency) to separate samples from
held-out real recipes, and reports its cross-validated ROC AUC: 0.5 when it cannot tell them
apart, 1.0 when it always can. It also names the n-grams that most betray the samples, and those
real recipes have that the samples lack, so a user sees *why* their model's recipes do not read
as real. Both sides are read the same way (``reading``): the title and directions, as the model
writes them.

A model that copies its training recipes would read as real, so ``copying`` says how much of
what it writes is verbatim training text: the share of its 8-grams found in the training
recipes, and the longest run of tokens it copied, next to the same figures for held-out real
recipes, which share stock phrases with the training recipes too.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from recipegen.text import DIRECTIONS, END_TOKEN, INGREDIENTS, WORDS, Tokenizer, standardize

FOLDS = 5
NGRAMS = 2  # words and word pairs: "grilled chicken", "toss to coat"
MAX_FEATURES = 20_000
STEPS = 300  # full-batch gradient steps: the out-of-fold AUC no longer moves
LEARNING_RATE = 20.0  # plain gradient descent: unit-length rows keep a large step stable
L2 = 1e-4
TOP = 10  # n-grams named on each side
COPY_NGRAM = 8  # tokens in a phrase that counts as copied when the training recipes hold it verbatim


def reading(tokens: Sequence[str], tokenizer: Tokenizer = WORDS) -> str:
    """What the classifier reads of a recipe's tokens (prompt included): the title and the directions,
    as one standardized line of words. An ingredient list (full template) is left out, so runs of
    either template are judged on the same text."""
    kept: list[str] = []
    in_list = False
    for token in tokens:
        if token == END_TOKEN:
            break
        if token == INGREDIENTS:
            in_list = True
        elif token == DIRECTIONS:
            in_list = False
        elif not in_list:
            kept.append(token)
    return standardize(tokenizer.as_string(kept))  # words, at the character level too


@dataclass(frozen=True)
class Realism:
    auc: float  # cross-validated ROC AUC of telling samples (positive) from real recipes
    samples: int
    real: int
    betraying: list[tuple[str, float]] = field(default_factory=list)  # n-grams that mark a sample, strongest first
    missing: list[tuple[str, float]] = field(default_factory=list)  # n-grams that mark a real recipe

    def as_dict(self) -> dict:
        return {"auc": self.auc, "samples": self.samples, "real": self.real,
                "betraying": [gram for gram, _ in self.betraying], "missing": [gram for gram, _ in self.missing]}


def realism(samples: Sequence[str], real: Sequence[str], folds: int = FOLDS, seed: int = 0) -> Realism:
    """How well a tf-idf n-gram logistic regression tells ``samples`` from ``real`` texts (``reading``'s),
    as the ROC AUC of its out-of-fold scores over ``folds`` stratified folds.

    The n-grams and their idf are read from all the texts (no label is used for that); only the
    weights are fit within each fold. The n-grams named are those of largest weight either way, fit
    on all the texts: with rows of unit length, the weight says how much one use moves a text's score.
    """
    texts = list(samples) + list(real)
    labels = np.array([1.0] * len(samples) + [0.0] * len(real), dtype=np.float32)
    if min(len(samples), len(real)) < folds:
        return Realism(math.nan, len(samples), len(real))
    classifier = _Classifier(texts)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(texts), dtype=np.int64)
    for label in (1.0, 0.0):
        members = np.flatnonzero(labels == label)
        fold_of[rng.permutation(members)] = np.arange(len(members)) % folds
    scores = np.empty(len(texts), dtype=np.float64)
    for fold in range(folds):
        classifier.fit(fold_of != fold, labels)
        scores[fold_of == fold] = classifier.scores(fold_of == fold)
    weights = classifier.fit(np.ones(len(texts), dtype=bool), labels)
    named = [(classifier.vocabulary[i], float(weights[i])) for i in np.argsort(weights)]
    return Realism(roc_auc(scores, labels), len(samples), len(real),
                   betraying=[pair for pair in reversed(named[-TOP:]) if pair[1] > 0],
                   missing=[pair for pair in named[:TOP] if pair[1] < 0])


class _Classifier:
    """A logistic regression (one ``Dense`` unit) over the tf-idf n-grams of a fixed set of texts,
    fit again from zero weights on any subset of them: full-batch steps, so the same texts and
    labels always give the same weights."""

    def __init__(self, texts: list[str]):
        import keras
        import tensorflow as tf

        vectorizer = keras.layers.TextVectorization(max_tokens=MAX_FEATURES, standardize=None, split="whitespace",
                                                    ngrams=NGRAMS, output_mode="count")
        vectorizer.adapt(tf.constant(texts))
        self.vocabulary = [str(gram) for gram in vectorizer.get_vocabulary()]
        counts = vectorizer(tf.constant(texts)).numpy()  # (texts, n-grams)
        # An n-gram of one text alone can only tell that text apart: the classifier would learn the
        # texts by heart instead of what the samples share. Only n-grams of two texts or more count.
        in_texts = np.count_nonzero(counts, axis=0)
        shared = (in_texts >= 2) & (np.arange(len(in_texts)) > 0)  # 0 is the out-of-vocabulary bucket
        self.vocabulary = [gram for gram, kept in zip(self.vocabulary, shared) if kept]
        counts, in_texts = counts[:, shared], in_texts[shared]
        # tf-idf with a sublinear tf, each text's vector scaled to length 1: "the", thirty times in a
        # recipe, must not drown the one "grilled chicken" that gives a sample away.
        idf = np.log1p(len(texts) / (1.0 + in_texts))
        features = np.log1p(counts) * idf
        self.features = (features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)).astype(
            np.float32)
        self._unit = keras.layers.Dense(1)
        self._unit.build((None, self.features.shape[1]))

    def fit(self, rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Fit on the texts where ``rows`` is true, from zero weights; the n-grams' weights."""
        kernel, bias = _gradient_descent()(self.features[rows], labels[rows])
        self._unit.set_weights([kernel.numpy(), bias.numpy()])
        return self._unit.kernel.numpy()[:, 0]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self._unit(self.features[rows]).numpy()[:, 0]


@functools.cache
def _gradient_descent():
    """The logistic regression's fit, traced once for every classifier and fold (a function per
    classifier would be traced anew each time, which TensorFlow warns about): full-batch gradient
    descent on the mean cross-entropy plus an L2 penalty, from zero weights, so the same texts and
    labels always give the same weights."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def fit(features: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        kernel, bias = tf.zeros([tf.shape(features)[1], 1]), tf.zeros([1])
        for _ in tf.range(STEPS):
            tf.autograph.experimental.set_loop_options(shape_invariants=[(kernel, tf.TensorShape([None, 1]))])
            with tf.GradientTape() as tape:
                tape.watch([kernel, bias])
                logits = tf.matmul(features, kernel)[:, 0] + bias[0]
                loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
                loss += L2 * tf.reduce_sum(tf.square(kernel))
            kernel_gradient, bias_gradient = tape.gradient(loss, [kernel, bias])
            kernel, bias = kernel - LEARNING_RATE * kernel_gradient, bias - LEARNING_RATE * bias_gradient
        return kernel, bias

    return fit


def roc_auc(scores: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties count half):
    the area under the ROC curve, by the Mann-Whitney rank sum."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels) > 0
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):  # tied scores share their mean rank
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


class NgramIndex:
    """Every ``n``-gram of token ids in a corpus, as sorted 64-bit hashes: a few bytes per training
    token, and a membership test for a whole array of n-grams at once."""

    def __init__(self, sequences: Iterable[np.ndarray], n: int = COPY_NGRAM):
        self.n = n
        hashes = [ngram_hashes(ids, n) for ids in sequences]
        self._hashes = np.unique(np.concatenate(hashes)) if hashes else np.zeros(0, np.uint64)

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids) - n + 1,) bool: whether each n-gram of ``ids`` occurs in the corpus."""
        grams = ngram_hashes(ids, self.n)
        if not self._hashes.size:
            return np.zeros(len(grams), dtype=bool)
        at = np.minimum(np.searchsorted(self._hashes, grams), self._hashes.size - 1)
        return self._hashes[at] == grams


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit polynomial hash of each n-gram of ``ids``; collisions are negligible at corpus sizes."""
    ids = np.asarray(ids, dtype=np.uint64)
    count = len(ids) - n + 1
    if count <= 0:
        return np.zeros(0, np.uint64)
    hashes = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            hashes = hashes * np.uint64(1_000_003) + ids[k : k + count] + np.uint64(1)
    return hashes


def copying(texts: Iterable[np.ndarray], index: NgramIndex) -> dict[str, float | int]:
    """Of the texts' n-grams (token ids), the share found verbatim in the indexed corpus, and the
    longest run of tokens covered by copied n-grams in one text."""
    found = total = longest = 0
    for ids in texts:
        copied = index.contains(ids)
        found += int(copied.sum())
        total += len(copied)
        run = best = 0
        for hit in copied:
            run = run + 1 if hit else 0
            best = max(best, run)
        longest = max(longest, best + index.n - 1 if best else 0)
    return {"copied_ngrams": found / total if total else math.nan, "longest_copied": longest}
