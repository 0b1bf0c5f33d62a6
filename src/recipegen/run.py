"""The run directory: its layout (the file names below; what each holds: docs/training.md, "The
run directory"), written so a crash never leaves a half-written file that looks whole.

Every file is written to a temporary name in the same directory and renamed into place (files.py).
A new checkpoint is complete before state.json names it, and the old one is removed only after, so
a crash at any moment leaves state.json pointing at a whole checkpoint. The trainer holds ``.lock``.

``read_run`` is the one reader of a run directory: every command that reads a run, and
``--init-from`` and ``--resume``, see the same checks, and the same answer to whether it finished.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from recipegen.config import Config, load_run_config
from recipegen.data import CRC32, PERMUTATION, SPLIT_RULES
from recipegen.errors import ConfigError, RunError
from recipegen.files import read_jsonl, replacing
from recipegen.generation.settings import MAX_TOKENS
from recipegen.text import END_TOKEN, Tokenizer, tokenizer_for

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
CHECKPOINT = "checkpoint-{}.keras"  # of the epochs done
CHECKPOINT_GLOB = CHECKPOINT.format("*")
LOCK_FILE = ".lock"
REQUIRED_FILES = (MODEL_FILE, VOCABULARY_FILE, CONFIG_FILE)


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


def check_new_run_dir(path: Path, overwrite: bool = False) -> None:
    """RunError where a new run cannot go: before the corpus is read, and again under the run's lock."""
    if path.exists() and not path.is_dir():
        raise RunError(f"{path}: exists and is not a directory")
    if not overwrite and path.is_dir() and any(entry.name != LOCK_FILE for entry in path.iterdir()):
        raise RunError(f"{path}: run directory already exists and is not empty (use --overwrite to replace it)")


def prepare_run_dir(path: Path, overwrite: bool = False) -> None:
    """Create ``path`` for a new run; refuse to mix a new run into an old one."""
    check_new_run_dir(path, overwrite)
    remove_run_files(path)  # an old run's, which --overwrite replaces
    path.mkdir(parents=True, exist_ok=True)


def remove_run_files(path: Path) -> None:
    """Every file a run writes gone, its lock aside: an old run replaced, or a start that failed."""
    for name in REQUIRED_FILES + (HELDOUT_FILE, HISTORY_FILE, SAMPLES_FILE, SAMPLE_MEASURES_FILE, FOODS_FILE,
                                  METRICS_FILE, STATE_FILE, TOKENS_FILE, TOKENS_META_FILE, BASE_FILE):
        (path / name).unlink(missing_ok=True)
    for checkpoint in path.glob(CHECKPOINT_GLOB):
        checkpoint.unlink()
    shutil.rmtree(path / TENSORBOARD_DIR, ignore_errors=True)  # the old run's curves would mix with the new


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
    if not (candidates := list(base.glob(f"*/{MODEL_FILE}")) if base.is_dir() else []):
        raise RunError(f"no trained run under {base}/ (train one with `recipegen train`, or pass {hint})")
    return max(candidates, key=lambda p: p.stat().st_mtime).parent


@dataclass(frozen=True)
class Run:
    """A run directory as its files say (``read_run``); the model is loaded the first time it is used."""

    path: Path
    config: Config
    vocabulary: list[str] | None  # None where the run has not written it
    metrics: dict[str, Any]  # metrics.json, {} until the run first finishes
    state: dict[str, Any]  # state.json, {} for a run from before it existed

    @cached_property
    def model(self) -> Any:  # keras.Model
        """Loaded on first use, so the config, vocabulary and metrics can be checked (and ``info``
        can run) without TensorFlow."""
        _check_whole(self.path)
        return _load_model(self.path, self.vocabulary or [])

    @property
    def finished(self) -> bool:
        """metrics.json is written when training ends, and goes stale when a finished run is resumed
        for more epochs and stopped partway: only metrics that count the epochs done are the end's."""
        epochs = self.metrics.get("epochs")
        return bool(self.metrics) and epochs == self.state.get("epochs_done", epochs)

    @property
    def resumable(self) -> bool:
        return bool(self.state) and (self.path / str(self.state.get("checkpoint"))).is_file()

    @property
    def split(self) -> str:
        """The rule that chose the held-out recipes (data.py), recorded since there has been more
        than one; before, a run held in memory took a permutation's first share, a streamed one a crc32 hash."""
        return self.state.get("split") or (CRC32 if self.config.data.stream else PERMUTATION)

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
    """A sample's limit with ``sample.max_tokens = 0``: the longest training recipe, within a batch's room."""
    return max(1, min(longest_recipe, MAX_TOKENS))


def read_run(path: Path) -> Run:
    """A run directory's config, vocabulary, metrics and state, each checked (RunError naming the
    file); the model is not loaded. A run that has not written a file yet reads without it."""
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    if not (path / CONFIG_FILE).is_file():
        raise RunError(f"{path}: not a run directory (no {CONFIG_FILE})")
    metrics, state = _read_object(path / METRICS_FILE), _read_object(path / STATE_FILE)
    run_format = metrics.get("run_format", RUN_FORMAT)
    if run_format != RUN_FORMAT:
        raise RunError(f"{path}: run format {run_format!r} is not supported by this recipegen (expects {RUN_FORMAT})")
    if state.get("split", PERMUTATION) not in SPLIT_RULES:
        raise RunError(f"{path / STATE_FILE}: unknown split rule {state['split']!r} ({', '.join(SPLIT_RULES)} known)")
    try:
        config = load_run_config(path / CONFIG_FILE)
    except ConfigError as e:
        raise RunError(str(e)) from None
    vocabulary = read_json(path / VOCABULARY_FILE, missing_ok=True)
    if vocabulary is not None:
        _check_vocabulary(path / VOCABULARY_FILE, vocabulary, tokenizer_for(config.data.tokens))
    return Run(path=path, config=config, vocabulary=vocabulary, metrics=metrics, state=state)


def _check_vocabulary(file: Path, vocabulary: Any, tokenizer: Tokenizer) -> None:
    """Token ids are positions in this list: a repeated token or a missing end token would give
    samples and scores that mean nothing, or fail deep inside TensorFlow."""
    if not (isinstance(vocabulary, list) and all(isinstance(t, str) for t in vocabulary)):
        raise RunError(f"{file}: expected a JSON list of tokens")
    if len(set(vocabulary)) != len(vocabulary):
        repeated = Counter(vocabulary).most_common(1)[0][0]
        raise RunError(f"{file}: the token {repeated!r} appears more than once")
    if END_TOKEN not in map(tokenizer.name, vocabulary):
        raise RunError(f"{file}: no {END_TOKEN} token, so no recipe could end")


def load_run(path: Path | None, model: bool = True) -> Run:
    """A whole run directory (the latest under ./runs when ``path`` is None), its model loaded, or
    (``model=False``) loaded on first use, so a caller can first refuse what the config rules out."""
    path = latest_run() if path is None else Path(path)
    if path.is_dir():
        _check_whole(path)
    run = read_run(path)
    if model:
        run.model  # noqa: B018 -- loaded now, so a damaged model fails the command that asked for the run
    return run


def missing_files(path: Path) -> list[str]:
    """What a run needs to generate or be built on that ``path`` lacks."""
    return [name for name in REQUIRED_FILES if not (path / name).is_file()]


def _check_whole(path: Path) -> None:
    if missing := missing_files(path):
        raise RunError(f"{path}: incomplete run directory, missing {', '.join(missing)}")


def _load_model(path: Path, vocabulary: list[str]) -> Any:
    import keras

    if not zipfile.is_zipfile(path / MODEL_FILE):  # Keras would call a truncated file "not found"
        raise RunError(f"{path / MODEL_FILE}: not a whole .keras file (truncated or damaged); "
                       f"train the run again or restore the file")
    try:
        model = keras.saving.load_model(path / MODEL_FILE)
    except Exception as e:  # Keras raises many types for a damaged file
        raise RunError(f"{path / MODEL_FILE}: cannot load model ({type(e).__name__}: {e})") from None
    if (expected := model.get_layer("embedding").input_dim) != len(vocabulary):
        raise RunError(f"{path}: vocabulary has {len(vocabulary)} tokens but the model expects {expected}")
    return model


def read_heldout(path: Path) -> list[str]:
    if not (file := path / HELDOUT_FILE).is_file():
        raise RunError(f"{path}: no {HELDOUT_FILE}; pass --data to evaluate on a corpus")
    return [row["text"] for row in read_jsonl(file, {"text": str})]


def read_foods(run_dir: Path) -> set[str] | None:
    """The run's food words (foods.json), or None where it has none."""
    foods = read_json(run_dir / FOODS_FILE, missing_ok=True)
    return None if foods is None else set(foods)


def _read_object(path: Path) -> dict[str, Any]:
    """A run file holding one JSON object; {} when the run has not written it (yet)."""
    data = read_json(path, missing_ok=True)
    if data is not None and not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON object")
    return data or {}


def read_json(path: Path, missing_ok: bool = False) -> Any:
    """A run file's JSON; with ``missing_ok``, None when the run has not written it (yet)."""
    if missing_ok and not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: unreadable JSON ({e})") from None
