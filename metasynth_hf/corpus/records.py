"""The output record (one JSONL line per document) and the instance-table entry.

Schema (flat, the same for every method, so shards of all methods load into one Arrow table):
`RECORD_FIELDS`, each with its one-line meaning in `FIELD_MEANINGS` (the dataset card's
"Dataset structure" section prints them).

Why `provenance` is a JSON string and not a nested struct: its keys vary by method and grow
with the scaffold (roles per run, a list of fallbacks of varying shape). As a string, shards
of every method and version share one Arrow schema and the builder's `Features` never change;
`json.loads(record["provenance"])` gives: doc_index, status (final, final_fallback,
max_turns, token_budget, empty, or truncated: the text stops mid-sentence where a cap cut it,
max_tokens (its reply's finish reason was "length") or stop.max_words with no sentence end to
go back to; how the loop ended is then in agency.final_by), final_source, experts_called (in order), loop_turns,
agency (conductor_turns, scaffold_turns, scaffold_reasons, conductor_instructions,
expert_calls, final_by: see `generation/agency.py`), turns, fallbacks (turn, reason, raw reply
excerpt), reasks (turns the conductor got right when asked again), tokens_by_role ({role:
calls, prompt_tokens, completion_tokens}), models, prompt_set (hash), config_fingerprint,
wall_time_s, conditioned_on, seeds, instance (category, summary, keywords_added), memory.
Template baselines have no conductor and no `agency`.

`wall_time_s` is the sum of the document's call latencies as first paid (a cached reply keeps
its original latency), so a rerun from the cache writes byte-identical records; the real wall
time of a run is in its summary file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
#: Every field of a record, with what it holds.
FIELD_MEANINGS = {
    "id": "`{domain}-{method}-s{seed}-{index:07d}`, stable across reruns and unique across shards",
    "text": "the document; for `instruct` the rendering of instruction + response",
    "domain": "the domain the document was written for",
    "method": "the generation method that made it",
    "seed": "seed keywords, or seed document ids (topic-aware seeds, `template_icl`), or the source "
    "document id (`instruct`)",
    "topic": "the Topic Labeler's label (baselines: the seed document's topic or empty)",
    "num_tokens": "tokens of `text` under the run's `tokenizer` setting",
    "provenance": "a JSON string: how the document was made (status, experts called, models, prompt-set "
    "hash, tokens per role)",
    "instruction": "the instruction (`instruct` only, else null)",
    "response": "the response (`instruct` only, else null)",
}
RECORD_FIELDS = tuple(FIELD_MEANINGS)


def rows_fingerprint(rows: Iterable[tuple[str | None, str | None]]) -> str:
    """`rows:<16 hex>`, a hash of a corpus's (id, text) pairs that ignores their order (files,
    shards and lanes may order rows differently) but not their number: what `metasynth stats`
    records per corpus and `metasynth push` matches against the rows it publishes."""
    digests = sorted(hashlib.sha256(json.dumps([i, t], ensure_ascii=False).encode()).digest() for i, t in rows)
    combined = hashlib.sha256()
    for digest in digests:
        combined.update(digest)
    return f"rows:{combined.hexdigest()[:16]}"


@dataclass(frozen=True)
class Record:
    """One finished document, as written to the shard file."""

    id: str
    text: str
    domain: str
    method: str
    seed: list[str]
    topic: str
    num_tokens: int
    provenance: str
    instruction: str | None = None
    response: str | None = None

    def to_json(self) -> str:
        # by hand, not dataclasses.asdict (which deep-copies the seed list on every record)
        data = {name: getattr(self, name) for name in RECORD_FIELDS}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Record:
        data = json.loads(line)
        missing = [name for name in RECORD_FIELDS if name not in data]
        if missing:
            raise ValueError(f"record lacks field(s) {missing}")
        return cls(**{name: data[name] for name in RECORD_FIELDS})

    @property
    def provenance_dict(self) -> dict[str, Any]:
        """The parsed provenance (parsed once per record: the engine reads it per document)."""
        cached = self.__dict__.get("_provenance_dict")
        if cached is None:
            cached = json.loads(self.provenance)
            object.__setattr__(self, "_provenance_dict", cached)
        return cached


def dump_provenance(data: dict[str, Any]) -> str:
    """Stable JSON (sorted keys, rounded floats already applied by the caller)."""
    return json.dumps({"schema_version": SCHEMA_VERSION, **data}, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class InstanceEntry:
    """A row of the instance table: what later documents must differ from.

    Also what seed selection reads (`index`, `topic`, `seed_ids`: see seeds.FinishedDoc).
    """

    index: int
    id: str
    topic: str
    category: str
    summary: str
    seed_ids: tuple[str, ...] = ()
    keywords_added: tuple[str, ...] = ()
    text: str = field(default="", repr=False)

    def instance_fields(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "summary": self.summary,
            "keywords_added": list(self.keywords_added),
        }

    @classmethod
    def from_record(cls, record: Record) -> InstanceEntry:
        """Rebuild the entry of a finished record (resume replays the table from shards)."""
        prov = record.provenance_dict
        instance = prov.get("instance", {})
        return cls(
            index=int(prov["doc_index"]),
            id=record.id,
            topic=record.topic,
            category=instance.get("category", ""),
            summary=instance.get("summary", ""),
            seed_ids=tuple(record.seed),
            keywords_added=tuple(instance.get("keywords_added", ())),
            text=record.text,
        )
