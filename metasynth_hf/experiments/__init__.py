"""Evidence: MetaSynth against the three template baselines, at any scale, with one command.

`metasynth compare --config recipes/experiments/<name>.yaml` runs `config` (the experiment
model), `reference` (real text), `runner` (generation + metrics), `cpt` (the tiny continual
pre-training effect) and `results` (the markdown file).
"""

from metasynth_hf.experiments.config import METHOD_SPECS, CptConfig, ExperimentConfig

__all__ = ["METHOD_SPECS", "CptConfig", "ExperimentConfig"]
