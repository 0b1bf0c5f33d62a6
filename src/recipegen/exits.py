"""The exit codes of the command line's contract (docs/scripts.md), for every command at once.

``RecipegenGroup`` turns what a command raises into one line on stderr and its exit code: the
user's mistake (a ``RecipegenError``: a path, a key, a value) exits 2, a failure while running
exits 1, a stop (Ctrl-C, SIGTERM) exits 130 and a reader that went away (``| head -1``) 141, the
shell's code for SIGPIPE. ``--debug`` shows the traceback instead of the line.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from recipegen import stopping
from recipegen.errors import RecipegenError, RunFailure, TrainingInterrupted

BROKEN_PIPE_EXIT = 141  # what a shell reports for a program whose reader went away (128 + SIGPIPE)


class BadInput(click.ClickException):
    exit_code = 2


class RecipegenGroup(click.Group):
    """Turns library exceptions into the exit codes of the CLI contract."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `recipegen generate | head -1`: the reader has what it wanted
            _point_stdout_nowhere()
            raise click.exceptions.Exit(BROKEN_PIPE_EXIT) from None
        except RecipegenError as e:
            if debug:
                raise
            raise BadInput(str(e)) from None
        except RunFailure as e:
            if debug:
                raise
            raise click.ClickException(str(e)) from None
        except TrainingInterrupted as e:
            click.echo(f"Interrupted after {e.epochs_done} completed epoch(s); "
                       f"continue with: recipegen train --resume {e.run_dir}", err=True)
            raise click.exceptions.Exit(stopping.INTERRUPTED_EXIT) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(stopping.INTERRUPTED_EXIT) from None
        except Exception as e:
            if debug:
                raise
            raise click.ClickException(f"{type(e).__name__}: {_first_line(str(e))} "
                                       f"(run with --debug for the traceback)") from None


def _first_line(message: str) -> str:
    """An unexpected error's first line: TensorFlow's messages go on with many lines of stack frames."""
    return next((line.strip() for line in message.splitlines() if line.strip()), "")


def _point_stdout_nowhere() -> None:
    """What is still buffered for a closed pipe would fail again at the final flush."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run_group(group: click.Group, args: list[str] | None = None) -> int:
    """Run one command line of ``group``; every error, usage mistakes included, is a single line on stderr."""
    try:
        code = group.main(args, prog_name="recipegen", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # plain `recipegen`: the help, as click shows it
        click.echo(e.format_message(), err=True)
        return e.exit_code
    except click.ClickException as e:  # UsageError, BadParameter and BadInput are exit 2; others exit 1
        click.echo(f"Error: {e.format_message()}", err=True)
        return e.exit_code
    except click.Abort:
        click.echo("Interrupted.", err=True)
        return stopping.INTERRUPTED_EXIT
    return code if isinstance(code, int) else 0
