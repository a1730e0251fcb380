"""One analysis of a document, shared by every rule: words, their hashes, n-gram hashes.

Words are lowercased `\\w+` runs (punctuation and case do not hide a duplicate or a leaked
benchmark passage). Hashes are deterministic 64-bit values (blake2b per distinct word, then a
position-weighted sum per n-gram in numpy), so decisions are the same on every run and machine,
and the per-document cost is a few vector operations instead of one Python call per n-gram.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

WORD_RE = re.compile(r"\w+")
_MAX_NGRAM = 64
#: Fixed odd multipliers, one per position in an n-gram (seeded: never change them, or the
#: decisions of earlier runs stop being reproducible).
_POSITION_MULT = np.random.default_rng(20250417).integers(1, 2**63, size=_MAX_NGRAM, dtype=np.uint64) * np.uint64(
    2
) + np.uint64(1)
_WORD_CACHE_LIMIT = 2_000_000


class WordHasher:
    """Maps words to 64-bit hashes, caching the (Zipf-small) vocabulary between documents."""

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def __call__(self, words: list[str]) -> np.ndarray:
        cache = self._cache
        missing = [w for w in set(words) if w not in cache]
        if len(cache) + len(missing) > _WORD_CACHE_LIMIT:
            cache.clear()
            missing = list(set(words))
        for word in missing:
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            cache[word] = int.from_bytes(digest, "little")
        return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


def _raw_sums(word_hashes: np.ndarray, n: int, cache: dict[int, np.ndarray]) -> np.ndarray:
    """Position-weighted sums over every window of `n` words, extended from the longest
    cached shorter window (n-gram sizes 2..13 then cost one multiply-add each)."""
    if n in cache:
        return cache[n]
    start = max((m for m in cache if m < n), default=0)
    acc = cache.get(start, np.empty(0, dtype=np.uint64))
    for m in range(start + 1, n + 1):
        count = max(len(word_hashes) - m + 1, 0)
        term = word_hashes[m - 1 : m - 1 + count] * _POSITION_MULT[m - 1]
        acc = term if m == 1 else acc[:count] + term
        cache[m] = acc
    return acc


def _finish(raw: np.ndarray) -> np.ndarray:
    # xorshift so the low bits depend on every word too (the sum alone mixes upward only)
    return raw ^ (raw >> np.uint64(31))


def ngram_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """Hash of every run of `n` consecutive words (empty when the text is shorter)."""
    if not 1 <= n <= _MAX_NGRAM:
        raise ValueError(f"n-gram size must be in 1..{_MAX_NGRAM}, got {n}")
    return _finish(_raw_sums(word_hashes, n, {}))


@dataclass
class Doc:
    """A record's id and text plus lazily computed, cached analyses."""

    id: str
    text: str
    hasher: WordHasher
    _words: list[str] | None = field(default=None, repr=False)
    _hashes: np.ndarray | None = field(default=None, repr=False)
    _ngrams: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _raw: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    #: Per-rule scratch space (e.g. the MinHash computed by check, reused by keep).
    scratch: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def words(self) -> list[str]:
        if self._words is None:
            self._words = WORD_RE.findall(self.text.lower())
        return self._words

    @property
    def word_hashes(self) -> np.ndarray:
        if self._hashes is None:
            self._hashes = self.hasher(self.words)
        return self._hashes

    def ngrams(self, n: int) -> np.ndarray:
        """Cached n-gram hashes (dedup shingles, decontamination and repetition share them)."""
        if n not in self._ngrams:
            if not 1 <= n <= _MAX_NGRAM:
                raise ValueError(f"n-gram size must be in 1..{_MAX_NGRAM}, got {n}")
            self._ngrams[n] = _finish(_raw_sums(self.word_hashes, n, self._raw))
        return self._ngrams[n]


class Verdict(NamedTuple):
    """Why a document was removed: a stable rule name (counted) and a human detail (listed)."""

    rule: str
    detail: str


def passage_hashes(text: str, n: int, hasher: WordHasher) -> tuple[int, np.ndarray]:
    """(word count, n-gram hashes) of one passage, for building lookup indexes."""
    words = WORD_RE.findall(text.lower())
    return len(words), ngram_hashes(hasher(words), n) if words else np.empty(0, np.uint64)
