"""Stopping by signal: a real `recipegen train` process is sent SIGTERM or SIGINT at random moments,
must exit 130 (or 0 when it had already finished), and resuming must then reach exactly the run
an uninterrupted process writes: same weights, same history, same samples. (The resume runs in
this process, through the library `recipegen train --resume` calls, to keep the test short.)"""

import csv
import json
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import RECIPEGEN, RECIPES, TINY_OVERRIDES, needs_entry_point, tiny_set_args

EPOCHS = 4
TRIALS = 20


def train_args(out: str, *extra: str) -> list[str]:
    return [RECIPEGEN, "train", "--data", "recipes.json", "--out", out, "--quiet", *extra,
            *tiny_set_args({"train.epochs": EPOCHS, "sample.temperatures": [1.0], "sample.count": 1})]


def weights(run: Path, name: str) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(run / name, compile=False).get_weights()


def finished_run(run: Path) -> dict:
    """What must be identical between an interrupted-and-resumed run and an uninterrupted one."""
    state = json.loads((run / "state.json").read_text())
    return {
        "epochs": json.loads((run / "metrics.json").read_text())["epochs"],
        "history": [{k: v for k, v in row.items() if k != "seconds"}
                    for row in csv.DictReader((run / "history.csv").open())],
        "samples": (run / "samples.jsonl").read_text(),
        "sample_measures": (run / "sample_measures.csv").read_text(),
        "model": weights(run, "model.keras"),
        "checkpoint": weights(run, state["checkpoint"]),
    }


def assert_same_run(left: dict, right: dict) -> None:
    for key in ("epochs", "history", "samples", "sample_measures"):
        assert left[key] == right[key], key
    for key in ("model", "checkpoint"):
        for a, b in zip(left[key], right[key], strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # training processes of their own
@needs_entry_point
def test_a_signal_at_any_moment_exits_130_and_resume_reaches_the_uninterrupted_run(workdir):
    from recipegen.config import load_config

    started = time.monotonic()
    reference = subprocess.run(train_args("reference"), cwd=workdir, capture_output=True, text=True, timeout=300)
    duration = time.monotonic() - started
    assert reference.returncode == 0, reference.stderr
    expected = finished_run(workdir / "reference")
    reference_config = load_config(workdir / "reference" / "config.toml")

    moments = random.Random(16)
    outcomes = []
    for first in range(0, TRIALS, 2):  # two processes at a time: the machine has two cores
        trials = [(trial, moments.uniform(0.05, duration), signal.SIGTERM if trial % 4 else signal.SIGINT)
                  for trial in (first, first + 1)]
        started = time.monotonic()
        processes = [subprocess.Popen(train_args(f"run{trial}"), cwd=workdir, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for trial, _, _ in trials]
        for process, (_, delay, number) in sorted(zip(processes, trials), key=lambda pair: pair[1][1]):
            time.sleep(max(0.0, started + delay - time.monotonic()))
            process.send_signal(number)
        for process, (trial, delay, number) in zip(processes, trials):
            stdout, stderr = process.communicate(timeout=120)
            outcomes.append(check_and_finish(workdir / f"run{trial}", process.returncode, stdout, stderr,
                                             f"trial {trial}: {number.name} after {delay:.2f} s", reference_config))
            assert_same_run(finished_run(workdir / f"run{trial}"), expected)
    print("stopped at:", ", ".join(outcomes))
    assert len(set(outcomes)) >= 3, outcomes  # the moments really were spread over the run


def check_and_finish(run: Path, code: int, stdout: str, stderr: str, context: str, config) -> str:
    """Check how an interrupted process ended, then finish its run as a user would; says where it stopped."""
    from recipegen.train import resume, train

    context += f"\n{stderr}"
    assert code in (0, 130), context
    assert "Traceback" not in stderr and "Fatal Python error" not in stderr, context
    if code == 0:
        assert stdout.strip() == run.name, context
        outcome = "finished"
    elif (run / "state.json").is_file():
        assert f"continue with: recipegen train --resume {run.name}" in stderr, context
        outcome = f"epoch {json.loads((run / 'state.json').read_text())['epochs_done']}"
        resume(run, verbose=False)
    else:  # stopped before the run wrote anything it could resume from: nothing of it is left behind
        assert not run.exists() and "Interrupted." in stderr, context
        outcome = "start-up"
        train(config, run, verbose=False)
    assert not [p.name for p in run.iterdir() if p.name.startswith(".") and p.name != ".lock"], \
        f"{context}: temporary files left"
    return outcome


@pytest.mark.slow  # training processes of their own
@needs_entry_point
def test_a_second_signal_while_stopping_exits_at_once(workdir):
    process = subprocess.Popen(train_args("run"), cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    state_file = workdir / "run" / "state.json"
    deadline = time.monotonic() + 120
    while not (state_file.is_file() and json.loads(state_file.read_text())["epochs_done"] >= 1):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    state = json.loads(state_file.read_text())
    assert weights(workdir / "run", state["checkpoint"])  # the checkpoint state.json names loads
    resumed = subprocess.run([RECIPEGEN, "train", "--resume", "run", "--quiet"], cwd=workdir, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr


# --- the safe points, with a stop already asked for -----------------------------------------------

@pytest.fixture
def stop_asked():
    from recipegen import stopping

    stopping._record(signal.SIGTERM, None)
    yield
    stopping.reset()


def stop_during(monkeypatch, owner, name):
    """Record a SIGTERM while ``owner.name`` runs, as if it arrived in the middle of that work."""
    from recipegen import stopping

    work = getattr(owner, name)

    def interrupted(*args, **kwargs):
        if not stopping.requested():  # a second record would end the process, as a second Ctrl-C does
            stopping._record(signal.SIGTERM, None)
        return work(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)


@pytest.fixture
def stops_reset():
    from recipegen import stopping

    yield
    stopping.reset()


def test_a_stop_while_decoding_exits_130_and_prints_no_recipe(tiny_run, monkeypatch, stops_reset):
    from click.testing import CliRunner

    from recipegen.cli import cli
    from recipegen.generation.generator import Generator

    stop_during(monkeypatch, Generator, "generate")
    result = CliRunner().invoke(cli, ["generate", "--model", str(tiny_run), "--max-tokens", "5"])
    assert result.exit_code == 130, result.output
    assert result.stdout == "" and "Interrupted." in result.stderr


def test_export_asked_to_stop_leaves_no_temporary_directory_and_no_out(tiny_run, tmp_path, stop_asked):
    from recipegen.export import export_run

    with pytest.raises(KeyboardInterrupt):
        export_run(tiny_run, tmp_path / "exported")
    assert list(tmp_path.iterdir()) == []


def test_a_stop_while_scoring_exits_130_and_prints_no_score(tiny_run, monkeypatch, stops_reset):
    from click.testing import CliRunner

    from recipegen import evaluate
    from recipegen.cli import cli

    stop_during(monkeypatch, evaluate, "score_texts")
    result = CliRunner().invoke(cli, ["evaluate", "--model", str(tiny_run)])
    assert result.exit_code == 130 and result.stdout == "", result.output


def test_a_stop_while_sampling_for_measures_ends_before_the_next_batch(tiny_run, monkeypatch, stops_reset):
    from click.testing import CliRunner

    from recipegen.cli import cli
    from recipegen.generation.generator import Generator

    calls = []
    decode = Generator.generate

    def counted(self, *args, **kwargs):
        calls.append(kwargs.get("n"))
        return decode(self, *args, **kwargs)

    monkeypatch.setattr(Generator, "generate", counted)
    stop_during(monkeypatch, Generator, "generate")
    result = CliRunner().invoke(cli, ["evaluate", "--model", str(tiny_run), "--samples", "4", "--batch-size", "2",
                                      "--max-tokens", "5"])
    assert result.exit_code == 130 and result.stdout == "", result.output
    assert calls == [2], "one batch decoded, then the stop, not the other batch nor the other temperatures"


@pytest.mark.slow  # trains runs of its own to compare an interrupted one with a straight one
def test_resume_writes_the_samples_a_stop_during_the_epoch_end_lost(workdir):
    """A second signal (or a kill) after the checkpoint but before the samples were written."""
    from recipegen.config import load_config
    from recipegen.train import resume, train

    config = load_config(None, {**TINY_OVERRIDES, "data.path": "recipes.json", "train.epochs": 2})
    straight = train(config, workdir / "straight", verbose=False).run_dir
    short = train(load_config(None, {**TINY_OVERRIDES, "data.path": "recipes.json", "train.epochs": 1}),
                  workdir / "cut", verbose=False).run_dir
    for name in ("samples.jsonl", "sample_measures.csv"):
        (short / name).unlink()  # as if the process ended between state.json and the samples
    resume(short, epochs=2, verbose=False)
    for name in ("samples.jsonl", "sample_measures.csv"):
        assert (short / name).read_text() == (straight / name).read_text(), name


def test_a_streaming_pass_asked_to_stop_stops_not_fails(workdir, stop_asked):
    from recipegen.config import load_config
    from recipegen.prepare import prepare

    (workdir / "recipes.jsonl").write_text("\n".join(json.dumps(r) for r in RECIPES))
    config = load_config(None, {**TINY_OVERRIDES, "data.path": "recipes.jsonl", "data.stream": True})
    with pytest.raises(KeyboardInterrupt):  # not "no usable recipe": the pass was cut short, not empty
        prepare(config)


@pytest.mark.slow  # a process of its own
@needs_entry_point
@pytest.mark.parametrize("stops", [1, 2], ids=["one-signal", "two-signals"])
def test_a_stop_inside_one_long_decode_exits_130_within_seconds(tiny_run, stops):
    """200 greedy recipes of up to 90,000 tokens, which the tiny model never ends: one TensorFlow
    call of minutes, during which Python's handlers could not run before."""
    process = subprocess.Popen([RECIPEGEN, "generate", "--model", str(tiny_run), "--max-tokens", "90000",
                                "--temperature", "0", "--no-repeat-ngram", "0", "-n", "200"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(15)  # TensorFlow imported, the model loaded, the loop well under way
        assert process.poll() is None, "the decode ended before the stop: it must be longer for this test"
        for _ in range(stops):
            process.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            time.sleep(0.05)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()  # a stop that did not work leaves no decode running
    assert process.returncode == 130, err
    assert time.monotonic() - sent < 5, "acted on within seconds, not at the end of the decode"
    assert out == "", "no half-wanted recipe"


def signalled(commands: list[list[str]], cwd: Path, delays: list[float], numbers: list[int]) -> list[dict]:
    """Start ``commands`` together and send each its signal after its delay (unless it has ended);
    how each ended, and how long after its signal."""
    started = time.monotonic()
    processes = [subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for command in commands]
    sent: list[float | None] = [None] * len(processes)
    ended: list[float | None] = [None] * len(processes)
    try:
        while None in ended:
            now = time.monotonic()
            assert now - started < 300, "a process ran past five minutes"
            for i, process in enumerate(processes):
                if ended[i] is None and process.poll() is not None:
                    ended[i] = now
                elif sent[i] is None and ended[i] is None and now >= started + delays[i]:
                    process.send_signal(numbers[i])
                    sent[i] = now
            time.sleep(0.01)
    finally:
        for process in processes:
            process.kill()
    outcomes = []
    for process, signalled_at, ended_at in zip(processes, sent, ended):
        stdout, stderr = process.communicate()
        outcomes.append({"code": process.returncode, "stdout": stdout, "stderr": stderr,
                         "after_signal": None if signalled_at is None else ended_at - signalled_at})
    return outcomes


def entries(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def tree_checksums(directory: Path) -> dict[str, str]:
    import hashlib

    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def steered_run(tmp_path_factory):
    """A tiny full-template run, and an ingredient list of 1,500 lines: one decode of seconds."""
    from recipegen.config import load_config
    from recipegen.train import train

    root = tmp_path_factory.mktemp("steered")
    (root / "recipes.json").write_text(json.dumps(RECIPES), encoding="utf-8")
    config = load_config(None, {**TINY_OVERRIDES, "data.path": str(root / "recipes.json"), "data.template": "full"})
    train(config, root / "run", verbose=False)
    foods = ["butter", "flour", "sugar", "egg", "milk", "salt", "onion", "rice", "bread", "stock"]
    lines = [f"{1 + n % 9} cups {foods[n % len(foods)]}" for n in range(1500)]
    (root / "list.txt").write_text("\n".join(lines), encoding="utf-8")
    return root


LONG_WORK = {
    # the decode of a long given list, its recipes written over an older --jsonl file
    "jsonl": (lambda out: ["generate", "--model", "run", "--ingredients-file", "list.txt", "-n", "2",
                           "--jsonl", str(out)], "samples.jsonl"),
    # the export's trace and write, over an older export
    "export": (lambda out: ["export", "run", str(out), "--overwrite"], "exported"),
}


@pytest.mark.slow  # processes of their own, each seconds long
@needs_entry_point
@pytest.mark.parametrize("work", LONG_WORK)
def test_signals_at_random_moments_of_long_work_exit_130_at_once_and_lose_nothing(steered_run, work):
    """SIGINT or SIGTERM at any moment of a long decode or an export: exit 130 within 5 seconds,
    one line, and the older output byte for byte as it was; or, where the work ended first, exit 0
    and the new output whole. Nothing else is left beside it."""
    command, name = LONG_WORK[work]
    reference_dir = steered_run / f"{work}-reference"
    reference_dir.mkdir()
    started = time.monotonic()
    reference = subprocess.run([RECIPEGEN, *command(reference_dir / name)], cwd=steered_run, capture_output=True,
                               text=True, timeout=300)
    duration = time.monotonic() - started
    assert reference.returncode == 0, reference.stderr
    moments = random.Random(25)
    stopped = 0
    for first in range(0, 6, 2):  # two processes at a time: the machine has two cores
        trials = [steered_run / f"{work}-{trial}" for trial in (first, first + 1)]
        for directory in trials:
            shutil.copytree(reference_dir, directory)  # the older output, which a stop must keep
        delays = [moments.uniform(0.05, duration) for _ in trials]
        numbers = [signal.SIGINT if moments.random() < 0.5 else signal.SIGTERM for _ in trials]
        outcomes = signalled([[RECIPEGEN, *command(d / name)] for d in trials], steered_run, delays, numbers)
        print(work, [(round(delay, 2), o["code"], o["after_signal"] and round(o["after_signal"], 2))
                     for delay, o in zip(delays, outcomes)])
        for directory, delay, number, outcome in zip(trials, delays, numbers, outcomes):
            context = f"{work}: {number.name} after {delay:.2f} s: {outcome['stderr'][-2000:]}"
            assert entries(directory) == [name], context
            if outcome["code"] == 0:
                assert outcome["after_signal"] is None or outcome["after_signal"] < 5, context
                if work == "export":
                    assert (directory / name / "saved_model.pb").is_file(), context
                else:
                    assert [json.loads(line)["text"] for line in (directory / name).open()], context
                continue
            stopped += 1
            assert outcome["code"] == 130, context
            assert outcome["after_signal"] < 5, context
            assert outcome["stderr"].strip().splitlines()[-1] == "Interrupted.", context
            assert "Traceback" not in outcome["stderr"], context
            if work == "export":
                assert tree_checksums(directory / name) == tree_checksums(reference_dir / name), context
            else:
                assert (directory / name).read_bytes() == (reference_dir / name).read_bytes(), context
    assert stopped >= 3, "most signals came while the work ran"
