"""Training a recipe model and writing its run directory.

A run reads top to bottom: prepare the corpus (prepare.py: recipes held out, vocabulary adapted
on the training recipes only), build the model, or load the checkpoint of a run being resumed,
fit it one epoch at a time with Adam on a loss that ignores padding and with the callbacks of
callbacks.py (held-out score, best model, checkpoint, samples), then write the metrics.

Each epoch's window order is a function of (seed, epoch) alone, so a resumed run sees the same
data order as one that was never interrupted.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from recipegen import __version__, distribute, stopping
from recipegen import config as config_module
from recipegen import run as run_files
from recipegen.callbacks import EpochRecorder, RunProgress, TextGenerator, restore_seed_states, save_checkpoint
from recipegen.config import Config, load_run_config
from recipegen.data import SPLIT_RULE  # read when a run starts: the rule it records
from recipegen.errors import DataError, RunError, TrainingDiverged, TrainingInterrupted
from recipegen.evaluate import WHOLE_RECIPES, Scorer
from recipegen.files import atomic_write_text, read_csv, read_jsonl, write_json
from recipegen.finetune import base_record, describe_unknown, unknown_share
from recipegen.generation.generator import Generator
from recipegen.generation.settings import configured_decoding
from recipegen.model import build_model, compile_model, use_train_settings
from recipegen.prepare import PreparedCorpus, prepare, resume_data, with_template, write_corpus_files
from recipegen.tensorboard_logs import TensorBoardLogger
from recipegen.text import tokenizer_for

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    chief: bool = True  # False on the other workers of a multiworker run: the chief wrote run_dir


def train(config: Config, run_dir: Path, *, overwrite: bool = False, verbose: bool = True,
          log: Log | None = None, base: run_files.Run | None = None) -> TrainResult:
    """Train a model as ``config`` says and write a complete run directory to ``run_dir``.

    With a ``base`` (finetune.py: ``config`` already has its architecture and vocabulary keys),
    the model starts from the base's weights and reads the corpus with the base's vocabulary.
    In a multiworker run only the chief writes ``run_dir``; the other workers write theirs to a
    temporary directory.
    """
    strategy = distribute.make_strategy(config.train)  # first: it may configure TensorFlow's runtime
    with distribute.worker_dir(strategy, run_dir) as own_dir:
        say = log or (lambda message: None)
        seed_everything(config)
        data = prepare(config, vocabulary=base.vocabulary if base else None, say=say, rule=SPLIT_RULE)
        config = with_template(config, data.template)  # "auto" resolved: the run records what it trained on
        if base:
            unknown, tokens = unknown_share(data.train_ids())
            say(describe_unknown(data.source, base, unknown, tokens))
        created = not own_dir.exists()
        with run_files.locked(own_dir):
            run_files.prepare_run_dir(own_dir, overwrite=overwrite)
            try:
                atomic_write_text(own_dir / run_files.CONFIG_FILE, config_module.dumps(config))
                write_corpus_files(data, own_dir)
                with strategy.scope():
                    model = build_model(config.model, len(data.vocabulary))
                    compile_model(model, config.train)
                if base:
                    _start_from(model, base)
                    write_json(own_dir / run_files.BASE_FILE, base_record(base, unknown, tokens))
                state: dict[str, Any] = {"epochs_done": 0, "history": [], "best": None, "train_seconds": 0.0,
                                         "heldout_scoring": WHOLE_RECIPES, "split": SPLIT_RULE}
                save_checkpoint(model, own_dir, state, epochs_done=0)  # resumable even before the first epoch ends
            except BaseException:
                _abandon(own_dir, created)
                raise
            result = _fit(config, own_dir, strategy, model, data, state, verbose, log)
    return result if own_dir == run_dir else TrainResult(run_dir, result.metrics, chief=False)


def _abandon(run_dir: Path, created: bool) -> None:
    """A start that failed before its first checkpoint leaves nothing to block the next try."""
    run_files.remove_run_files(run_dir)
    (run_dir / run_files.LOCK_FILE).unlink(missing_ok=True)  # ours: the directory held no run when we started
    if created:
        with contextlib.suppress(OSError):  # something else was put there meanwhile: it stays
            run_dir.rmdir()


def resume(run_dir: Path, *, epochs: int | None = None, tensorboard: bool = False, strategy: str | None = None,
           verbose: bool = True, log: Log | None = None) -> TrainResult:
    """Continue a run from its last completed epoch, with its optimizer state and data order.

    A run that stopped early continues only when ``epochs`` asks for more than it has done.
    ``tensorboard`` turns TensorBoard logs on from now on; the epochs already done are logged first.
    ``strategy`` replaces the run's train.strategy (how it trains, not what it learns).
    """
    run_files.read_state(run_dir)  # a directory with nothing to resume is refused before it is locked
    with run_files.locked(run_dir):
        return _resume(run_dir, epochs, tensorboard, strategy, verbose, log)


def _resume(run_dir: Path, epochs: int | None, tensorboard: bool, strategy: str | None, verbose: bool,
            log: Log | None) -> TrainResult:
    say = log or (lambda message: None)
    if strategy == "multiworker":
        raise RunError(f"{run_dir}: a multiworker run resumes on one machine: add --strategy default or mirrored")
    run_files.read_state(run_dir)
    run = run_files.read_run(run_dir)
    state = run.state
    if run.finished and not (epochs and epochs > state["epochs_done"]):
        if tensorboard:  # logs for a finished run's epochs, and the switch kept for later resumes
            config = load_run_config(run_dir / run_files.CONFIG_FILE, {"train.tensorboard": True})
            atomic_write_text(run_dir / run_files.CONFIG_FILE, config_module.dumps(config))
            board = TensorBoardLogger(run_dir / run_files.TENSORBOARD_DIR, state["history"],
                                      read_jsonl(run_dir / run_files.SAMPLES_FILE),
                                      read_csv(run_dir / run_files.SAMPLE_MEASURES_FILE, {"epoch": int}))
            board.write()
            board.close()
        say(f"{run_dir}: finished after {state['epochs_done']} epochs, nothing to train "
            f"(--epochs N with N > {state['epochs_done']} trains it longer)")
        return TrainResult(run_dir, run.metrics)
    if epochs and epochs > state["epochs_done"]:
        state.pop("stopped_early_after", None)
        state.pop("stopped_by_time_limit", None)
    overrides = {key: value for key, value in (("train.epochs", epochs), ("train.strategy", strategy),
                                                 ("train.tensorboard", tensorboard)) if value}
    config = load_run_config(run_dir / run_files.CONFIG_FILE, overrides)
    if config.train.strategy == "multiworker":
        raise RunError(f"{run_dir}: a multiworker run resumes on one machine: add --strategy default or mirrored")
    if overrides:
        atomic_write_text(run_dir / run_files.CONFIG_FILE, config_module.dumps(config))
    tf_strategy = distribute.make_strategy(config.train)
    seed_everything(config)
    state["split"] = run.split  # recorded from now on, for a run from before the rule was
    data = resume_data(run_dir, config, say, rule=run.split)  # split again as the run first split it
    with tf_strategy.scope():
        model = keras.saving.load_model(run_dir / state["checkpoint"])
    use_train_settings(model, config.train)
    restore_seed_states(model, state.get("seed_states", {}))
    if state.get("heldout_scoring") != WHOLE_RECIPES:
        _rescore_best(run_dir, config, data, state, say)
    say(f"resuming {run_dir} after epoch {state['epochs_done']} of {config.train.epochs}")
    return _fit(config, run_dir, tf_strategy, model, data, state, verbose, log)


def _rescore_best(run_dir: Path, config: Config, data: PreparedCorpus, state: dict[str, Any], say: Log) -> None:
    """A run from before held-out recipes were scored whole: its best model is scored again the new
    way, so that the epochs to come are compared with it on equal terms (history keeps the old figures)."""
    if state.get("best"):
        score = Scorer(keras.saving.load_model(run_dir / run_files.MODEL_FILE))(data.heldout_dataset(config))
        say(f"{run_dir}: its best model (epoch {state['best']['epoch']}) scored again on whole held-out recipes: "
            f"perplexity {score.perplexity:.2f} (in windows: {state['best']['val_perplexity']:.2f})")
        state["best"] |= {"val_loss": score.loss, "val_perplexity": score.perplexity, "val_accuracy": score.accuracy,
                          "val_tokens": score.tokens}
    state["heldout_scoring"] = WHOLE_RECIPES


def _fit(config: Config, run_dir: Path, strategy: tf.distribute.Strategy, model: keras.Model, data: PreparedCorpus,
         state: dict[str, Any], verbose: bool, log: Log | None) -> TrainResult:
    """Fit from the epoch after ``state``'s last to ``train.epochs``, then write the metrics."""
    recorder = EpochRecorder(run_dir, data.heldout_dataset(config), Scorer(model), state, config.train)
    callbacks, board = _callbacks(config, run_dir, model, data, state, recorder, verbose, log)
    trainer = None  # Keras's fit, except under MultiWorkerMirroredStrategy, where it fails (see distribute.py)
    if distribute.is_multiworker(strategy):
        trainer = distribute.StepTrainer(strategy, model, config.train.batch_size)

    started = time.perf_counter()
    train_tokens = 0
    try:
        # One fit per epoch, so that each epoch's data order depends on (seed, epoch) only.
        for epoch in range(state["epochs_done"], config.train.epochs):
            stopping.check()
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
            stopping.check()  # a stop asked during the epoch: its last batch or its end's work is done
    except KeyboardInterrupt:
        raise TrainingInterrupted(run_dir, state["epochs_done"]) from None
    except (DataError, tf.errors.OpError) as e:  # a streamed corpus gone or changed between epochs
        if isinstance(e, tf.errors.OpError) and data.read_error is None:
            raise
        raise DataError(f"{data.read_error or e}; {run_dir} keeps its {state['epochs_done']} finished epoch(s): "
                        f"resume it on the same corpus with recipegen train --resume {run_dir}") from None
    finally:
        state["train_seconds"] = state.get("train_seconds", 0.0) + time.perf_counter() - started
        if board is not None:
            board.close()
    _say_why_it_stopped(config, run_dir, state, recorder, log)
    return _write_metrics(run_dir, model, data, state, train_tokens)


def _callbacks(config: Config, run_dir: Path, model: keras.Model, data: PreparedCorpus, state: dict[str, Any],
               recorder: EpochRecorder, verbose: bool, log: Log | None) -> tuple[list, TensorBoardLogger | None]:
    """The epoch-end callbacks in their order, and the TensorBoard logger when there is one.

    The recorder adds validation figures to the logs before the progress bar prints them, and
    samples print after the bar's line for the epoch; TensorBoard logs what both recorded, after
    the epoch's checkpoint. A resumed run's samples and measures of the epochs done are kept.
    """
    done = state["epochs_done"]
    generator = Generator(model, data.vocabulary, tokenizer_for(config.data.tokens), config.data.template,
                          foods=data.foods)
    sampler = TextGenerator(
        generator, config.sample.prompt, config.sample.temperatures,
        config.sample.max_tokens or run_files.sample_limit(data.longest_recipe), seed=config.seed,
        count=config.sample.count, foods=data.foods, run_dir=run_dir, log=log,
        samples=[s for s in read_jsonl(run_dir / run_files.SAMPLES_FILE, {"epoch": int}) if s["epoch"] <= done],
        measures=[m for m in read_csv(run_dir / run_files.SAMPLE_MEASURES_FILE, {"epoch": int})
                  if int(m["epoch"]) <= done],
        decoding=configured_decoding(config.sample), recorded=recorder.recorded,
    )
    if done and config.sample.temperatures and not any(s["epoch"] == done for s in sampler.samples):
        sampler.sample_epoch(done - 1)  # the last epoch's samples, lost to a stop during its end: the model is the same
    callbacks = [recorder, RunProgress(config.train.epochs), sampler] if verbose else [recorder, sampler]
    board = None
    if config.train.tensorboard:
        board = TensorBoardLogger(run_dir / run_files.TENSORBOARD_DIR, state["history"], sampler.samples,
                                  sampler.measures)
        board.write()  # epochs done before a --resume that turned the logs on, or whose logs a crash cut short
        callbacks.append(board)
    return callbacks, board


def _say_why_it_stopped(config: Config, run_dir: Path, state: dict[str, Any], recorder: EpochRecorder,
                        log: Log | None) -> None:
    """A line for an early stop; an exception for a diverged loss."""
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


def _write_metrics(run_dir: Path, model: keras.Model, data: PreparedCorpus, state: dict[str, Any],
                   train_tokens: int | None) -> TrainResult:
    """metrics.json, written last: a finished run's metrics count the epochs its state has done."""
    best = state.get("best") or {}
    metrics = {
        "run_format": run_files.RUN_FORMAT, "recipegen_version": __version__,
        "epochs": state["epochs_done"],
        "best_epoch": best.get("epoch"),
        "val_loss": best.get("val_loss"),
        "val_perplexity": best.get("val_perplexity"),
        "val_accuracy": best.get("val_accuracy"), "val_tokens": best.get("val_tokens"),
        "val_scoring": state.get("heldout_scoring", "windows"),
        "train_seconds": round(state["train_seconds"], 2),
        "corpus": data.source,
        "recipes": data.recipes, "skipped_records": data.skipped,
        "train_recipes": data.train_recipes, "heldout_recipes": data.heldout_recipes,
        "train_tokens_per_epoch": train_tokens,
        "stopped_early_after": state.get("stopped_early_after"),
        "vocab_size": len(data.vocabulary), "parameters": int(model.count_params()),
    }
    write_json(run_dir / run_files.STATE_FILE, state)  # the final train_seconds
    write_json(run_dir / run_files.METRICS_FILE, metrics)
    return TrainResult(run_dir=run_dir, metrics=metrics)


def _start_from(model: keras.Model, base: run_files.Run) -> None:
    """Give ``model`` the base's weights. The model is built anew from the new config rather than
    loaded, so training settings that live in its layers (dropout) are the new run's."""
    weights = base.model.get_weights()
    shapes = [w.shape for w in weights], [tuple(v.shape) for v in model.weights]
    if shapes[0] != shapes[1]:
        raise RunError(f"--init-from {base.path}: its model's weights do not match its config.toml")
    model.set_weights(weights)


def seed_everything(config: Config) -> None:
    keras.utils.set_random_seed(config.seed)
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()
