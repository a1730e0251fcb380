"""Embedded model: tokens/s with 16 concurrent requests (dynamic batching) vs one at a time.

Same prompts, same model, same run; greedy decoding so both sides generate the same tokens.
Target: batched >= 6x sequential.

`--mixed` measures what a MetaSynth run sends instead: half the requests with the conductor's
sampling settings, half with the experts', all at once (one batch, per-row sampling) against
each setting's half in its own batch, one after the other (what a batch per setting costs).

    python benchmarks/bench_local_batching.py --requests 16 --max-tokens 64
    python benchmarks/bench_local_batching.py --requests 8 --max-tokens 48 --mixed
"""

from __future__ import annotations

import argparse
import asyncio
import time

from metasynth_hf.llm.base import SamplingParams
from metasynth_hf.llm.local import LocalChatModel

TOPICS = [
    "bond ladders",
    "gene therapy",
    "central bank swap lines",
    "antibiotic stewardship",
    "credit default swaps",
    "CRISPR off-target effects",
    "municipal bonds",
    "sepsis protocols",
    "venture debt",
    "mRNA vaccines",
    "pension liability matching",
    "tumour microenvironment",
    "FX hedging for exporters",
    "clinical trial phases",
    "margin calls",
    "insulin pumps",
]


def _messages(i: int) -> list[dict]:
    return [{"role": "user", "content": f"Write a short paragraph about {TOPICS[i % len(TOPICS)]}."}]


async def run_mixed(
    model: LocalChatModel, n: int, settings: list[SamplingParams], together: bool
) -> tuple[float, int]:
    """Requests alternate between `settings`; all at once, or one setting's batch at a time."""
    started = time.perf_counter()
    jobs = [(i, settings[i % len(settings)]) for i in range(n)]
    if together:
        replies = await asyncio.gather(*(model.chat(_messages(i), p) for i, p in jobs))
    else:
        replies = []
        for setting in settings:
            group = [model.chat(_messages(i), p) for i, p in jobs if p is setting]
            replies += await asyncio.gather(*group)
    elapsed = time.perf_counter() - started
    tokens = sum(r.usage.completion_tokens for r in replies)
    return tokens / elapsed, tokens


def mixed(model: LocalChatModel, n: int, max_tokens: int) -> None:
    settings = [SamplingParams(max_tokens=max_tokens, temperature=0.7, seed=1),
                SamplingParams(max_tokens=max_tokens, temperature=0.9, seed=2)]  # fmt: skip
    asyncio.run(run_mixed(model, 2, settings, together=True))  # warm-up
    split, split_tokens = asyncio.run(run_mixed(model, n, settings, together=False))
    one, one_tokens = asyncio.run(run_mixed(model, n, settings, together=True))
    print(f"{n} requests, 2 sampling settings, max {max_tokens} new tokens, {model.model_id}")
    print(f"{'mode':>22} {'tokens':>7} {'tokens/s':>9}")
    print(f"{'a batch per setting':>22} {split_tokens:>7} {split:>9.1f}")
    print(f"{'one mixed batch':>22} {one_tokens:>7} {one:>9.1f}")
    print(f"ratio mixed/per-setting: {one / split:.2f}x")


async def run(model: LocalChatModel, n: int, params: SamplingParams, concurrent: bool) -> tuple[float, int]:
    started = time.perf_counter()
    if concurrent:
        replies = await asyncio.gather(*(model.chat(_messages(i), params) for i in range(n)))
    else:
        replies = [await model.chat(_messages(i), params) for i in range(n)]
    elapsed = time.perf_counter() - started
    tokens = sum(r.usage.completion_tokens for r in replies)
    return tokens / elapsed, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--threads", type=int, help="torch threads (1 is faster on a busy machine)")
    parser.add_argument("--mixed", action="store_true", help="two sampling settings in one batch")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model = LocalChatModel(args.model, max_batch_size=args.requests)
    model.load()
    if args.mixed:
        mixed(model, args.requests, args.max_tokens)
        return
    params = SamplingParams(max_tokens=args.max_tokens, temperature=0)
    asyncio.run(run(model, 2, params, concurrent=False))  # warm-up
    seq, seq_tokens = asyncio.run(run(model, args.requests, params, concurrent=False))
    bat, bat_tokens = asyncio.run(run(model, args.requests, params, concurrent=True))
    print(f"{args.requests} requests x max {args.max_tokens} new tokens, model {model.model_id}")
    print(f"{'mode':>12} {'tokens':>7} {'tokens/s':>9}")
    print(f"{'one at a time':>12} {seq_tokens:>7} {seq:>9.1f}")
    print(f"{'batched':>12} {bat_tokens:>7} {bat:>9.1f}")
    print(f"ratio batched/sequential: {bat / seq:.2f}x (target >= 6x)")


if __name__ == "__main__":
    main()
