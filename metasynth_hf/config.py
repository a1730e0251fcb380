"""The typed run configuration of `metasynth generate`, the engine and the datasets builder.

YAML keys equal field names; `metasynth_hf.config_io.load_config(RunConfig, path, overrides)`
reads a file plus CLI overrides and turns every validation problem into a ConfigError that
names the field. Everything that changes generated text is part of `fingerprint()`; what
only changes how much is generated, where it goes or how it is served is not, so a run can
be extended (more docs), resumed, or moved to other endpoints without refusing its folder.

```yaml
domain: finance                  # or {name, description, keywords: file.txt}
method: metasynth                # template | template_prior | template_icl | instruct
num_docs: 1000                   # and/or target_tokens: 25_000_000
lanes: 16
seed: 0
target_words: 400
stop: {max_turns: 8, max_doc_tokens: 6000, strict_final: false}
conductor: {endpoints: [{url: http://tgi-0:8080}, {url: http://tgi-1:8080}]}
experts: null                    # null: the conductor's model
output_dir: corpus/finance
```
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from metasynth_hf.config_io import StrictConfig
from metasynth_hf.generation.methods import method_spec
from metasynth_hf.llm.config import ModelConfig
from metasynth_hf.seeds.config import SeedsConfig

#: Bump when a code change alters generated output for an unchanged config.
ENGINE_VERSION = 5

DEFAULT_REQUIRED = ("seed_keywords", "domain_expert", "content_analyst")
DEFAULT_EXPERTS = (
    "seed_keywords",
    "domain_expert",
    "content_analyst",
    "summarizer",
    "topic_labeler",
)


class CustomDomain(StrictConfig):
    """A domain that is not shipped: what it is about and where its keywords are."""

    name: str
    description: str
    keywords: Path = Field(description="Keyword file, one keyword or keyphrase per line.")
    persona_hints: tuple[str, ...] = ()


class StopConfig(StrictConfig):
    """When a document is done, whether or not the conductor said FINAL."""

    max_turns: int = Field(8, ge=1, description="Conductor turns per document.")
    max_doc_tokens: int = Field(6000, ge=1, description="Completion tokens per document, all calls together.")
    max_words: int | None = Field(None, ge=1, description="Hard cap on a document's words (cut at a sentence end).")
    strict_final: bool = Field(
        False,
        description="Raise instead of assembling the best draft when no FINAL comes in max_turns.",
    )


class MemoryConfig(StrictConfig):
    """The conductor's message history within one document."""

    max_tokens: int = Field(3000, ge=200, description="History budget (approximate tokens).")
    summarize_with: Literal["summarizer", "digest"] = Field(
        "summarizer", description="Condense old turns with the Summarizer expert or a digest."
    )


class InstanceTableConfig(StrictConfig):
    """How much of the instance table each document is conditioned on."""

    max_entries: int = Field(12, ge=1, description="Entries shown to the conductor at most.")
    recent: int = Field(4, ge=0, description="Of those, always the most recent ones.")
    embedder: str = Field(
        "all-MiniLM-L6-v2",
        description="Retrieval beyond max_entries: a sentence-transformers model or 'hashing'.",
    )


class SamplingConfig(StrictConfig):
    """Sampling of one kind of call (the per-call seed is derived, never configured)."""

    max_tokens: int = Field(512, ge=1, description="Tokens per call at most.")
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)


class ConductorSampling(SamplingConfig):
    """Conductor turns: short JSON, moderately random."""

    max_tokens: int = Field(300, ge=1)
    temperature: float = Field(0.7, ge=0)


class ExpertSampling(SamplingConfig):
    """Expert answers: up to a whole document (~400 words), more varied."""

    max_tokens: int = Field(700, ge=1)
    temperature: float = Field(0.9, ge=0)


class BaselineConfig(StrictConfig):
    """The template baselines' knobs (template_prior and template_icl)."""

    prior_docs: int = Field(3, ge=1, description="template_prior: earlier documents shown.")
    exemplars: int = Field(2, ge=1, description="template_icl: real exemplars per prompt.")
    excerpt_chars: int = Field(1200, ge=100, description="Characters kept per shown document.")


class InstructConfig(StrictConfig):
    """MetaSynth-Instruct: turning synthetic documents into evolved instructions."""

    source: str | None = Field(
        None, description="Documents to build on: a generate output dir or .jsonl/.parquet files."
    )
    rounds: int = Field(2, ge=0, description="Evolution rounds of each instruction.")
    max_turns: int = Field(8, ge=1, description="Conductor turns per instruction.")
    experts: tuple[str, ...] = ("doc_transform", "role_suggester", "complexity", "question_editor")
    document_chars: int = Field(2500, ge=200, description="Characters of the source shown.")


class RunConfig(StrictConfig):
    """One generation run (or one shard of it)."""

    domain: str | CustomDomain = Field("finance", description="Shipped name or a custom domain.")
    method: str = Field("metasynth", description="A method of generation.methods.METHODS.")
    seeds: SeedsConfig = Field(default_factory=SeedsConfig, description="See metasynth_hf.seeds.")
    num_docs: int | None = Field(None, ge=1, description="Documents in the whole run.")
    target_tokens: int | None = Field(
        None,
        ge=1,
        description="Stop once the run holds this many tokens (all shards together; each "
        "shard makes ceil(target_tokens / num_shards)).",
    )
    lanes: int = Field(4, ge=1, description="Documents in flight; doc i sees docs <= i - lanes.")
    seed: int = Field(0, ge=0)
    target_words: int = Field(400, ge=20, description="Words per document asked for.")
    stop: StopConfig = Field(default_factory=StopConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    instance_table: InstanceTableConfig = Field(default_factory=InstanceTableConfig)
    expert_set: tuple[str, ...] = Field(DEFAULT_EXPERTS, description="Experts the conductor may call.")
    required_experts: tuple[str, ...] | None = Field(
        None,
        description="Experts that must have run before a FINAL is accepted "
        "(default: seed_keywords, domain_expert, content_analyst, those in expert_set).",
    )
    conductor: ModelConfig = Field(default_factory=ModelConfig)
    experts: ModelConfig | None = Field(None, description="None: the conductor's model.")
    conductor_sampling: ConductorSampling = Field(default_factory=ConductorSampling)
    expert_sampling: ExpertSampling = Field(default_factory=ExpertSampling)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    instruct: InstructConfig = Field(default_factory=InstructConfig)
    tokenizer: str = Field(
        "approx", description="num_tokens: 'approx' (chars/4) or a tokenizer ('smollm2', path, id)."
    )
    prompts_dir: Path | None = Field(None, description="Your own prompt folder (default: shipped).")
    cache_path: Path | None = Field(None, description="Response cache (default: OUT/llm_cache.sqlite).")
    output_dir: Path = Path("corpus")
    shard_index: int = Field(0, ge=0)
    num_shards: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        if self.num_docs is None and self.target_tokens is None:
            raise ValueError("give num_docs, target_tokens or both (how much to generate)")
        if self.shard_index >= self.num_shards:
            raise ValueError(f"shard_index: must be below num_shards={self.num_shards}, got {self.shard_index}")
        missing = [e for e in self.required_experts or () if e not in self.expert_set]
        if missing:
            raise ValueError(f"required_experts: {missing} are not in expert_set {list(self.expert_set)}")
        spec = method_spec(self.method)
        if spec.seeds == "topic_aware" and self.seeds.kind != "topic_aware":
            raise ValueError(
                f"method {self.method} ({spec.summary}) needs real documents: set seeds.kind: "
                "topic_aware and seeds.corpus to a real domain corpus"
            )
        if "domain_expert" not in self.expert_set:
            raise ValueError("expert_set: must include domain_expert (it writes the document)")
        if len(set(self.expert_set)) != len(self.expert_set):
            raise ValueError(f"expert_set: each expert must appear once, got {list(self.expert_set)}")
        return self

    @property
    def required(self) -> tuple[str, ...]:
        """The experts a FINAL waits for."""
        if self.required_experts is not None:
            return self.required_experts
        return tuple(e for e in DEFAULT_REQUIRED if e in self.expert_set)

    @property
    def expert_model(self) -> ModelConfig:
        return self.experts or self.conductor

    @property
    def domain_name(self) -> str:
        return self.domain if isinstance(self.domain, str) else self.domain.name

    @property
    def resolved_cache_path(self) -> Path:
        """`cache_path`, else one SQLite file per shard in the output dir: shards of a Slurm array
        that share a folder on a network filesystem never share a SQLite file (WAL mode does not
        work across machines). Point `cache_path` at node-local disk to keep the cache off it."""
        if self.cache_path:
            return self.cache_path
        if self.num_shards == 1:
            return self.output_dir / "llm_cache.sqlite"
        return self.output_dir / f"llm_cache-shard-{self.shard_index:05d}-of-{self.num_shards:05d}.sqlite"

    def doc_id(self, index: int) -> str:
        """Stable, unique across shards: domain, method, seed and global index."""
        name = Path(self.domain_name).stem if "/" in self.domain_name else self.domain_name
        return f"{name}-{self.method}-s{self.seed}-{index:07d}"


def _model_identity(config: ModelConfig, served: Sequence[str] | None = None) -> dict[str, Any]:
    """What answers a role: labels, plus the models the servers report (`served`, read by the
    endpoint pool before the first call) or, for the embedded model, its weights' digest."""
    identity: dict[str, Any] = {"model": config.model, "endpoint_models": sorted({e.model for e in config.endpoints})}
    if config.endpoints:
        if served:
            identity["served"] = sorted(served)
        return identity
    if not config.grammar:  # the embedded model without its grammar
        identity["grammar"] = False
    from metasynth_hf.models import resolve_model

    identity["weights"] = resolve_model(config.model).identity
    return identity


def fingerprint_fields(
    config: RunConfig, prompt_hash: str, served: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """The config fields that change generated output, plus prompt hash and engine version.

    `served` maps "conductor"/"experts" to the model ids their servers report; without it the
    fingerprint knows only the configured labels (the builder's cache dir is made that way).
    """
    data = config.model_dump(
        mode="json",
        exclude={
            "num_docs",
            "target_tokens",
            "output_dir",
            "cache_path",
            "shard_index",
            "prompts_dir",
            "conductor",
            "experts",
            "stop",
        },
    )
    data["stop"] = config.stop.model_dump(mode="json", exclude={"strict_final"})
    served = served or {}
    data["conductor_model"] = _model_identity(config.conductor, served.get("conductor"))
    data["expert_model"] = _model_identity(config.expert_model, served.get("experts"))
    data["prompt_set"] = prompt_hash
    data["engine_version"] = ENGINE_VERSION
    return data


def fingerprint(config: RunConfig, prompt_hash: str, served: Mapping[str, Sequence[str]] | None = None) -> str:
    """A short hash of `fingerprint_fields`: the builder's `hash=` and the output dir's guard."""
    blob = json.dumps(fingerprint_fields(config, prompt_hash, served), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
