"""Generation: seeds in, documents (+ provenance) out. The engine and what every method shares.

- `engine.py`: the driver over many documents (lanes, in-order publication, resume, shards):
  `metasynth_hf.generation.engine.generate`
- `preflight.py`: every check before the first model call; builds the method's producer
- `context.py`: what a producer is built from (`RunPlan`: config, prompts, domain, instance
  table) and produces with (`RunContext`: the plan + role models, fingerprint, token counter),
  and the `Producer` protocol
- `conductor.py`: the conductor turn loop shared by MetaSynth and MetaSynth-Instruct (parse,
  re-ask, fixed-order fallback, stop rules); `turns.py`: its JSON turn schema and parser;
  `agency.py`: how much the conductor decided; `memory.py`: its history under a token budget
- `instance_table.py`: finished documents and retrieval of the part a document is shown
- `prompts.py`: the jinja2 prompt set (`metasynth_hf/prompts/`) and its hash
- `calls.py`: per-call seeds, token budget, provenance trace; `text.py`: output clean-up
- `describe.py`: the dataset-card sentences the methods' `describe` share
- `methods/`: one module per method (MetaSynth, the template baselines, MetaSynth-Instruct)

What a document is on disk (record schema, shard files) belongs to `metasynth_hf.corpus`.
"""

import importlib

# Names re-exported lazily: the config imports `generation.methods` (the registry), and an
# eager import of the loop here would import the config back before it is defined.
_EXPORTS = {
    "ConductorLoop": "conductor",
    "LoopSpec": "conductor",
    "NoFinalError": "conductor",
    "Workspace": "conductor",
    "InstanceTable": "instance_table",
    "ConductorMemory": "memory",
    "PromptSet": "prompts",
    "RoleSpec": "prompts",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"metasynth_hf.generation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'metasynth_hf.generation' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
