"""What every producer (MetaSynth, baselines, Instruct) shares within one run: the plan it is
built from, the context it produces with, and the protocols the engine knows it by."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from metasynth_hf.config import RunConfig
from metasynth_hf.corpus.records import InstanceEntry, Record
from metasynth_hf.generation.calls import Caller, DocTrace
from metasynth_hf.generation.instance_table import InstanceTable
from metasynth_hf.generation.prompts import PromptSet
from metasynth_hf.llm.base import ChatModel
from metasynth_hf.seeds.domains import Domain
from metasynth_hf.seeds.types import FinishedDoc, SeedSet, rng_for


@dataclass(frozen=True)
class RunPlan:
    """What a run knows before any model exists: enough for a producer to check its config
    and prepare (its constructor runs here, so a bad config never costs a model load)."""

    config: RunConfig
    prompts: PromptSet
    domain: Domain
    table: InstanceTable

    def persona(self, index: int) -> str:
        """A persona hint of the domain, drawn per document (deterministic)."""
        hints = self.domain.persona_hints
        if not hints:
            return f"an experienced {self.domain.name} professional"
        return hints[rng_for("persona", self.config.seed, index).randrange(len(hints))]


@dataclass(frozen=True)
class RunContext:
    """A run once its models answer: the plan, the role models, the fingerprint that names
    the served models, and the token counter. Built once, complete, and handed to `produce`."""

    plan: RunPlan
    models: Mapping[str, ChatModel]
    fingerprint: str
    count_tokens: Callable[[str], int]

    @property
    def config(self) -> RunConfig:
        return self.plan.config

    @property
    def prompts(self) -> PromptSet:
        return self.plan.prompts

    @property
    def domain(self) -> Domain:
        return self.plan.domain

    @property
    def table(self) -> InstanceTable:
        return self.plan.table

    def persona(self, index: int) -> str:
        return self.plan.persona(index)

    def caller(self, index: int) -> tuple[Caller, DocTrace]:
        """Document `index`'s caller (derived seeds, the token budget) and the trace it fills."""
        trace = DocTrace()
        caller = Caller(
            self.models,
            trace,
            run_seed=self.config.seed,
            doc_index=index,
            token_budget=self.config.stop.max_doc_tokens,
        )
        return caller, trace

    def base_provenance(self, index: int, visible: Sequence[InstanceEntry]) -> dict[str, Any]:
        return {
            "doc_index": index,
            "prompt_set": self.prompts.hash,
            "config_fingerprint": self.fingerprint,
            "conditioned_on": {"visible": len(visible)},
            "shard": f"{self.config.shard_index}/{self.config.num_shards}",
        }


class Producer(Protocol):
    """Makes document `index` from its seeds and the entries it may condition on.

    Built from the `RunPlan` (its constructor checks the config, before any model loads);
    `produce` gets the complete `RunContext` (models, fingerprint, token counter).

    `roles`: the model roles it calls. `history_free`: its documents read no earlier document
    (nor seeds that depend on one), so the engine needs no window for them. `limit`: how many
    positions it can fill of the `positions` asked (None = until `target_tokens`). A method
    subclasses this protocol to inherit the defaults (not history-free, no limit of its own)."""

    roles: tuple[str, ...]
    history_free: bool = False

    def __init__(self, plan: RunPlan) -> None: ...

    def limit(self, positions: int | None) -> int | None:
        return positions

    @classmethod
    def describe(cls, facts: Mapping[str, Any]) -> str:
        """What ran for a corpus of this method, in the dataset card's words (`facts`:
        `metasynth_hf.hub.gather_facts`); a method overrides it to say more than its summary."""
        from metasynth_hf.generation.methods import method_spec

        method = facts["method"]
        return f"This corpus was generated with metasynth-hf, method `{method}`: {method_spec(method).summary}."

    async def produce(
        self, ctx: RunContext, index: int, seeds: SeedSet, visible: Sequence[InstanceEntry]
    ) -> tuple[Record, InstanceEntry]: ...


class SeedingProducer(Producer, Protocol):
    """A producer that is also its own seeder (`MethodSpec.seeds == "own"`, e.g. Instruct:
    source document i is document i's seed)."""

    def seeds_for(self, doc_index: int, history: Sequence[FinishedDoc]) -> SeedSet: ...

    def expand(self, new_keywords: Iterable[str], *, source: int | None = None) -> None:
        """Its seeds are fixed: keywords its documents add change nothing."""
