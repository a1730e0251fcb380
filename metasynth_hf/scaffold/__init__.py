"""The MetaSynth scaffold: a conductor (meta-LM) directs experts, keeps a bounded memory and
conditions every document on an instance table of the earlier ones.

- `conductor.py`: the turn loop (parse, re-ask, fixed-order fallback, stop rules)
- `turns.py`: the conductor's JSON turn schema and tolerant parser
- `memory.py`: the conductor's history under a token budget
- `instance_table.py`: finished documents, retrieval of the relevant part
- `document.py`: the one-document MetaSynth run loop (`MetaSynthProducer`)
- `prompts.py`: the jinja2 prompt set (`metasynth_hf/prompts/`) and its hash
- `records.py`: the output record schema; `store.py`: shard files, resume, fingerprint guard
- `calls.py`: per-call seeds, token budget, provenance trace; `preflight.py`: checks up front

The driver over many documents is `metasynth_hf.engine.generate`.
"""

from metasynth_hf.scaffold.conductor import ConductorLoop, LoopSpec, NoFinalError, Workspace
from metasynth_hf.scaffold.document import MetaSynthProducer
from metasynth_hf.scaffold.instance_table import InstanceTable
from metasynth_hf.scaffold.memory import ConductorMemory
from metasynth_hf.scaffold.prompts import PromptSet, RoleSpec
from metasynth_hf.scaffold.records import InstanceEntry, Record

__all__ = [
    "ConductorLoop",
    "ConductorMemory",
    "InstanceEntry",
    "InstanceTable",
    "LoopSpec",
    "MetaSynthProducer",
    "NoFinalError",
    "PromptSet",
    "Record",
    "RoleSpec",
    "Workspace",
]
