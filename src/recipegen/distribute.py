"""Training on several GPUs of one machine, or on several machines, with ``tf.distribute``.

``train.strategy`` picks one:

- ``default``: no strategy: one device, plain Keras training.
- ``mirrored``: ``MirroredStrategy``, one replica per local GPU (one replica on a CPU-only
  machine). Keras's own ``fit`` trains under it.
- ``multiworker``: ``MultiWorkerMirroredStrategy`` across machines described by ``TF_CONFIG``.
  Keras 3's ``fit`` fails under it (keras-team/keras#20585: a ``PerReplica`` value reaches
  ``convert_to_tensor``), so ``StepTrainer`` trains with a small step of its own.

``train.batch_size`` stays the global batch: each replica gets its share of every batch.

Every worker runs the same program, so all of them make the same collective calls in the same
order; only the chief (worker 0) writes the run directory, the others write the same files to a
temporary directory that goes at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from recipegen.config import TrainConfig
from recipegen.errors import ConfigError, RunFailure, TrainingInterrupted
from recipegen.model import dense_gradients, unrolled

TF_CONFIG_EXAMPLE = '{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}'


def make_strategy(config: TrainConfig) -> tf.distribute.Strategy:
    """The strategy ``config.strategy`` names; "default" is TensorFlow's default, which distributes nothing.

    Call it before anything else touches TensorFlow: MultiWorkerMirroredStrategy configures
    the runtime's collective ops, which cannot change once the runtime has started.
    """
    if config.strategy == "default":
        return tf.distribute.get_strategy()
    if config.strategy == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif config.strategy == "multiworker":
        read_tf_config()
        with _stoppable():  # it waits until every worker has started
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        raise ValueError(f"unknown strategy {config.strategy!r}")
    if config.batch_size < strategy.num_replicas_in_sync:
        raise ConfigError(f"train.batch_size = {config.batch_size} must be at least {strategy.num_replicas_in_sync}, "
                          f"the replicas of the {config.strategy} strategy: each trains on a share of every batch")
    return strategy


@contextlib.contextmanager
def _stoppable() -> Iterator[None]:
    """Ctrl-C ends the process at once while TensorFlow waits for the other workers inside its
    runtime, where Python's own handler never gets to run; nothing is written yet, so nothing
    is lost. SIGTERM cannot: TensorFlow's coordination service installs a handler of its own
    for it while starting; Python's is put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        for number, handler in saved.items():
            if handler is not None:
                signal.signal(number, handler)


def read_tf_config(environ: Mapping[str, str] = os.environ) -> tuple[int, int]:
    """(this worker's index, number of workers) from ``TF_CONFIG``, or a one-line ConfigError.

    TensorFlow reads the variable itself; this only checks it first, because a mistake there
    otherwise surfaces as a traceback deep in the runtime, or as a worker waiting forever.
    """
    text = environ.get("TF_CONFIG")
    if not text:
        raise ConfigError(f"TF_CONFIG: not set; the multiworker strategy needs it on every worker, "
                          f"e.g. {TF_CONFIG_EXAMPLE}")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG: not valid JSON ({e}); expected e.g. {TF_CONFIG_EXAMPLE}") from None
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    task = spec.get("task") if isinstance(spec, dict) else None
    workers = cluster.get("worker") if isinstance(cluster, dict) else None
    if not (isinstance(workers, list) and workers and all(isinstance(w, str) and ":" in w for w in workers)):
        raise ConfigError(f'TF_CONFIG: "cluster" must have a "worker" list of host:port addresses, got {text}')
    if set(cluster) != {"worker"}:
        raise ConfigError(f'TF_CONFIG: only "worker" tasks are supported (worker 0 is the chief), '
                          f'got {sorted(cluster)}')
    if not (isinstance(task, dict) and task.get("type") == "worker"):
        raise ConfigError(f'TF_CONFIG: "task" must be {{"type": "worker", "index": N}}, got {json.dumps(task)}')
    index = task.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(workers):
        raise ConfigError(f"TF_CONFIG: task index must be 0 to {len(workers) - 1} for {len(workers)} workers, "
                          f"got {index!r}")
    return index, len(workers)


def is_multiworker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    return not is_multiworker(strategy) or strategy.cluster_resolver.task_id == 0


@contextlib.contextmanager
def worker_dir(strategy: tf.distribute.Strategy, run_dir: Path) -> Iterator[Path]:
    """``run_dir`` for the chief; for any other worker a temporary directory, removed at the end.

    Every worker saves its model and checkpoints as the chief does (the same program everywhere),
    but only the chief's copy is kept. A worker that loses another says so in one line; the
    lost worker's own output says why.
    """
    if not is_multiworker(strategy):
        yield run_dir
        return
    try:
        if is_chief(strategy):
            yield run_dir
        else:
            with tempfile.TemporaryDirectory(prefix=f"recipegen-worker{strategy.cluster_resolver.task_id}-") as scratch:
                yield Path(scratch) / run_dir.name
    except TrainingInterrupted as e:  # on every worker, the run to resume is the chief's
        raise TrainingInterrupted(run_dir, e.epochs_done) from None
    except tf.errors.UnavailableError as e:
        raise RunFailure("lost contact with another worker, which failed or was stopped: see its own output "
                         "(--debug shows TensorFlow's error)") from e


def chief_decides(strategy: tf.distribute.Strategy, decision: bool) -> bool:
    """The chief's ``decision`` on every worker, so that all stop after the same epoch.

    A time limit is measured on each worker's own clock; had each worker stopped on its own,
    one would wait forever for the others' next gradients.
    """
    if not is_multiworker(strategy):
        return decision
    mine = tf.constant(1.0 if decision and is_chief(strategy) else 0.0)
    return bool(_sum_over_replicas(strategy, mine) > 0)


@tf.function  # collectives run eagerly are slow and say so
def _sum_over_replicas(strategy: tf.distribute.Strategy, value: tf.Tensor) -> tf.Tensor:
    return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: value), axis=None)


class StepTrainer:
    """One epoch at a time, as ``model.fit(dataset, initial_epoch=epoch, epochs=epoch + 1)`` does,
    with a distributed training step of our own and the same callbacks.

    The loss is the model's: cross-entropy averaged over real tokens, padding weighing 0. Each
    replica sums its weighted losses and divides by the real tokens of the whole global batch,
    so the gradients summed over replicas are exactly those of one worker on the global batch;
    they are summed before the optimizer sees them, so its ``clipnorm`` clips the same gradient
    it would on one worker. The "loss" and "accuracy" handed to the callbacks are per real token
    over the epoch so far (``fit`` averages batch means instead: a hair's difference).
    """

    def __init__(self, strategy: tf.distribute.Strategy, model: keras.Model, batch_size: int):
        self.strategy = strategy
        self.model = model
        self.batch_size = batch_size  # global
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)  # its slots, mirrored like the weights
        # The model's own loss, summed rather than averaged: the average is over the real tokens
        # of the global batch, which no replica sees whole. (Keras's mean would also divide by
        # the number of replicas, a guess that holds only when every share has as many tokens.)
        self._summed_loss = type(model.loss).from_config(model.loss.get_config() | {"reduction": "sum"})
        self._step = tf.function(self._distributed_step)

    def fit_epoch(self, dataset: tf.data.Dataset, epoch: int, callbacks: list[keras.callbacks.Callback],
                  verbose: bool) -> dict[str, float]:
        steps = int(dataset.cardinality())
        hooks = keras.callbacks.CallbackList(callbacks, model=self.model, verbose=1 if verbose else 0,
                                             epochs=epoch + 1, steps=steps if steps >= 0 else None)
        self.model.stop_training = False
        hooks.on_train_begin()
        hooks.on_epoch_begin(epoch)
        loss_sum = token_count = correct = 0.0
        logs: dict[str, float] = {}
        batches = self.strategy.experimental_distribute_dataset(dataset.map(self._fill_batch))
        for batch, (inputs, targets, weights) in enumerate(batches):
            hooks.on_train_batch_begin(batch)
            batch_loss, batch_tokens, batch_correct = (float(x) for x in self._step(inputs, targets, weights))
            loss_sum, token_count, correct = loss_sum + batch_loss, token_count + batch_tokens, correct + batch_correct
            logs = {"loss": loss_sum / max(token_count, 1.0), "accuracy": correct / max(token_count, 1.0)}
            hooks.on_train_batch_end(batch, logs)
            if self.model.stop_training:
                break
        hooks.on_epoch_end(epoch, logs)
        hooks.on_train_end(logs)
        return logs

    def _fill_batch(self, inputs: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """The last, partial batch filled up with windows of weight 0: they change neither the
        loss nor the gradients, and no replica is left with an empty share (which the recurrent
        layers cannot take)."""
        missing = [[0, self.batch_size - tf.shape(inputs)[0]], [0, 0]]
        return tf.pad(inputs, missing), tf.pad(targets, missing), tf.pad(weights, missing)

    def _distributed_step(self, inputs: Any, targets: Any, weights: Any) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """One optimizer step on a global batch; returns its summed loss, real tokens and hits."""
        model = self.model

        def replica_step(inputs, targets, weights):  # this replica's share of the batch
            tokens = tf.reduce_sum(weights)
            all_tokens = tf.distribute.get_replica_context().all_reduce("sum", tokens)
            with tf.GradientTape() as tape, unrolled(model, inputs):
                if getattr(model, "sampled_classes", 0):  # the same candidates on every replica: see loss.py
                    loss_sum = model.sampled_loss_sum(inputs, targets, weights, training=True)
                else:
                    logits = model(inputs, training=True)  # (batch, time, vocab)
                    loss_sum = self._summed_loss(targets, logits, sample_weight=weights)  # padding weighs 0
                loss = loss_sum / tf.maximum(all_tokens, 1.0)
            gradients = tape.gradient(loss, model.trainable_variables)
            if getattr(model, "sampled_classes", 0):  # as the model's own sampled step: see dense_gradients
                return dense_gradients(gradients), loss_sum, tokens, tf.constant(float("nan"))  # and no argmax
            hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), targets), tf.float32)
            return gradients, loss_sum, tokens, tf.reduce_sum(hits * weights)

        gradients, loss_sum, tokens, correct = self.strategy.run(replica_step, args=(inputs, targets, weights))
        gradients = [self._sum(g) for g in gradients]  # the optimizer, in cross-replica context, applies them once
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return self._sum(loss_sum), self._sum(tokens), self._sum(correct)

    def _sum(self, value: Any) -> tf.Tensor:
        """A per-replica value summed over every replica of every worker."""
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
