"""recipegen as a user installs it: a built wheel (not the source tree), run from an empty directory."""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # builds a wheel and installs it, with TensorFlow, into a fresh environment
def test_the_built_wheel_trains_and_generates_from_an_empty_directory(tmp_path):
    shutil.copytree(ROOT, tmp_path / "source", ignore=shutil.ignore_patterns(".git", ".venv*", "runs", "build", "dist"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "wheel",
                    tmp_path / "source"], check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("recipegen-*.whl")
    venv.create(tmp_path / "env", with_pip=True)
    bin_dir = tmp_path / "env" / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run([bin_dir / "python", "-m", "pip", "install", "-q", wheel], check=True, capture_output=True)

    empty = tmp_path / "empty"
    empty.mkdir()
    environment = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}

    def recipegen(*args):
        return subprocess.run([bin_dir / "recipegen", *args], capture_output=True, text=True, cwd=empty,
                              env=environment, timeout=600)

    trained = recipegen("train", "--config", "quick", "--epochs", "1", "--quiet")
    assert trained.returncode == 0, trained.stderr
    run_dir = trained.stdout.strip()
    assert (empty / run_dir / "model.keras").is_file()
    assert 'path = "data/recipes.json"' in (empty / run_dir / "config.toml").read_text(), "the bundled corpus"
    generated = recipegen("generate", "--max-tokens", "20", "--seed", "1")
    assert generated.returncode == 0 and generated.stdout.strip(), generated.stderr
    module = subprocess.run([bin_dir / "python", "-m", "recipegen", "--version"], capture_output=True, text=True,
                            cwd=empty)
    assert module.returncode == 0 and module.stdout == recipegen("--version").stdout
