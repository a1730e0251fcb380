"""The arguments of `metasynth train`: TRL's own dataclasses plus one of ours.

Recipe YAML keys equal dataclass fields, exactly as for `trl sft --config`: `ScriptArguments`,
`SFTConfig`, `ModelConfig` and `DatasetMixtureConfig` from TRL, and `CPTArguments` below for
what TRL has no field for. Any TRL command-line option overrides the YAML.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, cast

from metasynth_hf.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from trl.scripts.utils import DataClassType

logger = logging.getLogger(__name__)


@dataclass
class CPTArguments:
    """Settings of `metasynth train` that TRL's dataclasses do not have."""

    global_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Sequences per optimizer step over all processes. When set, "
            "gradient_accumulation_steps is derived from it, so the same recipe keeps the same "
            "effective batch on 1 GPU, 8 GPUs or N nodes."
        },
    )


#: Fields that `trl sft --config` would not accept (it hands unknown keys to accelerate).
METASYNTH_ONLY_FIELDS = tuple(CPTArguments.__dataclass_fields__)


def dataclass_types() -> tuple[type, ...]:
    """The dataclasses a recipe YAML fills, in the order `parse_args_and_config` returns them."""
    from trl import DatasetMixtureConfig, ModelConfig, ScriptArguments, SFTConfig

    return (ScriptArguments, SFTConfig, ModelConfig, DatasetMixtureConfig, CPTArguments)


def make_parser(prog: str = "metasynth train") -> Any:
    """A `TrlParser` over our dataclasses: `--config file.yaml` plus any TRL CLI option."""
    from trl import TrlParser

    return TrlParser(cast("Iterable[DataClassType]", dataclass_types()), prog=prog)


FIELDS_OF = "fields of TRL's ScriptArguments, SFTConfig, ModelConfig, DatasetMixtureConfig or metasynth's CPTArguments"


def parse(argv: list[str]) -> tuple[Any, ...]:
    """Parse `argv` (with `--config`) into the five dataclasses; an unknown recipe key or option,
    or a bad value, is one line naming it (argparse would print its 300-option usage)."""
    parser = make_parser()

    def error(message: str) -> NoReturn:
        raise ConfigError(f"{message}; TRL options are written --field_name VALUE, e.g. --max_steps 4")

    parser.error = error  # argparse reports bad values through it
    try:
        *parsed, from_recipe, from_cli = parser.parse_args_and_config(
            argv, return_remaining_strings=True, separate_remaining_strings=True
        )
    except ValueError as exc:  # the recipe is not a mapping, a field rejects its value
        raise ConfigError(" ".join(str(exc).split())) from exc
    if from_cli:
        raise ConfigError(
            f"unknown option {_named(parser, from_cli)}: not one of the {FIELDS_OF}; "
            "`metasynth train --config RECIPE -- --help` lists them"
        )
    if from_recipe:
        recipe = argv[argv.index("--config") + 1] if "--config" in argv else "the recipe"
        keys = _named(parser, from_recipe[::2], prefix="")
        raise ConfigError(f"{recipe}: unknown key {keys}: every recipe key must be one of the {FIELDS_OF}")
    return tuple(parsed)


def _named(parser: Any, unknown: list[str], prefix: str = "--") -> str:
    """`--lr (did you mean --learning_rate?)`: the unknown options (values left out), each with
    the nearest known field when one is close; `prefix=""` names recipe keys."""
    fields = sorted({action.dest for action in parser._actions if action.option_strings})
    out = []
    for item in unknown:
        if not item.startswith("-"):
            continue  # the value of an unknown option
        name = item.split("=", 1)[0].lstrip("-")
        close = difflib.get_close_matches(name.replace("-", "_"), fields, n=1, cutoff=0.8)
        hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
        out.append(f"{prefix}{name}{hint}")
    return ", ".join(out) or repr(" ".join(unknown))


def apply_global_batch_size(training_args: Any, cpt_args: CPTArguments, world_size: int) -> None:
    """Derive gradient accumulation from the global batch, or say exactly why it cannot be."""
    target = cpt_args.global_batch_size
    per_step = training_args.per_device_train_batch_size * world_size
    if target is None:
        logger.info(
            "effective batch: %d sequences per optimizer step (%d per device x %d processes x %d accumulation)",
            per_step * training_args.gradient_accumulation_steps,
            training_args.per_device_train_batch_size,
            world_size,
            training_args.gradient_accumulation_steps,
        )
        return
    if target <= 0 or target % per_step:
        raise ConfigError(
            f"global_batch_size={target} is not a positive multiple of per_device_train_batch_size "
            f"({training_args.per_device_train_batch_size}) x processes ({world_size}) = {per_step}; "
            "change global_batch_size or per_device_train_batch_size"
        )
    training_args.gradient_accumulation_steps = target // per_step
    logger.info(
        "global_batch_size=%d: gradient_accumulation_steps=%d on %d processes",
        target,
        training_args.gradient_accumulation_steps,
        world_size,
    )
