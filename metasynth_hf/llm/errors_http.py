"""Classify what went wrong on one HTTP attempt by what the server said, not by status alone.

The same status means different things: TGI answers 422 for a grammar it cannot compile, for a
`top_p` out of range and for a prompt longer than its context; 429 is a rate limit when it
carries `Retry-After` and TGI's "Model is overloaded" (back-pressure, never with Retry-After)
when it does not. The error body tells them apart (TGI: `{"error", "error_type"}`; vLLM and
OpenAI: `{"error": {"message", "type"}}` or `{"object": "error", "message"}`).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import time
from dataclasses import dataclass
from typing import Literal

from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

from metasynth_hf.llm.http import httpx

Reason = Literal[
    "overloaded",  # 429 without Retry-After: the server admits fewer requests at once; back off
    "rate_limited",  # told when to come back (Retry-After)
    "grammar",  # the structured-output request was refused: send plain requests instead
    "context_length",  # prompt + max_tokens exceed the model's context
    "client",  # any other 4xx: the request itself is wrong
    "server",  # 5xx, 408, TGI's 424 (failed during generation): try again
    "timeout",
    "connection",
    "malformed",  # a 200 whose body is no chat completion, or empty
]

#: Words of the servers' own messages when they refuse a structured-output request (TGI
#: router/src/validation.rs "Grammar must have a 'properties' field" and "grammar is not
#: supported"; vLLM's structured-output errors; llama.cpp's "failed to parse grammar").
_GRAMMAR_WORDS = re.compile(
    r"grammar|response_format|json[_ ]?schema|structured[_ ]output|guided|outlines|xgrammar", re.IGNORECASE
)
#: Context-length messages: TGI ("`inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000
#: `inputs` tokens and 512 `max_new_tokens`", "`inputs` must have less than 4095 tokens. Given:
#: 5000"), vLLM ("maximum context length is 4096 tokens ... 3900 in the messages" / "your request
#: has 3900 input tokens").
_CONTEXT_WORDS = re.compile(r"max_new_tokens|maximum context length|must have less than \d+ tokens", re.IGNORECASE)
_LIMIT = re.compile(
    r"must be <= (\d+)|maximum context length is (\d+)|must have less than (\d+) tokens", re.IGNORECASE
)
_INPUT = re.compile(
    r"Given: (\d+) `inputs` tokens|\((\d+) in the messages|has (\d+) input tokens|Given: (\d+)\b", re.IGNORECASE
)


class MalformedReply(Exception):
    """A 200 answer whose body is not a chat completion, or whose message has no text.

    Raised only around the reply's own parsing (`Endpoint.send`), so that a KeyError or
    TypeError anywhere else is a bug that surfaces at once instead of being retried.
    """


@dataclass(frozen=True)
class Failure:
    """One failed attempt, described for retry decisions and for the final error message."""

    retryable: bool
    label: str
    status: int | None = None
    retry_after_s: float | None = None
    reason: Reason = "server"
    message: str = ""  # the server's own words, first line
    #: For context-length errors: the model's limit and the prompt's tokens, as the server counted.
    context_limit: int | None = None
    prompt_tokens: int | None = None


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_text(response: httpx.Response) -> tuple[str, str]:
    """(message, error_type) from an error body in TGI's, vLLM's or OpenAI's shape ('' if none)."""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead, UnicodeDecodeError):
        try:
            return response.text[:500], ""
        except (httpx.ResponseNotRead, UnicodeDecodeError):
            return "", ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # OpenAI / vLLM >= 0.10
            return str(error.get("message", "")), str(error.get("type", ""))
        if isinstance(error, str):  # TGI
            return error, str(body.get("error_type", ""))
        if "message" in body:  # vLLM's older ErrorResponse, llama.cpp
            return str(body["message"]), str(body.get("type", ""))
        if isinstance(body.get("detail"), str):  # FastAPI's own 4xx
            return body["detail"], ""
    return json.dumps(body)[:500], ""


def _first_int(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    if match is None:
        return None
    return int(next(group for group in match.groups() if group is not None))


def _http_failure(exc: HfHubHTTPError) -> Failure:
    response = exc.response
    status = response.status_code
    message, error_type = error_text(response)
    first = message.strip().splitlines()[0][:300] if message.strip() else ""
    label = f"HTTP {status}"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429:
        if retry_after is not None:
            return Failure(True, label, status, retry_after, "rate_limited", first)
        return Failure(True, f"{label} (overloaded)", status, None, "overloaded", first)
    if status in (400, 413, 422) and _CONTEXT_WORDS.search(message):
        limit, prompt = _first_int(_LIMIT, message), _first_int(_INPUT, message)
        return Failure(False, f"{label} (context length)", status, None, "context_length", first, limit, prompt)
    if status in (400, 422) and (error_type == "grammar" or _GRAMMAR_WORDS.search(message)):
        return Failure(False, f"{label} (structured output refused)", status, None, "grammar", first)
    if status == 408 or status >= 500 or status == 424:  # 424: TGI's "failed during generation"
        return Failure(True, label, status, retry_after, "server", first)
    return Failure(False, label, status, retry_after, "client", first)


def classify(exc: BaseException) -> Failure | None:
    """A Failure for errors of the transport or server; None for anything else (a bug)."""
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return _http_failure(exc)
    if isinstance(exc, InferenceTimeoutError | httpx.TimeoutException | TimeoutError | asyncio.TimeoutError):
        return Failure(True, "timeout", reason="timeout")
    if isinstance(exc, httpx.TransportError | ConnectionError):
        return Failure(True, f"connection error ({type(exc).__name__})", reason="connection")
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return Failure(True, "malformed response body (not JSON)", reason="malformed")
    if isinstance(exc, MalformedReply):
        return Failure(True, str(exc), reason="malformed")
    return None
