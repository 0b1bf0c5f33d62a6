"""The console entry point, apart from cli.py so that a stop is recorded from the first moment.

Importing the command line (click, its options, the config) takes a tenth of a second, more on a
busy machine; a Ctrl-C or SIGTERM in that time ended the process with a KeyboardInterrupt
traceback instead of exit 130. Here the handler is installed before anything else is imported
(the package itself imports nothing), and a stop recorded during the imports is acted on at the
command's first safe point.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from recipegen import stopping

        stopping.install()
    except KeyboardInterrupt:  # before the handler was in place: nothing has started
        sys.exit(130)
    from recipegen.cli import main as run

    run()
