"""Held-out perplexity: every token scored once, equal to the model's own loss, batch-invariant."""

from __future__ import annotations

import math

import pytest

from metasynth_hf.training.perplexity import heldout_perplexity, windows

from .corpora import make_texts


def scored_positions(n: int, max_length: int, stride: int) -> list[int]:
    """Positions scored by `windows` (ids are positions; shift: window index 0 is never a label)."""
    out = []
    for window, context in windows(list(range(n)), max_length, stride):
        out.extend(window[max(context, 1) :])
    return out


@pytest.mark.parametrize("n", [1, 2, 8, 9, 23])
@pytest.mark.parametrize("stride", [1, 3, 8])
def test_windows_score_each_token_once(n: int, stride: int) -> None:
    scored = scored_positions(n, max_length=8, stride=stride)
    if stride < 8:  # overlapping windows: every token but the first, each exactly once
        assert scored == list(range(1, n))
    else:  # disjoint chunks: a chunk's first token has no context and is not scored
        assert scored == [p for p in range(1, n) if p % 8]


def test_single_document_equals_the_model_loss(tiny_llama, tokenizer) -> None:
    import torch

    text = make_texts(1)[0]
    ids = tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
    with torch.no_grad():
        loss = tiny_llama(input_ids=torch.tensor([ids]), labels=torch.tensor([ids])).loss
    result = heldout_perplexity(tiny_llama, tokenizer, [text], max_length=512)
    assert result.tokens == len(ids) - 1 and result.documents == 1
    assert result.perplexity == pytest.approx(math.exp(float(loss)), rel=1e-4)


def test_batching_and_padding_do_not_change_the_result(tiny_llama, tokenizer) -> None:
    texts = make_texts(5, seed=3)
    one = heldout_perplexity(tiny_llama, tokenizer, texts, max_length=16, stride=8, batch_size=1)
    many = heldout_perplexity(tiny_llama, tokenizer, texts, max_length=16, stride=8, batch_size=4)
    assert one.tokens == many.tokens
    assert one.perplexity == pytest.approx(many.perplexity, rel=1e-4)
    assert math.isfinite(one.perplexity) and one.perplexity > 1


def test_bad_stride_and_empty_input_are_errors(tiny_llama, tokenizer) -> None:
    with pytest.raises(ValueError, match="stride"):
        heldout_perplexity(tiny_llama, tokenizer, ["x"], max_length=8, stride=9)
    with pytest.raises(ValueError, match="no tokens"):
        heldout_perplexity(tiny_llama, tokenizer, [], max_length=8)
