"""Generating from a trained run: what ``recipegen generate`` does, as one library call.

``generate_run`` reads the run, refuses what the run cannot write before its model loads (an
ingredient list for a run whose template has none, a title for a plain-text run) and resolves
every setting against the run's config. What it returns writes the recipes all at once or a batch
at a time; the command line only chooses which and prints them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipegen.generation.generator import Generator
from recipegen.generation.samples import Generation, Request
from recipegen.generation.settings import check_max_tokens, configured_decoding
from recipegen.run import Run, load_run


@dataclass(frozen=True)
class Generating:
    """A run ready to write recipes: its generator and the settings resolved against its config."""

    run: Run
    generator: Generator
    prompt: str
    max_tokens: int
    options: dict[str, Any]  # the rest of Generator.generate's keyword arguments

    def generate(self, count: int, seed: int | None = None) -> Generation:
        """``count`` recipes decoded as one batch."""
        return self.generator.generate(self.prompt, n=count, seed=seed, max_tokens=self.max_tokens, **self.options)

    def batches(self, count: int, batch_size: int, seed: int | None = None) -> Iterator[Generation]:
        """``count`` recipes a batch at a time, each decoded once the one before has been taken."""
        return self.generator.generate_batches(self.prompt, count, batch_size, seed, max_tokens=self.max_tokens,
                                               **self.options)


def generate_run(run_path: Path | None, prompt: str | None = None, request: Request | None = None,
                 max_tokens: int | None = None, show_probs: int = 0, jit_compile: bool = False,
                 **settings: Any) -> Generating:
    """The run at ``run_path`` (the latest under ./runs when None) ready to write recipes after
    ``prompt`` (default: the run's sample.prompt) or for ``request``; ``settings`` are decoding
    settings that replace the run's (None: the run's). A bad setting, or a request the run's
    template cannot hold, raises ``SettingError`` before the model is loaded."""
    run = load_run(run_path, model=False)
    if request is not None:
        request.check_for(run.template)
    decoding = configured_decoding(run.config.sample, **settings)
    if max_tokens is not None:
        check_max_tokens(max_tokens)
    generator = Generator.from_run(run, jit_compile=jit_compile)
    return Generating(run=run, generator=generator, prompt=run.config.sample.prompt if prompt is None else prompt,
                      max_tokens=run.max_tokens() if max_tokens is None else max_tokens,
                      options=dict(show_probs=show_probs, requests=[request] if request else None, decoding=decoding))
