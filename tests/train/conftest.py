"""Shared fixtures: the repository root, a cached GGUF conversion, a tiny random Llama."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One conversion cache for the whole session (the GGUF is converted at most once)."""
    path = tmp_path_factory.mktemp("metasynth-cache")
    os.environ["METASYNTH_HF_CACHE"] = str(path)
    os.environ["HF_HUB_OFFLINE"] = "1"
    return path


@pytest.fixture(scope="session")
def smollm2_checkpoint(cache_dir: Path) -> str:
    """The embedded SmolLM2 GGUF converted to a trainable checkpoint (weights + tokenizer)."""
    from metasynth_hf.causal_lm import trainable_checkpoint

    return trainable_checkpoint("smollm2", cache_dir / "converted")


@pytest.fixture(scope="session")
def tokenizer(smollm2_checkpoint: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_checkpoint)


@pytest.fixture(scope="session")
def tiny_llama(tokenizer):
    """A randomly initialised 2-layer Llama over SmolLM2's vocabulary (fast on CPU)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config).eval()
