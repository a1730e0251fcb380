r"""Continual pre-training of a causal LM on a MetaSynth corpus with TRL's SFTTrainer.

Run from the repository root; the recipe is the same for every hardware layout, only the
accelerate config changes (recipes/README.md explains each):

    # 8 GPUs, one node, ZeRO-3
    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml \
        -m metasynth_hf.train --config recipes/mistral-7b-v0.3/finance/cpt.yaml
    # 1 GPU (7B needs CPU offload)
    accelerate launch --config_file recipes/accelerate_configs/zero3_offload.yaml \
        --num_processes 1 -m metasynth_hf.train --config recipes/mistral-7b-v0.3/finance/cpt.yaml
    # N nodes: sbatch --nodes=N recipes/launch.slurm recipes/mistral-7b-v0.3/finance/cpt.yaml
    # any TRL option overrides the recipe
    python -m metasynth_hf.train --config recipes/tiny/cpt.yaml --max_steps 4
    metasynth train --config recipes/tiny/cpt.yaml --max_steps 4

The training itself is `metasynth_hf.training.cpt` (this module parses the subcommand only).
"""

from __future__ import annotations

import argparse

USAGE_NOTE = "TRL options follow the recipe, e.g. metasynth train --config cpt.yaml --max_steps 4"
#: `metasynth` hands options it does not know to this field (the TRL parser checks them).
PASSTHROUGH_FIELD = "trl_args"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`metasynth train`: a recipe plus TRL options (kept light: no torch import here)."""
    parser.description = (parser.description or "") + "\n\n" + USAGE_NOTE
    parser.add_argument("--config", required=True, help="recipe YAML, e.g. recipes/tiny/cpt.yaml")
    parser.add_argument("trl_args", nargs=argparse.REMAINDER, help="TRL/transformers options after `--`")


def run(args: argparse.Namespace) -> int:
    """Entry of `metasynth train`: hand the recipe and options to the TRL parser, then train."""
    from metasynth_hf.training import cpt

    extra = list(getattr(args, "trl_args", None) or [])
    if extra[:1] == ["--"]:
        extra = extra[1:]
    return cpt.main(["--config", args.config, *extra])
