"""Caches and fingerprints are keyed by the model that answers, and blank replies are no answers."""

from __future__ import annotations

import json

import pytest

from metasynth_hf.cli import main
from metasynth_hf.models import ModelRef, weights_digest
from tests.support.stub_server import StubServer

WORDS = "Liquidity spreads widened as the treasury desk rebalanced its collateral across three venues. " * 3


def generate(url: str, out, cache, *extra: str) -> tuple[int, dict]:
    code = main(
        [
            "generate",
            "--method",
            "template",
            "--num-docs",
            "2",
            "--endpoint",
            url,
            "--out",
            str(out),
            "--cache",
            str(cache),
            "--no-progress",
            *extra,
        ]
    )
    return code, json.loads((out / "summary-00000-of-00001.json").read_text())


def texts(out) -> list[str]:
    return [json.loads(line)["text"] for line in (out / "shard-00000-of-00001.jsonl").read_text().splitlines()]


def test_a_new_model_behind_the_same_url_gets_no_stale_replies(tmp_path, capsys):
    cache = tmp_path / "cache.sqlite"
    with StubServer("model-a", "Model A says: " + WORDS) as server:
        assert generate(server.url, tmp_path / "a", cache)[0] == 0
        assert all(t.startswith("Model A") for t in texts(tmp_path / "a"))
        paid = server.chat_requests
        server.set(model_id="model-b", content="Model B says: " + WORDS)  # same URL, same label
        code, summary = generate(server.url, tmp_path / "b", cache)
        assert code == 0 and server.chat_requests == paid + 2 and summary["cache_hits"] == 0
        assert all(t.startswith("Model B") for t in texts(tmp_path / "b"))
        # the first output dir belongs to model-a: resuming it with model-b is refused, by name
        capsys.readouterr()
        assert generate(server.url, tmp_path / "a", cache)[0] != 0
        err = capsys.readouterr().err
        assert "different run" in err and "served" in err
    fingerprint = json.loads((tmp_path / "b" / "fingerprint.json").read_text())
    assert fingerprint["fields"]["expert_model"]["served"] == ["model-b"]  # the template writer is an expert


def test_a_blank_reply_is_retried_reported_and_never_cached(tmp_path, capsys):
    cache = tmp_path / "cache.sqlite"
    retry = ["--lanes", "1", "--set", "conductor.retry.max_attempts=2", "--set", "conductor.retry.base_delay_s=0.01"]
    with StubServer("m", content=None) as server:  # 200 with `content: null`
        code = main(
            [
                "generate",
                "--method",
                "template",
                "--num-docs",
                "2",
                "--endpoint",
                server.url,
                "--out",
                str(tmp_path / "x"),
                "--cache",
                str(cache),
                "--no-progress",
                *retry,
            ]
        )
        assert code != 0 and "empty reply (200 with no message content)" in capsys.readouterr().err
        assert server.chat_requests == 2  # tried twice, then a clear error: no empty document
        server.set(content="   \n")
        assert (
            main(
                [
                    "generate",
                    "--method",
                    "template",
                    "--num-docs",
                    "2",
                    "--endpoint",
                    server.url,
                    "--out",
                    str(tmp_path / "x"),
                    "--cache",
                    str(cache),
                    "--no-progress",
                    *retry,
                ]
            )
            != 0
        )
        server.set(content="Now a real answer. " + WORDS)
        code, summary = generate(server.url, tmp_path / "x", cache, *retry)
        assert code == 0 and summary["cache_hits"] == 0  # nothing blank was kept as an answer
        assert all(t.startswith("Now a real answer") for t in texts(tmp_path / "x"))


def test_the_weights_digest_follows_the_bytes_and_is_remembered(tmp_path, monkeypatch):
    monkeypatch.setenv("METASYNTH_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "m" / "model.gguf"
    weights.parent.mkdir()
    weights.write_bytes(b"GGUF" + b"\0" * 1000)
    ref = ModelRef(str(weights.parent), weights.name)
    first = weights_digest(ref)
    assert first.startswith("sha256:") and ref.identity == f"m/model.gguf@{first}"
    assert (tmp_path / "cache" / "weights-digests.json").is_file()
    weights.write_bytes(b"GGUF" + b"\1" * 1000)  # same name, other weights
    assert weights_digest(ref) != first
    assert weights_digest(ModelRef("some-org/some-hub-model")) == ""


@pytest.mark.parametrize("content", ["", None])
def test_the_cache_never_replays_a_blank_reply(tmp_path, content):
    import asyncio

    from metasynth_hf.llm.base import Reply, SamplingParams
    from metasynth_hf.llm.cache import CachedChatModel, ResponseCache, cache_key

    class Backend:
        model_id = "m"
        calls = 0

        async def chat(self, messages, params=None):
            Backend.calls += 1
            return Reply(text=content or "")

        async def aclose(self):
            pass

    cache = ResponseCache(tmp_path / "c.sqlite")
    model = CachedChatModel(Backend(), cache)
    messages = [{"role": "user", "content": "hi"}]
    asyncio.run(model.chat(messages, SamplingParams(seed=1)))
    asyncio.run(model.chat(messages, SamplingParams(seed=1)))
    assert Backend.calls == 2 and cache.get(cache_key("m", messages, SamplingParams(seed=1))) is None
    cache.close()
