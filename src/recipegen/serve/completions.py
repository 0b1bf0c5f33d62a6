"""OpenAI-style completions from recipegen's samples: the text after the prompt, stop strings,
finish reasons, and the same text as streamed pieces.

A word's spacing depends on the word after it ("1 / 2" is written "1/2"), so the text of a
growing sample can change at its end. A streamed piece therefore only ever holds text that the
next token can no longer change (what the sample's text with and without its last token agree
on), and none that could be the start of a stop string; the pieces of a stream add up to the
text the same request gets unstreamed.
"""

from __future__ import annotations

import os
import time
from typing import Any

from recipegen.text import END_TOKEN, Tokenizer


def completion_id() -> str:
    return "cmpl-" + os.urandom(12).hex()


def common_prefix(a: str, b: str) -> str:
    return os.path.commonprefix([a, b])


class CompletionText:
    """One choice's text as its tokens arrive: after the prompt (or with it, ``echo``), cut at the
    first stop string."""

    def __init__(self, tokenizer: Tokenizer, prompt_tokens: list[str], stops: list[str], echo: bool):
        self.tokenizer = tokenizer
        self.prompt_tokens = prompt_tokens
        self.stops = stops
        self.prompt_text = tokenizer.readable(prompt_tokens) if prompt_tokens else ""
        self.echo = echo
        self.tokens: list[str] = []
        self.sent = ""  # what has been streamed
        self.stopped = False  # a stop string was written

    def text_of(self, tokens: list[str]) -> str:
        whole = self.tokenizer.readable(self.prompt_tokens + tokens)
        after = whole[len(common_prefix(self.prompt_text, whole)):]
        return self.prompt_text + after if self.echo else after

    def add(self, token: str) -> str:
        """The next streamed piece once ``token`` is written ("" when nothing is settled yet)."""
        if self.stopped or token == END_TOKEN:
            return ""
        self.tokens.append(token)
        settled = common_prefix(self.text_of(self.tokens[:-1]), self.text_of(self.tokens))
        text, stopped = self._cut(settled)
        if not stopped:  # hold back what may yet become a stop string
            text = text[:max(len(self.sent), len(text) - max((len(s) - 1 for s in self.stops), default=0))]
        return self._send(text, stopped)

    def finish(self, tokens: list[str], ended: bool) -> tuple[str, str]:
        """The last piece and the finish reason, from the sample's final tokens."""
        text, stopped = self._cut(self.text_of(tokens))
        piece = "" if self.stopped else self._send(text, stopped)
        return piece, "stop" if (ended or self.stopped) else "length"

    def whole(self, tokens: list[str], ended: bool) -> tuple[str, str]:
        """The text and finish reason of an unstreamed choice."""
        text, stopped = self._cut(self.text_of(tokens))
        return text, "stop" if (ended or stopped) else "length"

    def _cut(self, text: str) -> tuple[str, bool]:
        start = len(self.prompt_text) if self.echo else 0  # a stop string in an echoed prompt does not count
        cuts = [i for i in (text.find(stop, start) for stop in self.stops) if i >= 0]
        return (text[:min(cuts)], True) if cuts else (text, False)

    def _send(self, text: str, stopped: bool) -> str:
        self.stopped = stopped
        if not text.startswith(self.sent):  # cannot happen for settled text; never resend
            return ""
        piece, self.sent = text[len(self.sent):], text
        return piece


def completion(cid: str, model: str, choices: list[dict[str, Any]], usage: dict[str, int] | None) -> dict[str, Any]:
    """A ``text_completion`` object: the whole answer, or one streamed chunk of it."""
    body: dict[str, Any] = {"id": cid, "object": "text_completion", "created": int(time.time()), "model": model,
                            "choices": choices}
    if usage is not None:
        body["usage"] = usage
    return body


def choice(index: int, text: str, finish_reason: str | None) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}
