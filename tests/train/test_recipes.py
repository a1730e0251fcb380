"""Every training recipe parses into TRL's arguments, with the settings CPT depends on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from metasynth_hf.errors import ConfigError
from metasynth_hf.training.args import METASYNTH_ONLY_FIELDS, apply_global_batch_size, parse

from .conftest import RECIPES

TRAIN_RECIPES = sorted(RECIPES.rglob("cpt.yaml"))
MISTRAL = RECIPES / "mistral-7b-v0.3"


@pytest.mark.parametrize("recipe", TRAIN_RECIPES, ids=lambda p: str(p.relative_to(RECIPES)))
def test_recipe_parses_into_training_arguments(recipe: Path) -> None:
    # --use_cpu: bf16 recipes are validated against the hardware at parse time.
    script, training, model, mixture, cpt = parse(["--config", str(recipe), "--use_cpu", "true"])
    assert model.model_name_or_path
    assert training.packing and training.packing_strategy == "bfd_split", "CPT keeps every token"
    assert training.completion_only_loss is not True and not training.assistant_only_loss
    assert training.dataset_text_field == "text"
    assert mixture.datasets or script.dataset_name, "a recipe names its data"
    assert training.max_length and training.learning_rate > 0


@pytest.mark.parametrize("recipe", TRAIN_RECIPES, ids=lambda p: str(p.relative_to(RECIPES)))
def test_recipe_without_metasynth_keys_is_a_plain_trl_sft_config(recipe: Path, tmp_path) -> None:
    """`trl sft --config` hands unknown keys to accelerate: only ours may be unknown to it."""
    from trl.scripts.sft import make_parser

    data = yaml.safe_load(recipe.read_text())
    for key in METASYNTH_ONLY_FIELDS:
        data.pop(key, None)
    plain = tmp_path / "cpt.yaml"
    plain.write_text(yaml.safe_dump(data))
    *_, from_config, from_cli = make_parser().parse_args_and_config(
        ["--config", str(plain), "--use_cpu", "true"],
        return_remaining_strings=True,
        separate_remaining_strings=True,
    )
    assert from_config == [] and from_cli == []


def test_domain_recipes_differ_only_by_domain() -> None:
    finance = yaml.safe_load((MISTRAL / "finance" / "cpt.yaml").read_text())
    biomedicine = (MISTRAL / "biomedicine" / "cpt.yaml").read_text()
    assert yaml.safe_load(biomedicine.replace("biomedicine", "finance")) == finance


@pytest.mark.parametrize(("world_size", "accumulation"), [(1, 16), (8, 2), (16, 1)])
def test_global_batch_is_kept_on_any_layout(world_size: int, accumulation: int) -> None:
    _, training, _, _, cpt = parse(["--config", str(MISTRAL / "finance" / "cpt.yaml"), "--use_cpu", "true"])
    apply_global_batch_size(training, cpt, world_size)
    assert training.gradient_accumulation_steps == accumulation
    assert training.per_device_train_batch_size * world_size * accumulation == 64


def test_global_batch_that_does_not_divide_is_an_error() -> None:
    _, training, _, _, cpt = parse(["--config", str(MISTRAL / "finance" / "cpt.yaml"), "--use_cpu", "true"])
    with pytest.raises(ConfigError, match="global_batch_size=64 .* 12"):
        apply_global_batch_size(training, cpt, world_size=3)


def test_unknown_recipe_key_is_an_error(tmp_path) -> None:
    recipe = tmp_path / "cpt.yaml"
    text = (RECIPES / "tiny" / "cpt.yaml").read_text()
    recipe.write_text(text + "learning_rte: 1.0e-4\n")
    with pytest.raises(ConfigError, match="learning_rte"):
        parse(["--config", str(recipe)])


def test_cli_options_override_the_recipe() -> None:
    _, training, model, _, cpt = parse(
        [
            "--config",
            str(RECIPES / "tiny" / "cpt.yaml"),
            "--max_steps",
            "2",
            "--global_batch_size",
            "8",
        ]
    )
    assert training.max_steps == 2 and cpt.global_batch_size == 8
    assert model.model_name_or_path == "smollm2"
