"""The faithful TGI 3.x and vLLM 0.12 test servers (tests/support/tgi_server.py, vllm_server.py) behave as
the sources they cite say: checked here over real HTTP on loopback."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

from tests.support.fake_llm import prompt_tokens, token_count
from tests.support.tgi_server import TgiServer
from tests.support.vllm_server import VllmServer

MESSAGES = [{"role": "user", "content": "Write one short sentence about rivers."}]
SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
LONG_REPLY = " ".join(f"word{i}" for i in range(40))


def chat(url: str, **fields) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json={"messages": MESSAGES, **fields}, timeout=10)


def concurrently(fn, n: int) -> list:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: fn(), range(n)))


# -- TGI -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tgi():
    with TgiServer("org/tgi-model", '{"text": "A river runs."}') as server:
        yield server


def test_tgi_grammar_needs_properties(tgi):
    bare = {"anyOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "string"}]}
    r = chat(tgi.url, response_format={"type": "json_object", "value": bare})
    assert r.status_code == 422
    assert r.json() == {
        "error": "Input validation error: grammar is not valid: Grammar must have a 'properties' field",
        "error_type": "validation",
    }
    assert tgi.structured[-1] is None

    r = chat(tgi.url, response_format={"type": "json_object", "value": SCHEMA})
    assert r.status_code == 200, r.text
    assert tgi.structured[-1] == "grammar-json"
    r = chat(tgi.url, response_format={"type": "json_schema", "value": {"name": "turn", "schema": SCHEMA}})
    assert r.status_code == 200 and tgi.structured[-1] == "grammar-json_schema"
    r = chat(tgi.url, response_format={"type": "regex", "value": "[a-z]+"})
    assert r.status_code == 200 and tgi.structured[-1] == "grammar-regex"


def test_tgi_rejects_openai_json_schema_and_outlines_gaps(tgi):
    # OpenAI's shape has no "value": axum's Json extractor answers 422 text/plain.
    r = chat(tgi.url, response_format={"type": "json_schema", "json_schema": {"name": "t", "schema": SCHEMA}})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("Failed to deserialize the JSON body into the target type: response_format: ")
    assert "missing field `value`" in r.text
    r = chat(tgi.url, response_format={"type": "text"})
    assert r.status_code == 422 and "unknown variant `text`" in r.text
    # outlines-core cannot build a regex for a list of types
    nullable = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}
    r = chat(tgi.url, response_format={"type": "json", "value": nullable})
    assert r.status_code == 422
    assert r.json()["error"] == "Input validation error: cannot compile regex from schema: 'type' must be a string"


def test_tgi_sampling_and_length_validation():
    with TgiServer("m", "ok", max_input_tokens=60, max_total_tokens=64) as tgi:
        r = chat(tgi.url, top_p=1.0)
        assert r.status_code == 422
        assert r.json() == {
            "error": "Input validation error: `top_p` must be > 0.0 and < 1.0",
            "error_type": "validation",
        }
        n = prompt_tokens(MESSAGES)
        r = chat(tgi.url, max_tokens=64 - n + 1)
        assert r.status_code == 422
        assert r.json()["error"] == (
            f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 64. "
            f"Given: {n} `inputs` tokens and {64 - n + 1} `max_new_tokens`"
        )
        r = chat(tgi.url, stop=["a", "b", "c", "d", "e"])
        assert r.json()["error"] == "Input validation error: `stop` supports up to 4 stop sequences. Given: 5"
        assert chat(tgi.url, max_tokens=64 - n).status_code == 200
        assert tgi.status_counts == {422: 3, 200: 1}


def test_tgi_overload_is_429_without_retry_after():
    with TgiServer("m", "ok", max_concurrent_requests=1, latency_s=0.4) as tgi:
        responses = concurrently(lambda: chat(tgi.url), 2)
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 429]
        rejected = next(r for r in responses if r.status_code == 429)
        assert rejected.json() == {"error": "Model is overloaded", "error_type": "overloaded"}
        assert "retry-after" not in rejected.headers
        assert tgi.peak_in_flight == 1 and tgi.in_flight == 0


def test_tgi_finish_reason_usage_and_failures():
    with TgiServer("org/m", LONG_REPLY) as tgi:
        r = chat(tgi.url, max_tokens=5)
        body = r.json()
        assert body["choices"][0]["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] == 5
        assert token_count(body["choices"][0]["message"]["content"]) <= 5
        assert body["usage"]["prompt_tokens"] == prompt_tokens(MESSAGES)
        assert body["model"] == "org/m" and body["system_fingerprint"] == "3.3.6-dev0-native"
        full = chat(tgi.url, max_tokens=500).json()
        assert full["choices"][0]["finish_reason"] == "stop"
        assert full["choices"][0]["message"]["content"] == LONG_REPLY

        tgi.fail_next(424, n=1, message="boom")
        r = chat(tgi.url)
        assert r.status_code == 424
        assert r.json() == {"error": "Request failed during generation: boom", "error_type": "generation"}
        assert chat(tgi.url).status_code == 200


def test_tgi_info_models_health(tgi):
    info = httpx.get(f"{tgi.url}/info").json()
    assert info["model_id"] == "org/tgi-model" and info["router"] == "text-generation-router"
    assert info["max_concurrent_requests"] == 128 and info["max_stop_sequences"] == 4
    assert {"max_input_tokens", "max_total_tokens", "max_best_of", "version", "sha", "docker_label"} <= info.keys()
    models = httpx.get(f"{tgi.url}/v1/models").json()
    assert models == {
        "object": "list",
        "data": [{"id": "org/tgi-model", "object": "model", "created": 0, "owned_by": "org/tgi-model"}],
    }
    health = httpx.get(f"{tgi.url}/health")
    assert health.status_code == 200 and health.content == b""


def test_tgi_refuses_connections_while_loading():
    with TgiServer("m", "ok", load_delay_s=0.5) as tgi:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{tgi.url}/health", timeout=2)
        assert tgi.wait_ready(5)
        assert httpx.get(f"{tgi.url}/health").status_code == 200


# -- vLLM ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vllm():
    with VllmServer("org/vllm-model", '{"text": "A river runs."}', max_model_len=256) as server:
        yield server


def test_vllm_context_length_400(vllm):
    n = prompt_tokens(MESSAGES)
    r = chat(vllm.url, max_tokens=300)
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "message": f"'max_tokens' or 'max_completion_tokens' is too large: 300. This model's maximum context "
            f"length is 256 tokens and your request has {n} input tokens (300 > 256 - {n}). None",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    }
    assert chat(vllm.url, max_tokens=256 - n).status_code == 200


def test_vllm_structured_modes(vllm):
    r = chat(vllm.url, response_format={"type": "json_schema", "json_schema": {"name": "t", "schema": SCHEMA}})
    assert r.status_code == 200 and vllm.structured[-1] == "json_schema"
    assert chat(vllm.url, response_format={"type": "json_object"}).status_code == 200
    assert vllm.structured[-1] == "json_object"
    assert chat(vllm.url, structured_outputs={"json": SCHEMA}).status_code == 200
    assert vllm.structured[-1] == "structured_outputs.json"
    assert chat(vllm.url, structured_outputs={"regex": "[a-z]+"}).status_code == 200
    assert vllm.structured[-1] == "structured_outputs.regex"
    # TGI's shape: "value" is an extra field vLLM ignores, so it is plain JSON mode
    assert chat(vllm.url, response_format={"type": "json_object", "value": SCHEMA}).status_code == 200
    assert vllm.structured[-1] == "json_object"
    # removed in 0.12: guided_json is an unknown field, ignored -> unconstrained
    assert chat(vllm.url, guided_json=SCHEMA).status_code == 200
    assert vllm.structured[-1] is None
    r = chat(vllm.url, response_format={"type": "json", "value": SCHEMA})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "Bad Request" and "literal_error" in r.json()["error"]["message"]
    r = chat(vllm.url, structured_outputs={"json": SCHEMA, "regex": "x"})
    assert r.status_code == 400 and "only use one kind of constraints" in r.json()["error"]["message"]
    assert chat(vllm.url, response_format={"type": "json_schema"}).status_code == 500


def test_vllm_sampling_finish_and_failures(vllm):
    r = chat(vllm.url, top_p=0)
    assert r.status_code == 400 and r.json()["error"]["message"] == "top_p must be in (0, 1], got 0.0."
    assert chat(vllm.url, top_p=1.0).status_code == 200
    r = chat(vllm.url, model="other")
    assert r.status_code == 404 and r.json()["error"]["type"] == "NotFoundError"
    vllm.set(content=LONG_REPLY)
    try:
        body = chat(vllm.url, max_tokens=5).json()
        assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 5
        assert chat(vllm.url, max_tokens=100).json()["choices"][0]["finish_reason"] == "stop"
    finally:
        vllm.set(content='{"text": "A river runs."}')
    vllm.fail_next(500)
    r = chat(vllm.url)
    assert r.status_code == 500
    assert r.json() == {"error": {"message": "", "type": "Internal Server Error", "param": None, "code": 500}}


def test_vllm_models_version_health(vllm):
    card = httpx.get(f"{vllm.url}/v1/models").json()["data"][0]
    assert card["id"] == "org/vllm-model" and card["owned_by"] == "vllm" and card["max_model_len"] == 256
    assert card["root"] == "org/vllm-model" and card["permission"][0]["object"] == "model_permission"
    assert httpx.get(f"{vllm.url}/version").json() == {"version": "0.12.0"}
    assert httpx.get(f"{vllm.url}/health").status_code == 200


def test_vllm_queues_beyond_max_num_seqs():
    with VllmServer("m", "ok", max_num_seqs=1, latency_s=0.3) as vllm:
        start = time.monotonic()
        responses = concurrently(lambda: chat(vllm.url), 2)
        assert [r.status_code for r in responses] == [200, 200]
        assert time.monotonic() - start >= 0.55
        assert vllm.peak_in_flight == 1


def test_vllm_refuses_connections_while_loading():
    with VllmServer("m", "ok", load_delay_s=0.5) as vllm:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{vllm.url}/health", timeout=2)
        assert vllm.wait_ready(5)
        assert httpx.get(f"{vllm.url}/health").status_code == 200
