"""Client overhead of the LLM layer vs a bare AsyncInferenceClient, side by side in one run.

A canned server answers after a fixed delay with unlimited concurrency. The same N requests go
through (a) bare `huggingface_hub.AsyncInferenceClient` + a semaphore and (b) our EndpointPool
with routing, retries and the SQLite response cache on (every call a miss, so every call is
paid and written). Target: (b) >= 0.9 x (a) at each concurrency level.

    python benchmarks/bench_client_overhead.py --requests 3000 --delay-ms 200 --levels 32 64 256
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
from huggingface_hub import AsyncInferenceClient

from metasynth_hf.llm.base import SamplingParams
from metasynth_hf.llm.cache import CachedChatModel, ResponseCache
from metasynth_hf.llm.config import EndpointConfig, RetryConfig
from metasynth_hf.llm.endpoints import EndpointPool

HERE = Path(__file__).parent


def _messages(i: int) -> list[dict]:
    return [{"role": "user", "content": f"request {i}: write one sentence about markets."}]


async def bare(url: str, n: int, in_flight: int) -> float:
    client = AsyncInferenceClient(base_url=url)
    gate = asyncio.Semaphore(in_flight)

    async def one(i):
        async with gate:
            await client.chat_completion(_messages(i), model="canned", max_tokens=16, seed=i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - started
    await client.close()
    return n / elapsed


async def layered(url: str, n: int, in_flight: int, cache_dir: str) -> float:
    pool = EndpointPool([EndpointConfig(url=url, model="canned", max_concurrency=in_flight)], RetryConfig())
    model = CachedChatModel(pool, ResponseCache(Path(cache_dir) / f"bench-{in_flight}.sqlite"))
    started = time.perf_counter()
    await asyncio.gather(*(model.chat(_messages(i), SamplingParams(max_tokens=16, seed=i)) for i in range(n)))
    elapsed = time.perf_counter() - started
    await model.aclose()
    return n / elapsed


def wait_ready(url: str) -> None:
    for _ in range(100):
        try:
            if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("canned server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--delay-ms", type=float, default=200)
    parser.add_argument("--levels", type=int, nargs="+", default=[32, 64, 256])
    parser.add_argument("--port", type=int, default=18431)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [sys.executable, str(HERE / "canned_openai_server.py"), str(args.port), str(args.delay_ms)]
    )
    try:
        wait_ready(url)
        print(f"{args.requests} requests, server delay {args.delay_ms:.0f} ms")
        print(
            f"{'in flight':>9} {'ideal r/s':>10} {'bare r/s':>9} {'ours r/s':>9} {'ours/bare':>9} {'bare/ideal':>10} {'ours/ideal':>10}"
        )
        with tempfile.TemporaryDirectory() as cache_dir:
            for level in args.levels:
                ideal = level / (args.delay_ms / 1000)
                a = asyncio.run(bare(url, args.requests, level))
                b = asyncio.run(layered(url, args.requests, level, cache_dir))
                print(
                    f"{level:>9} {ideal:>10.0f} {a:>9.0f} {b:>9.0f} {b / a:>9.2f} {a / ideal:>10.2f} {b / ideal:>10.2f}"
                )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
