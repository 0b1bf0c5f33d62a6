"""The HTTP side of ``recipegen serve``: routes, errors as JSON, the API key and the body limit.

Every error a client gets is one JSON object in OpenAI's shape, ``{"error": {"message", "type",
"param", "code"}}``, with a 4xx status for what the client can fix (400 a body the server will not
take, naming its field; 401 a missing key; 404, 405; 413 a body over the limit) and 503 while the
server is stopping or its queue is full, with Retry-After.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from recipegen.generation.generator import Generator
from recipegen.render import generation_json
from recipegen.serve.batcher import Batcher, Busy, Closed, Job
from recipegen.serve.completions import CompletionText, choice, completion, completion_id, usage
from recipegen.serve.schema import BadRequest, CompletionBody, RecipeBody, completion_jobs, recipe_job, stops

MAX_BODY = 1 << 20  # bytes: a thousand-line ingredient list is a few tens of kilobytes


@dataclass
class Service:
    """What the routes serve: one run's generator behind one batcher, and the server's limits."""

    model_id: str
    generator: Generator
    batcher: Batcher
    sample: Any  # the run's config.sample: its default decoding settings and prompt
    template: str | None
    foods: set[str] | None
    max_tokens: int  # the run's default length
    max_batch: int
    api_key: str | None = None
    created: int = 0

    @property
    def prompt(self) -> str:
        return self.sample.prompt


def error(status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
          code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status,
                        headers=headers)


def create_app(service: Service) -> FastAPI:
    app = FastAPI(title="recipegen", summary="Recipes from a trained recipegen run.", docs_url="/docs",
                  redoc_url=None)
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    def authorized(request: Request) -> None:
        if service.api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {service.api_key}".encode()):
            raise HTTPException(401, "missing or wrong API key: send the header 'Authorization: Bearer KEY'")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        if "json" not in request.headers.get("content-type", ""):
            return error(415, "send the body as JSON, with the header 'Content-Type: application/json'")
        if first["type"] == "json_invalid":
            return error(400, f"the body is not valid JSON: {first.get('ctx', {}).get('error', first['msg'])}")
        where = [str(part) for part in first["loc"] if part != "body"]
        field = where[0] if where else None
        detail = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        return error(400, f"{'.'.join(where) or 'body'}: {detail}", param=field)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = "authentication_error" if exc.status_code == 401 else "invalid_request_error"
        return error(exc.status_code, str(exc.detail), kind, headers=getattr(exc, "headers", None))

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        code = "model_not_found" if exc.param == "model" else None
        return error(404 if code else 400, str(exc), param=exc.param, code=code)

    @app.exception_handler(Busy)
    @app.exception_handler(Closed)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return error(503, str(exc), "server_error", headers={"Retry-After": "1"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return files("recipegen.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/health", summary="Whether the server is up, and how busy")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": service.model_id, "waiting": service.batcher.waiting,
                "batches": service.batcher.batches, "api_key": service.api_key is not None,
                "ingredients": service.template == "full"}

    @app.get("/v1/models", dependencies=[Depends(authorized)], summary="The one model served")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": service.model_id, "object": "model", "created": service.created,
                                            "owned_by": "recipegen"}]}

    @app.post("/v1/recipes", dependencies=[Depends(authorized)], summary="Write recipes, whole and parsed")
    async def recipes(body: RecipeBody) -> dict[str, Any]:  # type: ignore[valid-type]
        job = recipe_job(body, service)
        generation = (await _results([job], service))[0]
        prompt = service.generator.tokenizer.as_string(generation.prompt_tokens)
        answer = generation_json(generation, service.model_id, prompt, job.ask.max_tokens, service.foods)
        del answer["run"]
        recipes = answer.pop("samples")
        return {"model": service.model_id, **answer, "recipes": recipes}

    @app.post("/v1/completions", dependencies=[Depends(authorized)], summary="OpenAI-compatible completions")
    async def completions(body: CompletionBody):  # type: ignore[valid-type]
        jobs = completion_jobs(body, service)
        cid = completion_id()
        if body.stream:
            return StreamingResponse(_stream(body, jobs, cid, service), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        generations = await _results(jobs, service)
        choices, written, read = [], 0, 0
        for generation in generations:
            read += len(generation.prompt_tokens)
            for sample in generation.samples:
                text, reason = _text(body, service, generation.prompt_tokens).whole(sample.tokens, sample.ended)
                choices.append(choice(len(choices), text, reason))
                written += len(sample.tokens) + sample.ended
        return completion(cid, service.model_id, choices, usage(read, written))

    return app


async def _results(jobs: list[Job], service: Service) -> list[Any]:
    """Each job's Generation, once the batcher has decoded it."""
    futures = [asyncio.wrap_future(service.batcher.submit(job)) for job in jobs]
    try:
        return await asyncio.gather(*futures)
    finally:
        for job in jobs:
            job.cancelled = True  # done, or its caller has gone: nothing more is read


def _text(body: Any, service: Service, prompt_tokens: list[str]) -> CompletionText:
    return CompletionText(service.generator.tokenizer, prompt_tokens, stops(body), body.echo)


async def _stream(body: Any, jobs: list[Job], cid: str, service: Service):
    """Server-sent events: a chunk per settled piece of text, each choice's finish, [DONE]."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue = asyncio.Queue()
    for number, job in enumerate(jobs):
        job.on_token = lambda row, token, number=number: loop.call_soon_threadsafe(arrived.put_nowait,
                                                                                     (number, row, token))
    results = asyncio.ensure_future(_results(jobs, service))
    results.add_done_callback(lambda _: arrived.put_nowait(None))
    vocabulary = service.generator.vocabulary
    prompts = [service.generator.encode_prompt(job.prompt or "")[0] for job in jobs]  # read once a job
    texts = {(number, row): _text(body, service, prompts[number])
             for number, job in enumerate(jobs) for row in range(job.ask.n)}

    def event(choices: list[dict[str, Any]], counts: dict[str, int] | None = None) -> str:
        return f"data: {json.dumps(completion(cid, service.model_id, choices, counts), separators=(',', ':'))}\n\n"

    try:
        while (item := await arrived.get()) is not None:
            number, row, token = item
            piece = texts[number, row].add(vocabulary[token])
            if piece:
                yield event([choice(number * jobs[number].ask.n + row, piece, None)])
        generations = await results
        finishes, written = [], 0
        read = sum(len(generation.prompt_tokens) for generation in generations)
        for number, generation in enumerate(generations):
            for row, sample in enumerate(generation.samples):
                piece, reason = texts[number, row].finish(sample.tokens, sample.ended)
                finishes.append(choice(number * jobs[number].ask.n + row, piece, reason))
                written += len(sample.tokens) + sample.ended
        yield event(finishes)
        if body.stream_options is not None and body.stream_options.include_usage:
            yield event([], usage(read, written))
        yield "data: [DONE]\n\n"
    finally:
        results.cancel()
        for job in jobs:
            job.cancelled = True


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413, whether its length is declared or not."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await error(413, f"the body is over {self.limit:,} bytes")(scope, receive, send)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"the body is over {self.limit:,} bytes")
            return message

        await self.app(scope, counted, send)
