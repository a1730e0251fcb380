"""The endpoint pool against a real OpenAI-compatible server (llama-cpp-python) on loopback."""

from __future__ import annotations

import asyncio

import pytest
from huggingface_hub.errors import OfflineModeIsEnabled

from metasynth_hf.llm.base import SamplingParams
from metasynth_hf.llm.config import EndpointConfig, RetryConfig
from metasynth_hf.llm.endpoints import EndpointPool
from metasynth_hf.llm.http import new_async_client
from metasynth_hf.llm.parsing import parse_json_object
from tests.support.fault_proxy import free_port
from tests.support.servers import MODEL_ALIAS

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]


def _pool(url: str, **kw) -> EndpointPool:
    return EndpointPool([EndpointConfig(url=url, model=MODEL_ALIAS, **kw)], RetryConfig())


def test_real_completion_reports_text_usage_model_latency(llama_server, hub_offline):
    # air-gapped clusters set HF_HUB_OFFLINE=1; endpoints must work

    async def run():
        pool = _pool(llama_server.url)
        try:
            return await pool.chat(MESSAGES, SamplingParams(max_tokens=16, temperature=0, seed=0))
        finally:
            await pool.aclose()

    reply = asyncio.run(run())
    assert reply.text.strip()
    assert reply.usage.prompt_tokens > 5 and 0 < reply.usage.completion_tokens <= 16
    assert reply.model and reply.latency_s > 0 and reply.endpoint == llama_server.url


def test_offline_guard_still_blocks_other_hosts(llama_server, hub_offline):
    _pool(llama_server.url)  # registers the endpoint host

    async def fetch(url):
        async with new_async_client() as client:
            return await client.get(url)

    assert asyncio.run(fetch(f"{llama_server.url}/v1/models")).status_code == 200
    with pytest.raises(OfflineModeIsEnabled):
        asyncio.run(fetch(f"http://127.0.0.1:{free_port()}/v1/models"))


def test_concurrent_calls_all_complete_within_the_limit(llama_server):
    async def run():
        pool = _pool(llama_server.url, max_concurrency=3)
        try:
            replies = await asyncio.gather(
                *(
                    pool.chat([{"role": "user", "content": f"Count to {i}."}], SamplingParams(max_tokens=8))
                    for i in range(8)
                )
            )
        finally:
            await pool.aclose()
        return replies, pool.stats(), pool.endpoints[0]

    replies, stats, endpoint = asyncio.run(run())
    assert len(replies) == 8 and all(r.usage.completion_tokens > 0 for r in replies)
    assert stats[llama_server.url]["sent"] == 8
    # requests on the wire at once (not the ones queued for a slot): at the limit, never above it
    assert endpoint.peak_active == 3


def test_structured_output_uses_the_server_dialect(llama_server):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
    }

    async def run():
        pool = _pool(llama_server.url)
        try:
            reply = await pool.chat(
                [{"role": "user", "content": "Give a famous city and its country as JSON."}],
                SamplingParams(max_tokens=64, temperature=0, json_schema=schema),
            )
            return reply, pool.endpoints[0].server_kind
        finally:
            await pool.aclose()

    reply, kind = asyncio.run(run())
    assert kind == "llamacpp"
    data = parse_json_object(reply.text, required=("city", "country"))
    assert isinstance(data["city"], str)


def test_the_hf_token_reaches_no_loopback_server_by_default(llama_server, monkeypatch):
    from tests.support.fault_proxy import FaultProxy

    monkeypatch.setenv("HF_TOKEN", "hf_secret_for_the_test")
    monkeypatch.setenv("MY_SERVER_KEY", "key-for-this-server")
    with FaultProxy(llama_server.url) as proxy:
        for config, expected in [
            (EndpointConfig(url=proxy.url, model=MODEL_ALIAS), None),
            (
                EndpointConfig(url=proxy.url, model=MODEL_ALIAS, api_key_env="MY_SERVER_KEY"),
                "Bearer key-for-this-server",
            ),
        ]:
            proxy.headers_seen.clear()

            async def call(config=config):
                pool = EndpointPool([config], RetryConfig(max_attempts=1))
                try:
                    return await pool.chat([{"role": "user", "content": "Hi"}], SamplingParams(max_tokens=4))
                finally:
                    await pool.aclose()

            reply = asyncio.run(call())
            assert reply.text is not None and proxy.headers_seen
            assert {h.get("authorization") for h in proxy.headers_seen} == {expected}


def test_hugging_face_hosts_get_the_token():
    from metasynth_hf.llm.endpoints import endpoint_token

    hf = EndpointConfig(url="https://xyz.us-east-1.aws.endpoints.huggingface.cloud")
    other = EndpointConfig(url="http://tgi-0:8080")
    evil = EndpointConfig(url="https://huggingface.co.example.com")
    assert endpoint_token(other) is None and endpoint_token(evil) is None
    assert endpoint_token(hf) == __import__("huggingface_hub").get_token()
