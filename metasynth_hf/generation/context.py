"""What every producer (MetaSynth, baselines, Instruct) shares within one run."""

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
from metasynth_hf.seeds.types import FinishedDoc, SeedSet, rng_for


@dataclass
class RunContext:
    """Config, prompts, role models, domain and the instance table of one run (or shard)."""

    config: RunConfig
    prompts: PromptSet
    models: Mapping[str, ChatModel]
    domain: Any  # metasynth_hf.seeds.domains.Domain (name, description, persona_hints)
    table: InstanceTable
    fingerprint: str
    count_tokens: Callable[[str], int]

    def persona(self, index: int) -> str:
        """A persona hint of the domain, drawn per document (deterministic)."""
        hints = tuple(getattr(self.domain, "persona_hints", ()) or ())
        if not hints:
            return f"an experienced {self.domain.name} professional"
        return hints[rng_for("persona", self.config.seed, index).randrange(len(hints))]

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

    `roles`: the model roles it calls. `history_free`: its documents read no earlier document
    (nor seeds that depend on one), so the engine needs no window for them. `limit`: how many
    positions it can fill of the `positions` asked (None = until `target_tokens`). A method
    subclasses this protocol to inherit the defaults (not history-free, no limit of its own)."""

    roles: tuple[str, ...]
    history_free: bool = False

    def limit(self, positions: int | None) -> int | None:
        return positions

    async def produce(
        self, index: int, seeds: SeedSet, visible: Sequence[InstanceEntry]
    ) -> tuple[Record, InstanceEntry]: ...


class SeedingProducer(Producer, Protocol):
    """A producer that is also its own seeder (`MethodSpec.seeds == "own"`, e.g. Instruct:
    source document i is document i's seed)."""

    def seeds_for(self, doc_index: int, history: Sequence[FinishedDoc]) -> SeedSet: ...

    def expand(self, new_keywords: Iterable[str], *, source: int | None = None) -> None:
        """Its seeds are fixed: keywords its documents add change nothing."""
