"""Corpora cut to the same number of tokens before they are compared.

Compression ratio, n-gram diversity, Vendi and MAUVE move with corpus length, so a 500-token
corpus and a 1,300-token one differ on them even when drawn from the same text. `metasynth
compare` and `metasynth stats --compare` therefore score every corpus at the smallest one's token
count: its leading documents holding that many tokens, the last one cut at a word boundary.

`stats` counts tokens as the n-gram metrics do (`SPACE_SPLIT`: the pieces of the text split on
single spaces, the `num_tokens` of its reports); `compare` counts with the run's `tokenizer:`
setting. Either count goes with the name of what counted it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from metasynth_hf.metrics.corpus import Texts, iter_batches, num_documents, take

#: The name of the count `space_split_tokens` makes, as reports and tables label it.
SPACE_SPLIT = "space-split"


def space_split_tokens(text: str) -> int:
    """Tokens as the n-gram metrics (and `num_tokens` of a report) count them: pieces split on ' '."""
    return len(text.split(" "))


def iter_texts(texts: Texts, batch_size: int = 2000) -> Iterator[str]:
    """The documents of a list or a `datasets.Dataset`, one at a time."""
    for batch in iter_batches(texts, batch_size):
        yield from batch


def count_tokens(texts: Texts, count: Callable[[str], int]) -> int:
    return sum(count(t) for t in iter_texts(texts))


def cut_to_tokens(texts: Texts, budget: int, count: Callable[[str], int]) -> list[str]:
    """The leading documents holding `budget` tokens; the last one is cut at a word boundary."""
    kept, used = [], 0
    for text in iter_texts(texts):
        n = count(text)
        if used + n <= budget:
            kept.append(text)
            used += n
            continue
        words = text.split()
        low, high = 0, len(words)  # the most words whose count fits in what is left
        while low < high:
            mid = (low + high + 1) // 2
            if count(" ".join(words[:mid])) <= budget - used:
                low = mid
            else:
                high = mid - 1
        if low:
            kept.append(" ".join(words[:low]))
        break
    return kept


def equal_size(
    corpora: Mapping[str, Texts], count: Callable[[str], int], sizes: Mapping[str, int] | None = None
) -> tuple[dict[str, list[str]], int]:
    """Every corpus cut to the smallest one's token count (`sizes`, when already counted):
    lexical ratios, Vendi and MAUVE move with corpus length, so corpora are compared at equal size."""
    sizes = sizes or {name: count_tokens(texts, count) for name, texts in corpora.items()}
    budget = min(sizes[name] for name in corpora)
    cut = {}
    for name, texts in corpora.items():
        kept = cut_to_tokens(texts, budget, count)
        if len(kept) < 2 <= num_documents(texts):  # documents longer than the budget: two halves of it
            kept = [head for t in take(texts, [0, 1]) for head in cut_to_tokens([t], budget // 2, count)]
        cut[name] = kept
    return cut, budget
