"""Every accelerate config, ZeRO JSON and recipe loads through the loaders that will run it."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from metasynth_hf.training.args import apply_global_batch_size, parse

from .conftest import RECIPES, REPO

ACCELERATE_CONFIGS = sorted((RECIPES / "accelerate_configs").glob("*.yaml"))
ZERO_JSONS = sorted((RECIPES / "accelerate_configs").glob("*.json"))
TRAIN_RECIPES = sorted(RECIPES.rglob("cpt.yaml"))
MISTRAL = RECIPES / "mistral-7b-v0.3"


def test_every_training_recipe_is_tested() -> None:
    """A YAML that names a model to train must be a cpt.yaml (parsed below), wherever it lives."""
    known = set(ACCELERATE_CONFIGS) | set(TRAIN_RECIPES)
    stray = [
        p
        for p in RECIPES.rglob("*.yaml")
        if p not in known and "model_name_or_path" in (yaml.safe_load(p.read_text()) or {})
    ]
    assert not stray, f"training recipes not named cpt.yaml (untested): {stray}"
    names = {p.name for p in ACCELERATE_CONFIGS}
    assert {"ddp.yaml", "zero2.yaml", "zero3.yaml", "zero3_offload.yaml"} <= names
    assert "multi_node_zero3.yaml" in names


def launch_env(config: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[object, dict]:
    """What `accelerate launch --config_file CONFIG` resolves and hands to each process."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    monkeypatch.chdir(REPO)  # configs name their ZeRO JSON relative to the repository root
    argv = ["--config_file", str(config), *extra, "-m", "metasynth_hf.train", "--config", "x"]
    args, defaults, mp_from_config = _validate_launch_command(launch_command_parser().parse_args(argv))
    if not args.use_deepspeed:
        return args, prepare_multi_gpu_env(args)
    # Same bookkeeping as accelerate's launch_command before it calls the DeepSpeed launcher.
    fields = list(defaults.deepspeed_config) + (["mixed_precision"] if mp_from_config else [])
    args.deepspeed_fields_from_accelerate_config = ",".join(fields)
    return args, prepare_deepspeed_cmd_env(args)[1]


@pytest.mark.parametrize("config", ACCELERATE_CONFIGS, ids=lambda p: p.name)
def test_accelerate_config_loads_and_launches(config: Path, monkeypatch) -> None:
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DeepSpeedPlugin

    loaded = load_config_from_file(str(config))
    assert loaded.compute_environment.value == "LOCAL_MACHINE"
    args, env = launch_env(config, monkeypatch)
    assert args.num_processes == loaded.num_processes
    if not args.use_deepspeed:
        assert args.multi_gpu and loaded.distributed_type.value == "MULTI_GPU"
        return
    json_path = REPO / loaded.deepspeed_config["deepspeed_config_file"]
    assert json_path.is_file()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()  # the check each training process runs on the launcher's env
    stage = json.loads(json_path.read_text())["zero_optimization"]["stage"]
    assert plugin.zero_stage == stage == (2 if "zero2" in config.name else 3)
    assert plugin.zero3_init_flag == (stage == 3)
    from transformers.integrations import is_deepspeed_zero3_enabled

    assert not is_deepspeed_zero3_enabled()  # nothing global left behind for later tests
    if loaded.num_machines > 1:
        assert loaded.deepspeed_config["deepspeed_multinode_launcher"] == "standard"
        assert loaded.rdzv_backend == "c10d" and loaded.num_processes % loaded.num_machines == 0


def test_inline_deepspeed_keys_next_to_a_json_are_refused(tmp_path, monkeypatch) -> None:
    """The control for the test above: accelerate rejects zero_stage beside the JSON."""
    from accelerate.utils import DeepSpeedPlugin

    data = yaml.safe_load((RECIPES / "accelerate_configs" / "zero3.yaml").read_text())
    data["deepspeed_config"]["zero_stage"] = 3
    data["mixed_precision"] = "bf16"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    _, env = launch_env(bad, monkeypatch)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match="deepspeed_config_file"):
        DeepSpeedPlugin()


def _autos(node: object, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [hit for key, value in node.items() for hit in _autos(value, f"{path}.{key}")]
    return [path] if node == "auto" else []


@pytest.mark.parametrize("zero_json", ZERO_JSONS, ids=lambda p: p.name)
def test_zero_json_fills_and_parses_with_deepspeed(zero_json: Path) -> None:
    """transformers fills every "auto" from the recipe; DeepSpeed's own parser accepts the result."""
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    _, training_args, _, _, cpt_args = parse(["--config", str(MISTRAL / "finance" / "cpt.yaml"), "--use_cpu", "true"])
    apply_global_batch_size(training_args, cpt_args, world_size=8)
    hf_config = HfTrainerDeepSpeedConfig(str(zero_json))
    assert _autos(hf_config.config), "a ZeRO JSON without auto values would fight the recipe"
    hf_config.trainer_config_process(training_args)
    model = SimpleNamespace(config=SimpleNamespace(hidden_size=4096, hidden_sizes=None))
    hf_config.trainer_config_finalize(training_args, model, num_training_steps=190)
    assert _autos(hf_config.config) == []
    parsed = DeepSpeedConfig(hf_config.config)
    assert parsed.zero_optimization_stage == (2 if "zero2" in zero_json.name else 3)
    assert parsed.bfloat16_config.enabled is True  # from the recipe's bf16: true
    assert parsed.gradient_accumulation_steps == training_args.gradient_accumulation_steps == 2
    assert parsed.gradient_clipping == training_args.max_grad_norm
    offload = parsed.zero_config.offload_optimizer
    assert (offload is not None and offload.device == "cpu") == ("offload" in zero_json.name)
