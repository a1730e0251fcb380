"""A small real OpenAI-compatible HTTP server on loopback whose model and answers a test sets.

For what the llama.cpp server cannot be told to do: report another model id behind the same
URL, answer 200 with no content, or say a reply was cut at max_tokens (`finish_reason`). It speaks the wire format (aiohttp, a real socket), so the
client under test runs its real HTTP path.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

from aiohttp import web

from tests.support.fault_proxy import free_port

Content = str | None | Callable[[dict], str | None]
FinishReason = str | Callable[[dict], str]


class StubServer:
    def __init__(
        self,
        model_id: str = "stub-model",
        content: Content = "A stub answer.",
        delay_s: float = 0.0,
        finish_reason: FinishReason = "stop",
    ):
        self.model_id, self.content, self.delay_s = model_id, content, delay_s
        self.finish_reason = finish_reason
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.chat_requests = 0
        self.in_progress = self.peak_in_progress = 0  # chat requests being answered at once
        self.headers: list[dict[str, str]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def set(
        self,
        *,
        model_id: str | None = None,
        content: Content = ...,
        delay_s: float | None = None,
        finish_reason: FinishReason | None = None,
    ) -> None:
        if finish_reason is not None:
            self.finish_reason = finish_reason
        if model_id is not None:
            self.model_id = model_id
        if content is not ...:
            self.content = content
        if delay_s is not None:
            self.delay_s = delay_s

    def __enter__(self) -> StubServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model_id, "owned_by": "stub"}]})

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.chat_requests += 1
        self.headers.append(dict(request.headers))
        self.in_progress += 1
        self.peak_in_progress = max(self.peak_in_progress, self.in_progress)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        finally:
            self.in_progress -= 1
        content = self.content(body) if callable(self.content) else self.content
        finish = self.finish_reason(body) if callable(self.finish_reason) else self.finish_reason
        reply = {
            "id": "cmpl-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        return web.Response(text=json.dumps(reply), content_type="application/json")
