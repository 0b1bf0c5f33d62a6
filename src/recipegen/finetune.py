"""Fine-tuning: a new run that starts from a finished run's weights instead of random ones.

``train --init-from BASE --data mine.json`` trains on a new corpus with the base's vocabulary,
token level, template and architecture, and with the training settings of the config and
``--set`` (learning rate, epochs, early stopping, dropout, ...). What would change the shape of a
weight or the meaning of a token id cannot change: such a key, set on the command line to
another value than the base's, is refused by name. The config file's own architecture keys are
simply replaced by the base's, so ``--config configs/quick.toml`` lends its training settings.

The vocabulary is the base's, not grown: a word the base never saw is read as [UNK], and how
many there are is said before training starts (``unknown_share``). New rows would start
untrained at both ends of the model and need many examples of each word to become useful; a
collection whose words the base lacks is better served by training from scratch.

Nothing here imports TensorFlow; train.py copies the weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from recipegen import run as run_files
from recipegen.config import Config, validate
from recipegen.errors import ConfigError, RunError
from recipegen.text import UNK_ID

# Keys fixed by the base: they shape the weights or give token ids their meaning.
FIXED_BY_BASE = ("model.cell", "model.layers", "model.units", "model.embedding_dim", "model.tie_embeddings",
                 "data.vocab_size", "data.tokens", "data.template", "data.vocab_sample")


def read_base(path: Path) -> run_files.Run:
    """A finished run to start from, its model not loaded yet; RunError (exit 2) for one that is
    missing, incomplete or unfinished."""
    try:
        base = run_files.read_run(path)
    except RunError as e:
        raise RunError(f"--init-from {e}") from None
    if missing := run_files.missing_files(path):
        raise RunError(f"--init-from {path}: not a trained run (missing {', '.join(missing)})")
    if not base.finished:
        why = (f"no {run_files.METRICS_FILE}" if not base.metrics else
               f"resumed for more epochs since its {run_files.METRICS_FILE}")
        raise RunError(f"--init-from {path}: the run has not finished ({why}); "
                       f"finish it first with: recipegen train --resume {path}")
    return base


def based_config(base: run_files.Run, config: Config, given: Iterable[str]) -> Config:
    """``config`` with the base's architecture and vocabulary keys; ``given`` are the keys the
    command line set, refused when they ask for another value than the base has."""
    for key in given:
        if key in FIXED_BY_BASE and _get(config, key) != _get(base.config, key):
            raise ConfigError(f"--set {key}={_get(config, key)!r}: a fine-tuned run keeps its base's "
                              f"{key} ({_get(base.config, key)!r} in {base.path}); train from scratch to change it")
    fixed = {section: {name.split(".")[1]: _get(base.config, name) for name in FIXED_BY_BASE
                        if name.startswith(section + ".")} for section in ("model", "data")}
    # A phrase's length counts the base's tokens: 3 words are about 15 characters. Unless given,
    # it is the base's, so a character-level base fine-tunes with any config that works for words.
    sample = config.sample
    if "sample.no_repeat_ngram" not in given and base.config.data.tokens != config.data.tokens:
        sample = dataclasses.replace(sample, no_repeat_ngram=base.config.sample.no_repeat_ngram)
    based = dataclasses.replace(config, model=dataclasses.replace(config.model, **fixed["model"]),
                                data=dataclasses.replace(config.data, **fixed["data"]), sample=sample)
    validate(based, f"the config with the architecture of {base.path}")
    return based


def unknown_share(sequences: Iterable[Any]) -> tuple[int, int]:
    """(tokens read as [UNK], tokens) over arrays of token ids."""
    unknown = total = 0
    for ids in sequences:
        unknown += int((ids == UNK_ID).sum())
        total += int(ids.size)
    return unknown, total


def base_record(base: run_files.Run, unknown: int, tokens: int) -> dict[str, Any]:
    """What a fine-tuned run keeps of its base (base.json; ``info`` shows it)."""
    return {
        "run": str(base.path.resolve()),
        "corpus": base.metrics.get("corpus"),
        "epochs": base.metrics.get("epochs"),
        "val_perplexity": base.metrics.get("val_perplexity"),
        "vocab_size": len(base.vocabulary),
        "unknown_tokens": unknown,
        "train_tokens": tokens,
    }


def describe_unknown(source: str, base: run_files.Run, unknown: int, tokens: int) -> str:
    share = unknown / tokens if tokens else 0.0
    line = (f"{source}: {unknown:,} of {tokens:,} training tokens ({share:.1%}) are outside the vocabulary of "
            f"{base.path} ({len(base.vocabulary):,} tokens) and are read as [UNK]")
    if share > 0.05:
        line += "; a corpus this far from the base may do better trained from scratch"
    return line


def _get(config: Config, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(config, section), name)
