"""Hand-made run dirs (fingerprint + shard files) for tests of what reads them."""

from __future__ import annotations

import json
from pathlib import Path

from metasynth_hf.corpus.records import Record


def record(i: int, text: str, fp_method: str = "metasynth") -> Record:
    return Record(
        id=f"finance-{fp_method}-s0-{i:07d}",
        text=text,
        domain="finance",
        method=fp_method,
        seed=["bond ladder"],
        topic="fixed income",
        num_tokens=len(text.split()),
        provenance=json.dumps({"doc_index": i}),
    )


def make_run_dir(root: Path, n: int = 4, shards: int = 2, fingerprint: str = "fp1", method: str = "metasynth") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    fields = {
        "domain": "finance",
        "method": method,
        "seeds": {"kind": "keyword"},
        "conductor_model": {"model": "smollm2", "endpoint_models": []},
        "expert_model": {"model": "smollm2", "endpoint_models": []},
        "expert_set": ["domain_expert"],
        "prompt_set": "abc",
    }
    (root / "fingerprint.json").write_text(json.dumps({"fingerprint": fingerprint, "fields": fields}))
    for k in range(shards):
        lines = [
            record(i, f"Document {i} about bonds, yields and duration risk.", method).to_json()
            for i in range(n)
            if i % shards == k
        ]
        (root / f"shard-{k:05d}-of-{shards:05d}.jsonl").write_text("".join(x + "\n" for x in lines))
        (root / f"summary-{k:05d}-of-{shards:05d}.json").write_text(json.dumps({"calls": 5, "cache_hits": 1}))
    (root / "metasynth_run.yaml").write_text(f"num_docs: {n}\nnum_shards: {shards}\n")
    return root
