"""Training under tf.distribute: the strategies, TF_CONFIG, and a real run of two workers.

The two-worker test starts two ``recipegen train --strategy multiworker`` processes on this
machine, each with its own TF_CONFIG, as two machines would.
"""

import json
import os
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import RECIPEGEN, RECIPES, TINY_OVERRIDES, needs_entry_point, tiny_set_args

RUN_FILES = ("model.keras", "vocabulary.json", "config.toml", "history.csv", "metrics.json")


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def recipegen(*args, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([RECIPEGEN, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=env or os.environ.copy())


def run_workers(workdir: Path, *args, count: int = 2, timeout: float = 240) -> list[tuple[int, str, str]]:
    """Run ``recipegen *args`` as ``count`` workers, each in its own directory (``machineN``) with
    its own TMPDIR (``tmpN``) as if on its own machine; (exit code, stdout, stderr) of each."""
    ports = free_ports(count)
    workers = []
    for index in range(count):
        machine, scratch, logs = (workdir / f"{name}{index}" for name in ("machine", "tmp", "logs"))
        for directory in (machine, scratch, logs):
            directory.mkdir(exist_ok=True)
        env = os.environ | {"TF_CONFIG": tf_config(ports, index), "TMPDIR": str(scratch)}
        with (logs / "stdout").open("w") as stdout, (logs / "stderr").open("w") as stderr:
            workers.append(subprocess.Popen([RECIPEGEN, *map(str, args)], cwd=machine, env=env, stdout=stdout,
                                            stderr=stderr))
    try:
        codes = [worker.wait(timeout=timeout) for worker in workers]  # the others finish with the first
    except subprocess.TimeoutExpired:
        pytest.fail(f"the workers did not finish within {timeout} s")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return [(code, (workdir / f"logs{i}" / "stdout").read_text(), (workdir / f"logs{i}" / "stderr").read_text())
            for i, code in enumerate(codes)]


def test_tf_config_is_read_and_checked():
    from recipegen.distribute import read_tf_config
    from recipegen.errors import ConfigError

    assert read_tf_config({"TF_CONFIG": tf_config([1, 2], 1)}) == (1, 2)
    for environ, problem in [
        ({}, "not set"),
        ({"TF_CONFIG": "{cluster: 1}"}, "not valid JSON"),
        ({"TF_CONFIG": json.dumps({"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}})}, "host:port"),
        ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:1"]},
                                   "task": {"type": "worker", "index": 0}})}, "only \"worker\" tasks"),
        ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})}, '"task" must be'),
        ({"TF_CONFIG": tf_config([1, 2], 2)}, "0 to 1 for 2 workers, got 2"),
    ]:
        with pytest.raises(ConfigError, match=problem) as raised:
            read_tf_config(environ)
        assert str(raised.value).startswith("TF_CONFIG: ")


def test_strategy_is_a_config_key():
    from recipegen.config import load_config
    from recipegen.errors import ConfigError

    assert load_config().train.strategy == "default"
    assert load_config(None, {"train.strategy": "mirrored"}).train.strategy == "mirrored"
    with pytest.raises(ConfigError, match="train.strategy = 'tpu' must be one of default, mirrored, multiworker"):
        load_config(None, {"train.strategy": "tpu"})


@pytest.mark.parametrize("softmax, vocab", [
    ({"model.tie_embeddings": False, "train.softmax": "full"}, 30),
    # the model's own sampled step, with fewer candidates than words
    ({"model.tie_embeddings": True, "train.softmax": "sampled", "train.sampled_classes": 20}, 60),
], ids=["full", "sampled"])
def test_step_trainer_trains_exactly_as_fit_does(softmax, vocab):
    """The distributed step against Keras's own fit, from the same weights on the same batches
    (a partial last batch, padding, clipping that bites): the same weights after an epoch."""
    import keras
    import tensorflow as tf

    from recipegen.config import load_config
    from recipegen.distribute import StepTrainer
    from recipegen.model import build_model, compile_model
    from recipegen.pipeline import make_dataset

    config = load_config(None, {"model.units": 8, "model.embedding_dim": 8, "model.dropout": 0.0,
                                "train.clipnorm": 0.05, **softmax})
    windows = np.random.default_rng(0).integers(1, vocab, (19, 9)).astype(np.int32)
    windows[::3, 6:] = 0  # padding at the end of some windows
    keras.utils.set_random_seed(1)
    plain = build_model(config.model, vocab)
    compile_model(plain, config.train)
    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        distributed = build_model(config.model, vocab)
        compile_model(distributed, config.train)
    distributed.set_weights(plain.get_weights())

    plain.fit(make_dataset(windows, 4), epochs=1, verbose=0, shuffle=False)
    logs = StepTrainer(strategy, distributed, batch_size=4).fit_epoch(make_dataset(windows, 4), 0, [], verbose=False)

    for expected, got in zip(plain.get_weights(), distributed.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert set(logs) == {"loss", "accuracy"} and np.isfinite(logs["loss"])


def test_resume_refuses_the_multiworker_strategy(tiny_run):
    from recipegen.errors import RunError
    from recipegen.train import resume

    before = (tiny_run / "config.toml").read_text()
    with pytest.raises(RunError, match="resumes on one machine: add --strategy default or mirrored"):
        resume(tiny_run, strategy="multiworker", verbose=False)
    assert (tiny_run / "config.toml").read_text() == before


@pytest.mark.slow  # processes of their own
@needs_entry_point
def test_multiworker_without_a_valid_tf_config_is_a_one_line_error(workdir):
    env = {name: value for name, value in os.environ.items() if name != "TF_CONFIG"}
    for tf_config_value, problem in [(None, "not set"), ("{not json", "not valid JSON")]:
        if tf_config_value is not None:
            env["TF_CONFIG"] = tf_config_value
        result = recipegen("train", "--strategy", "multiworker", "--data", "recipes.json", *tiny_set_args(),
                           cwd=workdir, env=env)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: TF_CONFIG: {problem}")
        assert not (workdir / "runs").exists()


@pytest.mark.slow  # processes of their own
@needs_entry_point
def test_mirrored_trains_and_resumes_a_run(workdir):
    """Keras's fit under MirroredStrategy, with the model's own sampled-softmax step."""
    sampled = {"train.softmax": "sampled", "train.sampled_classes": 20, "model.tie_embeddings": True}
    result = recipegen("train", "--strategy", "mirrored", "--data", "recipes.json", "--out", "run", "--quiet",
                       *tiny_set_args({"train.epochs": 1, **sampled}), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "run"
    run_dir = workdir / "run"
    assert all((run_dir / name).is_file() for name in RUN_FILES)
    assert 'strategy = "mirrored"' in (run_dir / "config.toml").read_text()

    resumed = recipegen("train", "--resume", "run", "--epochs", "2", "--quiet", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 2
    assert len((run_dir / "history.csv").read_text().strip().splitlines()) == 1 + 2


@pytest.mark.slow  # processes of their own
@needs_entry_point
def test_two_workers_train_one_run_directory(workdir):
    """Two workers on one machine, each in its own directory as if on its own machine: the chief
    writes the run, the other writes nothing that outlives it, and the result is the model one
    worker alone would have trained (dropout off, so the two are comparable)."""
    from recipegen.config import load_config
    from recipegen.train import train

    # A global batch of 5 of the 16 windows: shares of 3 and 2 windows, and a last batch of one;
    # sampled softmax with fewer candidates than words, so every replica must draw the same ones.
    overrides = {"train.epochs": 1, "train.batch_size": 5, "model.dropout": 0.0, "train.softmax": "sampled",
                 "train.sampled_classes": 20}
    workers = run_workers(workdir, "train", "--strategy", "multiworker", "--data", workdir / "recipes.json",
                          "--out", "run", *tiny_set_args(overrides))
    assert [code for code, _, _ in workers] == [0, 0], workers

    run_dir = workdir / "machine0" / "run"
    assert all((run_dir / name).is_file() for name in RUN_FILES)
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 1
    assert list((workdir / "machine1").iterdir()) == []
    assert list((workdir / "tmp1").iterdir()) == []  # the other worker's temporary run directory is gone
    assert workers[1][1].splitlines()[-1] == "Done: the chief worker (worker 0) saved run on its machine"

    generated = recipegen("generate", "--model", run_dir, "--max-tokens", "8", "--seed", "1", "--json", cwd=workdir)
    assert generated.returncode == 0, generated.stderr
    assert len(json.loads(generated.stdout)["samples"]) == 1

    config = load_config(None, {**TINY_OVERRIDES, **overrides, "data.path": str(workdir / "recipes.json")})
    alone = train(config, workdir / "alone", verbose=False).metrics
    together = json.loads((run_dir / "metrics.json").read_text())
    assert together["val_loss"] == pytest.approx(alone["val_loss"], abs=1e-6)
    assert together["val_accuracy"] == pytest.approx(alone["val_accuracy"], abs=1e-9)


@pytest.mark.slow  # processes of their own
@needs_entry_point
def test_a_failing_worker_stops_the_others(workdir):
    (workdir / "machine0").mkdir()
    (workdir / "machine0" / "run").mkdir()
    (workdir / "machine0" / "run" / "notes.txt").write_text("not a run")
    workers = run_workers(workdir, "train", "--strategy", "multiworker", "--data", workdir / "recipes.json",
                          "--out", "run", *tiny_set_args({"train.epochs": 1}))
    (chief_code, _, chief_error), (other_code, _, other_error) = workers
    assert chief_code == 2 and "already exists" in chief_error
    assert other_code == 1
    assert other_error.strip().splitlines()[-1] == ("Error: lost contact with another worker, which failed or was "
                                                    "stopped: see its own output (--debug shows TensorFlow's error)")
    assert "Traceback" not in other_error


@pytest.mark.slow  # processes of their own
@needs_entry_point
def test_a_worker_waiting_for_the_others_stops_on_ctrl_c(workdir):
    """TensorFlow waits for every worker inside its runtime, out of reach of Python's handlers."""
    import signal
    import time

    ports = free_ports(2)
    env = os.environ | {"TF_CONFIG": tf_config(ports, 0)}
    worker = subprocess.Popen([RECIPEGEN, "train", "--strategy", "multiworker", "--data", "recipes.json"], cwd=workdir,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not _listening(ports[0]):  # its server is up: it is waiting for worker 1
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never started its server"
            time.sleep(0.2)
        worker.send_signal(signal.SIGINT)
        assert worker.wait(timeout=60) != 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert not (workdir / "runs").exists()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow  # processes of their own
@needs_entry_point
def test_two_workers_train_on_a_streamed_corpus(workdir):
    """data.stream under multiworker: each worker streams the file and takes its share of the batches."""
    (workdir / "recipes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECIPES * 2))
    workers = run_workers(workdir, "train", "--strategy", "multiworker", "--data", workdir / "recipes.jsonl",
                          "--out", "run", *tiny_set_args({"train.epochs": 1, "data.stream": True}))
    assert [code for code, _, _ in workers] == [0, 0], workers
    run_dir = workdir / "machine0" / "run"
    assert all((run_dir / name).is_file() for name in RUN_FILES)
    assert json.loads((run_dir / "metrics.json").read_text())["val_tokens"] > 0
    assert list((workdir / "machine1").iterdir()) == []
