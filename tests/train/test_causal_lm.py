"""GGUF -> trainable checkpoint: same model as the GGUF, no quantization left, converted once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metasynth_hf import causal_lm as convert
from metasynth_hf.errors import ConfigError


@pytest.mark.slow  # the first test to ask for the conversion pays for it (~40-100 s)
def test_converted_checkpoint_reproduces_the_gguf_model(smollm2_checkpoint) -> None:
    """The conversion compared its rebuilt model with the GGUF-loaded one before saving."""
    from transformers import AutoConfig

    record = json.loads((Path(smollm2_checkpoint) / convert.CONVERSION_RECORD).read_text())
    assert record["gguf_file"].endswith(".gguf")
    assert record["max_abs_logit_diff"] < convert.MAX_LOGIT_DIFF
    config = AutoConfig.from_pretrained(smollm2_checkpoint)
    assert getattr(config, "quantization_config", None) is None  # Trainer accepts it


def test_logit_check_catches_a_different_model(tiny_llama, tokenizer) -> None:
    """The check itself can fail: a model with other weights is far from the reference."""
    import copy

    import torch

    other = copy.deepcopy(tiny_llama)
    with torch.no_grad():
        other.lm_head.weight.add_(0.5)
    assert convert._logit_difference(tiny_llama, tiny_llama, tokenizer) == 0.0
    assert convert._logit_difference(tiny_llama, other, tokenizer) > convert.MAX_LOGIT_DIFF


def test_conversion_is_cached(smollm2_checkpoint, cache_dir, monkeypatch) -> None:
    def refuse(*_args):
        raise AssertionError("converted twice")

    monkeypatch.setattr(convert, "_convert", refuse)
    assert convert.trainable_checkpoint("smollm2", cache_dir / "converted") == smollm2_checkpoint
    assert convert.trainable_checkpoint("some/hub-model") == "some/hub-model"  # untouched


def test_missing_gguf_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        convert.trainable_checkpoint(str(tmp_path / "model.gguf"))


@pytest.mark.slow
def test_conversion_draws_no_bar_of_its_own(tmp_path, capfd) -> None:
    convert.trainable_checkpoint("smollm2", cache_dir=tmp_path)
    assert "Converting and de-quantizing" not in capfd.readouterr().err
