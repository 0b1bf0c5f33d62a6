"""What a command needs of the process before it runs: TensorFlow imported without its start-up
noise. Kept apart so that ``recipegen --help`` never pays for it.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import click

from recipegen import stopping
from recipegen.exits import BadInput


def import_tensorflow(quiet: bool = True) -> None:
    """Import TensorFlow, with its C++ start-up lines (oneDNN, CUDA probing) kept off stderr when ``quiet``.

    Some of those lines ignore TF_CPP_MIN_LOG_LEVEL, so stderr is pointed at /dev/null for
    the import alone; a Python exception from the import still surfaces as usual. Nothing has
    been written yet, so a stop during the import's seconds ends the process at once
    (``stopping.at_once``), its one line on the real stderr.
    Only commands that need TensorFlow pay for the import: ``--help`` never reaches here.
    """
    if "tensorflow" in sys.modules:
        return
    if not quiet:
        with stopping.at_once():
            import tensorflow  # noqa: F401
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull, stopping.at_once(stderr=saved):
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def start_tensorflow() -> None:
    """Import TensorFlow, quietly unless --debug; commands call this once they know they run."""
    import_tensorflow(quiet=not click.get_current_context().find_root().params.get("debug"))
    stopping.check()  # a stop asked just before


def need_extra(extra: str, *modules: str) -> None:
    """Refuse in one line a command whose optional dependencies are not installed, naming the extra."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise BadInput(f"{' and '.join(missing)} not installed: recipegen {click.get_current_context().info_name} "
                       f"needs them, install them with: pip install 'recipegen[{extra}]'")
