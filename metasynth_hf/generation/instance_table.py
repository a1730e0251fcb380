"""The instance classification table: one entry per finished document, grouped by category.

Entries are published in document-index order by the engine; a document is shown the
entries it may condition on (index <= its own - lanes) and, once those outgrow
`max_entries`, only the relevant part: the `recent` latest entries plus the entries most
similar to its seeds by embedding cosine similarity.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import itertools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from metasynth_hf.config import InstanceTableConfig
from metasynth_hf.corpus.records import InstanceEntry

if TYPE_CHECKING:
    from metasynth_hf.generation.prompts import PromptSet
    from metasynth_hf.seeds.embed import Embedder

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Bag of hashed words and word bigrams, L2-normalised: no model, fully deterministic."""

    model_id = "hashing"

    def __init__(self, dim: int = 1024):
        self.dim = dim

    def _bucket(self, token: str) -> int:
        return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big") % self.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]:
                out[row, self._bucket(token)] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def make_embedder(name: str):
    """'hashing', or a sentence-transformers model (MiniLM by default, loaded offline)."""
    if name == "hashing":
        return HashingEmbedder()
    from metasynth_hf.seeds.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(name)


def entry_text(entry: InstanceEntry) -> str:
    return f"{entry.category}: {entry.topic}. {entry.summary}"


class TableView(Sequence):
    """The first `length` entries of an append-only table: index order, immutable, O(1) to make."""

    __slots__ = ("_entries", "_indices", "_length")

    def __init__(self, entries: list[InstanceEntry], indices: list[int], length: int):
        self._entries, self._indices, self._length = entries, indices, length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._entries[: self._length][key]
        if key < 0:
            key += self._length
        if not 0 <= key < self._length:
            raise IndexError("TableView index out of range")
        return self._entries[key]

    def __iter__(self):
        return itertools.islice(self._entries, self._length)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Sequence)
            and len(other) == self._length
            and all(a == b for a, b in zip(self, other, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]

    def has_index(self, index: int) -> bool:
        """Whether document `index` is among these entries (binary search)."""
        i = bisect.bisect_left(self._indices, index, 0, self._length)
        return i < self._length and self._indices[i] == index

    def upto(self, index: int) -> int:
        """How many of these entries have an index <= `index` (binary search)."""
        return bisect.bisect_right(self._indices, index, 0, self._length)


class InstanceTable:
    """Published entries plus their embeddings (computed once, only when retrieval is needed)."""

    def __init__(
        self,
        config: InstanceTableConfig,
        embedder_factory: Callable[[], Embedder] | None = None,
        *,
        text_horizon: int | None = None,
        keep_summaries: bool = True,
    ):
        self.config = config
        self.keep_summaries = keep_summaries  # False: older entries lose their summary too
        # Full texts are kept for the latest `text_horizon` entries only (template_prior shows the
        # last few; every view a document in flight holds ends within lanes of the table's end),
        # so memory does not grow with the corpus. Summaries are kept for all entries where the
        # method conditions on them (the conductor's instance table), else dropped with the text.
        self.text_horizon = text_horizon
        self.entries: list[InstanceEntry] = []
        self._indices: list[int] = []
        self._embedder_factory = embedder_factory or (lambda: make_embedder(config.embedder))
        self._embedder: Embedder | None = None
        self._vectors: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry: InstanceEntry) -> None:
        if self.entries and entry.index <= self.entries[-1].index:
            raise ValueError(f"entries must be published in index order: {entry.index} after {self.entries[-1].index}")
        self.entries.append(entry)
        self._indices.append(entry.index)
        old = len(self.entries) - 1 - (self.text_horizon or 0)
        if self.text_horizon is not None and old >= 0 and self.entries[old].text:
            slim = {"text": ""} if self.keep_summaries else {"text": "", "summary": "", "keywords_added": ()}
            self.entries[old] = dataclasses.replace(self.entries[old], **slim)

    def snapshot(self) -> TableView:
        """The entries published so far, as a view that does not grow (O(1), not a copy: a
        run of n documents would otherwise copy n^2 / 2 entries)."""
        return TableView(self.entries, self._indices, len(self.entries))

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return np.asarray(self._embedder.encode(texts), dtype=np.float32)

    def relevant(self, visible: Sequence[InstanceEntry], query: str) -> list[InstanceEntry]:
        """All of `visible` if it fits, else the recent ones plus the most similar to `query`."""
        limit = self.config.max_entries
        if len(visible) <= limit:
            return list(visible)
        recent_n = min(self.config.recent, limit)
        recent = list(visible[len(visible) - recent_n :]) if recent_n else []
        older = list(visible[: len(visible) - recent_n])
        todo = [e for e in older if e.index not in self._vectors]
        # One encode call for the new entries and the query. On the event loop on purpose: in a
        # worker thread the embedder's Python part fights the loop for the GIL (measured: a
        # 300-document MetaSynth run took 105 s instead of 26 s).
        vectors = self._embed([entry_text(e) for e in todo] + [query])
        self._vectors.update(zip((e.index for e in todo), vectors[:-1], strict=True))
        scores = np.array([float(self._vectors[e.index] @ vectors[-1]) for e in older])
        # Stable order: by score, ties by index, so the same inputs always pick the same rows.
        order = sorted(range(len(older)), key=lambda j: (-round(cast(float, scores[j]), 6), older[j].index))
        picked = sorted((older[j] for j in order[: limit - recent_n]), key=lambda e: e.index)
        return picked + recent


def by_category(entries: Sequence[InstanceEntry]) -> list[tuple[str, list[InstanceEntry]]]:
    """Entries grouped by category, categories in first-seen order (entries keep theirs)."""
    groups: dict[str, list[InstanceEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.category or "general", []).append(entry)
    return list(groups.items())


def render_table(prompts: PromptSet, entries: Sequence[InstanceEntry], *, summary_chars: int = 240) -> str:
    """The table as the conductor reads it (`prompts/conductor/instance_table.jinja2`)."""
    return prompts.render("conductor/instance_table", groups=by_category(entries), summary_chars=summary_chars)
