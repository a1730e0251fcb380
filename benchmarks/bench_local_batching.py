"""Embedded model: tokens/s with 16 concurrent requests (dynamic batching) vs one at a time.

Same prompts, same model, same run; greedy decoding so both sides generate the same tokens.
Target: batched >= 6x sequential.

    python benchmarks/bench_local_batching.py --requests 16 --max-tokens 64
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
    return [
        {"role": "user", "content": f"Write a short paragraph about {TOPICS[i % len(TOPICS)]}."}
    ]


async def run(
    model: LocalChatModel, n: int, params: SamplingParams, concurrent: bool
) -> tuple[float, int]:
    started = time.perf_counter()
    if concurrent:
        replies = await asyncio.gather(*(model.chat(_messages(i), params) for i in range(n)))
    else:
        replies = [await model.chat(_messages(i), params) for i in range(n)]
    elapsed = time.perf_counter() - started
    tokens = sum(r.usage.completion_tokens for r in replies)
    return tokens / elapsed, tokens


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--threads", type=int, help="torch threads (1 is faster on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model = LocalChatModel(args.model, max_batch_size=args.requests)
    model.load()
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
