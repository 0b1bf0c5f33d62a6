"""One rule for where a command writes: never onto, into or around what the same command reads.

A fine-tune written into its own base run clears the base before reading it; `generate --jsonl
RUN/model.keras` renames its samples over the model it decodes with; an export into its own run
directory replaces the run. Each spelling of the same place (`runs/x`, `./runs/./x/`, a symlink to
it) is one place once resolved, so the paths are compared resolved, and the command is refused
before it does any work.
"""

from __future__ import annotations

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
