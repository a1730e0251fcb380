"""An endpoint puts every request it allows in flight on the wire, over pools small enough to
stay cheap (httpx' pool holds 100 connections and scans them all on every request)."""

from __future__ import annotations

import asyncio

from metasynth_hf.llm.base import SamplingParams
from metasynth_hf.llm.config import EndpointConfig, RetryConfig
from metasynth_hf.llm.endpoints import CONNECTIONS_PER_CLIENT, EndpointPool
from tests.support.stub_server import StubServer

MESSAGES = [{"role": "user", "content": "Say hello."}]


def test_an_endpoint_allowed_160_requests_has_all_160_at_the_server_at_once():
    with StubServer(delay_s=1.5) as server:

        async def run() -> EndpointPool:
            pool = EndpointPool([EndpointConfig(url=server.url, max_concurrency=160)], RetryConfig())
            try:
                replies = await asyncio.gather(*(pool.chat(MESSAGES, SamplingParams(seed=i)) for i in range(160)))
                assert all(r.text == "A stub answer." for r in replies)
            finally:
                await pool.aclose()
            return pool

        pool = asyncio.run(run())
    assert len(pool.endpoints[0].clients) == -(-160 // CONNECTIONS_PER_CLIENT)  # 3 pools of <= 64
    # one client would stop at its pool's 100 connections; the rest would queue in the client
    assert server.peak_in_progress > 100, server.peak_in_progress
    assert server.chat_requests == 160
