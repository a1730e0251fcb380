"""Shared parts of the faithful test servers (tests/support/tgi_server.py, tests/support/vllm_server.py).

- a deterministic stand-in tokenizer (`token_count`, `prompt_tokens`, `truncate_tokens`), exported so
  that tests can compute the limits the servers apply;
- a latency model (`Latency`);
- `LoopServer`: an aiohttp server on 127.0.0.1 running its own event loop in a daemon thread, usable as
  a context manager, whose listening socket opens only after `load_delay_s` (both servers refuse
  connections while their model loads; see each server for the source that says so).

None of this is a real model: replies come from a `content` callable (or string) the test gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.fault_proxy import free_port

Content = str | Callable[[dict], str]

DEFAULT_CONTENT = "The quick brown fox jumps over the lazy dog, then rests in the shade."

# Stand-in for a chat template: each message costs its content's tokens plus MESSAGE_OVERHEAD (role
# markers, separators); the generation prompt ("<|assistant|>") costs REPLY_OVERHEAD once.
MESSAGE_OVERHEAD = 4
REPLY_OVERHEAD = 3


def token_count(text: str) -> int:
    """Deterministic stand-in tokenizer: about one token per 4 characters, and at least one token per
    whitespace-separated word. The empty string has 0 tokens."""
    if not text:
        return 0
    return max(len(text.split()), math.ceil(len(text) / 4))


def message_text(content: Any) -> str:
    """The text of a chat message's `content`: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text"]
        return "\n".join(str(p) for p in parts)
    return str(content)


def prompt_tokens(messages: list) -> int:
    """Prompt tokens of a chat request: every message's content tokens + MESSAGE_OVERHEAD, plus
    REPLY_OVERHEAD for the generation prompt."""
    total = REPLY_OVERHEAD
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        total += token_count(message_text(content)) + MESSAGE_OVERHEAD
    return total


def truncate_tokens(text: str, n: int) -> str:
    """The longest prefix of `text` with at most `n` tokens (token_count is monotone in the prefix)."""
    if token_count(text) <= n:
        return text
    lo, hi = 0, len(text)  # token_count(text[:lo]) <= n < token_count(text[:hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if token_count(text[:mid]) <= n:
            lo = mid
        else:
            hi = mid
    return text[:lo]


def reply_text(content: Content | None, body: dict) -> str:
    if content is None:
        return DEFAULT_CONTENT
    text = content(body) if callable(content) else content
    return "" if text is None else str(text)


@dataclass
class Latency:
    """Seconds a request takes once admitted: `latency_s`, plus `prefill_s_per_token` per prompt token,
    plus `decode_s_per_token` per generated token multiplied by the number of requests running at once
    (a growing batch decodes more slowly per sequence)."""

    latency_s: float = 0.0
    prefill_s_per_token: float = 0.0
    decode_s_per_token: float = 0.0

    def seconds(self, n_prompt: int, n_generated: int, running: int) -> float:
        decode = self.decode_s_per_token * n_generated * max(1, running)
        return self.latency_s + self.prefill_s_per_token * n_prompt + decode


def json_position(raw: str, index: int) -> tuple[int, int]:
    """serde_json's 1-based line and its column (characters consumed on that line) at `index`."""
    line = raw.count("\n", 0, index) + 1
    line_start = raw.rfind("\n", 0, index) + 1
    return line, index - line_start


def object_spans(raw: str, start: int) -> tuple[dict[str, tuple[int, int]], int]:
    """For the JSON object whose '{' is at or after `start`: each key's value span (start, end) in `raw`,
    and the index just past the closing '}'. `raw` must be valid JSON (it has been parsed already)."""
    decoder = json.JSONDecoder()
    ws = " \t\n\r"
    i = start
    while raw[i] in ws:
        i += 1
    assert raw[i] == "{"
    i += 1
    spans: dict[str, tuple[int, int]] = {}
    while True:
        while raw[i] in ws:
            i += 1
        if raw[i] == "}":
            return spans, i + 1
        if raw[i] == ",":
            i += 1
            continue
        key, i = decoder.raw_decode(raw, i)
        while raw[i] in ws or raw[i] == ":":
            i += 1
        _, end = decoder.raw_decode(raw, i)
        spans[key] = (i, end)
        i = end


class LoopServer:
    """An aiohttp application on 127.0.0.1, in its own event loop on a daemon thread.

    `with Server(...) as s:` starts it; with `load_delay_s` > 0 it returns at once and the listening
    socket opens `load_delay_s` seconds later (`wait_ready()` blocks until then), so a client sees
    connection refused meanwhile. `prebind=True` binds the port at construction without listening
    (what vLLM does, see vllm_server.py); otherwise the port is only reserved by number.
    """

    def __init__(self, *, load_delay_s: float = 0.0, prebind: bool = False):
        self.load_delay_s = load_delay_s
        self._sock: socket.socket | None = None
        if prebind:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind(("127.0.0.1", 0))  # bound, not listening: connect() is refused
            self.port = self._sock.getsockname()[1]
        else:
            self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self):
        self._thread.start()
        self._started.wait(10)
        if self.load_delay_s <= 0:
            self.wait_ready(10)
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        if self._sock is not None:
            self._sock.close()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Block until the server listens (after load_delay_s); False on timeout."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def call_in_loop(self, fn: Callable[[], None]) -> None:
        """Run fn() on the server's loop (to touch asyncio objects from the test thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._on_loop_start()
        app = web.Application()
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._started.set()
        if self.load_delay_s > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.load_delay_s)
        if not self._stop.is_set():
            site: web.BaseSite
            if self._sock is not None:
                site = web.SockSite(runner, self._sock)  # listen() on the socket bound at construction
            else:
                site = web.TCPSite(runner, "127.0.0.1", self.port)
            await site.start()
            self._ready.set()
            await self._stop.wait()
        await runner.cleanup()

    # -- for subclasses ----------------------------------------------------------------------
    def _on_loop_start(self) -> None:
        """Create asyncio objects that belong to the server's loop."""

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError


class Counters:
    """What a test reads: per chat request whose body parsed as JSON, `requests` (the body) and
    `structured` (the structured-output mode the server understood and applied; None if none, or if the
    request was rejected), aligned by index; `status_counts` (status -> count over every chat response);
    `in_flight` / `peak_in_flight` (admitted chat requests being processed at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        self.structured: list[str | None] = []
        self.status_counts: dict[int, int] = {}
        self.in_flight = 0
        self.peak_in_flight = 0

    def received(self, body: Any) -> int:
        with self._lock:
            self.requests.append(body)
            self.structured.append(None)
            return len(self.requests) - 1

    def answered(self, status: int) -> None:
        with self._lock:
            self.status_counts[status] = self.status_counts.get(status, 0) + 1

    def admit(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1
