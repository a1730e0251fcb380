"""The tiny recipe, end to end, through `accelerate launch` with the DDP config on CPU."""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from metasynth_hf.training import perplexity

from .conftest import RECIPES, REPO
from .corpora import make_texts, write_parquet

STEPS = 4  # max_steps of recipes/tiny/cpt.yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def trained(smollm2_checkpoint, tmp_path_factory) -> Path:
    """Run the recipe once on 2 CPU processes (gloo DDP); return its output dir."""
    tmp = tmp_path_factory.mktemp("e2e")
    corpus = write_parquet(tmp / "corpus", make_texts(60))
    out = tmp / "out"
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate),
        "launch",
        "--config_file",
        str(RECIPES / "accelerate_configs" / "ddp.yaml"),
        "--num_processes",
        "2",
        "--main_process_port",
        str(free_port()),
        "-m",
        "metasynth_hf.train",
        "--config",
        str(RECIPES / "tiny" / "cpt.yaml"),
        "--use_cpu",
        "true",
        "--dataset_name",
        str(corpus),
        "--output_dir",
        str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_CACHE": str(tmp / "hf-datasets")}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return out


@pytest.mark.slow
def test_loss_is_finite_and_decreases(trained: Path) -> None:
    history = json.loads((trained / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == STEPS and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] and sum(losses[2:]) < sum(losses[:2]), losses


@pytest.mark.slow
def test_ran_as_two_data_parallel_processes(trained: Path) -> None:
    summary = json.loads((trained / "train_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["global_step"] == STEPS
    assert summary["tokens_seen"] > 0 and summary["tokens_per_second_per_device"] > 0
    heldout = json.loads((trained / "heldout_perplexity.json").read_text())
    assert math.isfinite(heldout["perplexity"]) and heldout["documents"] == 12  # 20% of 60


@pytest.mark.slow
def test_checkpoint_reloads_and_heldout_perplexity_improves(trained: Path, smollm2_checkpoint, tmp_path) -> None:
    import torch
    from safetensors.torch import load_file

    checkpoint = trained / f"checkpoint-{STEPS}"
    saved, final = (
        load_file(checkpoint / "model.safetensors"),
        load_file(trained / "model.safetensors"),
    )
    assert saved.keys() == final.keys()
    assert all(torch.equal(saved[k], final[k]) for k in saved)  # last checkpoint = saved model
    assert (checkpoint / "optimizer.pt").is_file()  # resumable, not weights only
    # The perplexity command reloads the checkpoint with from_pretrained.
    heldout = write_parquet(tmp_path / "heldout", make_texts(4, seed=99))  # unseen documents
    scores = {}
    for label, model in (("base", smollm2_checkpoint), ("trained", str(checkpoint))):
        args = argparse.Namespace(
            model=model,
            data=str(heldout),
            split="train",
            text_field="text",
            max_length=64,
            stride=None,
            batch_size=4,
            limit=None,
            dtype="float32",
            output=str(tmp_path / f"{label}.json"),
        )
        assert perplexity.run(args) == 0
        scores[label] = json.loads((tmp_path / f"{label}.json").read_text())["perplexity"]
    assert math.isfinite(scores["trained"]) and scores["trained"] < scores["base"], scores
