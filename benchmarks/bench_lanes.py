"""Lanes: throughput against conditioning, measured side by side.

With `lanes = L`, L documents are in flight and document i is conditioned on the documents
with index <= i - L. More lanes overlap more calls (an endpoint pool or the embedded model's
batching serve them together), but each document is blind to its L - 1 predecessors. This
script runs the same generation at several lane counts and prints, per setting: wall time,
documents/s, speed-up over one lane, efficiency (speed-up / lanes: below 1 from head-of-line
waits, since documents are published in order, and from a saturated backend), the mean
fraction of earlier documents each document sees, and its blind spot (L - 1 documents).

    python benchmarks/bench_lanes.py                  # the README's table: simulated server, 128 docs
    python benchmarks/bench_lanes.py --backend local --num-docs 8 --lanes 1,2,4
    python benchmarks/bench_lanes.py --backend endpoint --url http://127.0.0.1:8080 --lanes 1,4,16

`sim` is a server with continuous batching whose latency does not depend on the load below
its capacity: each call takes prefill + tokens x per-token time whatever else is in flight, up
to `--capacity` (64) calls at once; beyond that calls queue. Its conductor finishes after 2 to
6 turns, so documents differ in length as real ones do. It measures the scheduler, not a
model: a real server slows down as its batch grows, so real speed-ups are lower. `local` runs
the embedded SmolLM2 model; `endpoint` any OpenAI-compatible server (llama.cpp, TGI, vLLM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metasynth_hf.config import RunConfig  # noqa: E402
from metasynth_hf.generation.engine import generate  # noqa: E402
from metasynth_hf.llm.base import Reply, SamplingParams, Usage  # noqa: E402


class SimServer:
    """A batching server stand-in: latency = prefill + tokens x per-token time."""

    model_id = "sim"

    def __init__(self, capacity: int, token_s: float, prefill_s: float):
        self.slots = asyncio.Semaphore(capacity)
        self.token_s, self.prefill_s = token_s, prefill_s

    async def chat(self, messages, params: SamplingParams | None = None, *, role: str = "") -> Reply:
        params = params or SamplingParams()
        rng = random.Random(params.seed)
        if role == "conductor":
            done = sum(m["role"] == "assistant" for m in messages)
            limit = 2 + random.Random(messages[1]["content"][:60]).randrange(5)
            text = (
                '{"action": "final"}'
                if done >= limit
                else json.dumps({"action": "call_expert", "expert": "domain_expert", "instructions": "Write."})
            )
            tokens = 30
        else:
            tokens = int(params.max_tokens * rng.uniform(0.5, 1.0))
            words = ["capital", "yield", "credit", "hedge", "bond", "loan", "risk", "rate"]
            text = " ".join(rng.choice(words) for _ in range(tokens)) + "."
        async with self.slots:
            await asyncio.sleep(self.prefill_s + tokens * self.token_s)
        prompt = sum(len(m["content"]) for m in messages) // 4
        return Reply(text, Usage(prompt, tokens), model="sim", latency_s=0.0)

    async def aclose(self) -> None:
        return None


class RoleOf:
    """One role's view of the shared backend: the sim answers by role, not by prompt wording."""

    def __init__(self, model, role: str):
        self.model, self.role, self.model_id = model, role, getattr(model, "model_id", "model")

    async def chat(self, messages, params: SamplingParams | None = None) -> Reply:
        if isinstance(self.model, SimServer):
            return await self.model.chat(messages, params, role=self.role)
        return await self.model.chat(messages, params)

    async def aclose(self) -> None:
        return None


class SameModel(dict):
    """Every role on one backend, no cache (a cached rerun would measure nothing)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def __missing__(self, role):
        self[role] = RoleOf(self.model, role)
        return self[role]


def build_backend(args):
    if args.backend == "sim":
        return SimServer(args.capacity, args.token_ms / 1000, args.prefill_ms / 1000)
    from metasynth_hf.llm.config import EndpointConfig, ModelConfig
    from metasynth_hf.llm.factory import build_backend as build

    if args.backend == "local":
        model = build(ModelConfig(parallel=max(args.lanes)))
        model.load()
        return model
    return build(ModelConfig(endpoints=(EndpointConfig(url=args.url, model=args.model),)))


async def one_setting(args, backend, lanes: int, out: Path) -> dict:
    config = RunConfig.model_validate(
        {
            "num_docs": args.num_docs,
            "lanes": lanes,
            "output_dir": str(out),
            "method": args.method,
            "target_words": 60,
            "stop": {"max_turns": 6},
            "conductor_sampling": {"max_tokens": args.max_tokens, "temperature": 0.7},
            "expert_sampling": {"max_tokens": args.max_tokens, "temperature": 0.8},
            "instance_table": {"embedder": "hashing"},
        }
    )
    finished: list[float] = []
    started = time.monotonic()
    summary = await generate(
        config,
        models=SameModel(backend),
        on_record=lambda record, progress: finished.append(time.monotonic() - started),
    )
    wall = time.monotonic() - started
    records = [json.loads(line) for line in Path(summary.output_file).read_text().splitlines()]
    seen = [json.loads(r["provenance"])["conditioned_on"]["visible"] / i for i, r in enumerate(records) if i]
    return {
        "lanes": lanes,
        "docs": summary.documents,
        "wall_s": round(wall, 2),
        "docs_per_s": round(summary.documents / wall, 3),
        "mean_visible_fraction": round(sum(seen) / max(len(seen), 1), 3),
        "blind_spot_docs": lanes - 1,
    }


async def main(args) -> None:
    backend = build_backend(args)
    rows = []
    try:
        for lanes in args.lanes:
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(await one_setting(args, backend, lanes, Path(tmp)))
    finally:
        await backend.aclose()
    base = rows[0]["docs_per_s"]
    print(f"backend={args.backend} method={args.method} docs={args.num_docs} max_tokens={args.max_tokens}")
    if args.backend == "sim":
        print(
            f"sim server: latency independent of load up to {args.capacity} calls at once "
            f"({args.prefill_ms:.0f} ms + {args.token_ms:.1f} ms/token); a real server slows as its batch grows"
        )
    print(f"{'lanes':>5} {'wall_s':>8} {'docs/s':>8} {'speedup':>8} {'effic.':>7} {'sees':>6} {'blind':>6}")
    for row in rows:
        speedup = row["docs_per_s"] / base
        print(
            f"{row['lanes']:>5} {row['wall_s']:>8} {row['docs_per_s']:>8} {speedup:>8.2f} "
            f"{speedup / row['lanes']:>7.2f} {row['mean_visible_fraction']:>6} {row['blind_spot_docs']:>6}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sim", "local", "endpoint"), default="sim")
    parser.add_argument("--url", help="endpoint base URL (--backend endpoint)")
    parser.add_argument("--model", default="tgi", help="endpoint model name")
    parser.add_argument("--method", default="metasynth")
    parser.add_argument("--num-docs", type=int, default=128)
    parser.add_argument("--lanes", default="1,4,16,64", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--capacity", type=int, default=64, help="sim: calls served at once")
    parser.add_argument("--token-ms", type=float, default=2.0, help="sim: time per generated token")
    parser.add_argument("--prefill-ms", type=float, default=20.0, help="sim: time per call before tokens")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
