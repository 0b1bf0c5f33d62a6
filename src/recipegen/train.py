"""Training a recipe model and writing its run directory.

The story of a run: load the corpus, hold out a share of *recipes* (never of windows), adapt
the vocabulary on the training recipes only, cut them into windows, then fit with Adam on a
loss that ignores padding. At every epoch end the held-out recipes are scored exactly (token
sums, not batch means), the best model so far is saved, the TextGenerator callback writes a
sample at each configured temperature, and a checkpoint with the optimizer state is written so
that an interrupted run can be resumed from its last completed epoch.

Each epoch's window order is a function of (seed, epoch) alone, so a resumed run sees the same
data order as one that was never interrupted.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recipegen import __version__
from recipegen import config as config_module
from recipegen import distribute
from recipegen import run as run_files
from recipegen.config import Config, load_config
from recipegen.data import describe_skips, load_corpus, split_corpus
from recipegen.decoding import Decoding, configured_decoding
from recipegen.errors import RunError, TrainingDiverged, TrainingInterrupted
from recipegen.evaluate import Scorer
from recipegen.foods import food_lexicon
from recipegen.generate import Generator
from recipegen.measures import describe_measures, text_measures
from recipegen.model import build_model, compile_model
from recipegen.pipeline import adapt_vocabulary, count_targets, encode, epoch_windows, make_dataset, recipe_texts, recipe_windows
from recipegen.stream import StreamedData, prepare_stream
from recipegen.tensorboard_logs import TensorBoardLogger
from recipegen.templates import template_markers
from recipegen.text import tokenizer_for

Log = Callable[[str], None]


class TextGenerator(keras.callbacks.Callback):
    """Samples recipes at each temperature at every epoch end and measures them, so progress can
    be read, not only plotted: samples go to ``samples.jsonl``, their measures (distinct n-grams,
    repeats, length, endings, ingredient use) to ``sample_measures.csv``, one row per epoch and
    temperature. The ``count`` samples of a temperature decode as one batch."""

    def __init__(self, generator: Generator, prompt: str, temperatures: tuple[float, ...], max_tokens: int,
                 seed: int, count: int = 1, foods: set[str] | None = None, run_dir: Path | None = None,
                 log: Log | None = None, samples: list | None = None, measures: list | None = None,
                 decoding: Decoding | None = None):
        super().__init__()
        self.generator = generator
        self.decoding = decoding
        self.prompt = prompt
        self.temperatures = temperatures
        self.max_tokens = max_tokens
        self.seed = seed
        self.count = count
        self.foods = foods
        self.run_dir = run_dir
        self.log = log
        self.samples: list[dict[str, Any]] = list(samples or [])
        self.measures: list[dict[str, Any]] = list(measures or [])

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if getattr(self.model, "stop_training", False) and logs is not None and not _finite(logs.get("loss")):
            return  # a diverged epoch has nothing worth sampling
        for temperature in self.temperatures:
            generation = self.generator.generate(self.prompt, n=self.count, max_tokens=self.max_tokens,
                                                 seed=self.seed + epoch, decoding=self.decoding, temperature=temperature)
            for sample in generation.samples:
                row = {"epoch": epoch + 1, "temperature": temperature, "text": sample.text,
                       "tokens": len(sample.tokens), "ended": sample.ended}
                self.samples.append(row | (sample.parsed.as_dict() if sample.parsed else {}))
            measured = text_measures([sample.for_measures() for sample in generation.samples], self.foods)
            self.measures.append({"epoch": epoch + 1, "temperature": temperature} | _rounded(measured))
            if self.log:
                self.log(f"[epoch {epoch + 1}, temperature {temperature:g}] {_shortened(generation.samples[0].text)}")
                self.log(f"  {describe_measures(measured)}")
        if self.run_dir is not None:
            run_files.write_jsonl(self.run_dir / run_files.SAMPLES_FILE, self.samples)
            run_files.write_csv(self.run_dir / run_files.SAMPLE_MEASURES_FILE, self.measures)


class RunProgress(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, numbering epochs out of the run's total ("Epoch 3/40"): training
    calls ``fit`` once per epoch, so Keras alone would print "Epoch 3/3"."""

    def __init__(self, epochs: int):
        super().__init__()
        self.run_epochs = epochs

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.epochs = self.run_epochs


class EpochRecorder(keras.callbacks.Callback):
    """Scores the held-out recipes, keeps the best model, checkpoints, and writes history each epoch.

    It runs before Keras's progress bar, so the validation figures it adds to ``logs`` show
    there. It also watches every batch for a NaN or infinite loss and stops training on one,
    without saving anything from the diverged epoch.
    """

    def __init__(self, run_dir: Path, validation: Any, scorer: Scorer, state: dict[str, Any], config: Any):
        super().__init__()
        self.config = config  # TrainConfig: patience, factors
        self.run_dir = run_dir
        self.validation = validation
        self.scorer = scorer
        self.state = state  # epochs_done, history, best, checkpoint: exactly what state.json holds
        self.diverged: tuple[int, int, float] | None = None  # (epoch, batch, loss)
        self._epoch = 0
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not _finite(loss) and self.diverged is None:
            self.diverged = (self._epoch + 1, batch + 1, float(loss))
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.diverged:
            return
        logs = logs if logs is not None else {}
        train_seconds = time.perf_counter() - self._epoch_start  # the epoch's steps, before validation
        score = self.scorer(self.validation)
        logs.update(val_loss=score.loss, val_perplexity=score.perplexity, val_accuracy=score.accuracy)
        row = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", float("nan"))),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "val_loss": score.loss,
            "val_perplexity": score.perplexity,
            "val_accuracy": score.accuracy,
            "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
            "seconds": round(train_seconds, 3),
        }
        self.state["history"].append(row)
        best = self.state.get("best")
        if best is None or score.loss < best["val_loss"]:
            run_files.save_model(self.model, self.run_dir / run_files.MODEL_FILE)
            self.state["best"] = row | {"val_tokens": score.tokens}
            self.state["epochs_without_improvement"] = 0
        else:
            self.state["epochs_without_improvement"] = self.state.get("epochs_without_improvement", 0) + 1
        self._adjust_after_plateau(epoch)
        run_files.write_csv(self.run_dir / run_files.HISTORY_FILE, self.state["history"])
        save_checkpoint(self.model, self.run_dir, self.state, epochs_done=epoch + 1)

    def _adjust_after_plateau(self, epoch: int) -> None:
        """ReduceLROnPlateau and EarlyStopping, with their counters kept in state.json for --resume."""
        stale = self.state["epochs_without_improvement"]
        if self.config.reduce_lr_patience and stale and stale % self.config.reduce_lr_patience == 0:
            rate = self.model.optimizer.learning_rate
            new_rate = max(float(rate.numpy()) * self.config.reduce_lr_factor, self.config.min_learning_rate)
            rate.assign(new_rate)
        if self.config.early_stopping_patience and stale >= self.config.early_stopping_patience:
            self.state["stopped_early_after"] = epoch + 1
            self.model.stop_training = True
        spent_minutes = sum(row["seconds"] for row in self.state["history"]) / 60
        if self.config.max_minutes and spent_minutes >= self.config.max_minutes:
            self.state["stopped_early_after"] = epoch + 1
            self.state["stopped_by_time_limit"] = True


def save_checkpoint(model: keras.Model, run_dir: Path, state: dict[str, Any], epochs_done: int) -> None:
    """New checkpoint first, then the state that names it, then the old checkpoint goes."""
    previous = state.get("checkpoint")
    path = run_files.checkpoint_path(run_dir, epochs_done)
    run_files.save_model(model, path)
    state.update(epochs_done=epochs_done, checkpoint=path.name, seed_states=_seed_states(model))
    run_files.write_json(run_dir / run_files.STATE_FILE, state)
    if previous and previous != path.name:
        (run_dir / previous).unlink(missing_ok=True)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    chief: bool = True  # False on the other workers of a multiworker run: the chief wrote run_dir


@dataclass(frozen=True)
class PreparedData:
    source: str
    recipes: int
    skipped: int
    vocabulary: list[str]
    train_sequences: list[np.ndarray]  # token ids of each training recipe, end token included
    heldout_windows: np.ndarray  # (windows, sequence_length + 1), each held-out recipe cut on its own
    heldout_texts: list[str]
    foods: set[str] | None = None  # food words of the training recipes (foods.py); None without ingredient lists

    @property
    def train_recipes(self) -> int:
        return len(self.train_sequences)

    @property
    def heldout_recipes(self) -> int:
        return len(self.heldout_texts)

    def epoch_dataset(self, config: Config, epoch: int) -> tuple[tf.data.Dataset, int]:
        """One epoch's batches, in an order that depends on (seed, epoch) alone, and their real tokens."""
        windows = epoch_windows(self.train_sequences, config.data.sequence_length, config.data.pipeline,
                                seed=(config.seed, epoch))
        if config.train.steps_per_epoch:
            windows = windows[: config.train.steps_per_epoch * config.train.batch_size]
        return make_dataset(windows, config.train.batch_size), count_targets(windows)

    def heldout_dataset(self, config: Config) -> tf.data.Dataset:
        return make_dataset(self.heldout_windows, config.train.batch_size)


def prepare_data(config: Config, vocabulary: list[str] | None = None, say: Log = lambda message: None) -> PreparedData:
    """Corpus -> split -> vocabulary (adapted on training recipes, unless given) -> token ids."""
    corpus = load_corpus(config.data.path)
    train_recipes, heldout_recipes = split_corpus(corpus.recipes, config.data.validation_fraction, config.seed)
    skipped = f" ({corpus.skipped} records skipped: {describe_skips(corpus.skip_reasons)})" if corpus.skipped else ""
    say(f"{corpus.source}: {len(corpus.recipes)} recipes{skipped}; "
        f"{len(train_recipes)} for training, {len(heldout_recipes)} held out")
    template, tokenizer = config.data.template, tokenizer_for(config.data.tokens)
    train_texts = recipe_texts(train_recipes, template, tokenizer)
    heldout_texts = recipe_texts(heldout_recipes, template, tokenizer)
    if vocabulary is None:
        sample = train_texts[: config.data.vocab_sample] if config.data.vocab_sample else train_texts
        vocabulary = adapt_vocabulary(sample, config.data.vocab_size, tokenizer, template_markers(template))
    train_sequences = encode(train_texts, vocabulary, tokenizer)
    heldout_windows = recipe_windows(encode(heldout_texts, vocabulary, tokenizer), config.data.sequence_length)
    say(f"vocabulary: {len(vocabulary)} {config.data.tokens} tokens; "
        f"{sum(len(ids) for ids in train_sequences):,} training tokens; {template} template, "
        f"{config.data.pipeline} pipeline, windows of {config.data.sequence_length}")
    foods = food_lexicon((line for r in train_recipes for line in r.ingredients),
                         (step for r in train_recipes for step in r.directions)) or None
    without = sum(not r.ingredients for r in train_recipes)
    if template == "full" and without:
        say(f"full template: {without} of {len(train_recipes)} training recipes have no ingredient list")
    return PreparedData(corpus.source, len(corpus.recipes), corpus.skipped, vocabulary, train_sequences,
                        heldout_windows, heldout_texts, foods)


def save_tokens(data: PreparedData, run_dir: Path, corpus_digest: str) -> None:
    """Cache the tokenized corpus in the run, so --resume does not read and tokenize it again."""
    lengths = np.array([len(ids) for ids in data.train_sequences], dtype=np.int64)
    flat = np.concatenate(data.train_sequences) if data.train_sequences else np.zeros(0, np.int32)
    run_files.save_arrays(run_dir / run_files.TOKENS_FILE, train_ids=flat, train_lengths=lengths,
                          heldout_windows=data.heldout_windows)
    meta = {"corpus_sha256": corpus_digest, "source": data.source, "recipes": data.recipes, "skipped": data.skipped}
    run_files.write_json(run_dir / run_files.TOKENS_META_FILE, meta)


def load_tokens(run_dir: Path, config: Config, vocabulary: list[str], say: Log) -> PreparedData | None:
    """The cached tokens of a run, or None when the cache is missing or the corpus changed."""
    meta_file, tokens_file = run_dir / run_files.TOKENS_META_FILE, run_dir / run_files.TOKENS_FILE
    if not (meta_file.is_file() and tokens_file.is_file()):
        return None
    meta = run_files.read_json(meta_file)
    corpus = Path(config.data.path)
    if corpus.is_file() and meta["corpus_sha256"] != run_files.file_digest(corpus):
        return None
    arrays = np.load(tokens_file)
    train_sequences = np.split(arrays["train_ids"], np.cumsum(arrays["train_lengths"])[:-1])
    say(f"{meta['source']}: {'unchanged' if corpus.is_file() else 'gone'}; using the run's tokenized corpus")
    return PreparedData(meta["source"], meta["recipes"], meta["skipped"], vocabulary, train_sequences,
                        arrays["heldout_windows"], run_files.read_heldout(run_dir))


def train(config: Config, run_dir: Path, *, overwrite: bool = False, verbose: bool = True,
          log: Log | None = None) -> TrainResult:
    """Train a model as ``config`` says and write a complete run directory to ``run_dir``.

    In a multiworker run only the chief writes ``run_dir``; the other workers write theirs to a
    temporary directory.
    """
    strategy = distribute.make_strategy(config.train)  # first: it may configure TensorFlow's runtime
    with distribute.worker_dir(strategy, run_dir) as own_dir:
        result = _train(config, own_dir, strategy, overwrite, verbose, log)
    return result if own_dir == run_dir else TrainResult(run_dir, result.metrics, chief=False)


def _train(config: Config, run_dir: Path, strategy: tf.distribute.Strategy, overwrite: bool, verbose: bool,
           log: Log | None) -> TrainResult:
    say = log or (lambda message: None)
    _seed_everything(config)
    data = prepare_stream(config, say=say) if config.data.stream else prepare_data(config, say=say)

    run_files.prepare_run_dir(run_dir, overwrite=overwrite)
    run_files.write_json(run_dir / run_files.VOCABULARY_FILE, data.vocabulary)
    run_files.atomic_write_text(run_dir / run_files.CONFIG_FILE, config_module.dumps(config))
    if config.data.stream:
        data.save(run_dir)
    else:
        run_files.write_jsonl(run_dir / run_files.HELDOUT_FILE, ({"text": text} for text in data.heldout_texts))
        save_tokens(data, run_dir, run_files.file_digest(Path(config.data.path)))
    if data.foods is not None:
        run_files.write_json(run_dir / run_files.FOODS_FILE, sorted(data.foods))

    with strategy.scope():
        model = build_model(config.model, len(data.vocabulary))
        compile_model(model, config.train)
    state: dict[str, Any] = {"epochs_done": 0, "history": [], "best": None, "train_seconds": 0.0}
    save_checkpoint(model, run_dir, state, epochs_done=0)  # resumable even before the first epoch ends
    return _fit(config, run_dir, strategy, model, data, state, samples=[], verbose=verbose, log=log)


def resume(run_dir: Path, *, epochs: int | None = None, tensorboard: bool = False, strategy: str | None = None,
           verbose: bool = True, log: Log | None = None) -> TrainResult:
    """Continue a run from its last completed epoch, with its optimizer state and data order.

    A run that stopped early continues only when ``epochs`` asks for more than it has done.
    ``tensorboard`` turns TensorBoard logs on from now on; the epochs already done are logged first.
    ``strategy`` replaces the run's train.strategy (how it trains, not what it learns).
    """
    say = log or (lambda message: None)
    state = run_files.read_state(run_dir)
    if epochs and epochs > state["epochs_done"]:
        state.pop("stopped_early_after", None)
        state.pop("stopped_by_time_limit", None)
    overrides = {key: value for key, value in (("train.epochs", epochs), ("train.strategy", strategy),
                                                 ("train.tensorboard", tensorboard)) if value}
    config = load_config(run_dir / run_files.CONFIG_FILE, overrides)
    if config.train.strategy == "multiworker":
        raise RunError(f"{run_dir}: a multiworker run resumes on one machine: add --strategy default or mirrored")
    if overrides:
        run_files.atomic_write_text(run_dir / run_files.CONFIG_FILE, config_module.dumps(config))
    tf_strategy = distribute.make_strategy(config.train)
    _seed_everything(config)
    vocabulary = run_files.read_json(run_dir / run_files.VOCABULARY_FILE)
    data = _resume_stream(run_dir, config, vocabulary, say) if config.data.stream else load_tokens(
        run_dir, config, vocabulary, say)
    if data is None:
        data = prepare_data(config, vocabulary=vocabulary, say=say)
        if data.heldout_texts != run_files.read_heldout(run_dir):
            raise RunError(f"{config.data.path}: the corpus changed since {run_dir} started "
                           "(its held-out recipes differ); start a new run instead")
    with tf_strategy.scope():
        model = keras.saving.load_model(run_dir / state["checkpoint"])
    _restore_seed_states(model, state.get("seed_states", {}))
    say(f"resuming {run_dir} after epoch {state['epochs_done']} of {config.train.epochs}")
    samples = [s for s in run_files.read_jsonl(run_dir / run_files.SAMPLES_FILE) if s["epoch"] <= state["epochs_done"]]
    measures = [m for m in run_files.read_csv(run_dir / run_files.SAMPLE_MEASURES_FILE)
                if int(m["epoch"]) <= state["epochs_done"]]
    foods = run_files.read_foods(run_dir)
    if foods is not None:
        data = dataclasses.replace(data, foods=foods)
    return _fit(config, run_dir, tf_strategy, model, data, state, samples=samples, measures=measures, verbose=verbose,
                log=log)


def _resume_stream(run_dir: Path, config: Config, vocabulary: list[str], say: Log) -> StreamedData:
    """A streamed corpus is read again: it must be the one the run started with."""
    meta = run_files.read_json(run_dir / run_files.TOKENS_META_FILE)
    if run_files.file_digest(Path(config.data.path)) != meta["corpus_sha256"]:
        raise RunError(f"{config.data.path}: the corpus changed since {run_dir} started; start a new run instead")
    data = prepare_stream(config, vocabulary=vocabulary, say=say)
    data.heldout_file = run_dir / run_files.HELDOUT_FILE
    return data


def _fit(config: Config, run_dir: Path, strategy: tf.distribute.Strategy, model: keras.Model,
         data: PreparedData | StreamedData, state: dict[str, Any], samples: list, verbose: bool, log: Log | None,
         measures: list | None = None) -> TrainResult:
    heldout = data.heldout_dataset(config)
    recorder = EpochRecorder(run_dir, heldout, Scorer(model), state, config.train)
    generator = Generator(model, data.vocabulary, tokenizer_for(config.data.tokens), config.data.template,
                          foods=data.foods)
    sampler = TextGenerator(
        generator, config.sample.prompt, config.sample.temperatures, config.sample.max_tokens, seed=config.seed,
        count=config.sample.count, foods=data.foods, run_dir=run_dir, log=log, samples=samples, measures=measures,
        decoding=configured_decoding(config.sample),
    )
    # Order matters: the recorder adds validation figures to the logs before the progress bar
    # prints them, and samples print after the bar's line for the epoch; TensorBoard logs what
    # both recorded, after the epoch's checkpoint.
    callbacks = [recorder, RunProgress(config.train.epochs), sampler] if verbose else [recorder, sampler]
    board = None
    if config.train.tensorboard:
        board = TensorBoardLogger(run_dir / run_files.TENSORBOARD_DIR, state["history"], sampler.samples,
                                  sampler.measures)
        board.write()  # epochs done before a --resume that turned the logs on, or whose logs a crash cut short
        callbacks.append(board)
    trainer = None  # Keras's fit, except under MultiWorkerMirroredStrategy, where it fails (see distribute.py)
    if distribute.is_multiworker(strategy):
        trainer = distribute.StepTrainer(strategy, model, config.train.batch_size)

    started = time.perf_counter()
    train_tokens = 0
    try:
        # One fit per epoch, so that each epoch's data order depends on (seed, epoch) only.
        for epoch in range(state["epochs_done"], config.train.epochs):
            if distribute.chief_decides(strategy, bool(state.get("stopped_early_after"))):
                break
            dataset, train_tokens = data.epoch_dataset(config, epoch)
            if trainer:
                trainer.fit_epoch(dataset, epoch, callbacks, verbose)
            else:
                with warnings.catch_warnings():
                    # A streamed epoch has no length known ahead; its end is expected, not a shortage.
                    warnings.filterwarnings("ignore", message="Your input ran out of data")
                    model.fit(dataset, initial_epoch=epoch, epochs=epoch + 1, callbacks=callbacks,
                              verbose="auto" if verbose else 0, shuffle=False)
            if recorder.diverged:
                break
    except KeyboardInterrupt:
        raise TrainingInterrupted(run_dir, state["epochs_done"]) from None
    finally:
        state["train_seconds"] = state.get("train_seconds", 0.0) + time.perf_counter() - started
        if board is not None:
            board.close()

    if state.get("stopped_early_after") and log:
        reason = (f"train.max_minutes = {config.train.max_minutes:g} reached" if state.get("stopped_by_time_limit")
                  else f"no better validation loss in {config.train.early_stopping_patience} epochs")
        log(f"stopped after epoch {state['stopped_early_after']}: {reason}")
    if recorder.diverged:
        epoch, batch, loss = recorder.diverged
        kept = f"the checkpoint of epoch {state['epochs_done']}"
        if state.get("best"):
            kept += f" and the best model (epoch {state['best']['epoch']})"
        raise TrainingDiverged(f"loss became {loss} at epoch {epoch}, batch {batch}; kept {kept} in {run_dir} "
                               "(try a lower train.learning_rate)")

    best = state.get("best") or {}
    metrics = {
        "run_format": run_files.RUN_FORMAT,
        "recipegen_version": __version__,
        "epochs": state["epochs_done"],
        "best_epoch": best.get("epoch"),
        "val_loss": best.get("val_loss"),
        "val_perplexity": best.get("val_perplexity"),
        "val_accuracy": best.get("val_accuracy"),
        "val_tokens": best.get("val_tokens"),
        "train_seconds": round(state["train_seconds"], 2),
        "corpus": data.source,
        "recipes": data.recipes,
        "skipped_records": data.skipped,
        "train_recipes": data.train_recipes,
        "heldout_recipes": data.heldout_recipes,
        "train_tokens_per_epoch": train_tokens,
        "stopped_early_after": state.get("stopped_early_after"),
        "vocab_size": len(data.vocabulary),
        "parameters": int(model.count_params()),
    }
    run_files.write_json(run_dir / run_files.STATE_FILE, state)  # the final train_seconds
    run_files.write_json(run_dir / run_files.METRICS_FILE, metrics)
    return TrainResult(run_dir=run_dir, metrics=metrics)


def _seed_generators(model: keras.Model) -> dict[str, Any]:
    """Each layer's (and recurrent cell's) random-seed generator, by layer name."""
    generators = {}
    for layer in model.layers:
        for owner, suffix in ((layer, ""), (getattr(layer, "cell", None), ".cell")):
            generator = getattr(owner, "seed_generator", None)
            if generator is not None:
                generators[layer.name + suffix] = generator
    return generators


def _seed_states(model: keras.Model) -> dict[str, list[int]]:
    """Dropout's random state: a saved .keras model does not keep it, so state.json does."""
    return {name: generator.state.numpy().tolist() for name, generator in _seed_generators(model).items()}


def _restore_seed_states(model: keras.Model, states: dict[str, list[int]]) -> None:
    for name, generator in _seed_generators(model).items():
        if name in states:
            generator.state.assign(np.array(states[name], dtype=generator.state.dtype))


def _seed_everything(config: Config) -> None:
    keras.utils.set_random_seed(config.seed)
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()


def _shortened(text: str, limit: int = 300) -> str:
    """The head of a long sample for the log; samples.jsonl has the whole text."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _rounded(measures: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) if isinstance(value, float) else value for name, value in measures.items()}


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
