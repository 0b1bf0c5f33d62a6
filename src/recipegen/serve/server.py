"""``recipegen serve``: a run loaded once, its decoder traced once, then requests until stopped.

The order matters to a client that waits for the "Serving" line: the socket is bound first (an
address in use is refused at once, and the line can say the real port, also for ``--port 0``),
then the model is loaded and every trace the server uses is built (a first request would
otherwise wait seconds), then the line is printed, and only then does uvicorn serve.
Connections made before uvicorn's first accept wait in the socket's backlog.

SIGINT or SIGTERM: uvicorn stops accepting, lets the requests in flight finish for up to
``grace`` seconds, then the batcher decodes what is still queued and stops; the command exits 0.
A second Ctrl-C ends the waiting at once (exit 130).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from recipegen import stopping
from recipegen.errors import ServeError
from recipegen.generation.generator import Generator
from recipegen.generation.samples import Ask, Request
from recipegen.generation.settings import configured_decoding
from recipegen.run import load_run
from recipegen.serve.batcher import Batcher, Job


def serve_run(run_path: Path | None, host: str, port: int, max_batch: int, api_key: str | None, grace: float,
              say: Callable[[str], None]) -> None:
    import uvicorn

    from recipegen.serve.app import Service, create_app

    listener = _bind(host, port)  # first: a port in use is refused before seconds of loading
    run = load_run(run_path)
    generator = Generator.from_run(run, settings_as_inputs=True)
    batcher = Batcher(generator, max_batch)
    try:
        stopping.interruptible(lambda: _warm_up(batcher, run))
        service = Service(model_id=run.path.resolve().name, generator=generator, batcher=batcher,
                          sample=run.config.sample, template=run.template, foods=run.foods(),
                          max_tokens=run.max_tokens(), max_batch=max_batch, api_key=api_key, created=int(time.time()))
        bound_host, bound_port = listener.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        if not _is_loopback(host):
            say(f"Warning: --host {host} answers other machines, over plain HTTP"
                + ("" if api_key else ", to anyone: set --api-key"))
        say(f"Serving {service.model_id} on http://{shown}:{bound_port} (page: /, API: /v1/recipes, "
            f"/v1/completions, /docs); Ctrl-C stops")
        config = uvicorn.Config(create_app(service), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=grace, timeout_keep_alive=5)
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        batcher.close(grace)
    say("Stopped.")


def _warm_up(batcher: Batcher, run) -> None:
    """Trace what requests will use: a batch without given titles and ingredients, and one with.
    The prompt is an input of the trace: the empty one, which every vocabulary can read, serves."""
    decoding = configured_decoding(run.config.sample)
    jobs = [Job("", Ask(None, 1, 0, decoding.temperature, 2), decoding, on_token=lambda row, token: None)]
    if run.template in ("book", "full"):
        jobs.append(Job("", Ask(Request("toast"), 1, 0, decoding.temperature, 2), decoding))
    for job in jobs:  # one at a time: each is its own trace
        batcher.submit(job).result()


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a one-line error naming the option."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family, backlog=2048)
    except (OSError, OverflowError) as e:
        errno = getattr(e, "errno", None) or 0
        reason = os.strerror(errno) if errno > 0 else "not an address of this machine" if errno < 0 else e
        raise ServeError(f"--host {host} --port {port}: cannot listen there ({reason})") from None
    listener.setblocking(False)
    return listener


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
