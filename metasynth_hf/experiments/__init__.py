"""`metasynth compare`: MetaSynth against the template baselines on the user's model and real text.

`config` (the experiment model), `reference` (the user's real text, split), `runner`
(generation + metrics), `cpt` (the continual pre-training effect) and `results` (the markdown
file). Nothing here knows a machine: this project's own stand-in real text, the paper's table
and the limits of its small runs live in `recipes/experiments/` and reach a run through its YAML.
"""

from metasynth_hf.experiments.config import METHOD_SPECS, CptConfig, ExperimentConfig

__all__ = ["METHOD_SPECS", "CptConfig", "ExperimentConfig"]
