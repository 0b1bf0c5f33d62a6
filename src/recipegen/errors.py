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
