"""Stopping when asked, at a moment where stopping loses nothing.

Raising KeyboardInterrupt from a signal handler stops the main thread wherever it happens to be:
inside a TensorFlow call, a tf.data iterator or interpreter shutdown, where it has been seen to end
in a segmentation fault. So the command line's handler only records that a stop was asked for
(``install``), and the long loops look at the record where a stop is clean (``check``): between
training batches, between decoded batches, between passes over a corpus. A second signal while
stopping ends the process at once: every file a run keeps is renamed into place whole, so the
last checkpoint stays usable.

Without ``install`` (recipegen used as a library), Python's own Ctrl-C behaviour is unchanged.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

INTERRUPTED_EXIT = 130  # what shells report for Ctrl-C; also used for SIGTERM, which asks the same

_asked: int | None = None  # the signal that asked for a stop, until one is handled


def install() -> None:
    """Record SIGINT and SIGTERM instead of acting on them (main thread only, where Python runs handlers)."""
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, _record)


def _record(signum: int, frame: Any) -> None:
    global _asked
    if _asked is not None:
        os.write(2, b"Interrupted again: stopping now.\n")
        os._exit(INTERRUPTED_EXIT)
    _asked = signum


def requested() -> bool:
    return _asked is not None


def check() -> None:
    """Raise KeyboardInterrupt here, a safe point, if a stop has been asked for."""
    if _asked is not None:
        raise KeyboardInterrupt


def reset() -> None:
    """Forget a recorded stop (tests, and a library caller that has handled it)."""
    global _asked
    _asked = None
