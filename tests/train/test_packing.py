"""Packing as the recipes configure it keeps every corpus token (and plain `bfd` would not)."""

from __future__ import annotations

from collections import Counter

import pytest

from metasynth_hf.training.args import parse

from .conftest import RECIPES
from .corpora import make_texts


def make_trainer(model, tokenizer, texts: list[str], tmp_path, *overrides: str):
    """An SFTTrainer built from the tiny recipe's own arguments (32-token rows)."""
    import datasets
    from trl import SFTTrainer

    argv = ["--config", str(RECIPES / "tiny" / "cpt.yaml"), "--use_cpu", "true"]
    argv += ["--output_dir", str(tmp_path), "--max_length", "32", *overrides]
    _, training_args, *_ = parse(argv)
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        processing_class=tokenizer,
        train_dataset=datasets.Dataset.from_dict({"text": texts}),
    )
    return trainer


def packed_tokens(model, tokenizer, texts: list[str], tmp_path, *overrides: str) -> list[list[int]]:
    """The rows SFTTrainer trains on."""
    trainer = make_trainer(model, tokenizer, texts, tmp_path, *overrides)
    return [list(row) for row in trainer.train_dataset["input_ids"]]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Documents of 10 to 120 words: many are longer than the 32-token rows."""
    return make_texts(30, seed=7, words=(10, 120))


def test_bfd_split_packing_keeps_every_token(tiny_llama, tokenizer, texts, tmp_path) -> None:
    corpus = Counter()
    for text in texts:
        corpus.update(tokenizer(text)["input_ids"] + [tokenizer.eos_token_id])
    rows = packed_tokens(tiny_llama, tokenizer, texts, tmp_path)
    packed = Counter(token for row in rows for token in row)
    assert max(len(row) for row in rows) <= 32
    assert max(len(tokenizer(t)["input_ids"]) for t in texts) > 32, "the test needs long documents"
    assert sum(packed.values()) == sum(corpus.values())
    assert packed == corpus  # the same tokens, not just as many


def test_plain_bfd_would_drop_tokens(tiny_llama, tokenizer, texts, tmp_path) -> None:
    """The control: with `bfd` the same check fails, so the test above can fail."""
    corpus_total = sum(len(tokenizer(t)["input_ids"]) + 1 for t in texts)
    rows = packed_tokens(tiny_llama, tokenizer, texts, tmp_path, "--packing_strategy", "bfd")
    assert sum(len(row) for row in rows) < corpus_total


def test_packed_documents_do_not_see_each_other(tiny_llama, tokenizer, texts, tmp_path) -> None:
    """With sdpa (no flash-attn), a document in a packed row gets the logits it gets alone."""
    import torch

    trainer = make_trainer(tiny_llama, tokenizer, texts, tmp_path)
    for batch in trainer.get_train_dataloader():  # the first row that holds several documents
        positions = batch["position_ids"][0].tolist()
        starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
        if len(starts) > 2:
            break
    else:
        raise AssertionError("no packed row holds two documents")
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "position_ids")}
    with torch.no_grad():  # use_cache=False is what SFTTrainer.compute_loss passes
        packed = tiny_llama(**inputs, use_cache=False).logits[0]
        for begin, end in zip(starts, starts[1:], strict=False):
            alone = tiny_llama(input_ids=batch["input_ids"][:, begin:end]).logits[0]
            assert torch.allclose(packed[begin:end], alone, atol=1e-4), (begin, end)
