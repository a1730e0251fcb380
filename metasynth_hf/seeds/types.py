"""The seed types the scaffold consumes, and the one source of seeded randomness.

Seeds must be a pure function of (run seed, document index, history): reruns are answered
from the response cache and shards on different machines must agree. So every random draw
here comes from `rng_for(...)`, a `random.Random` seeded by a hash of its parts, never
from global random state or from the iteration order of unordered containers.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class SeedDocument:
    """A real document a synthetic one is seeded with (topic-aware seeds)."""

    id: str
    text: str
    topic: str | None = None


@dataclass(frozen=True)
class SeedSet:
    """What one document is conditioned on: keywords, and for topic-aware seeds, documents."""

    keywords: tuple[str, ...]
    documents: tuple[SeedDocument, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        """The record's `seed` field: seed document ids if there are any, else the keywords."""
        if self.documents:
            return tuple(doc.id for doc in self.documents)
        return self.keywords


@runtime_checkable
class FinishedDoc(Protocol):
    """The part of an instance-table entry that seed selection reads."""

    @property
    def index(self) -> int: ...

    @property
    def topic(self) -> str | None: ...

    @property
    def seed_ids(self) -> Sequence[str]: ...


@runtime_checkable
class Seeder(Protocol):
    """Chooses the seeds of document `doc_index`, given the finished documents it may see."""

    def seeds_for(self, doc_index: int, history: Sequence[FinishedDoc]) -> SeedSet: ...

    def expand(self, new_keywords: Iterable[str], *, source: int | None = None) -> None:
        """Keywords document `source` added (they reach documents that can see it)."""
        ...


def stable_hash(*parts: object) -> int:
    """A 64-bit integer from JSON-serialisable parts; equal in every process and Python."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return int.from_bytes(hashlib.sha256(blob.encode("utf-8")).digest()[:8], "big")


def rng_for(*parts: object) -> random.Random:
    """A private random generator seeded by `stable_hash(parts)`."""
    return random.Random(stable_hash(*parts))


def normalise_keyword(keyword: str) -> str:
    """The comparison key of a keyword: case-folded, inner whitespace collapsed."""
    return " ".join(keyword.split()).casefold()
