"""Seed selection: what each synthetic document is conditioned on.

* Keyword-based: `KeywordSeeder(domain, k=3, seed=...)` deals random keywords of a domain
  (shipped: see `known_domains()`; custom: `custom_domain(name, description, file)`).
* Topic-aware: `TopicAwareSeeder(corpus, config, seed=...)` picks real seed documents by an
  adaptive k-NN over sentence embeddings, moving to new topics every M documents.

Both implement `Seeder`: `seeds_for(doc_index, history) -> SeedSet` is a pure function of
(run seed, doc_index, history), and `expand(keywords, source=index)` adds keywords as the
run goes; they reach a document only when `source` is in its history, so expansion keeps
that purity. Heavy dependencies (datasets, faiss, sentence-transformers) load on use.
See README.md in this folder for the rules and the choices behind them.
"""

from __future__ import annotations

from metasynth_hf.seeds.config import KeywordSeedsConfig, SeedsConfig, build_seeder
from metasynth_hf.seeds.domains import (
    Domain,
    custom_domain,
    known_domains,
    load_domain,
    read_keywords,
    resolve_domain,
)
from metasynth_hf.seeds.keyword import KeywordSeeder
from metasynth_hf.seeds.topic_aware import TopicAwareConfig, TopicAwareSeeder
from metasynth_hf.seeds.types import FinishedDoc, SeedDocument, Seeder, SeedSet

__all__ = [
    "Domain",
    "FinishedDoc",
    "KeywordSeeder",
    "KeywordSeedsConfig",
    "SeedDocument",
    "SeedSet",
    "Seeder",
    "SeedsConfig",
    "TopicAwareConfig",
    "TopicAwareSeeder",
    "build_seeder",
    "custom_domain",
    "known_domains",
    "load_domain",
    "read_keywords",
    "resolve_domain",
]
