"""A loopback OpenAI-format server that answers every chat call after a fixed delay.

Stands in for a well-provisioned TGI fleet (unlimited concurrency) so a benchmark measures
the client, not the model: its latency does not depend on the load. A request that carries
MetaSynth's conductor turn schema is answered with a valid turn (a fixed plan, then FINAL),
so the conductor path can be measured too.  usage: python canned_openai_server.py PORT DELAY_MS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiohttp import web

#: The plan a scripted conductor follows: one step per earlier assistant turn, then FINAL.
PLAN = ("seed_keywords", "domain_expert", "content_analyst", "domain_expert")


def conductor_turn(body: dict) -> str | None:
    """A valid conductor turn when the request carries the turn schema (a MetaSynth conductor
    call), else None: the next step of PLAN that the schema offers, then FINAL."""
    fmt = body.get("response_format") or {}
    schema = fmt.get("value") or fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
    if not isinstance(schema, dict) or "anyOf" not in schema:
        return None
    experts = schema["anyOf"][0]["properties"]["expert"]["enum"]
    steps = [e for e in PLAN if e in experts]
    turn = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
    if turn >= len(steps):
        return json.dumps({"action": "final"})
    return json.dumps(
        {
            "action": "call_expert",
            "expert": steps[turn],
            "instructions": f"Step {turn + 1}: work on the shared material.",
            "share": ["seeds"],
        }
    )


def make_app(delay_s: float) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(delay_s)
        content = conductor_turn(body) or "A canned answer of a dozen tokens or so, long enough to be a draft."
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
                        "content": content,
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
