"""The peer a user would pick instead: the same template job as a distilabel pipeline.

Run in a venv with distilabel (not a dependency of this project), e.g.

    python -m venv /tmp/dl-venv && /tmp/dl-venv/bin/pip install distilabel==1.5.3
    /tmp/dl-venv/bin/python benchmarks/peer_distilabel.py http://127.0.0.1:18432 5000 256 /tmp/dl-out

N rows (one template prompt each, with keywords as ours draws them) go through
`TextGeneration` on `InferenceEndpointsLLM(base_url=...)` (distilabel's client for TGI, on
huggingface_hub's `AsyncInferenceClient`, as ours) with `input_batch_size = C`, so C requests
are in flight per batch; the Distiset is saved to disk (parquet) as ours exports parquet.
Prints one JSON line: the seconds of `pipeline.run` + save, and the rows written.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "liquidity",
    "hedging",
    "yield curve",
    "credit risk",
    "dividends",
    "inflation",
    "bond ladder",
    "equity",
    "volatility",
    "leverage",
    "cash flow",
    "valuation",
    "audit",
    "tax lots",
    "options",
)


def prompts(n: int) -> list[dict]:
    rng = random.Random(0)
    return [
        {
            "instruction": f"Write a new, self-contained finance document of about 120 words about: "
            f"{', '.join(rng.sample(WORDS, 3))}. Document {i}."
        }
        for i in range(n)
    ]


def main(url: str, n: int, in_flight: int, out: str) -> None:
    from distilabel.models import InferenceEndpointsLLM
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts
    from distilabel.steps.tasks import TextGeneration

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache, Pipeline(name="peer-template", cache_dir=cache) as pipeline:
        load = LoadDataFromDicts(data=prompts(n), batch_size=in_flight)
        generate = TextGeneration(
            llm=InferenceEndpointsLLM(
                base_url=url, api_key="loopback", generation_kwargs={"max_new_tokens": 256, "temperature": 0.9}
            ),
            input_batch_size=in_flight,
        )
        load >> generate
        distiset = pipeline.run(use_cache=False)
        distiset.save_to_disk(out)
    rows = sum(len(split) for config in distiset.values() for split in config.values())
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows, "out": str(Path(out))}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
