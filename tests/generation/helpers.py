"""Run the engine on the scripted model and read what it wrote."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from metasynth_hf.config import RunConfig
from metasynth_hf.generation.engine import RunSummary, generate
from tests.generation.fakes import AnyRole, ScriptedModel


def make_config(out: Path, **fields: Any) -> RunConfig:
    base: dict[str, Any] = {
        "num_docs": 3,
        "lanes": 2,
        "output_dir": str(out),
        "instance_table": {"embedder": "hashing", "max_entries": 4, "recent": 2},
    }
    base.update(fields)
    return RunConfig.model_validate(base)


def run(
    out: Path, model: ScriptedModel | None = None, *, seeder: Any = None, **fields: Any
) -> tuple[RunSummary, list[dict]]:
    config = make_config(out, **fields)
    models = AnyRole(model or ScriptedModel(), method=config.method)
    summary = asyncio.run(generate(config, models=models, seeder=seeder))
    return summary, read_records(out)


def read_records(out: Path) -> list[dict]:
    records = []
    for shard in sorted(Path(out).glob("shard-*.jsonl")):
        for line in shard.read_text().splitlines():
            record = json.loads(line)
            record["prov"] = json.loads(record["provenance"])
            records.append(record)
    return records


def shard_bytes(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(Path(out).glob("shard-*.jsonl")))
