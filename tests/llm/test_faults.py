"""Fault injection: a loopback proxy in front of the real server breaks requests on purpose."""

from __future__ import annotations

import asyncio
import time

import pytest

from metasynth_hf.errors import EndpointError
from metasynth_hf.llm.base import SamplingParams
from metasynth_hf.llm.config import EndpointConfig, RetryConfig
from metasynth_hf.llm.endpoints import EndpointPool
from tests.support.fault_proxy import FaultProxy, free_port
from tests.support.servers import MODEL_ALIAS

pytestmark = pytest.mark.slow

FAST_RETRY = RetryConfig(
    max_attempts=4,
    base_delay_s=0.05,
    max_delay_s=0.2,
    budget_s=30,
    failures_to_cooldown=3,
    cooldown_s=1.0,
)
PARAMS = SamplingParams(max_tokens=6, temperature=0, seed=0)
MESSAGES = [{"role": "user", "content": "Reply with one word."}]


@pytest.fixture(scope="module")
def proxy(llama_server):
    with FaultProxy(llama_server.url) as p:
        yield p


def _call(urls, retry=FAST_RETRY, n=1, timeout_s=30.0):
    async def run():
        pool = EndpointPool([EndpointConfig(url=u, model=MODEL_ALIAS, timeout_s=timeout_s) for u in urls], retry)
        try:
            replies = await asyncio.gather(*(pool.chat(MESSAGES, PARAMS) for _ in range(n)))
            return replies, pool
        finally:
            await pool.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize(
    "fault",
    [("status", 503), ("status", 500), ("status", 408), ("reset",), ("truncate",), ("garbage",)],
    ids=["503", "500", "408", "reset", "truncate", "garbage"],
)
def test_transient_fault_is_retried_to_the_right_answer(proxy, fault):
    proxy.set_script([fault, fault])
    (reply,), _ = _call([proxy.url])
    assert reply.text.strip() and reply.usage.completion_tokens > 0
    assert proxy.received == 3 and proxy.by_action[fault[0]] == 2


def test_429_retry_after_is_honoured(proxy):
    proxy.set_script([("status", 429, {"Retry-After": "1"})])
    started = time.monotonic()
    (reply,), _ = _call([proxy.url])
    assert time.monotonic() - started >= 1.0
    assert reply.text.strip() and proxy.received == 2


def test_timeout_is_retried(proxy):
    proxy.set_script([("slow", 2.5)])
    (reply,), _ = _call([proxy.url], timeout_s=1.0)
    assert reply.text.strip() and proxy.received == 2


def test_budget_bounds_attempts_and_names_endpoint_and_status(proxy):
    proxy.set_script([("status", 503)] * 20)
    with pytest.raises(EndpointError) as info:
        _call([proxy.url])
    assert proxy.received == FAST_RETRY.max_attempts
    message = str(info.value)
    assert proxy.url in message and "HTTP 503" in message
    assert info.value.status == 503


def test_client_error_is_not_retried(proxy):
    proxy.set_script([("status", 401)])
    with pytest.raises(EndpointError, match="refused the request") as info:
        _call([proxy.url])
    assert proxy.received == 1 and info.value.status == 401


def test_healthy_endpoint_takes_the_load_of_a_dead_one(proxy):
    proxy.set_script([])
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    slow_cooldown = FAST_RETRY.model_copy(update={"cooldown_s": 60})

    async def run():
        pool = EndpointPool([EndpointConfig(url=u, model=MODEL_ALIAS) for u in (dead, proxy.url)], slow_cooldown)
        try:
            first = await asyncio.gather(*(pool.chat(MESSAGES, PARAMS) for _ in range(10)))
            sent_dead = pool.endpoints[0].sent
            second = await asyncio.gather(*(pool.chat(MESSAGES, PARAMS) for _ in range(10)))
            return first + second, sent_dead, pool.endpoints[0].sent
        finally:
            await pool.aclose()

    replies, sent_dead_first, sent_dead_total = asyncio.run(run())
    assert len(replies) == 20 and all(r.endpoint == proxy.url for r in replies)
    assert sent_dead_first >= 1  # it was tried ...
    assert sent_dead_total == sent_dead_first  # ... then benched: the second wave never goes there
    assert proxy.received == 20


def test_a_single_endpoint_is_never_benched(proxy):
    """Nowhere else to go: benching the only endpoint would only add waiting."""
    short = FAST_RETRY.model_copy(update={"budget_s": 0.5})

    async def scenario():
        pool = EndpointPool([EndpointConfig(url=proxy.url, model=MODEL_ALIAS)], short)
        endpoint = pool.endpoints[0]
        proxy.set_script([("status", 503)] * 4)
        try:
            with pytest.raises(EndpointError, match=r"503"):
                await pool.chat(MESSAGES, PARAMS)
            assert endpoint.benched_until == 0.0 and endpoint.consecutive_failures >= 3
            started = time.monotonic()
            reply = await pool.chat(MESSAGES, PARAMS)  # the server is back: answered at once
            return reply, endpoint, time.monotonic() - started
        finally:
            await pool.aclose()

    reply, endpoint, seconds = asyncio.run(scenario())
    assert reply.text.strip() and seconds < 5
    assert endpoint.benched_until == 0.0 and endpoint.consecutive_failures == 0


#: TGI's answer to a JSON grammar it cannot compile (router/src/validation.rs, server.rs: 422).
GRAMMAR_REFUSED = {
    "error": "Input validation error: Grammar must have a 'properties' field",
    "error_type": "validation",
}


def test_server_rejecting_structured_output_gets_plain_requests(proxy):
    schema = {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}
    params = SamplingParams(max_tokens=16, temperature=0, seed=0, json_schema=schema)

    async def run():
        pool = EndpointPool([EndpointConfig(url=proxy.url, model=MODEL_ALIAS, server_kind="tgi")], FAST_RETRY)
        try:
            proxy.set_script([("status", 422, {}, GRAMMAR_REFUSED)])
            reply = await pool.chat(MESSAGES, params)
            return reply, pool.endpoints[0]
        finally:
            await pool.aclose()

    reply, endpoint = asyncio.run(run())
    assert reply.text.strip() and endpoint.server_kind == "tgi" and proxy.received == 2
    report = endpoint.report()
    assert report["structured_calls"] == {"constrained": 0, "unconstrained": 1, "rejected": 1}
    assert "Grammar must have a 'properties' field" in report["lost_constraint"]


@pytest.mark.parametrize(
    "body",
    [
        {"error": "Input validation error: `top_p` must be > 0.0 and < 1.0", "error_type": "validation"},
        {"error": "injected fault", "error_type": "validation"},
    ],
    ids=["top_p", "other"],
)
def test_a_422_that_is_not_about_the_grammar_keeps_structured_output(proxy, body):
    schema = {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}
    params = SamplingParams(max_tokens=16, temperature=0, seed=0, json_schema=schema)

    async def run():
        pool = EndpointPool([EndpointConfig(url=proxy.url, model=MODEL_ALIAS, server_kind="llamacpp")], FAST_RETRY)
        try:
            proxy.set_script([("status", 422, {}, body)])
            with pytest.raises(EndpointError, match="refused the request"):
                await pool.chat(MESSAGES, params)
            return pool.endpoints[0]
        finally:
            await pool.aclose()

    endpoint = asyncio.run(run())
    assert endpoint.server_kind == "llamacpp" and proxy.received == 1
