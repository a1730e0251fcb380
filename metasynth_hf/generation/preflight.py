"""Everything that can be checked before the first model call, checked there.

Unknown domain or method, an unreadable keyword file, a seed corpus without its text column,
a missing expert prompt, a method that needs what the config lacks: each raises ConfigError
here, before models load, so a bad config never costs a call.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import cast

from metasynth_hf.errors import missing_dependency
from metasynth_hf.generation.context import Producer, RunContext, SeedingProducer
from metasynth_hf.generation.methods import method_spec, producer_class
from metasynth_hf.seeds.domains import resolve_domain
from metasynth_hf.seeds.types import Seeder

logger = logging.getLogger(__name__)


def build_producer(ctx: RunContext) -> Producer:
    """The producer of the config's method, from the registry (generation/methods)."""
    return producer_class(ctx.config.method)(ctx)


def build_seeder(ctx: RunContext) -> Seeder:
    """The seeder of `config.seeds` (keyword or topic-aware; corpus read and embedded now)."""
    from metasynth_hf.seeds.config import build_seeder as build

    # document i of shard k/N sees documents <= i - lanes * N (its shard's, lanes positions back)
    return build(ctx.config.seeds, ctx.domain, seed=ctx.config.seed, lanes=ctx.config.lanes * ctx.config.num_shards)


def _check_embedder(ctx: RunContext, limit: int | None) -> None:
    """Retrieval from the instance table needs sentence-transformers once it outgrows context."""
    table = ctx.config.instance_table
    if table.embedder == "hashing" or not method_spec(ctx.config.method).conductor:
        return
    if limit is not None and limit <= table.max_entries + ctx.config.lanes:
        return
    if importlib.util.find_spec("sentence_transformers") is None:
        raise missing_dependency("sentence-transformers (instance_table.embedder)", "metrics")


def prepare(ctx: RunContext, seeder: Seeder | None = None, limit: int | None = None) -> tuple[Producer, Seeder]:
    """Resolve the domain, build the producer and the seeder; raise ConfigError on bad input."""
    config = ctx.config
    domain = config.domain if isinstance(config.domain, str) else config.domain.model_dump()
    ctx.domain = resolve_domain(domain)
    producer = build_producer(ctx)
    if method_spec(config.method).seeds == "own":
        seeder = cast("SeedingProducer", producer)  # e.g. Instruct: its source documents are its seeds
    elif seeder is None:
        seeder = build_seeder(ctx)
    _check_embedder(ctx, limit)
    return producer, seeder
