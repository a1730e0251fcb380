"""Keyword-based seeds: random draws from a domain keyword list.

Draws walk seeded permutations of the keyword list ("shuffle the deck, deal k per
document, reshuffle when the deck runs out"), so every keyword is used once before any is
used twice, and document `i`'s keywords depend only on (seed, i): shards and reruns agree
without talking to each other. Expanded keywords (see `ExpansionPool`) are added on top.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from metasynth_hf.errors import ConfigError
from metasynth_hf.seeds.domains import Domain, resolve_domain
from metasynth_hf.seeds.expansion import ExpansionPool
from metasynth_hf.seeds.types import FinishedDoc, SeedSet, rng_for

logger = logging.getLogger(__name__)


class KeywordSeeder:
    """Seeds of `k` domain keywords per document, plus up to `expanded_per_doc` expanded ones.

    `domain` is a shipped domain name, a `Domain` (see `custom_domain`), a keyword file
    path, or a mapping {name, description, keywords[, persona_hints]} from a run config.
    """

    def __init__(
        self,
        domain: Domain | str | Path | dict[str, Any],
        *,
        k: int = 3,
        seed: int = 0,
        expanded_per_doc: int = 1,
    ) -> None:
        self.domain = resolve_domain(domain)
        n = len(self.domain.keywords)
        if not 1 <= k <= n:
            raise ConfigError(
                f"seeds.k: must be between 1 and the number of keywords of domain {self.domain.name!r} ({n}), got {k}"
            )
        if expanded_per_doc < 0:
            raise ConfigError(f"seeds.expanded_per_doc: must be >= 0, got {expanded_per_doc}")
        self.k = k
        self.seed = seed
        self.expanded_per_doc = expanded_per_doc
        self._pool = ExpansionPool(exclude=self.domain.keywords)
        self._permutation = lru_cache(maxsize=8)(self._make_permutation)

    @property
    def keywords(self) -> tuple[str, ...]:
        """The domain's base keyword list."""
        return self.domain.keywords

    def _make_permutation(self, epoch: int) -> tuple[int, ...]:
        order = list(range(len(self.domain.keywords)))
        rng_for("keyword-deck", self.seed, self.domain.name, epoch).shuffle(order)
        return tuple(order)

    def _at(self, position: int) -> str:
        n = len(self.domain.keywords)
        return self.domain.keywords[self._permutation(position // n)[position % n]]

    def base_keywords(self, doc_index: int) -> tuple[str, ...]:
        """The `k` base keywords of a document; distinct even across a reshuffle boundary."""
        if doc_index < 0:
            raise ValueError(f"doc_index must be >= 0, got {doc_index}")
        chosen: list[str] = []
        position = doc_index * self.k
        while len(chosen) < self.k:
            keyword = self._at(position)
            if keyword not in chosen:
                chosen.append(keyword)
            position += 1
        return tuple(chosen)

    def seeds_for(self, doc_index: int, history: Sequence[FinishedDoc]) -> SeedSet:
        """Base keywords of `doc_index`, plus expanded keywords its history makes visible."""
        keywords = list(self.base_keywords(doc_index))
        visible = self._pool.visible(history)
        if visible and self.expanded_per_doc:
            rng = rng_for("keyword-expanded", self.seed, doc_index, visible)
            keywords += rng.sample(visible, min(self.expanded_per_doc, len(visible)))
        return SeedSet(keywords=tuple(keywords))

    def expand(self, new_keywords: Iterable[str], *, source: int | None = None) -> None:
        """Add related keywords found during the run; pass `source` (the producing document's
        index) so that only documents that see that document in their history draw them."""
        self._pool.add(new_keywords, source)

    def expanded_keywords(self, history: Sequence[FinishedDoc] = ()) -> tuple[str, ...]:
        """Expanded keywords visible with `history` (all source-less ones with no history)."""
        return self._pool.visible(history)
