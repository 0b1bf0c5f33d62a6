"""Stopping when asked, at a moment where stopping loses nothing.

Raising KeyboardInterrupt from a signal handler stops the main thread wherever it happens to be:
inside a TensorFlow call, a tf.data iterator or interpreter shutdown, where it has been seen to end
in a segmentation fault. So the command line's handler only records that a stop was asked for
(``install``), and the long loops look at the record where a stop is clean (``check``): between
training batches, between decoded batches, between passes over a corpus. A second signal while
stopping ends the process at once: every file a run keeps is renamed into place whole, so the
last checkpoint stays usable. Before a command has written anything (TensorFlow's import,
``at_once``), the first signal ends it at once too. Work that holds the main thread for long in
one TensorFlow call runs where a stop can still be acted on (``interruptible``).

Without ``install`` (recipegen used as a library), Python's own Ctrl-C behaviour is unchanged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

INTERRUPTED_EXIT = 130  # what shells report for Ctrl-C; also used for SIGTERM, which asks the same

_asked: int | None = None  # the signal that asked for a stop, until one is handled
_installed = False
_at_once_to: int | None = None  # inside at_once(): a stop ends the process, saying so on this descriptor


def install() -> None:
    """Record SIGINT and SIGTERM instead of acting on them (main thread only, where Python runs handlers)."""
    global _installed
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, _record)
        _installed = True


def _record(signum: int, frame: Any) -> None:
    global _asked
    if _asked is not None:
        os.write(2, b"Interrupted again: stopping now.\n")
        os._exit(INTERRUPTED_EXIT)
    if _at_once_to is not None:
        os.write(_at_once_to, b"Interrupted.\n")
        os._exit(INTERRUPTED_EXIT)
    _asked = signum


@contextlib.contextmanager
def at_once(stderr: int = 2) -> Iterator[None]:
    """Inside, a stop ends the process at once, saying so on ``stderr`` (a descriptor): for work
    before a command has written anything (TensorFlow's import), where waiting for a safe point
    would only make the stop wait seconds. Without the handler installed, nothing changes."""
    global _at_once_to
    check()  # a stop asked before: acted on here, as at any safe point
    _at_once_to = stderr if _installed else None
    try:
        yield
    finally:
        _at_once_to = None


def requested() -> bool:
    return _asked is not None


def check() -> None:
    """Raise KeyboardInterrupt here, a safe point, if a stop has been asked for."""
    if _asked is not None:
        raise KeyboardInterrupt


def interruptible(work: Callable[[], T]) -> T:
    """``work()``, run where a stop can still be acted on while it runs.

    A Python signal handler runs only between the main thread's bytecodes, and a TensorFlow op
    (a whole decoding loop is one) holds the thread that called it until it returns: a stop asked
    during a long decode waited for its end, the second signal too. With the handler installed,
    the work runs on a thread of its own while the main thread waits in short steps and checks:
    a stop raises KeyboardInterrupt here within a tenth of a second, and a second signal ends the
    process at once. The abandoned work writes nothing (it only computes) and ends with the
    process, which is about to exit. Without the handler (recipegen as a library), it runs here.
    """
    if not _installed or threading.current_thread() is not threading.main_thread():
        return work()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as e:  # handed to the caller, as if it had run here
            outcome["error"] = e

    worker = threading.Thread(target=run, name="recipegen-work", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
        check()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def reset() -> None:
    """Forget a recorded stop (tests, and a library caller that has handled it)."""
    global _asked
    _asked = None
