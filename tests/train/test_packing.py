"""Packing as the recipes configure it keeps every corpus token (and plain `bfd` would not)."""

from __future__ import annotations

from collections import Counter

import pytest

from metasynth_hf.training.args import parse

from .conftest import RECIPES
from .corpora import make_texts


def packed_tokens(model, tokenizer, texts: list[str], tmp_path, *overrides: str) -> list[list[int]]:
    """The rows SFTTrainer trains on, built from the tiny recipe's own arguments."""
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
