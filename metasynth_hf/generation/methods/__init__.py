"""The one place that names a generation method: `METHODS`.

Each method is one module here with a producer class (the `Producer` protocol of
`generation/context.py`) and one `MethodSpec` line below saying what it needs; the config's
`method` field, the CLI's `--method` choices, the preflight checks, the engine's instance
table and the dataset card all read this registry, so adding a method is one file and one
line (tests/generation/test_methods_registry.py adds a throwaway one).

- `metasynth.py`: MetaSynth (conductor + experts + instance table), keyword or topic-aware seeds
- `template.py`: the paper's three template baselines (`template`, `template_prior`, `template_icl`)
- `instruct.py`: MetaSynth-Instruct (instructions evolved from documents by the same conductor loop)

Light on purpose (no imports of the producers): `metasynth_hf.config` imports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the registry stays light: metasynth_hf.config imports it
    from metasynth_hf.generation.context import Producer


@dataclass(frozen=True)
class MethodSpec:
    """What a method is and needs; the producer is imported only when the method runs."""

    producer: str  # "module:Class"
    summary: str  # one line, for --help and errors
    conductor: bool = False  # a conductor loop decides (agency is measured; the card says so)
    # Seeds: "any" = keyword or topic-aware (config.seeds), "topic_aware" = must be topic-aware,
    # "own" = the producer is its own seeder (Instruct: its source documents).
    seeds: Literal["any", "topic_aware", "own"] = "any"
    #: Model calls per document before any document measured it (progress estimates).
    calls_per_doc: Callable[[Any], float] = lambda config: 1.0


METHODS: dict[str, MethodSpec] = {
    "metasynth": MethodSpec(
        "metasynth_hf.generation.methods.metasynth:MetaSynthProducer",
        "MetaSynth: a conductor directs experts, conditioned on an instance table",
        conductor=True,
        calls_per_doc=lambda config: 2 * config.stop.max_turns + 1,
    ),
    "template": MethodSpec("metasynth_hf.generation.methods.template:TemplateProducer", "template prompting"),
    "template_prior": MethodSpec(
        "metasynth_hf.generation.methods.template:TemplateProducer", "template + the latest prior generations"
    ),
    "template_icl": MethodSpec(
        "metasynth_hf.generation.methods.template:TemplateProducer",
        "template + in-context exemplars of real documents",
        seeds="topic_aware",
    ),
    "instruct": MethodSpec(
        "metasynth_hf.generation.methods.instruct:InstructProducer",
        "MetaSynth-Instruct: instructions evolved from documents",
        conductor=True,
        seeds="own",
        calls_per_doc=lambda config: 2 * config.instruct.max_turns + 1,
    ),
}


def method_spec(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"method: unknown {name!r}; choose one of {', '.join(METHODS)}") from None


def conductor_methods() -> tuple[str, ...]:
    return tuple(name for name, spec in METHODS.items() if spec.conductor)


def producer_class(name: str) -> type[Producer]:
    module, _, attr = method_spec(name).producer.partition(":")
    return getattr(importlib.import_module(module), attr)
