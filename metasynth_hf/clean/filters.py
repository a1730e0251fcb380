"""Length and Gopher repetition filters: stateless checks of one document.

Repetition follows Gopher (Rae et al. 2021, table A1) as datatrove implements it, with two
deliberate differences: character fractions are measured over word characters (punctuation
and spacing do not dilute a loop), and n-grams are hashed in numpy rather than joined as
strings, so the ten n-gram rules cost a few vector operations per document. "Top n-gram"
only counts n-grams that occur at least twice (a unique n-gram is not a repetition).
"""

from __future__ import annotations

import re

import numpy as np

from metasynth_hf.clean.config import LengthConfig, RepetitionConfig
from metasynth_hf.clean.text import Doc, Verdict

_PARAGRAPH_RE = re.compile(r"\n\s*\n")


class LengthFilter:
    """Drops documents with too few or too many words."""

    section = "length"

    def __init__(self, config: LengthConfig):
        self.config = config

    def check(self, doc: Doc) -> Verdict | None:
        count = len(doc.words)
        if self.config.min_words is not None and count < self.config.min_words:
            return Verdict("length.too_short", f"{count} words < min_words {self.config.min_words}")
        if self.config.max_words is not None and count > self.config.max_words:
            return Verdict("length.too_long", f"{count} words > max_words {self.config.max_words}")
        return None

    def keep(self, doc: Doc) -> None:
        """Stateless."""


def duplicate_stats(parts: list[str]) -> tuple[int, int]:
    """(number of repeated parts, characters in them); the first occurrence is not counted."""
    seen: set[str] = set()
    repeats = chars = 0
    for part in parts:
        if part in seen:
            repeats += 1
            chars += len(part)
        else:
            seen.add(part)
    return repeats, chars


def top_ngram_char_frac(doc: Doc, n: int, lengths: np.ndarray, total: int) -> float:
    """Share of word characters taken by the most frequent repeated n-gram."""
    hashes = doc.ngrams(n)
    if len(hashes) < 2:
        return 0.0
    ordered = np.sort(hashes)
    run_ends = np.append(np.flatnonzero(ordered[1:] != ordered[:-1]), len(ordered) - 1)
    counts = np.diff(run_ends, prepend=-1)
    best = int(np.argmax(counts))
    if counts[best] < 2:
        return 0.0
    start = int(np.argmax(hashes == ordered[run_ends[best]]))
    return float(lengths[start : start + n].sum()) * int(counts[best]) / total


def dup_ngram_char_frac(doc: Doc, n: int, lengths: np.ndarray, total: int) -> float:
    """Share of word characters covered by repeated (not first) occurrences of n-grams."""
    hashes = doc.ngrams(n)
    if len(hashes) < 2:
        return 0.0
    order = np.argsort(hashes, kind="stable")  # equal hashes keep text order: first comes first
    ordered = hashes[order]
    starts = np.sort(order[1:][ordered[1:] == ordered[:-1]])
    if not len(starts):
        return 0.0
    delta = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.add.at(delta, starts, 1)
    np.add.at(delta, starts + n, -1)
    covered = np.cumsum(delta[:-1]) > 0
    return float(lengths[covered].sum()) / total


class RepetitionFilter:
    """Drops looping or boilerplate-heavy documents (Gopher repetition rules)."""

    section = "repetition"

    def __init__(self, config: RepetitionConfig):
        self.config = config

    def check(self, doc: Doc) -> Verdict | None:
        text = doc.text.strip()
        if not text:
            return None
        verdict = self._check_blocks(text)
        if verdict is not None or not doc.words:
            return verdict
        lengths = np.fromiter(map(len, doc.words), dtype=np.int64, count=len(doc.words))
        total = int(lengths.sum())
        for n, limit in sorted(self.config.top_ngram_char_frac.items()):
            frac = top_ngram_char_frac(doc, n, lengths, total)
            if frac > limit:
                return Verdict(f"repetition.top_{n}gram", f"top {n}-gram covers {frac:.2f} > {limit}")
        for n, limit in sorted(self.config.dup_ngram_char_frac.items()):
            frac = dup_ngram_char_frac(doc, n, lengths, total)
            if frac > limit:
                return Verdict(f"repetition.dup_{n}gram", f"repeated {n}-grams cover {frac:.2f} > {limit}")
            if frac == 0.0:
                break  # no repeated n-gram: no longer one can repeat either
        return None

    def _check_blocks(self, text: str) -> Verdict | None:
        cfg = self.config
        size = len(text)
        for unit, parts, frac_limit, char_limit in (
            (
                "para",
                [p.strip() for p in _PARAGRAPH_RE.split(text)],
                cfg.dup_para_frac,
                cfg.dup_para_char_frac,
            ),
            (
                "line",
                [ln.strip() for ln in text.splitlines() if ln.strip()],
                cfg.dup_line_frac,
                cfg.dup_line_char_frac,
            ),
        ):
            if not parts:
                continue
            repeats, chars = duplicate_stats(parts)
            if frac_limit is not None and repeats / len(parts) > frac_limit:
                return Verdict(
                    f"repetition.dup_{unit}",
                    f"{repeats}/{len(parts)} {unit}s repeated > {frac_limit}",
                )
            if char_limit is not None and chars / size > char_limit:
                return Verdict(
                    f"repetition.dup_{unit}_chars",
                    f"repeated {unit}s hold {chars / size:.2f} of characters > {char_limit}",
                )
        return None

    def keep(self, doc: Doc) -> None:
        """Stateless."""
