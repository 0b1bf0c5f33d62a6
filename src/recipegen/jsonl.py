"""``generate --jsonl``: recipes written as JSON Lines a batch at a time, whole or not at all.

Each batch is written as soon as it is decoded and then dropped, so memory does not grow with
the number of recipes; a file is written under a temporary name beside it (files.replacing) and a
stop asked for (stopping.py) is acted on between batches. A FIFO or a device is written to as a
stream, and a symlink's target replaced, never the link or the FIFO themselves.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from recipegen import stopping
from recipegen.files import replacing
from recipegen.render import sample_jsonl, unknown_words_warning


def write_jsonl(path: Path, generations: Any, count: int, foods: set[str] | None) -> None:
    """Each batch's recipes as JSON lines as soon as it is decoded; a file is written under a
    temporary name and renamed into place once whole, so a stop leaves the old file (or none)."""
    def write(stream: Any, bar: Any) -> None:
        index = 0
        for generation in generations:
            if index == 0 and generation.unknown_words:
                click.echo(unknown_words_warning(generation.unknown_words), err=True)
            stream.write("".join(sample_jsonl(sample, index + i, generation.seed, foods) + "\n"
                                 for i, sample in enumerate(generation.samples)))
            stream.flush()
            index += len(generation.samples)
            bar.update(len(generation.samples))
            stopping.check()  # between batches: what is written stays whole

    target = "stdout" if str(path) == "-" else str(path)
    with click.progressbar(length=count, label=f"{count:,} recipes to {target}", file=sys.stderr) as bar:
        if str(path) == "-":
            write(sys.stdout, bar)
        elif path.exists() and not path.is_file():  # a FIFO or a device: a stream to write to, never replaced
            with path.open("w", encoding="utf-8") as stream:
                write(stream, bar)
        else:  # through a symlink, its target is replaced and the link kept
            with replacing(path.resolve(), suffix=".jsonl.tmp") as tmp, tmp.open("w", encoding="utf-8") as stream:
                write(stream, bar)
