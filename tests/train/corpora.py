"""Small text corpora made in the tests (the generator is not needed to test training)."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = [
    "bond",
    "yield",
    "equity",
    "credit",
    "spread",
    "liquidity",
    "hedge",
    "derivative",
    "coupon",
    "maturity",
    "portfolio",
    "dividend",
    "margin",
    "leverage",
    "volatility",
    "asset",
    "ledger",
    "audit",
    "capital",
    "inflation",
    "rate",
    "swap",
    "option",
    "future",
    "index",
    "fund",
    "treasury",
    "balance",
    "revenue",
    "earnings",
    "cash",
    "flow",
    "risk",
]


def make_texts(n: int, seed: int = 0, words: tuple[int, int] = (8, 40)) -> list[str]:
    """Finance-flavoured documents with a repeated frame, so a few steps visibly lower the loss."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(*words)))
        texts.append(f"Report {i % 7}: the {rng.choice(WORDS)} desk notes that {body}.")
    return texts


def write_parquet(directory: Path, texts: list[str], name: str = "train-00000.parquet") -> Path:
    """A corpus directory of parquet shards with a `text` column (and an extra `id` column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"text": texts, "id": list(range(len(texts)))}), directory / name)
    return directory
