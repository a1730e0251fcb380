"""Exact duplicates by hash, before any other rule: the cheapest rule removes the most.

A hash is remembered at first sight, whatever later rules decide about that first copy, so a
bad document cannot come back as its own duplicate. Memory: one 64-bit hash and one id per
distinct document.
"""

from __future__ import annotations

import hashlib

from metasynth_hf.clean.config import ExactDedupConfig
from metasynth_hf.clean.text import Doc, Verdict


def text_key(text: str, normalize: bool) -> int:
    """64-bit blake2b of the (optionally lowercased, whitespace-collapsed) text."""
    if normalize:
        text = " ".join(text.lower().split())
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class ExactDeduplicator:
    """Keeps the first document of each set of identical texts."""

    section = "exact"

    def __init__(self, config: ExactDedupConfig):
        self.config = config
        self._first: dict[int, str] = {}

    def check(self, doc: Doc) -> Verdict | None:
        key = text_key(doc.text, self.config.normalize)
        first = self._first.get(key)
        if first is None:
            self._first[key] = doc.id
            return None
        return Verdict("dedup.exact", f"same text as {first}")

    def keep(self, doc: Doc) -> None:
        """Registered in check (first sight counts, kept or not)."""
