"""What a client may send, checked as the command line checks it, and the Jobs it becomes.

The bodies are pydantic models, so FastAPI reads them, refuses unknown fields and wrong types
(strict: ``"2"`` is not a number, ``true`` is not 1), and describes them in the OpenAPI schema.
Every decoding setting is a field of both bodies, taken from ``Decoding``'s own definitions
(generation/settings.py), with the same ranges as ``recipegen generate``'s options: a value out of
range is refused by ``Decoding`` itself, with the setting's name, which the client gets as
``param``. A setting left out (or null) is the run's, as on the command line.

``/v1/completions`` follows OpenAI's legacy completions API (what its clients send and read);
the fields recipegen has no use for are accepted only where they ask for nothing
(``logprobs``: null, ``presence_penalty``: 0), so a client is never silently served less than
it asked for.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from recipegen.generation.samples import Ask, Request
from recipegen.generation.settings import MAX_SEED, SETTINGS, SettingError, configured_decoding
from recipegen.serve.batcher import Job
from recipegen.text import RECIPE_PREFIX

STRICT = ConfigDict(extra="forbid", strict=True)
MAX_PROMPTS = 32  # prompts in one completion request; each is a job of its own
MAX_STOPS = 4  # as OpenAI's API


def _settings_fields() -> dict[str, Any]:
    """Every decoding setting as an optional body field, documented by its own help."""
    return {spec.name: ((int if spec.kind is int else float) | None, Field(None, description=spec.help + "."))
            for spec in SETTINGS}


class _Common(BaseModel):
    model_config = STRICT
    n: int = Field(1, description="Recipes to write (at most the server's --max-batch, divided by best_of).")
    max_tokens: int | None = Field(None, description="Longest recipe in tokens (default: the run's, enough for "
                                                     "its longest training recipe).")
    seed: int | None = Field(None, description=f"0 to {MAX_SEED}; the same seed and settings write the same "
                                               "recipes as `recipegen generate --seed` (default: random).")


RecipeBody = create_model(
    "RecipeRequest", __base__=_Common,
    title=(str | None, Field(None, description="The recipe's title (default: the model writes it).")),
    ingredients=(list[str] | None, Field(None, description="The ingredient list, one line each (a run "
                                                           "trained with the full template).")),
    prompt=(str | None, Field(None, description="How each recipe starts, without a title or ingredients "
                                                "(default: the run's sample.prompt).")),
    **_settings_fields())


class StreamOptions(BaseModel):
    model_config = STRICT
    include_usage: bool = False


CompletionBody = create_model(
    "CompletionRequest", __base__=_Common,
    model=(str, Field(description="The model's id, as /v1/models lists it.")),
    prompt=(str | list[str], Field("", description="Text to continue; a list asks for each in turn.")),
    stop=(str | list[str] | None, Field(None, description=f"Up to {MAX_STOPS} strings that end a completion, "
                                                          "left out of its text.")),
    stream=(bool, Field(False, description="Send the text as server-sent events while it is written.")),
    stream_options=(StreamOptions | None, None),
    echo=(bool, Field(False, description="Put the prompt before each completion's text.")),
    logprobs=(None, Field(None, description="Not supported: null only.")),
    suffix=(None, Field(None, description="Not supported: null only.")),
    presence_penalty=(Literal[0], Field(0, description="Not supported: 0 only (see repetition_penalty).")),
    frequency_penalty=(Literal[0], Field(0, description="Not supported: 0 only (see repetition_penalty).")),
    logit_bias=(dict[str, int] | None, Field(None, description="Not supported: null or empty only.")),
    user=(str | None, Field(None, description="Ignored.")),
    **_settings_fields())


class BadRequest(ValueError):
    """A body that parsed but asks for something the server will not do; ``param`` names its field."""

    def __init__(self, param: str | None, message: str):
        super().__init__(message)
        self.param = param


def recipe_job(body: Any, service: Any) -> Job:
    """The job a /v1/recipes body asks for."""
    request = None
    if body.title is not None or body.ingredients is not None:
        if body.prompt is not None:
            raise BadRequest("prompt", "give a prompt, or a title and ingredients, not both")
        lines = tuple(line.strip() for line in body.ingredients or () if line.strip())
        if body.ingredients is not None and not lines:
            raise BadRequest("ingredients", "ingredients: every line is empty")
        title = body.title.strip() if body.title is not None else None
        request = Request(title or None, lines)
    prompt = body.prompt if body.prompt is not None else service.prompt
    return _job(body, service, prompt, request)


def completion_jobs(body: Any, service: Any) -> list[Job]:
    """One job per prompt of a /v1/completions body."""
    if body.model != service.model_id:
        raise BadRequest("model", f"model {body.model!r} is not served here; this server has {service.model_id!r}")
    if body.logit_bias:
        raise BadRequest("logit_bias", "logit_bias is not supported")
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if not 1 <= len(prompts) <= MAX_PROMPTS:
        raise BadRequest("prompt", f"prompt: give 1 to {MAX_PROMPTS} prompts, got {len(prompts)}")
    if len(stops(body)) > MAX_STOPS or "" in stops(body):
        raise BadRequest("stop", f"stop: up to {MAX_STOPS} strings, none of them empty")
    if body.stream and (body.best_of or 1) > 1:
        raise BadRequest("best_of", "best_of above 1 cannot be streamed: the best candidate is known at the end")
    return [_job(body, service, prompt, None) for prompt in prompts]


def stops(body: Any) -> list[str]:
    return [body.stop] if isinstance(body.stop, str) else list(body.stop or [])


def _job(body: Any, service: Any, prompt: str, request: Request | None) -> Job:
    """A job once everything the decoder would refuse in it is refused, naming the field."""
    try:
        decoding = configured_decoding(service.sample, **{spec.name: getattr(body, spec.name) for spec in SETTINGS})
        if body.seed is not None and not 0 <= body.seed <= MAX_SEED:
            raise SettingError("seed", f"seed must be an integer from 0 to {MAX_SEED}, got {body.seed!r}")
        if body.n * decoding.best_of > service.max_batch:
            raise SettingError("n", f"n x best_of must be at most {service.max_batch} (the server's --max-batch), "
                                    f"got {body.n} x {decoding.best_of}")
        seed = secrets.randbits(31) if body.seed is None else body.seed
        max_tokens = service.max_tokens if body.max_tokens is None else body.max_tokens
        ask = Ask(request, body.n, seed, decoding.temperature, max_tokens)
        if request is not None:
            request.check_for(service.template)
        service.generator.check(prompt, ask, decoding)
    except SettingError as e:
        raise BadRequest(e.setting, str(e)) from None
    return Job(prompt=RECIPE_PREFIX if request else prompt, ask=ask, decoding=decoding)
