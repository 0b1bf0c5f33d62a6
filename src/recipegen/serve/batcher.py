"""One decoder, many callers: requests that arrive while a batch decodes are decoded together next.

A server that decoded each request on its own would run its model at batch 1, the least
efficient size there is, and two decodes at once on one model would only fight over the same
cores. Here a single thread owns the generator. Callers ``submit`` a ``Job`` and wait on its
future; the thread takes the oldest job and every later one that can share its batch (the same
prompt and the same per-batch settings; temperature, seed, length and the given title and
ingredients are per row), up to ``max_batch`` rows, and decodes them in one loop. Each row draws
from its own seed's stream, so a job writes the same recipe whatever it was batched with.

A job that streams gets each of its tokens as the loop writes it (``Generator.generate_many``'s
``on_step``). A job whose caller has gone is marked cancelled: its rows finish with the batch,
unread, and a job cancelled before its batch starts is dropped.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from recipegen.generation.generator import Generator
from recipegen.generation.samples import Ask
from recipegen.generation.settings import Decoding


class Busy(RuntimeError):
    """More work is waiting than the server takes: the caller should try again later."""


class Closed(RuntimeError):
    """The server is stopping and takes no new work."""


@dataclass(eq=False)
class Job:
    """One caller's request: ``ask``'s samples after ``prompt`` with ``decoding`` (whose temperature
    is the ask's). ``on_token(row, token_id)`` is called from the decoding thread with each token
    of each of the job's rows, in order, when the caller streams."""

    prompt: str | None
    ask: Ask
    decoding: Decoding
    on_token: Callable[[int, int], None] | None = None
    result: Future = field(default_factory=Future)
    cancelled: bool = False

    @property
    def gone(self) -> bool:
        """Whether nobody will read the job's result any more."""
        return self.cancelled or self.result.cancelled()

    @property
    def rows(self) -> int:
        return self.ask.n * self.decoding.best_of

    @property
    def batch_key(self) -> tuple:
        """What every job of one batch shares: the prompt and the settings that are one per batch."""
        return self.prompt, dataclasses.replace(self.decoding, temperature=0.0)


class Batcher:
    """The thread that decodes every job, a batch at a time; ``max_waiting`` bounds the queue."""

    def __init__(self, generator: Generator, max_batch: int = 32, max_waiting: int = 1024):
        self.generator = generator
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.batches = 0  # decoded so far, for /health
        self._queue: deque[Job] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._streaming: list[tuple[Job, int]] = []  # the decoding batch's streamed jobs and their first rows
        self._thread = threading.Thread(target=self._run, name="recipegen-decoder", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Future:
        """Queue ``job``; its ``result`` future gets its Generation or the error that refused it."""
        if job.rows > self.max_batch:
            raise ValueError(f"a job of {job.rows} rows cannot fit a batch of {self.max_batch}")
        with self._ready:
            if self._closing:
                raise Closed("the server is stopping")
            if len(self._queue) >= self.max_waiting:
                raise Busy(f"{len(self._queue)} requests are already waiting")
            self._queue.append(job)
            self._ready.notify()
        return job.result

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def close(self, timeout: float | None = None) -> bool:
        """Take no new jobs, finish the queued ones, and stop; whether the thread ended in ``timeout``."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                if not self._queue:
                    return
                batch = self._take()
            if batch:
                self._decode(batch)

    def _take(self) -> list[Job]:
        """The oldest live job and the later ones that share its batch, up to max_batch rows."""
        while self._queue and self._queue[0].gone:
            self._queue.popleft().result.cancel()
        if not self._queue:
            return []
        key, rows, batch, left = self._queue[0].batch_key, 0, [], deque()
        while self._queue:
            job = self._queue.popleft()
            if job.gone:
                job.result.cancel()
            elif job.batch_key == key and rows + job.rows <= self.max_batch:
                batch.append(job)
                rows += job.rows
            else:
                left.append(job)
        self._queue = left
        return batch

    def _decode(self, batch: list[Job]) -> None:
        batch = [job for job in batch if job.result.set_running_or_notify_cancel()]  # not cancelled meanwhile
        if not batch:
            return
        first_rows = np.cumsum([0] + [job.rows for job in batch])
        self._streaming = [(job, int(first)) for job, first in zip(batch, first_rows) if job.on_token]
        try:
            generations = self.generator.generate_many(batch[0].prompt, [job.ask for job in batch], batch[0].decoding,
                                                       on_step=self._on_step)
        except Exception as error:  # the same error for each job of the batch: their requests share it
            for job in batch:
                job.result.set_exception(error)
            return
        finally:
            self._streaming = []
            self.batches += 1
        for job, generation in zip(batch, generations):
            job.result.set_result(generation)

    def _on_step(self, step: int, tokens: np.ndarray, alive: np.ndarray) -> None:
        """Every decoding step's tokens, handed to the streamed jobs' callers (rows still writing only)."""
        for job, first in self._streaming:
            if job.cancelled:
                continue
            for row in range(job.rows):
                if alive[first + row]:
                    job.on_token(row, int(tokens[first + row]))

