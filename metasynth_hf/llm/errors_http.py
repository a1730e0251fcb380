"""Classify what went wrong on one HTTP attempt: retry or not, status, Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from dataclasses import dataclass

from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

from metasynth_hf.llm.http import httpx

RETRYABLE_STATUS = frozenset({408, 429})


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


def classify(exc: BaseException) -> Failure | None:
    """A Failure for errors of the transport or server; None for anything else (a bug)."""
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
        return Failure(retryable, f"HTTP {status}", status, retry_after)
    if isinstance(exc, InferenceTimeoutError | httpx.TimeoutException | TimeoutError | asyncio.TimeoutError):
        return Failure(True, "timeout")
    if isinstance(exc, httpx.TransportError | ConnectionError):
        return Failure(True, f"connection error ({type(exc).__name__})")
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return Failure(True, "malformed response body (not JSON)")
    if isinstance(exc, MalformedReply):
        return Failure(True, str(exc))
    return None
