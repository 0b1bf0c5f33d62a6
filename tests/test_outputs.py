"""No command writes onto, into or around what it reads (paths.py): the base of a fine-tune, the
run a --jsonl file is sampled from, the run an export is made of. Each refusal is exit 2 with one
line, and what was there before is byte for byte the same."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipegen.cli import cli
from recipegen.paths import overlap

from conftest import tiny_set_args


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def checksums(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.fixture
def own_run(tiny_run, tmp_path):
    """A copy of the tiny run that a test may try to damage."""
    return Path(shutil.copytree(tiny_run, tmp_path / "runs" / "self"))


def refused(result, option: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "which this command reads" in lines[0], result.output
    assert "Traceback" not in result.output


def test_paths_that_name_one_place_overlap_however_spelled(tmp_path):
    run = tmp_path / "runs" / "self"
    run.mkdir(parents=True)
    (tmp_path / "link").symlink_to(run)
    assert overlap(tmp_path / "runs" / "." / "self", run) == "is"
    assert overlap(tmp_path / "link", run) == "is"
    assert overlap(run / "model.keras", run) == "lies inside"
    assert overlap(tmp_path / "runs", run) == "contains"
    assert overlap(tmp_path / "runs" / "other", run) is None
    assert overlap(tmp_path / "runs" / "selfish", run) is None, "a common prefix is not a parent"


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink"])
def test_a_fine_tune_into_its_own_base_is_refused_and_the_base_kept(own_run, corpus_path, spelling):
    out = {"same": own_run, "dotted": Path(f"{own_run.parent}/./{own_run.name}/"),
           "symlink": own_run.parent / "alias"}[spelling]
    if spelling == "symlink":
        out.symlink_to(own_run)
    before = checksums(own_run)
    result = invoke("train", "--init-from", own_run, "--data", corpus_path, "--out", out, "--overwrite",
                    *tiny_set_args())
    refused(result, "--out")
    assert checksums(own_run) == before


def test_a_run_directory_around_its_own_corpus_is_refused(tmp_path, corpus_path):
    inside = tmp_path / "runs" / "new"
    inside.mkdir(parents=True)
    corpus = Path(shutil.copy(corpus_path, inside / "recipes.json"))
    result = invoke("train", "--data", corpus, "--out", inside, "--overwrite", *tiny_set_args())
    refused(result, "--out")
    assert corpus.read_bytes() == corpus_path.read_bytes()


@pytest.mark.parametrize("target", ["model.keras", "samples.jsonl"])
def test_generate_jsonl_never_writes_into_the_run_it_samples(own_run, target):
    before = checksums(own_run)
    result = invoke("generate", "--model", own_run, "--max-tokens", "4", "--jsonl", own_run / target)
    refused(result, "--jsonl")
    assert checksums(own_run) == before


@pytest.mark.parametrize("where", ["inside", "itself", "around"])
def test_export_never_writes_onto_into_or_around_its_run(own_run, where):
    out = {"inside": own_run / "exported", "itself": own_run, "around": own_run.parent}[where]
    before = checksums(own_run)
    result = invoke("export", own_run, out, "--overwrite")
    refused(result, "OUT")
    assert checksums(own_run) == before



@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A directory this process may not write in. Root may write anywhere, so its mode alone cannot
    make the test: os.access says no for it and what lies under it."""
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: (not (mode & os.W_OK and Path(path).resolve()
                                                               .is_relative_to(locked.resolve()))
                                                         and real_access(path, mode)))
    return locked


@pytest.fixture
def no_work(monkeypatch):
    """Fails the test if a command reads its corpus or loads a model: the refusal had to come first."""
    import keras

    from recipegen import prepare, train

    for module in (prepare, train):
        monkeypatch.setattr(module, "prepare", lambda *args, **kwargs: pytest.fail("the corpus was read"))
    monkeypatch.setattr(keras.saving, "load_model", lambda *args, **kwargs: pytest.fail("a model was loaded"))


def unwritable(result, option: str, place: Path) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and f"cannot write in {place.resolve()}" in lines[0], result.output


@pytest.mark.parametrize("out", ["locked/run", "locked/deeper/run"])
def test_train_into_a_directory_it_cannot_write_is_refused_before_the_corpus_is_read(read_only, no_work,
                                                                                      corpus_path, out):
    result = invoke("train", "--data", corpus_path, "--out", read_only.parent / out, *tiny_set_args())
    unwritable(result, "--out", read_only)
    assert list(read_only.iterdir()) == []


def test_train_into_an_old_run_without_overwrite_is_refused_before_the_corpus_is_read(own_run, corpus_path, no_work):
    before = checksums(own_run)
    result = invoke("train", "--data", corpus_path, "--out", own_run, *tiny_set_args())
    assert result.exit_code == 2 and "already exists and is not empty (use --overwrite" in result.output, result.output
    assert checksums(own_run) == before


def test_resume_of_a_run_it_cannot_write_is_refused_before_any_work(tiny_run, tmp_path, monkeypatch, no_work):
    import os

    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: not (mode & os.W_OK and Path(path).resolve() == run.resolve())
                        and real_access(path, mode))
    result = invoke("train", "--resume", run, "--epochs", "5")
    unwritable(result, "--resume", run)


def test_export_into_a_directory_it_cannot_write_is_refused_before_the_model_loads(own_run, read_only, no_work):
    result = invoke("export", own_run, read_only / "exported")
    unwritable(result, "OUT", read_only)
    assert list(read_only.iterdir()) == []
