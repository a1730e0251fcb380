"""The GPU check's inputs: a ~1.1B model (counted, not built) and, at tiny size, a real run's inputs."""

from __future__ import annotations

import importlib.util
import json

import pytest

from metasynth_hf.training.args import parse

from .conftest import RECIPES


def load_make_inputs():
    spec = importlib.util.spec_from_file_location("make_inputs", RECIPES / "gpu_check" / "make_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_size_is_about_one_billion_parameters() -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=49152, tie_word_embeddings=False, **load_make_inputs().SIZES["1b"])
    with torch.device("meta"):
        params = sum(p.numel() for p in LlamaForCausalLM(config).parameters())
    assert 0.9e9 < params < 1.3e9


@pytest.mark.slow
def test_tiny_inputs_load_and_fit_the_recipe(smollm2_checkpoint, tmp_path) -> None:
    from transformers import AutoModelForCausalLM

    make_inputs = load_make_inputs()
    assert make_inputs.main(["--out", str(tmp_path), "--size", "tiny", "--docs", "5", "--words_per_doc", "30"]) == 0
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert model.config.num_hidden_layers == 2
    from metasynth_hf.training.data import load_source

    rows = load_source(str(tmp_path / "corpus"))
    assert len(rows) == 5 and all(len(t.split()) == 30 for t in rows["text"])
    argv = ["--config", str(RECIPES / "gpu_check" / "cpt.yaml"), "--use_cpu", "true"]
    argv += [
        "--model_name_or_path",
        str(tmp_path / "model"),
        "--dataset_name",
        str(tmp_path / "corpus"),
    ]
    _, training, model_args, _, _ = parse(argv)
    assert training.max_steps == 40 and training.packing_strategy == "bfd_split"
    assert model_args.model_name_or_path == str(tmp_path / "model")


@pytest.mark.parametrize("key", ["global_step", "tokens_seen", "world_size", "tokens_per_second_per_device"])
def test_run_sh_reads_keys_the_summary_has(key: str) -> None:
    """run.sh prints fields of train_summary.json; keep the two in step."""
    from metasynth_hf.training.throughput import ThroughputCallback

    assert key in (RECIPES / "gpu_check" / "run.sh").read_text()
    callback = ThroughputCallback()
    callback.start = 0.0

    class State:
        num_input_tokens_seen = 100
        global_step = 3

    class Args:
        world_size = 1

    callback.on_train_end(Args, State, None)
    assert key in callback.summary
    json.dumps(callback.summary)
