"""The console entry point, apart from cli.py so that a stop is recorded from the first moment.

Importing the command line (click, its options, the config) takes a tenth of a second, more on a
busy machine; a Ctrl-C or SIGTERM in that time ended the process with a KeyboardInterrupt
traceback instead of exit 130. Here the handler is installed before anything else is imported
(the package itself imports nothing), and a stop recorded during the imports is acted on at the
command's first safe point.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn


def main() -> NoReturn:
    """Run the command, then leave at once.

    Leaving with ``os._exit`` once the exit functions have run and the output is flushed skips the
    rest of the interpreter's shutdown, where TensorFlow's threads are torn down: a signal there
    used to kill the process after its work was done, and nothing is left to do there (every file
    is closed and synced).
    """
    try:
        from recipegen import stopping

        stopping.install()
    except KeyboardInterrupt:  # before the handler was in place: nothing has started
        sys.exit(130)
    _fill_closed_streams()
    from recipegen.cli import run_command
    from recipegen.exits import BROKEN_PIPE_EXIT

    code = run_command()
    atexit._run_exitfuncs()  # what libraries registered (TensorFlow removes its generated files); signals stay recorded
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = BROKEN_PIPE_EXIT
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)


def _fill_closed_streams() -> None:
    """A command started with stdout or stderr closed (`recipegen ... >&-`) writes them to /dev/null.

    Python leaves ``sys.stdout`` None there, and every command ended in a traceback; worse, the next
    file opened would take descriptor 1 or 2 and receive whatever a library prints. With the
    descriptor taken by /dev/null, the command runs as with its output discarded, and exits as it would.
    """
    for descriptor, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != descriptor:
                os.dup2(null, descriptor)
                os.close(null)
            setattr(sys, name, open(descriptor, "w", encoding="utf-8", closefd=False))
