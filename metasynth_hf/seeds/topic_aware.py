"""Topic-aware seeds: real seed documents chosen by an adaptive k-NN over embeddings.

The rule (paper: "every M documents, retrieve new seeds whose topic labels differ from
those of the last M documents"), made reproducible:

* Documents come in blocks of M = `refresh_every`; all documents of a block share one
  seed neighbourhood, chosen when the block starts.
* Block b excludes the topics of the (up to) M latest finished documents that its first
  document sees (history entries with index <= b*M - lanes: with lanes > 1 the block's later
  documents see more, and would otherwise draw other anchors). A finished document's topics are the topic labels
  of its seed documents (looked up from its `seed_ids`), plus its own `topic` if that is
  one of the corpus labels. The anchor is drawn from a non-excluded topic (topic first,
  uniformly, so small topics get their turn; then a document within it).
* Seed documents are new: rows that the last `reuse_window` documents before the block
  used as seeds are skipped (anchor and neighbours) while the allowed topics have unused
  rows. The window bounds the per-call cost on long runs (the history is the whole table).
* k adapts: neighbours of the anchor (faiss inner product on unit vectors = cosine) join
  in order while they pass `rule`, between `k_min` and `k_max` documents in all:
  `absolute`: cosine >= threshold; `relative`: cosine >= threshold * the nearest
  neighbour's cosine; `same_topic`: cosine >= threshold and the anchor's topic label.

The draw for a block is seeded by (run seed, block, excluded topics), so the same history
gives the same seeds in every process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from metasynth_hf.config_io import StrictConfig, format_validation_error
from metasynth_hf.errors import ConfigError, missing_dependency
from metasynth_hf.models import EMBEDDED_EMBEDDING_MODEL
from metasynth_hf.seeds import topics as topic_model
from metasynth_hf.seeds.corpus import CorpusSource, load_corpus
from metasynth_hf.seeds.embed import Embedder, SentenceTransformerEmbedder, embed_texts
from metasynth_hf.seeds.expansion import ExpansionPool
from metasynth_hf.seeds.types import FinishedDoc, SeedDocument, SeedSet, rng_for

logger = logging.getLogger(__name__)


class TopicAwareConfig(StrictConfig):
    """Configuration of topic-aware seeds; YAML keys equal these fields."""

    text_column: str = "text"
    id_column: str | None = None
    split: str = "train"
    max_docs: int | None = Field(None, ge=2, description="use only the first rows")
    min_chars: int = Field(50, ge=1, description="drop shorter texts (headings, stubs)")
    max_chars_per_doc: int | None = Field(2000, ge=1, description="cut seed texts to this")
    embedding_model: str = EMBEDDED_EMBEDDING_MODEL
    batch_size: int = Field(64, ge=1)
    device: str = Field("cpu", description="torch device for embedding, e.g. cuda")
    cache_dir: Path | None = Field(None, description="share embeddings between shards/reruns")
    num_topics: int | None = Field(None, ge=2, description="k-means clusters; None: sqrt(n/2)")
    label_terms: int = Field(3, ge=1, description="top terms per topic label")
    refresh_every: int = Field(8, ge=1, description="M: new seeds every M documents")
    k_min: int = Field(2, ge=1, description="fewest seed documents per neighbourhood")
    k_max: int = Field(6, ge=1, description="most seed documents per neighbourhood")
    threshold: float = Field(0.45, ge=-1.0, le=1.0, description="cosine bound of the rule")
    rule: Literal["absolute", "relative", "same_topic"] = "absolute"
    reuse_window: int | None = Field(
        4096, ge=0, description="seeds of this many latest documents are not reused (None: all)"
    )
    keywords_per_doc: int = Field(3, ge=0, description="keywords taken from each seed doc")
    expanded_per_doc: int = Field(1, ge=0, description="expanded keywords added per document")

    @model_validator(mode="after")
    def _check_k(self) -> TopicAwareConfig:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


def _accepts(rule: str, threshold: float, sim: float, nearest: float, same: bool) -> bool:
    if rule == "relative":
        return sim >= threshold * nearest
    if rule == "same_topic":
        return same and sim >= threshold
    return sim >= threshold


class TopicAwareSeeder:
    """Seeds from a real corpus: `TopicAwareSeeder(corpus, config, seed=0)`.

    `corpus` is a `datasets.Dataset`/`DatasetDict`, parquet/jsonl/csv paths (or a folder),
    or a Hub id. Options may be given as a `TopicAwareConfig`, a mapping, or keywords.
    """

    def __init__(
        self,
        corpus: CorpusSource,
        config: TopicAwareConfig | dict[str, Any] | None = None,
        *,
        seed: int = 0,
        lanes: int = 1,
        embedder: Embedder | None = None,
        **options: Any,
    ) -> None:
        self.config = _make_config(config, options)
        self.lanes = lanes  # the engine's window in indices: document i sees documents <= i - lanes
        cfg = self.config
        loaded = load_corpus(
            corpus,
            text_column=cfg.text_column,
            id_column=cfg.id_column,
            split=cfg.split,
            max_docs=cfg.max_docs,
            min_chars=cfg.min_chars,
            max_chars=cfg.max_chars_per_doc,
        )
        self.seed = seed
        self.ids, self.texts = loaded.ids, loaded.texts
        self._row = {doc_id: row for row, doc_id in enumerate(self.ids)}
        if embedder is None:
            embedder = SentenceTransformerEmbedder(cfg.embedding_model, batch_size=cfg.batch_size, device=cfg.device)
        self.embeddings = embed_texts(embedder, self.texts, cfg.cache_dir)
        self._build_topics()
        self._index = _flat_ip_index(self.embeddings)
        self._pool = ExpansionPool()
        self._neighbourhood = lru_cache(maxsize=64)(self._choose)
        logger.info("topic-aware seeds: %d documents, %d topics", len(self.ids), len(self.topic_labels))

    def _build_topics(self) -> None:
        n = len(self.texts)
        num_topics = min(self.config.num_topics or topic_model.default_num_topics(n), n)
        # A fixed clustering seed: topic labels belong to the corpus, not to the run.
        assignment = topic_model.cluster(self.embeddings, num_topics, seed=0)
        self._term_stats = topic_model.term_stats(self.texts, assignment, num_topics)
        self.topic_labels = topic_model.label_clusters(self._term_stats, self.config.label_terms)
        self.topic_of = tuple(self.topic_labels[c] for c in assignment.tolist())
        self._members: dict[str, list[int]] = {label: [] for label in self.topic_labels}
        for row, label in enumerate(self.topic_of):
            self._members[label].append(row)

    def topics_of(self, doc: FinishedDoc) -> set[str]:
        """Corpus topic labels a finished document stands for (seed docs' topics, own topic)."""
        found = {self.topic_of[self._row[s]] for s in doc.seed_ids if s in self._row}
        if doc.topic in self._members:
            found.add(doc.topic)
        return found

    def _before_block(self, doc_index: int, history: Sequence[FinishedDoc]) -> list[FinishedDoc]:
        """The history the block's first document sees, oldest first: entries with index <=
        start - lanes. Later documents of the block see more (with lanes > 1), but the block's
        neighbourhood is decided on what all of them share, so every one of them agrees on it."""
        start = (doc_index // self.config.refresh_every) * self.config.refresh_every
        window = self.config.reuse_window
        keep = None if window is None else max(self.config.refresh_every, window)
        upto = getattr(history, "upto", None)
        if upto is not None:  # the engine's table view: index order already, binary search
            end = upto(start - self.lanes)
            return list(history[0 if keep is None else max(0, end - keep) : end])
        indices = np.fromiter((d.index for d in history), dtype=np.int64, count=len(history))
        before = np.flatnonzero(indices <= start - self.lanes)
        ordered = [history[i] for i in before[np.argsort(indices[before], kind="stable")].tolist()]
        return ordered if keep is None else ordered[len(ordered) - keep :]

    def excluded_topics(self, doc_index: int, history: Sequence[FinishedDoc]) -> tuple[str, ...]:
        """Topics of the last M finished documents before this document's block, sorted."""
        return self._excluded(self._before_block(doc_index, history))

    def used_rows(self, doc_index: int, history: Sequence[FinishedDoc]) -> frozenset[int]:
        """Corpus rows used as seeds by the last `reuse_window` documents before the block."""
        return self._used(self._before_block(doc_index, history))

    def _excluded(self, before: list[FinishedDoc]) -> tuple[str, ...]:
        recent = before[-self.config.refresh_every :]
        return tuple(sorted(set().union(*(self.topics_of(d) for d in recent))))

    def _used(self, before: list[FinishedDoc]) -> frozenset[int]:
        window = self.config.reuse_window
        rows: set[int | None] = set()
        for doc in before if window is None else before[len(before) - window :]:
            rows.update(map(self._row.get, doc.seed_ids))
        rows.discard(None)
        return frozenset(rows)  # type: ignore[arg-type]

    def seeds_for(self, doc_index: int, history: Sequence[FinishedDoc]) -> SeedSet:
        """The seed documents of this document's block, and keywords drawn from them."""
        if doc_index < 0:
            raise ValueError(f"doc_index must be >= 0, got {doc_index}")
        block = doc_index // self.config.refresh_every
        before = self._before_block(doc_index, history)
        rows = self._neighbourhood(block, self._excluded(before), self._used(before))
        documents = tuple(SeedDocument(id=self.ids[r], text=self.texts[r], topic=self.topic_of[r]) for r in rows)
        keywords: list[str] = []
        for row in rows:
            for kw in topic_model.document_keywords(self.texts[row], self._term_stats, self.config.keywords_per_doc):
                if kw not in keywords:
                    keywords.append(kw)
        visible = [k for k in self._pool.visible(history) if k not in keywords]
        if visible and self.config.expanded_per_doc:
            rng = rng_for("topic-expanded", self.seed, doc_index, visible)
            keywords += rng.sample(visible, min(self.config.expanded_per_doc, len(visible)))
        return SeedSet(keywords=tuple(keywords), documents=documents)

    def expand(self, new_keywords: Iterable[str], *, source: int | None = None) -> None:
        """Add expanded keywords; with `source`, only documents that see it draw them."""
        self._pool.add(new_keywords, source)

    def _choose(self, block: int, excluded: tuple[str, ...], used: frozenset[int]) -> tuple[int, ...]:
        """Rows of one neighbourhood: anchor first, then its accepted neighbours.

        Seed documents are new: rows used by earlier blocks are skipped while unused rows
        remain in the allowed topics (then reuse is allowed, and logged).
        """
        rng = rng_for("topic-anchor", self.seed, block, excluded)
        allowed = [t for t in self.topic_labels if t not in excluded]
        if not allowed:
            logger.warning(
                "block %d: every topic was used by the last %d documents; reusing topics "
                "(raise num_topics or lower refresh_every)",
                block,
                self.config.refresh_every,
            )
            allowed = list(self.topic_labels)
        fresh = [t for t in allowed if any(r not in used for r in self._members[t])]
        if not fresh:
            logger.info("block %d: all seed documents of the allowed topics used; reusing", block)
            used = frozenset()
            fresh = [t for t in allowed if self._members[t]]
        topic = rng.choice(fresh)
        anchor = rng.choice([r for r in self._members[topic] if r not in used])
        return (anchor, *self._neighbours(anchor, used))

    def _neighbours(self, anchor: int, used: frozenset[int]) -> list[int]:
        cfg = self.config
        pairs = self._search(anchor, used, cfg.k_max - 1)
        chosen: list[int] = []
        for sim, row in pairs:
            same = self.topic_of[row] == self.topic_of[anchor]
            if len(chosen) + 1 >= cfg.k_min and not _accepts(cfg.rule, cfg.threshold, sim, pairs[0][0], same):
                break
            chosen.append(row)
        return chosen

    def _search(self, anchor: int, used: frozenset[int], want: int) -> list[tuple[float, int]]:
        """The `want` nearest unused rows to the anchor, (cosine, row), nearest first."""
        total = len(self.ids)
        depth = min(total, want + 1 + min(len(used), 4 * want))
        while True:
            sims, rows = self._index.search(self.embeddings[anchor : anchor + 1], depth)
            pairs = [
                (float(s), int(r))
                for s, r in zip(sims[0], rows[0], strict=True)
                if r not in (anchor, -1) and r not in used
            ]
            if len(pairs) >= want or depth >= total:
                return pairs[:want]
            depth = min(total, depth * 2)


def _make_config(config: TopicAwareConfig | dict[str, Any] | None, options: dict) -> TopicAwareConfig:
    data = config.model_dump() if isinstance(config, TopicAwareConfig) else dict(config or {})
    data.update(options)
    try:
        return TopicAwareConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source="topic-aware seeds")) from exc


def _flat_ip_index(embeddings: np.ndarray):
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("faiss-cpu", "metrics") from exc
    index = faiss.IndexFlatIP(embeddings.shape[1])
    index.add(embeddings)
    return index
