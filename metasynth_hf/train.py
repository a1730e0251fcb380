"""`python -m metasynth_hf.train`: the module `accelerate launch -m` starts on every process.

The recipes and launchers name this path; the training is `metasynth_hf.training.cpt`.
"""

import sys

from metasynth_hf.training.cpt import launch

if __name__ == "__main__":
    sys.exit(launch())
