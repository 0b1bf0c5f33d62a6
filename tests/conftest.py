"""Shared fixtures: a handful of recipes written for the tests and a tiny trained run.

Models here have a few units and a vocabulary of ~100 tokens so the whole suite runs on two
CPU cores in minutes; what they learn does not matter, only that every stage works on them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The console script, for the tests that start `recipegen` as a user or a shell script does.
RECIPEGEN = shutil.which("recipegen")
needs_entry_point = pytest.mark.skipif(RECIPEGEN is None, reason="the package is not installed (pip install -e .)")

RECIPES = [
    {"title": "Buttered Toast", "ingredients": ["2 slices bread", "1 tablespoon butter"],
     "directions": ["Toast the bread until golden.", "Spread with butter and serve warm."]},
    {"title": "Lemon Rice", "ingredients": ["1 cup rice", "1 lemon", "1/2 teaspoon salt"],
     "directions": ["Rinse the rice, then simmer in 2 cups water for 15 minutes.",
                    "Stir in the lemon juice and salt, cover, and rest 5 minutes."]},
    {"title": "Tomato Soup", "ingredients": ["4 tomatoes", "1 onion", "2 cups stock"],
     "directions": ["Soften the onion in oil for 8 minutes.", "Add the tomatoes and stock; simmer 20 minutes.",
                    "Blend until smooth, season with salt and pepper."]},
    {"title": "Green Salad", "ingredients": ["1 head lettuce", "2 tablespoons olive oil", "1 tablespoon vinegar"],
     "directions": ["Wash and dry the lettuce.", "Whisk the oil and vinegar, toss with the leaves, and serve."]},
    {"title": "Scrambled Eggs", "ingredients": ["3 eggs", "1 tablespoon butter", "salt"],
     "directions": ["Beat the eggs with a pinch of salt.", "Melt the butter over low heat, add the eggs,",
                    "and stir gently until just set, about 3 minutes."]},
    {"title": "Roast Carrots", "ingredients": ["1 pound carrots", "1 tablespoon olive oil", "1/2 teaspoon cumin"],
     "directions": ["Heat the oven to 425°F.", "Toss the carrots with oil, cumin, and salt.",
                    "Roast for 25 to 30 minutes, turning once, until browned."]},
    {"title": "Garlic Bread", "ingredients": ["1 baguette", "3 cloves garlic", "4 tablespoons butter"],
     "directions": ["Mash the garlic into the soft butter.", "Split the bread, spread it with the butter,",
                    "and bake at 400°F for 10 minutes."]},
    {"title": "Fruit Salad", "ingredients": ["2 oranges", "1 apple", "1 cup grapes", "1 tablespoon honey"],
     "directions": ["Cut the fruit into bite-size pieces.", "Toss with the honey and chill for 30 minutes."]},
    {"title": "Pancakes", "ingredients": ["1 cup flour", "1 egg", "1 cup milk", "1 teaspoon baking powder"],
     "directions": ["Whisk the flour and baking powder.", "Beat in the egg and milk to a smooth batter.",
                    "Cook 1/4 cup at a time on a hot buttered pan, 2 minutes per side."]},
    {"title": "Hot Cocoa", "ingredients": ["2 cups milk", "2 tablespoons cocoa", "2 tablespoons sugar"],
     "directions": ["Whisk the cocoa and sugar with a splash of milk.",
                    "Add the rest of the milk and heat until steaming."]},
]

TINY_OVERRIDES = {
    "data.vocab_size": 120,
    "data.sequence_length": 16,
    "data.validation_fraction": 0.2,
    "model.units": 8,
    "model.embedding_dim": 8,
    "train.epochs": 2,
    "train.batch_size": 4,
    "train.learning_rate": 0.01,
    "train.early_stopping_patience": 0,  # tests count epochs
    "sample.max_tokens": 12,
    "sample.temperatures": [1.0, 0.0],
    "sample.count": 2,
}


def tiny_set_args(overrides: dict | None = None) -> list[str]:
    """``--set`` arguments for the CLI that make the run tiny."""
    args = []
    for key, value in {**TINY_OVERRIDES, **(overrides or {})}.items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    return args


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory holding the test recipes as recipes.json, where relative paths land."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes.json").write_text(json.dumps(RECIPES), encoding="utf-8")
    return tmp_path


@pytest.fixture
def corpus_path(tmp_path: Path) -> Path:
    path = tmp_path / "recipes.json"
    path.write_text(json.dumps(RECIPES), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained run directory, shared by the tests that only read it."""
    from recipegen.config import load_config
    from recipegen.train import train

    root = tmp_path_factory.mktemp("tiny")
    data = root / "recipes.json"
    data.write_text(json.dumps(RECIPES), encoding="utf-8")
    config = load_config(None, {**TINY_OVERRIDES, "data.path": str(data)})
    return train(config, root / "run", verbose=False).run_dir
