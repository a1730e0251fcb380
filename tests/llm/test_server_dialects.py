"""The endpoint pool against servers written from TGI's and vLLM's source (tests/support): each
server's own way to constrain a structured call, its limits, its errors and its back-pressure."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from metasynth_hf.errors import ContextLengthError
from metasynth_hf.generation.turns import turn_schema
from metasynth_hf.llm.base import SamplingParams
from metasynth_hf.llm.config import EndpointConfig, RetryConfig
from metasynth_hf.llm.endpoints import EndpointPool
from metasynth_hf.llm.parsing import parse_json_object
from tests.support.fake_llm import prompt_tokens
from tests.support.replies import TurnWriter
from tests.support.tgi_server import TgiServer
from tests.support.vllm_server import VllmServer

EXPERTS = ["domain_expert", "summarizer_expert"]
TURN = turn_schema(EXPERTS, ["seeds", "draft"], max_tokens=256)
MESSAGES = [{"role": "user", "content": "Decide the next step."}]
FAST = RetryConfig(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, budget_s=60, startup_timeout_s=10)


def _run(pool: EndpointPool, *calls):
    async def go():
        try:
            await pool.identify()
            return await asyncio.gather(*calls)
        finally:
            await pool.aclose()

    return asyncio.run(go())


def _pool(url: str, retry: RetryConfig = FAST, **kw) -> EndpointPool:
    return EndpointPool([EndpointConfig(url=url, **kw)], retry)


def test_tgi_takes_the_conductor_schema_as_one_flat_grammar_from_eight_lanes():
    """Finding 1: TGI refuses `{"anyOf": ...}` ("Grammar must have a 'properties' field"); the
    flattened schema is accepted and every one of 8 concurrent turns is constrained."""
    with TgiServer(content=TurnWriter()) as server:
        pool = _pool(server.url)
        replies = _run(pool, *(pool.chat(MESSAGES, SamplingParams(json_schema=TURN, seed=i)) for i in range(8)))
    assert all(parse_json_object(r.text)["action"] in ("call_expert", "final") for r in replies)
    assert server.status_counts == {200: 8} and None not in server.structured
    report = pool.endpoints[0].report()
    assert report["server_kind"] == "tgi" and report["lost_constraint"] is None
    assert report["structured_calls"] == {"constrained": 8, "unconstrained": 0, "rejected": 0}


def test_the_bare_any_of_is_what_tgi_refuses():
    """The reason for the flattening, asked of the server itself."""
    import httpx2 as httpx

    with TgiServer() as server:
        body = {"messages": MESSAGES, "response_format": {"type": "json_object", "value": TURN}}
        answer = httpx.post(f"{server.url}/v1/chat/completions", json=body)
    assert answer.status_code == 422 and "properties" in answer.json()["error"]


def test_a_grammar_refusal_turns_constraint_off_once_and_fails_no_call_in_flight(caplog):
    """Findings 1-2: a TGI without grammar support refuses every structured call in flight; all
    8 are resent plain and answered, and one warning says why."""
    with TgiServer(content=TurnWriter(), grammar_support=False, latency_s=0.05) as server:
        pool = _pool(server.url)
        with caplog.at_level(logging.WARNING):
            replies = _run(pool, *(pool.chat(MESSAGES, SamplingParams(json_schema=TURN, seed=i)) for i in range(8)))
    assert len(replies) == 8 and all(r.text for r in replies)
    report = pool.endpoints[0].report()
    assert report["structured_calls"]["rejected"] == 8 and report["structured_calls"]["constrained"] == 0
    assert report["server_kind"] == "tgi" and report["lost_constraint"]
    assert report["structured_output"].startswith("off after the server refused it")
    warnings = [r for r in caplog.records if "refused structured output" in r.getMessage()]
    assert len(warnings) == 1


def test_top_p_one_and_temperature_zero_are_sent_as_tgi_accepts_them():
    """Finding 2: TGI's validation refuses top_p >= 1.0 with 422; it is left out instead."""
    with TgiServer() as server:
        pool = _pool(server.url)
        (reply,) = _run(pool, pool.chat(MESSAGES, SamplingParams(top_p=1.0, temperature=0.0, max_tokens=8)))
    assert reply.text and server.status_counts == {200: 1}
    assert "top_p" not in server.requests[0] or server.requests[0]["top_p"] is None


def test_the_reply_is_fitted_to_tgis_total_tokens_and_a_prompt_too_long_is_one_line():
    """Finding 2: prompt + max_tokens over max_total_tokens is resent with max_tokens fitted to
    the room TGI reported; a prompt over max_input_tokens is a one-line error naming the fix."""
    long_prompt = [{"role": "user", "content": "word " * 300}]
    room = 20  # the server's count of this prompt leaves 20 tokens of the 30 asked
    with TgiServer(max_input_tokens=400, max_total_tokens=prompt_tokens(long_prompt) + room) as server:
        pool = _pool(server.url)
        (reply,) = _run(pool, pool.chat(long_prompt, SamplingParams(max_tokens=30)))
        assert reply.text and pool.endpoints[0].report()["max_tokens_fitted"] == 1
        assert server.requests[1]["max_tokens"] == room
        assert server.status_counts[422] == 1 and server.status_counts[200] == 1
        pool = _pool(server.url)
        with pytest.raises(ContextLengthError) as info:
            _run(pool, pool.chat([{"role": "user", "content": "word " * 900}], SamplingParams(max_tokens=10)))
    message = str(info.value)
    assert "\n" not in message and "max_tokens=10" in message and "--max-input-tokens" in message


def test_the_starting_concurrency_is_tgis_cap_shared_by_the_shards():
    """Finding 3 / limits: /info's max_concurrent_requests, divided among the run's shards."""
    with TgiServer(max_concurrent_requests=12) as server:
        pool = EndpointPool([EndpointConfig(url=server.url)], FAST, share=3)
        _run(pool)
        assert pool.endpoints[0].admission.admitted == 4
        pool = EndpointPool([EndpointConfig(url=server.url, max_concurrency=2)], FAST)
        _run(pool)
        assert pool.endpoints[0].admission.admitted == 2  # a lower setting of the user's stays


def test_overload_is_back_pressure_not_failure():
    """Finding 3: past its cap TGI answers 429 "Model is overloaded" without Retry-After. With the
    capacity taken after the probe (other clients), 32 calls at once against 4 slots all finish,
    none counted as a failed attempt (max_attempts is 1), and the endpoint settles at the cap."""
    with TgiServer(max_concurrent_requests=64, latency_s=0.1) as server:
        pool = _pool(server.url, FAST.model_copy(update={"max_attempts": 1}))

        async def go():
            try:
                await pool.identify()
                server.set(max_concurrent_requests=4)
                return await asyncio.gather(*(pool.chat(MESSAGES, SamplingParams(seed=i)) for i in range(32)))
            finally:
                await pool.aclose()

        replies = asyncio.run(go())
    assert len(replies) == 32 and server.status_counts[200] == 32
    assert server.status_counts.get(429, 0) > 0 and server.peak_in_flight <= 4
    concurrency = pool.endpoints[0].report()["concurrency"]
    assert concurrency["overloads"] == server.status_counts[429] and concurrency["admitted"] <= 5
    assert pool.endpoints[0].benched_until == 0.0


def test_a_424_generation_error_is_retried():
    """Finding 3: TGI's "Request failed during generation" (424) is a server fault: retried."""
    with TgiServer() as server:
        server.fail_next(424, 2)
        pool = _pool(server.url)
        (reply,) = _run(pool, pool.chat(MESSAGES, SamplingParams(max_tokens=8)))
    assert reply.text and server.status_counts == {424: 2, 200: 1}


def test_a_loading_server_is_waited_for_with_one_line(caplog):
    """Finding 3: TGI opens its port only once the model is loaded; the run waits, says so once."""
    with TgiServer(load_delay_s=1.5) as server:
        pool = _pool(server.url)

        async def go():
            try:
                await pool.check_reachable()
                return await pool.chat(MESSAGES, SamplingParams(max_tokens=8))
            finally:
                await pool.aclose()

        with caplog.at_level(logging.WARNING):
            reply = asyncio.run(go())
    assert reply.text
    waiting = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(waiting) == 1 and "retry.startup_timeout_s" in waiting[0]


def test_a_server_that_accepts_connections_but_answers_slowly_is_up():
    """Finding 5: a server busy with a killed run's requests is slow, not down."""
    with socket.socket() as listener:  # accepts connections (the kernel's backlog), answers nothing
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        pool = _pool(url, FAST.model_copy(update={"startup_timeout_s": 0}))

        async def go():
            try:
                await pool.check_reachable()
            finally:
                await pool.aclose()

        asyncio.run(go())  # no error


def test_vllm_gets_the_schema_in_structured_outputs_and_its_context_limit_is_read():
    """Finding 4: vLLM is sent the schema itself (`structured_outputs.json`), not bare JSON mode."""
    with VllmServer(content=TurnWriter(), max_model_len=2048) as server:
        pool = _pool(server.url)
        replies = _run(pool, *(pool.chat(MESSAGES, SamplingParams(json_schema=TURN, seed=i)) for i in range(4)))
    assert all(parse_json_object(r.text)["action"] for r in replies)
    assert all(body["structured_outputs"]["json"] == TURN for body in server.requests)
    assert None not in server.structured
    report = pool.endpoints[0].report()
    assert report["server_kind"] == "vllm" and report["limits"] == {"max_total_tokens": 2048}
    assert report["structured_calls"] == {"constrained": 4, "unconstrained": 0, "rejected": 0}


def test_vllms_context_length_400_is_fitted_too():
    prompt = [{"role": "user", "content": "word " * 250}]
    with VllmServer(max_model_len=prompt_tokens(prompt) + 40) as server:
        pool = _pool(server.url)
        (reply,) = _run(pool, pool.chat(prompt, SamplingParams(max_tokens=60)))
    assert reply.text and server.status_counts == {400: 1, 200: 1}
    assert pool.endpoints[0].report()["max_tokens_fitted"] == 1
    assert server.requests[1]["max_tokens"] == 40


def test_more_stop_sequences_than_tgi_admits_is_said_before_sending():
    """TGI refuses more stop sequences than its max_stop_sequences (422); the run says so first."""
    from metasynth_hf.errors import EndpointError

    with TgiServer(max_stop_sequences=2) as server:
        pool = _pool(server.url)
        with pytest.raises(EndpointError, match=r"3 stop sequences, the server admits 2"):
            _run(pool, pool.chat(MESSAGES, SamplingParams(max_tokens=8, stop=("a", "b", "c"))))
    assert server.requests == []
