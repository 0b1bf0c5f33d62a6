"""Exceptions for mistakes a user can fix.

Library code raises these with the offending file, key or value in the message; the CLI
turns them into one-line errors with exit code 2. Anything else is a bug or a failure
while running and keeps its traceback under ``--debug``.
"""


class RecipegenError(Exception):
    """A problem with the user's input: a file, a config key, an option, a run directory."""


class ConfigError(RecipegenError):
    """A config file or override that cannot be used."""


class DataError(RecipegenError):
    """A corpus that cannot be read or is not usable for training."""


class RunError(RecipegenError):
    """A run directory that is missing, incomplete or inconsistent."""


class ExportError(RecipegenError):
    """An export destination that cannot be written: it exists, or is not an export."""


class ServeError(RecipegenError):
    """A server that cannot start as asked: its address, or a missing optional dependency."""


class RunFailure(Exception):
    """Something went wrong while running (not the user's input): the CLI exits 1 with the message."""


class TrainingDiverged(RunFailure):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM during training; the run directory can be resumed."""

    def __init__(self, run_dir: object, epochs_done: int):
        super().__init__(f"interrupted after {epochs_done} completed epoch(s)")
        self.run_dir = run_dir
        self.epochs_done = epochs_done
