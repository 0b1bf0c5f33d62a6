"""recipegen: a word-level recurrent recipe generator built on Keras."""

from typing import Any


def __getattr__(name: str) -> Any:
    """``__version__`` read from the installed metadata when asked for: importing importlib.metadata
    takes longer than the rest of the package's import, and the console entry point (entry.py)
    must get to its signal handler first."""
    if name != "__version__":
        raise AttributeError(f"module 'recipegen' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recipegen")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"
