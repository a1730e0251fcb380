"""Generation: seeds in, documents (+ provenance) out. The engine and what every method shares.

- `engine.py`: the driver over many documents (lanes, in-order publication, resume, shards):
  `metasynth_hf.generation.engine.generate`
- `preflight.py`: every check before the first model call; builds the method's producer
- `context.py`: what a producer is handed (`RunContext`) and the `Producer` protocol
- `conductor.py`: the conductor turn loop shared by MetaSynth and MetaSynth-Instruct (parse,
  re-ask, fixed-order fallback, stop rules); `turns.py`: its JSON turn schema and parser;
  `agency.py`: how much the conductor decided; `memory.py`: its history under a token budget
- `instance_table.py`: finished documents and retrieval of the part a document is shown
- `prompts.py`: the jinja2 prompt set (`metasynth_hf/prompts/`) and its hash
- `calls.py`: per-call seeds, token budget, provenance trace; `text.py`: output clean-up
- `methods/`: one module per method (MetaSynth, the template baselines, MetaSynth-Instruct)

What a document is on disk (record schema, shard files) belongs to `metasynth_hf.corpus`.
"""

from metasynth_hf.generation.conductor import ConductorLoop, LoopSpec, NoFinalError, Workspace
from metasynth_hf.generation.instance_table import InstanceTable
from metasynth_hf.generation.memory import ConductorMemory
from metasynth_hf.generation.prompts import PromptSet, RoleSpec

__all__ = [
    "ConductorLoop",
    "ConductorMemory",
    "InstanceTable",
    "LoopSpec",
    "NoFinalError",
    "PromptSet",
    "RoleSpec",
    "Workspace",
]
