"""One rule for where a command writes: never onto, into or around what the same command reads,
and only where it can write, both checked before any work.

A fine-tune written into its own base run clears the base before reading it; `generate --jsonl
RUN/model.keras` renames its samples over the model it decodes with; an export into its own run
directory replaces the run. Each spelling of the same place (`runs/x`, `./runs/./x/`, a symlink to
it) is one place once resolved, so the paths are compared resolved, and the command is refused
before it does any work. A destination that cannot be written is found out before the work too,
not at its end, when the work would be lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from recipegen.errors import RecipegenError


def overlap(output: Path, source: Path) -> str | None:
    """How ``output`` overlaps ``source`` once both are resolved ("is", "contains", "lies inside"), or None."""
    out, read = output.resolve(), source.resolve()
    if out == read:
        return "is"
    if read.is_relative_to(out):
        return "contains"
    if out.is_relative_to(read):
        return "lies inside"
    return None


def refuse_overlap(option: str, output: Path, sources: Iterable[tuple[str, Path | None]]) -> None:
    """RecipegenError (exit 2) when ``output`` (given as ``option``) is, contains or lies inside one
    of ``sources``, each named as the user gave it (``("--init-from", path)``)."""
    for name, source in sources:
        if source is not None and (relation := overlap(output, source)):
            raise RecipegenError(f"{option} {output}: {relation} {name} {source}, which this command reads; "
                                 f"write elsewhere")


def refuse_unwritable(option: str, output: Path, made_in: Path) -> None:
    """RecipegenError (exit 2) unless the command can create files in ``made_in``, the directory
    where ``output`` (given as ``option``) is written: itself, or the nearest of its parents that
    exists, when the command makes the missing ones."""
    place = made_in.resolve()
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise RecipegenError(f"{option} {output}: {place} is not a directory")
    if not os.access(place, os.W_OK | os.X_OK):
        raise RecipegenError(f"{option} {output}: cannot write in {place}")
