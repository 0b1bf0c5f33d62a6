"""The run directory: everything needed to reuse a trained model, written so a crash never
leaves a half-written file that looks whole.

    runs/20261123-101500/
        model.keras       best weights by validation loss
        vocabulary.json   the TextVectorization vocabulary, index = token id
        config.toml       the resolved config the run was trained with
        heldout.jsonl     the held-out recipes, as training text ({"text": ...} per line)
        history.csv       one row per epoch
        samples.jsonl     the TextGenerator callback's samples, sample.count per epoch and temperature
        sample_measures.csv  measures of those samples (measures.py), one row per epoch and temperature
        foods.json        the food words of the training recipes (foods.py), when they have ingredient lists
        metrics.json      final metrics; written last, so its presence marks a finished run
        checkpoint-N.keras  model and optimizer after the last completed epoch N, for --resume
        state.json        what --resume needs besides the weights: epochs done, history, best
        tokens.npz, tokens.json  the tokenized corpus and its fingerprint, so --resume skips tokenizing
        base.json         in a run fine-tuned with --init-from: the run it started from (finetune.py)
        tensorboard/      with train.tensorboard: TensorBoard logs (tensorboard_logs.py)
        .lock             held (flock) by the process training or resuming the run

Every file is written to a temporary name in the same directory and renamed into place. A new
checkpoint is complete before state.json names it, and the old one is removed only after, so a
crash at any moment leaves state.json pointing at a whole checkpoint."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipegen.config import Config, load_run_config
from recipegen.decoding import MAX_TOKENS
from recipegen.errors import ConfigError, RunError
from recipegen.text import Tokenizer, tokenizer_for

RUNS_DIR = Path("runs")
RUN_FORMAT = 1  # bumped when the layout above changes incompatibly

MODEL_FILE = "model.keras"
VOCABULARY_FILE = "vocabulary.json"
CONFIG_FILE = "config.toml"
HELDOUT_FILE = "heldout.jsonl"
HISTORY_FILE = "history.csv"
SAMPLES_FILE = "samples.jsonl"
SAMPLE_MEASURES_FILE = "sample_measures.csv"
FOODS_FILE = "foods.json"
METRICS_FILE = "metrics.json"
STATE_FILE = "state.json"
TOKENS_FILE = "tokens.npz"
TOKENS_META_FILE = "tokens.json"
BASE_FILE = "base.json"
TENSORBOARD_DIR = "tensorboard"
CHECKPOINT_GLOB = "checkpoint-*.keras"
LOCK_FILE = ".lock"
REQUIRED_FILES = (MODEL_FILE, VOCABULARY_FILE, CONFIG_FILE)


@contextlib.contextmanager
def replacing(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The new file's data reaches the disk before the rename and the rename before this returns, so
    after a power cut ``path`` holds the old file or the new one, whole, never a name for lost data.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp's 0600 is for the temporary name, not the run's file
        sync(tmp)
        os.replace(tmp, path)
        sync(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process's umask, read without changing it where the system allows (changing it, even
    for a moment, would apply to files other threads create meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sync(path: Path) -> None:
    """Flush a file, or a directory's entries (a rename in it), to the disk: fsync."""
    if path.is_dir() and os.name != "posix":  # Windows cannot open a directory to fsync it
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file written by this module; none when it does not exist."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows as CSV; a column that only later rows have (a measure added since a resumed run's first
    epochs) is included, left empty where a row lacks it."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(key for row in rows for key in row)))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def save_arrays(path: Path, **arrays: Any) -> None:
    import numpy as np

    with replacing(path, suffix=path.suffix) as tmp:  # np.savez would add .npz to any other name
        np.savez(tmp, **arrays)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: Any, path: Path) -> None:
    with replacing(path, suffix=path.suffix) as tmp:  # Keras insists on the .keras suffix
        model.save(tmp)


def new_run_dir(base: Path = RUNS_DIR) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = base / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = base / f"{stamp}-{suffix}"
    return path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold ``path`` (created if need be) for one writer: a second ``train --out`` or ``--resume`` on
    it is refused instead of mixing two runs' files. The kernel's lock (flock) goes with the
    process, so a run whose process crashed or was killed is free at once."""
    if path.exists() and not path.is_dir():
        raise RunError(f"{path}: exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs are not locked there
        yield
        return
    with open(path / LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"{path}: in use by another recipegen process training it; "
                           "wait for it to end or write elsewhere") from None
        yield


def prepare_run_dir(path: Path, overwrite: bool = False) -> None:
    """Create ``path`` for a new run; refuse to mix a new run into an old one."""
    if path.exists() and not path.is_dir():
        raise RunError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(entry.name != LOCK_FILE for entry in path.iterdir()):
        if not overwrite:
            raise RunError(f"{path}: run directory already exists and is not empty (use --overwrite to replace it)")
        for name in REQUIRED_FILES + (HELDOUT_FILE, HISTORY_FILE, SAMPLES_FILE, SAMPLE_MEASURES_FILE, FOODS_FILE,
                                      METRICS_FILE, STATE_FILE, TOKENS_FILE, TOKENS_META_FILE, BASE_FILE):
            (path / name).unlink(missing_ok=True)
        for checkpoint in path.glob(CHECKPOINT_GLOB):
            checkpoint.unlink()
        shutil.rmtree(path / TENSORBOARD_DIR, ignore_errors=True)  # the old run's curves would mix with the new
    path.mkdir(parents=True, exist_ok=True)


def checkpoint_path(run_dir: Path, epoch: int) -> Path:
    return run_dir / f"checkpoint-{epoch}.keras"


def read_state(run_dir: Path) -> dict[str, Any]:
    """The resumable state of a run; RunError if the directory holds nothing to resume."""
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run directory")
    state_file = run_dir / STATE_FILE
    if not state_file.is_file():
        raise RunError(f"{run_dir}: no {STATE_FILE}, nothing to resume (was it trained by this recipegen?)")
    state = read_json(state_file)
    checkpoint = run_dir / str(state.get("checkpoint", ""))
    if not checkpoint.is_file():
        raise RunError(f"{run_dir}: {STATE_FILE} names checkpoint {state.get('checkpoint')!r}, which is missing")
    return state


def latest_run(base: Path = RUNS_DIR, hint: str = "--model RUN_DIR") -> Path:
    """The run directory under ``base`` whose model was saved most recently."""
    candidates = [p for p in base.glob(f"*/{MODEL_FILE}")] if base.is_dir() else []
    if not candidates:
        raise RunError(f"no trained run under {base}/ (train one with `recipegen train`, or pass {hint})")
    return max(candidates, key=lambda p: p.stat().st_mtime).parent


@dataclass(frozen=True)
class Run:
    path: Path
    model: Any  # keras.Model
    vocabulary: list[str]
    config: Config
    metrics: dict[str, Any]

    @property
    def tokenizer(self) -> Tokenizer:
        return tokenizer_for(self.config.data.tokens)

    @property
    def template(self) -> str:
        return self.config.data.template

    def foods(self) -> set[str] | None:
        """The run's food words, for the food measures and steering; None where the corpus had no lists."""
        return read_foods(self.path)

    def max_tokens(self) -> int:
        """How long a sample may grow unless told otherwise: ``sample.max_tokens``, or with 0 there,
        as long as the run's longest training recipe, so the model can end any recipe it starts."""
        if self.config.sample.max_tokens:
            return self.config.sample.max_tokens
        meta = read_json(self.path / TOKENS_META_FILE, missing_ok=True) or {}
        longest = meta.get("longest_recipe") or max(
            (len(self.tokenizer.tokens(text)) for text in read_heldout(self.path)), default=1)
        return sample_limit(longest)


def sample_limit(longest_recipe: int) -> int:
    """The automatic token limit of a sample (``sample.max_tokens = 0``): the longest training recipe
    (prompt and end token included, so a little more than it needs), within what a batch holds."""
    return max(1, min(longest_recipe, MAX_TOKENS))


def load_run(path: Path | None) -> Run:
    """Load a run directory (the latest under ./runs when ``path`` is None) and check it is whole."""
    path = latest_run() if path is None else Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise RunError(f"{path}: incomplete run directory, missing {', '.join(missing)}")
    metrics = read_json(path / METRICS_FILE, missing_ok=True) or {}
    run_format = metrics.get("run_format", RUN_FORMAT)
    if run_format != RUN_FORMAT:
        raise RunError(f"{path}: run format {run_format!r} is not supported by this recipegen (expects {RUN_FORMAT})")
    vocabulary = read_json(path / VOCABULARY_FILE)
    if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
        raise RunError(f"{path / VOCABULARY_FILE}: expected a JSON list of tokens")
    try:
        config = load_run_config(path / CONFIG_FILE)
    except ConfigError as e:
        raise RunError(str(e)) from None

    import zipfile

    import keras

    if not zipfile.is_zipfile(path / MODEL_FILE):  # Keras would call a truncated file "not found"
        raise RunError(f"{path / MODEL_FILE}: not a whole .keras file (truncated or damaged); "
                       f"train the run again or restore the file")
    try:
        model = keras.saving.load_model(path / MODEL_FILE)
    except Exception as e:  # Keras raises many types for a damaged file
        raise RunError(f"{path / MODEL_FILE}: cannot load model ({type(e).__name__}: {e})") from None
    model_vocab = model.get_layer("embedding").input_dim
    if model_vocab != len(vocabulary):
        raise RunError(
            f"{path}: vocabulary has {len(vocabulary)} tokens but the model expects {model_vocab}"
        )
    return Run(path=path, model=model, vocabulary=vocabulary, config=config, metrics=metrics)


def read_heldout(path: Path) -> list[str]:
    file = path / HELDOUT_FILE
    if not file.is_file():
        raise RunError(f"{path}: no {HELDOUT_FILE}; pass --data to evaluate on a corpus")
    return [row["text"] for row in read_jsonl(file)]


def read_foods(run_dir: Path) -> set[str] | None:
    """The run's food words (foods.json), or None where it has none."""
    foods = read_json(run_dir / FOODS_FILE, missing_ok=True)
    return None if foods is None else set(foods)


def read_json(path: Path, missing_ok: bool = False) -> Any:
    """A run file's JSON; with ``missing_ok``, None when the run has not written it (yet)."""
    if missing_ok and not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: unreadable JSON ({e})") from None
