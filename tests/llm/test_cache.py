"""Response cache: round trip, foreign files, concurrent writers, kill -9 and rerun."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from metasynth_hf.errors import CacheError
from metasynth_hf.llm.base import Reply, SamplingParams, Usage
from metasynth_hf.llm.cache import ResponseCache, cache_key


def test_key_depends_on_model_messages_params_and_seed():
    msgs = [{"role": "user", "content": "hi"}]
    base = cache_key("m", msgs, SamplingParams(seed=1))
    assert base == cache_key("m", [dict(m) for m in msgs], SamplingParams(seed=1))
    assert base != cache_key("m2", msgs, SamplingParams(seed=1))
    assert base != cache_key("m", [{"role": "user", "content": "hi!"}], SamplingParams(seed=1))
    assert base != cache_key("m", msgs, SamplingParams(seed=2))
    assert base != cache_key("m", msgs, SamplingParams(seed=1, temperature=0.1))


def test_round_trip_marks_cached(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    reply = Reply("text é", Usage(3, 4), model="m", latency_s=0.5, endpoint="e", finish_reason="stop")
    assert cache.get("k") is None
    cache.put("k", reply)
    again = ResponseCache(tmp_path / "c.sqlite").get("k")
    assert again.text == "text é" and again.usage.completion_tokens == 4 and again.cached
    assert cache.misses == 1 and len(cache) == 1


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(CacheError, match="another program"):
        ResponseCache(path).get("k")


def test_garbage_file_is_refused(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    cache = ResponseCache(path)  # opened on first use: a run with no calls never reads it
    with pytest.raises(CacheError, match=r"is damaged .*move the file aside"):
        cache.get("k")


def _writer(path: str, worker: int, n: int) -> None:
    cache = ResponseCache(path)
    for i in range(n):
        cache.put(f"{worker}-{i}", Reply(f"r{worker}-{i}", Usage(1, 1), model="m"))
    cache.close()  # commits the last group (a multiprocessing child skips atexit handlers)


def test_concurrent_writer_processes(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    ResponseCache(path).close()
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cache = ResponseCache(path)
    assert len(cache) == 600
    assert cache.get("3-149").text == "r3-149"


RUNNER = textwrap.dedent(
    """
    import asyncio, sys
    from metasynth_hf.llm.cache import CachedChatModel, ResponseCache
    from metasynth_hf.llm.config import EndpointConfig, RetryConfig
    from metasynth_hf.llm.endpoints import EndpointPool
    from metasynth_hf.llm.base import SamplingParams

    async def main(url, path, n):
        cache = ResponseCache(path)
        pool = EndpointPool([EndpointConfig(url=url, max_concurrency=1)], RetryConfig())
        model = CachedChatModel(pool, cache)
        for i in range(n):
            msgs = [{"role": "user", "content": f"Name one colour. Variant {i}."}]
            reply = await model.chat(msgs, SamplingParams(max_tokens=12, seed=i))
            print(f"done {i} cached={int(reply.cached)}", flush=True)
        print(f"hits={cache.hits} misses={cache.misses}", flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_answers_finished_calls_from_cache(tmp_path, llama_server):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    cache_path = tmp_path / "run.sqlite"
    cmd = [sys.executable, str(script), llama_server.url, str(cache_path), "12"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    finished = 0
    for line in proc.stdout:
        if line.startswith("done"):
            finished += 1
        if finished == 4:
            proc.kill()  # SIGKILL, no cleanup
            break
    proc.wait(30)
    assert proc.returncode == -9
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    lines = rerun.stdout.splitlines()
    cached = [ln for ln in lines if ln.startswith("done") and ln.endswith("cached=1")]
    assert len(cached) >= finished  # every call finished before the kill is answered from cache
    hits, misses = (int(part.split("=")[1]) for part in lines[-1].split())
    assert hits == len(cached) and hits + misses == 12
    assert len(ResponseCache(cache_path)) == 12


def test_a_burst_of_replies_is_committed_in_groups_and_read_back_before_commit(tmp_path):
    from metasynth_hf.llm import cache as cache_module

    path = tmp_path / "burst.sqlite"
    cache = ResponseCache(path)
    cache.put("first", Reply("r-first", Usage(1, 1), model="m"))  # after a pause: committed at once
    for i in range(10):  # a burst right after it: grouped
        cache.put(f"k{i}", Reply(f"r{i}", Usage(1, 1), model="m"))
    with sqlite3.connect(path) as db:
        on_disk = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert on_disk == 1 and cache.get("k3").text == "r3"  # pending replies answer too
    for i in range(10, cache_module.COMMIT_EVERY + 1):  # the group fills up: one transaction
        cache.put(f"k{i}", Reply(f"r{i}", Usage(1, 1), model="m"))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == cache_module.COMMIT_EVERY + 1
    cache.put("last", Reply("r-last", Usage(1, 1), model="m"))
    cache.close()  # commits what is pending
    assert ResponseCache(path).get("last").text == "r-last"
