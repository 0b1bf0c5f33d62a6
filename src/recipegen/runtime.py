"""What a command needs of the process before it runs: TensorFlow imported without its start-up
noise. Kept apart so that ``recipegen --help`` never pays for it.
"""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA probing) kept off stderr.

    Some of those lines ignore TF_CPP_MIN_LOG_LEVEL, so stderr is pointed at /dev/null for
    the import alone; a Python exception from the import still surfaces as usual.
    Only commands that need TensorFlow pay for the import: ``--help`` never reaches here.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
