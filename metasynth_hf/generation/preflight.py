"""Everything that can be checked before the first model call, checked there.

Unknown domain or method, an unreadable keyword file, a seed corpus without its text column,
a missing expert prompt, a method that needs what the config lacks: each raises ConfigError
here, before models load, so a bad config never costs a call.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import cast

from metasynth_hf.config import RunConfig
from metasynth_hf.errors import missing_dependency
from metasynth_hf.generation.context import Producer, RunPlan, SeedingProducer
from metasynth_hf.generation.instance_table import InstanceTable
from metasynth_hf.generation.methods import method_spec, producer_class
from metasynth_hf.generation.prompts import PromptSet
from metasynth_hf.seeds.domains import resolve_domain
from metasynth_hf.seeds.types import Seeder

logger = logging.getLogger(__name__)


def make_plan(config: RunConfig, prompts: PromptSet, table: InstanceTable) -> RunPlan:
    """The run's plan: the config with its domain resolved (an unknown one fails here)."""
    domain = config.domain if isinstance(config.domain, str) else config.domain.model_dump()
    return RunPlan(config, prompts, resolve_domain(domain), table)


def build_producer(plan: RunPlan) -> Producer:
    """The producer of the config's method, from the registry (generation/methods)."""
    return producer_class(plan.config.method)(plan)


def build_seeder(plan: RunPlan) -> Seeder:
    """The seeder of `config.seeds` (keyword or topic-aware; corpus read and embedded now)."""
    from metasynth_hf.seeds.config import build_seeder as build

    config = plan.config
    # document i of shard k/N sees documents <= i - lanes * N (its shard's, lanes positions back)
    return build(config.seeds, plan.domain, seed=config.seed, lanes=config.lanes * config.num_shards)


def _check_embedder(config: RunConfig, limit: int | None) -> None:
    """Retrieval from the instance table needs sentence-transformers once it outgrows context."""
    table = config.instance_table
    if table.embedder == "hashing" or not method_spec(config.method).conductor:
        return
    if limit is not None and limit <= table.max_entries + config.lanes:
        return
    if importlib.util.find_spec("sentence_transformers") is None:
        raise missing_dependency("sentence-transformers (instance_table.embedder)", "metrics")


def prepare(plan: RunPlan, seeder: Seeder | None = None, limit: int | None = None) -> tuple[Producer, Seeder]:
    """Build the producer and the seeder of the plan; raise ConfigError on bad input."""
    producer = build_producer(plan)
    if method_spec(plan.config.method).seeds == "own":
        seeder = cast("SeedingProducer", producer)  # e.g. Instruct: its source documents are its seeds
    elif seeder is None:
        seeder = build_seeder(plan)
    _check_embedder(plan.config, limit)
    return producer, seeder
