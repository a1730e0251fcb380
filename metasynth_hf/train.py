"""`python -m metasynth_hf.train`: the module `accelerate launch -m` starts on every process.

The recipes and launchers name this path; the command itself is `metasynth_hf.commands.train`.
"""

import sys

from metasynth_hf.commands.train import launch

if __name__ == "__main__":
    sys.exit(launch())
