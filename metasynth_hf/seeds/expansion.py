"""Keywords added during a run (the paper's seed expansion), kept reproducible.

Lanes finish documents in a timing-dependent order, so "everything expanded so far" would
make seeds depend on timing. Instead each expansion may name the document that produced it
(`source`): it becomes visible to a later document only once that source is in the later
document's history, which is exactly what the document may condition on. Expansions
without a source are visible as soon as they are added (fine for sequential runs).
Visible keywords are always listed in sorted order, never in arrival order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from metasynth_hf.seeds.types import FinishedDoc, normalise_keyword

logger = logging.getLogger(__name__)


class ExpansionPool:
    """Expanded keywords with the documents that introduced them (and their spellings)."""

    def __init__(self, exclude: Iterable[str] = ()) -> None:
        self._exclude = {normalise_keyword(k) for k in exclude}
        # comparison key -> source document (None: no source) -> spellings seen
        self._entries: dict[str, dict[int | None, set[str]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, keywords: Iterable[str], source: int | None = None) -> int:
        """Add keywords (blank and base ones ignored); returns how many keys were new."""
        added = 0
        for keyword in keywords:
            if not isinstance(keyword, str):
                raise TypeError(f"expanded keywords must be strings, got {keyword!r}")
            key = normalise_keyword(keyword)
            if not key or key in self._exclude:
                continue
            added += key not in self._entries
            spellings = self._entries.setdefault(key, {}).setdefault(source, set())
            spellings.add(" ".join(keyword.split()))
        if added:
            logger.debug("expanded seed keywords by %d (source %s)", added, source)
        return added

    def visible(self, history: Sequence[FinishedDoc]) -> tuple[str, ...]:
        """Expanded keywords a document with this history may use, sorted.

        A keyword's spelling is the smallest one among its visible sources, so neither the
        arrival order nor invisible sources change what a document sees.
        """
        if not self._entries:  # nothing expanded yet (always, for template baselines)
            return ()
        # The engine's history is a view of the instance table that answers membership in
        # O(log n); a plain sequence is scanned once. Only the sources of entries are asked.
        has = getattr(history, "has_index", None)
        if has is None:
            indices = {doc.index for doc in history}
            has = indices.__contains__
        out = []
        for key in sorted(self._entries):
            spellings = [
                spelling for src, group in self._entries[key].items() if src is None or has(src) for spelling in group
            ]
            if spellings:
                out.append(min(spellings))
        return tuple(out)
