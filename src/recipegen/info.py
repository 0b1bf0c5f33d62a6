"""What a run directory holds, read from its files alone: ``recipegen info``.

A run writes config.toml, vocabulary.json, heldout.jsonl, tokens.npz and tokens.json when it
starts, state.json after every epoch and metrics.json when it finishes. So an unfinished run (or
one from before a file existed) shows what it has and the rest as unknown: None here, "unknown" in
text. The run is read as every command reads it (run.read_run), so "finished" here is what
--init-from and --resume go by. Only the parameter count of a run without metrics.json needs
TensorFlow, to load its model.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recipegen import run as run_files
from recipegen.errors import RunError
from recipegen.files import read_jsonl
from recipegen.text import UNK_ID

PERCENTILES = (50, 90, 99)


def describe_run(path: Path | None, import_tensorflow: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """The run at ``path`` (default: the latest under ./runs) as one JSON-ready dict.

    ``import_tensorflow`` runs before a model is loaded, so the CLI can import TensorFlow quietly.
    """
    path = run_files.latest_run(hint="RUN_DIR") if path is None else Path(path)
    run = run_files.read_run(path)
    config, metrics, state, vocabulary = run.config, run.metrics, run.state, run.vocabulary
    meta = run_files.read_json(path / run_files.TOKENS_META_FILE, missing_ok=True) or {}
    tokens = _token_statistics(path / run_files.TOKENS_FILE) or {}
    best = state.get("best") or {"epoch": metrics.get("best_epoch"), "val_perplexity": metrics.get("val_perplexity"),
                                 "val_accuracy": metrics.get("val_accuracy")}
    return {
        "run": str(path),
        "base": run_files.read_json(path / run_files.BASE_FILE, missing_ok=True),  # finetune.base_record
        "finished": run.finished,
        "resumable": run.resumable,
        "model": {
            "cell": config.model.cell,
            "layers": config.model.layers,
            "units": config.model.units,
            "embedding_dim": config.model.embedding_dim,
            "dropout": config.model.dropout,
            "locked_dropout": config.model.locked_dropout,
            "embedding_dropout": config.model.embedding_dropout,
            "tie_embeddings": config.model.tie_embeddings,
            "parameters": _first(metrics.get("parameters"), lambda: _count_parameters(path, state, import_tensorflow)),
        },
        "vocabulary": {
            "size": len(vocabulary) if vocabulary is not None else metrics.get("vocab_size"),
            "tokens": config.data.tokens,
            "template": config.data.template,
        },
        "corpus": {
            "source": _first(meta.get("source"), metrics.get("corpus"), config.data.path),
            "recipes": _first(meta.get("recipes"), metrics.get("recipes")),
            "skipped_records": _first(meta.get("skipped"), metrics.get("skipped_records")),
            "train_recipes": _first(tokens.get("recipes"), metrics.get("train_recipes")),
            "heldout_recipes": _first(metrics.get("heldout_recipes"), lambda: _count_heldout(path)),
            "split_rule": run.split,  # data.py: how the held-out recipes were chosen
            "train_tokens": tokens.get("tokens"),
            "oov_rate": tokens.get("oov_rate"),
            "recipe_tokens": tokens.get("lengths"),
            "heldout_tokens": tokens.get("heldout_tokens"),
            "heldout_oov_rate": tokens.get("heldout_oov_rate"),
        },
        "training": {
            "epochs_done": _first(state.get("epochs_done"), metrics.get("epochs")),
            "epochs": config.train.epochs,
            "pipeline": config.data.pipeline,
            "sequence_length": config.data.sequence_length,
            "softmax": config.train.softmax,
            "sampled_classes": config.train.sampled_classes if config.train.softmax == "sampled" else None,
            "stopped_early_after": _first(state.get("stopped_early_after"), metrics.get("stopped_early_after")),
            "seconds": _training_seconds(state, metrics),
            "best_epoch": best.get("epoch"),
            "val_perplexity": best.get("val_perplexity"),
            "val_accuracy": best.get("val_accuracy"),
            # Runs from before held-out recipes were scored whole were scored in windows of sequence_length.
            "val_scoring": state.get("heldout_scoring") or metrics.get("val_scoring") or "windows",
        },
    }


def format_info(info: dict[str, Any]) -> str:
    """The description as aligned ``label  value`` lines."""
    model, vocabulary, corpus, training = info["model"], info["vocabulary"], info["corpus"], info["training"]
    lengths = corpus["recipe_tokens"]
    rows = [
        ("run", info["run"]),
        ("status", _status(info)),
        ("model", f"{model['cell']}, {model['layers']} layer{'s' * (model['layers'] > 1)} of {model['units']} units, "
                  f"embedding {model['embedding_dim']}{' (tied to the output layer)' * model['tie_embeddings']}, "
                  f"dropout {model['dropout']:g}{' (locked)' * model['locked_dropout']}"
                  f"{f', word dropout {w:g}' if (w := model['embedding_dropout']) else ''}"),
        ("parameters", _number(model["parameters"])),
        ("vocabulary", f"{_number(vocabulary['size'])} {vocabulary['tokens']} tokens, "
                       f"{vocabulary['template']} template"),
        ("corpus", f"{corpus['source']}: {_number(corpus['recipes'])} recipes, "
                   f"{_number(corpus['skipped_records'])} records skipped"),
        ("split", f"{_number(corpus['train_recipes'])} training recipes, "
                  f"{_number(corpus['heldout_recipes'])} held out"),
        ("training tokens", _tokens(corpus["train_tokens"], corpus["oov_rate"])),
        ("held-out tokens", _tokens(corpus["heldout_tokens"], corpus["heldout_oov_rate"])),
        ("recipe length", "unknown" if lengths is None else
         f"median {lengths['p50']:.4g}, 90% {lengths['p90']:.4g}, 99% {lengths['p99']:.4g}, "
         f"longest {lengths['max']} tokens (training recipes, end token included)"),
        ("training time", _duration(training["seconds"])),
        ("batches", {"pack": f"windows of {training['sequence_length']:,} tokens, recipes end to end",
                     "pad": f"one window of {training['sequence_length']:,} tokens per recipe, padded"
                     }.get(training["pipeline"], training["pipeline"])),
        ("softmax", "full" if training["softmax"] == "full" else
         f"sampled, {training['sampled_classes']:,} candidates per step (held-out scores use the full softmax)"),
        ("best epoch", "unknown" if training["best_epoch"] is None else
         f"{training['best_epoch']}: held-out perplexity {_fixed(training['val_perplexity'])}, "
         f"accuracy {_percent(training['val_accuracy'])}"
         + ("" if training["val_scoring"] == "whole recipes" else
            f" (scored in windows of {training['sequence_length']}; recipegen evaluate scores whole recipes)")),
    ]
    if info["base"]:
        rows.insert(2, ("fine-tuned from", _base(info["base"])))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _status(info: dict[str, Any]) -> str:
    training = info["training"]
    done, planned = _number(training["epochs_done"]), training["epochs"]
    if info["finished"]:
        stopped = training["stopped_early_after"]
        text = f"finished after {done} epochs" + (f" (stopped early; {planned} planned)" if stopped else "")
        return text + (f"; recipegen train --resume {info['run']} --epochs N trains it longer"
                       if info["resumable"] else "")
    if info["resumable"]:
        return f"unfinished, {done} of {planned} epochs done; continue with: recipegen train --resume {info['run']}"
    return f"unfinished, {done} of {planned} epochs done; not resumable (no {run_files.STATE_FILE} or no checkpoint)"


def _base(base: dict[str, Any]) -> str:
    share = base["unknown_tokens"] / base["train_tokens"] if base["train_tokens"] else None
    return (f"{base['run']} (trained on {base['corpus']}, {_number(base['epochs'])} epochs, held-out perplexity "
            f"{_fixed(base['val_perplexity'])}); {_percent(share)} of this run's training tokens were outside "
            f"its vocabulary")


def _tokens(count: int | None, oov_rate: float | None) -> str:
    return "unknown" if count is None else f"{count:,}, {_percent(oov_rate)} out of vocabulary ([UNK])"


def _token_statistics(path: Path) -> dict[str, Any] | None:
    """Counts over the tokenized corpus the run trained on (what save_tokens wrote)."""
    if not path.is_file():
        return None
    import numpy as np

    try:
        with np.load(path) as arrays:
            ids, lengths = arrays["train_ids"], arrays["train_lengths"]
            targets = heldout_targets(arrays)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise RunError(f"{path}: unreadable ({type(e).__name__}: {e})") from None
    percentiles = np.percentile(lengths, PERCENTILES) if lengths.size else []
    return {
        "recipes": int(lengths.size),
        "tokens": int(ids.size),
        "oov_rate": float(np.mean(ids == UNK_ID)) if ids.size else None,
        "lengths": {f"p{p}": float(v) for p, v in zip(PERCENTILES, percentiles)} | {"max": int(lengths.max())}
        if lengths.size else None,
        "heldout_tokens": int(targets.size),
        "heldout_oov_rate": float(np.mean(targets == UNK_ID)) if targets.size else None,
    }


def heldout_targets(arrays: Any) -> Any:
    """The held-out tokens that are scored (each token of a recipe after its first) in a run's tokens.npz:
    whole recipes, or in a run written before they were scored whole, windows right-padded with 0."""
    import numpy as np

    if "heldout_ids" in arrays:
        ids, lengths = arrays["heldout_ids"], arrays["heldout_lengths"]
        firsts = np.cumsum(lengths) - lengths
        return np.delete(ids, firsts[lengths > 0])
    windows = arrays["heldout_windows"]
    return windows[:, 1:][windows[:, 1:] != 0]


def _count_parameters(path: Path, state: dict[str, Any], import_tensorflow: Callable[[], None]) -> int | None:
    """Load the best model (or a checkpoint) to count its weights; None if there is none that loads."""
    candidates = [path / run_files.MODEL_FILE, path / str(state.get("checkpoint")),
                  *path.glob(run_files.CHECKPOINT_GLOB)]
    model_file = next((file for file in candidates if file.is_file()), None)
    if model_file is None:
        return None
    import_tensorflow()
    import keras

    try:
        return int(keras.saving.load_model(model_file, compile=False).count_params())
    except Exception:  # a damaged file: the count is unknown, the rest still worth showing
        return None


def _count_heldout(path: Path) -> int | None:
    file = path / run_files.HELDOUT_FILE
    return len(read_jsonl(file)) if file.is_file() else None


def _training_seconds(state: dict[str, Any], metrics: dict[str, Any]) -> float | None:
    """Recorded training time; for a run killed mid-way, at least the sum of its epochs' own times.

    train_seconds is added up when a training process ends, so a process killed outright never
    adds its share; the per-epoch times in state.json's history are written as epochs end.
    """
    recorded = _first(state.get("train_seconds"), metrics.get("train_seconds"))
    epochs = sum(row.get("seconds", 0.0) for row in state.get("history", []))
    if recorded is None and not epochs:
        return None
    return round(max(recorded or 0.0, epochs), 2)


def _first(*values: Any) -> Any:
    """The first value that is known; a callable is only called when every value before it is None."""
    for value in values:
        value = value() if callable(value) else value
        if value is not None:
            return value
    return None


def _number(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _percent(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1%}"


def _fixed(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.1f} s"
