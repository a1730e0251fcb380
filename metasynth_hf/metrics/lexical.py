"""Lexical diversity in one streaming pass: compression ratio, n-gram diversity, self-repetition.

Definitions follow the `diversity` package (Shaib et al.), which the tests compare against:

- compression ratio: UTF-8 bytes of the documents joined by one space / bytes of their gzip
  (level 9). `diversity.compression_ratio` writes `gzip.compress(text)` into a `GzipFile`, so it
  gzips twice and rounds to 3 decimals; we report the single-gzip ratio (the definition; the
  second pass only adds overhead that grows with corpus size) and, as
  `compression_ratio_reference`, the exact value the package prints.
- n-gram diversity: tokens are the pieces of the joined corpus split on single spaces (as the
  package does; newlines do not separate tokens); for each n, unique n-grams / all n-grams.
- self-repetition: per document, its unique n-grams of whitespace tokens; the score is the mean
  over documents of log(1 + occurrences of those n-grams in *other* documents).

Speed comes from interning each token to an integer once (a C-level dict pass) and counting
n-grams exactly: an n-gram's key packs its token ids bitwise into an int64 while they fit, the
(n-1)-gram keys being re-densified first when they would not, so there are no hash collisions;
distinct keys are counted by sorting. Memory grows with the token count, ~75 bytes per token at
peak (measured: +1.9 GB at 25M tokens; two int64 token streams, document ids, keys and their
sorted copies); gzip runs in a worker thread meanwhile.
"""

from __future__ import annotations

import itertools
import logging
import struct
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from metasynth_hf.metrics.config import CorpusError
from metasynth_hf.metrics.corpus import Texts, iter_batches

logger = logging.getLogger(__name__)

#: gzip header of `gzip.GzipFile("compressed.gz", "w")`: 10 fixed bytes + file name + NUL.
_REFERENCE_OUTER_HEADER = 10 + len(b"compressed") + 1
_GZIP_OVERHEAD = 10 + 8  # header + CRC32/size trailer of a header-only gzip member


def _factorize(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes 0..k-1 of `values` (first-seen order) and k; hash-based, O(n)."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64, copy=False), len(uniques)


class _Vocab:
    """Interns tokens to ints: a token's id is the running index of its first occurrence.

    `map(dict.setdefault, tokens, count())` runs without a Python-level loop; `dense()` then
    renumbers ids 0..V-1 (fewer bits per token, so n-gram keys pack without re-densifying).
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.bound = 0  # every id is < bound

    def encode(self, tokens: list[str]) -> np.ndarray:
        counter = itertools.count(self.bound)
        ids = np.fromiter(map(self._ids.setdefault, tokens, counter), np.int64, len(tokens))
        self.bound += len(tokens)
        return ids

    def dense(self, ids: np.ndarray) -> tuple[np.ndarray, int]:
        """(ids renumbered 0..V-1, V)."""
        first = np.fromiter(self._ids.values(), np.int64, len(self._ids))
        table = np.zeros(max(self.bound, 1), dtype=np.int64)
        table[first] = np.arange(len(first), dtype=np.int64)
        return table[ids], len(first)


class _SpaceSplitter:
    """`text.split(" ")` as dense int ids, in Arrow's C++ (no Python string per token)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def encode(self, text: str) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        pieces = pc.split_pattern(pa.array([text], type=pa.large_string()), pattern=" ")
        encoded = pieces.flatten().dictionary_encode()
        table = self._ids
        words = encoded.dictionary.to_pylist()  # distinct within the chunk: few Python strings
        local = np.fromiter((table.setdefault(w, len(table)) for w in words), np.int64, len(words))
        return local[encoded.indices.to_numpy(zero_copy_only=False)]


def _distinct(keys: np.ndarray) -> int:
    """Number of distinct values (a sort beats hashing for int64 keys)."""
    if len(keys) == 0:
        return 0
    ordered = np.sort(keys)
    return int(1 + np.count_nonzero(ordered[1:] != ordered[:-1]))


def ngram_keys(ids: np.ndarray, max_n: int, bound: int) -> Iterator[tuple[int, np.ndarray]]:
    """(n, exact int64 key of the n-gram at each start position) for n = 1..max_n.

    Keys pack token ids bitwise while they fit in 63 bits, then the (n-1)-gram keys are
    re-densified (factorized) first, so equal keys always mean equal n-grams.
    """
    bits = max(int(bound - 1).bit_length(), 1)
    if 2 * bits > 62:
        raise CorpusError(f"{bound} token ids exceed the 2^31 supported per corpus; split the corpus")
    keys, key_bits = ids, bits
    yield 1, keys
    for n in range(2, max_n + 1):
        if len(ids) - n + 1 <= 0:
            return
        if key_bits + bits > 63:
            keys, count = _factorize(keys)
            key_bits = max(int(count - 1).bit_length(), 1)
        keys = (keys[:-1] << bits) | ids[n - 1 :]
        key_bits += bits
        yield n, keys


class _GzipSizer:
    """Counts the bytes of gzip(data) and of gzip(gzip(data)) as the `diversity` package writes it."""

    def __init__(self, reference_compatible: bool) -> None:
        self.raw = 0
        self.deflated = 0
        self._crc = 0
        self._inner = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
        self._outer = None
        self._outer_bytes = 0
        if reference_compatible:
            self._outer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
            # gzip.compress's own header (mtime 0, xfl 2 for level 9, OS 255).
            self._to_outer(struct.pack("<BBBBLBB", 0x1F, 0x8B, 8, 0, 0, 2, 255))

    def _to_outer(self, data: bytes) -> None:
        if self._outer is not None and data:
            self._outer_bytes += len(self._outer.compress(data))

    def feed(self, data: bytes) -> None:
        self.raw += len(data)
        self._crc = zlib.crc32(data, self._crc)
        out = self._inner.compress(data)
        self.deflated += len(out)
        self._to_outer(out)

    def finish(self) -> tuple[int, int | None]:
        """(size of gzip(data), size of the reference's double-gzip file or None)."""
        tail = self._inner.flush()
        self.deflated += len(tail)
        self._to_outer(tail)
        self._to_outer(struct.pack("<LL", self._crc, self.raw & 0xFFFFFFFF))
        outer = None
        if self._outer is not None:
            self._outer_bytes += len(self._outer.flush())
            outer = _REFERENCE_OUTER_HEADER + self._outer_bytes + 8
        return self.deflated + _GZIP_OVERHEAD, outer


class LexicalStats:
    """Feed document batches in corpus order, then read `result()`; one pass serves all metrics."""

    def __init__(self, *, max_n: int = 4, repetition_n: int = 4, reference_compatible: bool = True) -> None:
        self.max_n = max_n
        self.repetition_n = repetition_n
        self._vocab = _Vocab()
        self._space = _SpaceSplitter()
        self._gzip = _GzipSizer(reference_compatible)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gzip")
        self._pending: list[Future] = []
        self._space_ids: list[np.ndarray] = []
        self._word_ids: list[np.ndarray] = []
        self._doc_lengths: list[np.ndarray] = []
        self.num_docs = 0

    def feed(self, batch: list[str]) -> None:
        if not batch:
            return
        joined = " ".join(batch)
        chunk = (" " + joined if self.num_docs else joined).encode("utf-8")
        self._pending.append(self._pool.submit(self._gzip.feed, chunk))
        if len(self._pending) > 2:  # bound the bytes waiting for the gzip thread
            self._pending.pop(0).result()
        self._space_ids.append(self._space.encode(joined))
        words: list[str] = []
        lengths = np.empty(len(batch), dtype=np.int64)
        for i, doc in enumerate(batch):
            pieces = doc.split()
            lengths[i] = len(pieces)
            words.extend(pieces)
        self._word_ids.append(self._vocab.encode(words))
        self._doc_lengths.append(lengths)
        self.num_docs += len(batch)

    def result(self) -> dict[str, float | int | None]:
        """All lexical values; raises CorpusError on an empty corpus."""
        if self.num_docs == 0:
            raise CorpusError("the corpus is empty; pass at least one document")
        for future in self._pending:
            future.result()
        self._pool.shutdown()
        gz_size, outer_size = self._gzip.finish()
        out: dict[str, float | int | None] = {
            "num_documents": self.num_docs,
            "num_bytes": self._gzip.raw,
            "compression_ratio": self._gzip.raw / gz_size,
            "compression_ratio_reference": (round(self._gzip.raw / outer_size, 3) if outer_size else None),
        }
        space_ids = np.concatenate(self._space_ids)
        self._space_ids = []
        out["num_tokens"] = int(len(space_ids))
        per_n = ngram_diversity_from_ids(space_ids, self.max_n, max(len(self._space), 1))
        for n, value in per_n.items():
            out[f"ngram_diversity_{n}"] = value
        out["ngram_diversity"] = float(sum(per_n.values()))
        del space_ids
        words, vocab_size = self._vocab.dense(np.concatenate(self._word_ids))
        self._word_ids = []
        out["self_repetition"] = self_repetition_from_ids(
            words, np.concatenate(self._doc_lengths), self.repetition_n, max(vocab_size, 1)
        )
        return out


def ngram_diversity_from_ids(ids: np.ndarray, max_n: int, bound: int) -> dict[int, float]:
    """unique / all n-grams for n = 1..max_n over one token-id stream."""
    if len(ids) < max_n:
        raise CorpusError(f"n-gram diversity up to n={max_n} needs at least {max_n} tokens, got {len(ids)}")
    return {n: _distinct(keys) / len(keys) for n, keys in ngram_keys(ids, max_n, bound)}


def self_repetition_from_ids(ids: np.ndarray, lengths: np.ndarray, n: int, bound: int) -> float:
    """Mean over documents of log(1 + occurrences of its unique n-grams in other documents)."""
    num_docs = len(lengths)
    if len(ids) < n:
        return 0.0
    *_, (_, keys) = ngram_keys(ids, n, bound)
    doc_of = np.repeat(np.arange(num_docs, dtype=np.int64), lengths)
    inside = doc_of[: len(keys)] == doc_of[n - 1 :]  # n-gram does not cross a document end
    codes, _ = _factorize(keys[inside])
    pairs = np.unique(codes * np.int64(num_docs) + doc_of[: len(keys)][inside])
    gram, doc = np.divmod(pairs, np.int64(num_docs))
    docs_per_gram = np.bincount(gram)
    others = np.bincount(doc, weights=docs_per_gram[gram] - 1, minlength=num_docs)
    return float(np.log(others + 1).sum() / num_docs)


def lexical_stats(
    texts: Texts,
    *,
    max_n: int = 4,
    repetition_n: int = 4,
    reference_compatible: bool = True,
    batch_docs: int = 2000,
) -> dict[str, float | int | None]:
    """All lexical metrics of a corpus in one streaming pass."""
    stats = LexicalStats(max_n=max_n, repetition_n=repetition_n, reference_compatible=reference_compatible)
    for batch in iter_batches(texts, batch_docs):
        stats.feed(batch)
    return stats.result()


def compression_ratio(texts: Iterable[str] | Texts) -> float:
    """Bytes / gzip bytes of the documents joined by a space. Lower = more diverse."""
    sizer = _GzipSizer(reference_compatible=False)
    sizer.feed(" ".join(texts).encode("utf-8"))
    return sizer.raw / sizer.finish()[0]


def compression_ratio_reference(texts: Texts) -> float:
    """The value `diversity.compression_ratio` prints (gzip twice, 3 decimals). Lower = more diverse."""
    sizer = _GzipSizer(reference_compatible=True)
    sizer.feed(" ".join(texts).encode("utf-8"))
    _, outer = sizer.finish()
    assert outer is not None  # reference_compatible=True: the outer size is measured
    return round(sizer.raw / outer, 3)


def ngram_diversity(texts: Texts, max_n: int = 4) -> dict[int, float]:
    """unique / all n-grams per n (space-split tokens of the joined corpus). Higher = more diverse."""
    splitter = _SpaceSplitter()
    ids = splitter.encode(" ".join(texts))
    return ngram_diversity_from_ids(ids, max_n, max(len(splitter), 1))


def ngram_diversity_score(texts: Texts, num_n: int = 4) -> float:
    """Sum of `ngram_diversity` over n = 1..num_n (the package rounds this to 3 decimals)."""
    return float(sum(ngram_diversity(texts, num_n).values()))


def self_repetition(texts: Texts, n: int = 4) -> float:
    """Mean log(1 + recurrences of each document's n-grams in other documents). Lower = more diverse."""
    texts = list(texts)
    if not texts:
        raise CorpusError("self-repetition of an empty corpus; pass at least one document")
    vocab = _Vocab()
    pieces = [doc.split() for doc in texts]
    ids, vocab_size = vocab.dense(vocab.encode([w for p in pieces for w in p]))
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    return self_repetition_from_ids(ids, lengths, n, max(vocab_size, 1))


__all__ = [
    "LexicalStats",
    "compression_ratio",
    "compression_ratio_reference",
    "lexical_stats",
    "ngram_diversity",
    "ngram_diversity_score",
    "self_repetition",
]
