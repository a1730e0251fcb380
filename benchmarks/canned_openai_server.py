"""A loopback OpenAI-format server that answers every chat call after a fixed delay.

Stands in for a well-provisioned TGI fleet (unlimited concurrency) so a benchmark measures
the client, not the model.  usage: python canned_openai_server.py PORT DELAY_MS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiohttp import web


def make_app(delay_s: float) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(delay_s)
        reply = {
            "id": "cmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "canned"),
            "system_fingerprint": "canned",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "A canned answer of a dozen tokens or so.",
                    },
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32},
        }
        return web.Response(text=json.dumps(reply), content_type="application/json")

    async def models(_request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "canned", "owned_by": "bench"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    return app


if __name__ == "__main__":
    port, delay_ms = int(sys.argv[1]), float(sys.argv[2])
    web.run_app(make_app(delay_ms / 1000), host="127.0.0.1", port=port, print=None, backlog=4096)
