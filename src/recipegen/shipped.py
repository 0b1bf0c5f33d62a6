"""The configs and the corpus shipped with recipegen, found wherever it is installed.

They live at the top of the repository (``configs/``, ``data/``) and are installed as package
data (``recipegen.configs``, ``recipegen.bundled``; pyproject.toml). A path that does not exist
where a command runs is looked up among them by its place in the repository, so the README's
``--config configs/quick.toml`` and the default corpus ``data/recipes.json`` work from any
directory, and a shipped config can be named alone: ``--config quick``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CONFIGS = "recipegen.configs"
BUNDLED = "recipegen.bundled"


def config_path(path: str | Path) -> Path:
    """``path`` if it exists; else the shipped config it names (``quick``, ``configs/quick.toml``)."""
    path = Path(path)
    if path.exists() or path.parent not in (Path("."), Path("configs")):
        return path
    return _shipped(CONFIGS, path.name if path.suffix else f"{path.name}.toml") or path


def corpus_path(path: str | Path) -> Path:
    """``path`` if it exists; else the bundled corpus it names (``data/recipes.json``)."""
    path = Path(path)
    if path.exists() or path.parent != Path("data"):
        return path
    return _shipped(BUNDLED, path.name) or path


def config_names() -> list[str]:
    """The shipped configs, by the names ``--config`` takes."""
    return sorted(file.name.removesuffix(".toml") for file in resources.files(CONFIGS).iterdir()
                  if file.name.endswith(".toml"))


def _shipped(package: str, name: str) -> Path | None:
    file = resources.files(package).joinpath(name)
    # An installed package is a directory on disk; a zipped one would need extracting, and is not supported.
    return Path(str(file)) if isinstance(file, Path) and file.is_file() else None
