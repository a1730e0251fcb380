"""DeepSpeed for real: the shipped ZeRO configs train the tiny recipe on 2 CPU processes.

Each run is `accelerate launch --config_file <shipped config> --num_processes 2 -m
metasynth_hf.train --config recipes/tiny/cpt.yaml ...`. The accelerate configs and their ZeRO
JSON files are used as shipped; what a CPU needs is given on the command line and is only:

- `DS_ACCELERATOR=cpu`: DeepSpeed's CPU accelerator (gloo collectives, since oneCCL is absent);
  DeepSpeed would fall back to it anyway, the variable only skips the probing.
- `--ddp_backend gloo`: accelerate finds no distributed backend for a CPU under DeepSpeed and
  would count 1 process while DeepSpeed runs 2 (`cpt._check_world_size` refuses that).
- `--num_processes 2` instead of 8 GPUs. Mixed precision stays the recipe's (`bf16: false`:
  the ZeRO JSONs' `"auto"` resolves to fp32), as on GPU it would be the 7B recipe's bf16.
- a 2-layer random Llama with the embedded model's tokenizer and a generated corpus, and a
  learning rate that moves such a model in 4 steps; global_batch_size 4 = 1 x 2 processes x 2
  accumulation steps.

A test-only `sitecustomize` (tests/train/rank_probe) records the batches each rank trains on.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import RECIPES, REPO
from .corpora import make_texts, write_parquet
from .test_e2e import free_port

STEPS = 4  # max_steps of recipes/tiny/cpt.yaml
ACCUMULATION = 2
CONFIGS = RECIPES / "accelerate_configs"
ACCELERATE = str(Path(sys.executable).with_name("accelerate"))
PROBE = Path(__file__).with_name("rank_probe")


def cpu_adam_builds() -> bool:
    """Whether DeepSpeed's CPU Adam (needed by zero3_offload.json) compiles here."""
    try:
        from deepspeed.ops.op_builder import CPUAdamBuilder

        CPUAdamBuilder().load(verbose=False)
    except Exception:  # noqa: BLE001 - any build failure means: skip the offload run
        return False
    return True


@pytest.fixture(scope="module")
def inputs(smollm2_checkpoint, tmp_path_factory) -> dict[str, Path]:
    """A random 2-layer Llama (SmolLM2's tokenizer) and a 80-document corpus, saved once."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tmp = tmp_path_factory.mktemp("ds-inputs")
    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    return {"model": tmp / "model", "corpus": write_parquet(tmp / "corpus", make_texts(80))}


def train_options(inputs: dict[str, Path], out: Path) -> list[str]:
    return [
        "--model_name_or_path",
        str(inputs["model"]),
        "--dataset_name",
        str(inputs["corpus"]),
        "--output_dir",
        str(out),
        "--global_batch_size",
        str(2 * ACCUMULATION),
        "--learning_rate",
        "1e-2",
        "--ddp_backend",
        "gloo",
    ]


def run_env(tmp: Path) -> dict[str, str]:
    probe = tmp / "probe"
    probe.mkdir()
    path = os.pathsep.join(p for p in (str(PROBE), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "RANK_PROBE_DIR": str(probe),
        "DS_ACCELERATOR": "cpu",
        "OMP_NUM_THREADS": "1",
        "HF_DATASETS_CACHE": str(tmp / "hf-datasets"),
    }


def check(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]


@pytest.fixture(scope="module", params=["zero2.yaml", "zero3.yaml", "zero3_offload.yaml"])
def trained(request, inputs, tmp_path_factory) -> Path:
    """One 2-process launch per shipped single-node ZeRO config; returns its output dir."""
    if request.param == "zero3_offload.yaml" and not cpu_adam_builds():
        pytest.skip("DeepSpeed's CPU Adam does not build here (needs a C++ compiler and ninja)")
    tmp = tmp_path_factory.mktemp(request.param.removesuffix(".yaml"))
    command = [ACCELERATE, "launch", "--config_file", str(CONFIGS / request.param), "--num_processes", "2"]
    command += ["--main_process_port", str(free_port()), "-m", "metasynth_hf.train"]
    command += ["--config", str(RECIPES / "tiny" / "cpt.yaml"), *train_options(inputs, tmp / "out")]
    done = subprocess.run(command, cwd=REPO, env=run_env(tmp), capture_output=True, text=True, timeout=600)
    (tmp / "launch.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    check(done)
    return tmp / "out"


@pytest.fixture(scope="module")
def trained_on_two_nodes(inputs, tmp_path_factory) -> Path:
    """The commands launch.slurm builds for 2 nodes, run as two launchers of 1 CPU process each."""
    tmp = tmp_path_factory.mktemp("multi-node")
    env = run_env(tmp)
    slurm = {"SLURM_NNODES": "2", "GPUS_PER_NODE": "1", "MASTER_ADDR": "127.0.0.1"}
    slurm |= {"MASTER_PORT": str(free_port()), "DRY_RUN": "1"}
    recipe, config = "recipes/tiny/cpt.yaml", "recipes/accelerate_configs/multi_node_zero3.yaml"
    dry = subprocess.run(
        ["bash", str(RECIPES / "launch.slurm"), recipe, config, *train_options(inputs, tmp / "out")],
        cwd=REPO,
        env={**env, **slurm},
        capture_output=True,
        text=True,
        check=True,
    )
    nodes = [shlex.split(line) for line in dry.stdout.strip().splitlines()]
    assert len(nodes) == 2 and all(argv[:2] == ["accelerate", "launch"] for argv in nodes)
    logs = [(tmp / f"node{rank}.log").open("w") for rank in range(2)]
    try:
        launched = [
            subprocess.Popen([ACCELERATE, *argv[1:]], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            for argv, log in zip(nodes, logs, strict=True)
        ]
        codes = [process.wait(timeout=600) for process in launched]
    finally:
        for log in logs:
            log.close()
    assert codes == [0, 0], (tmp / "node0.log").read_text()[-6000:] + (tmp / "node1.log").read_text()[-3000:]
    return tmp / "out"


def batches(out: Path) -> dict[int, list[dict]]:
    probe = out.parent / "probe"
    return {
        rank: [json.loads(line) for line in (probe / f"rank{rank}.jsonl").read_text().splitlines()]
        for rank in range(2)
    }


def check_run(out: Path, initial_model: Path) -> None:
    """Loss, data sharding, summary and the consolidated checkpoint of one run."""
    import torch
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from metasynth_hf.training.perplexity import heldout_perplexity

    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == STEPS and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] and sum(losses[2:]) < sum(losses[:2]), losses

    # Each rank ran ACCUMULATION micro-batches per optimizer step, on rows the other never saw.
    seen = batches(out)
    for rows in seen.values():
        assert [row["step"] for row in rows] == [s for s in range(STEPS) for _ in range(ACCUMULATION)]
    as_rows = {rank: {tuple(r) for row in rows for r in row["input_ids"]} for rank, rows in seen.items()}
    assert as_rows[0] and as_rows[1] and not as_rows[0] & as_rows[1]

    summary = json.loads((out / "train_summary.json").read_text())
    tokens = sum(len(r) for rows in seen.values() for row in rows for r in row["input_ids"])
    assert (summary["world_size"], summary["global_step"], summary["tokens_seen"]) == (2, STEPS, tokens)
    assert summary["train_loss"] == pytest.approx(sum(losses) / STEPS, rel=1e-4)
    assert summary["tokens_per_second_per_device"] > 0 and math.isfinite(summary["heldout_perplexity"])

    # The 16-bit consolidated weights (gathered at save) are the trained ones: same logits as the
    # fp32 master weights that zero_to_fp32 rebuilds from the ZeRO shards of the last checkpoint.
    checkpoint = out / f"checkpoint-{STEPS}"
    final, saved = load_file(out / "model.safetensors"), load_file(checkpoint / "model.safetensors")
    assert final.keys() == saved.keys() and all(torch.equal(final[k], saved[k]) for k in final)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    master = AutoModelForCausalLM.from_pretrained(out).eval()
    master.load_state_dict(get_fp32_state_dict_from_zero_checkpoint(str(checkpoint)), strict=True)
    initial = AutoModelForCausalLM.from_pretrained(initial_model).eval()
    fixed = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    with torch.no_grad():
        logits, reference = model(fixed).logits, master(fixed).logits
        assert not torch.allclose(logits, initial(fixed).logits)  # training changed the model
    torch.testing.assert_close(logits, reference, rtol=1e-5, atol=1e-5)

    # The project's held-out perplexity, from the saved checkpoint, on documents never trained on.
    heldout = make_texts(4, seed=99)
    tokenizer = AutoTokenizer.from_pretrained(out)
    trained_ppl = heldout_perplexity(model, tokenizer, heldout, max_length=64).perplexity
    assert (
        math.isfinite(trained_ppl)
        and trained_ppl < heldout_perplexity(initial, tokenizer, heldout, max_length=64).perplexity
    )


@pytest.mark.slow
def test_zero_config_trains_on_two_cpu_processes(trained: Path, inputs) -> None:
    check_run(trained, inputs["model"])
    name = trained.parent.name
    ran = {(row["zero_stage"], row["optimizer"]) for rows in batches(trained).values() for row in rows}
    if name.startswith("zero3_offload"):  # the optimizer step really ran on the CPU side
        assert ran == {(3, "DeepSpeedCPUAdam")}
    else:
        assert ran == {(3 if name.startswith("zero3") else 2, "AdamW")}


@pytest.mark.slow
def test_launch_slurm_commands_train_as_two_nodes(trained_on_two_nodes: Path, inputs) -> None:
    check_run(trained_on_two_nodes, inputs["model"])
    ran = {(row["zero_stage"], row["optimizer"]) for rows in batches(trained_on_two_nodes).values() for row in rows}
    assert ran == {(3, "AdamW")}


def test_a_launch_accelerate_undercounts_is_refused(monkeypatch) -> None:
    """What DeepSpeed on CPU without `--ddp_backend gloo` did: 2 processes, accelerate counts 1."""
    from types import SimpleNamespace

    import torch.distributed as dist

    from metasynth_hf.errors import ConfigError
    from metasynth_hf.training.cpt import _check_world_size

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    with pytest.raises(ConfigError, match="--ddp_backend gloo"):
        _check_world_size(SimpleNamespace(world_size=1))
    _check_world_size(SimpleNamespace(world_size=2))
