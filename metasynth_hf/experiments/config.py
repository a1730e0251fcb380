"""The experiment config of `metasynth compare`: one YAML, every method, same model and size.

```yaml
name: small-embedded
domain: {name: python_docs, description: ..., keywords: recipes/experiments/keywords/python_docs.txt}
num_docs: 5                  # the same for every method
methods: [metasynth_keyword, metasynth_document, template, template_prior, template_icl]
run: {target_words: 120, lanes: 4, conductor: {model: smollm2}}   # RunConfig fields, shared
reference: {source: real/finance.parquet, general: real/web.parquet}  # real text (see reference.py)
metrics: {task2vec_num_batches: 4}                               # MetricsConfig fields
cpt: {recipe: recipes/tiny/cpt.yaml, max_steps: 20}               # optional: the CPT effect
context: [recipes/experiments/context/paper.yaml]                       # optional: paper table, limits
```

`run` holds every RunConfig field except the ones the experiment owns (method, seeds.kind,
seeds.corpus, domain, num_docs, seed, output_dir), so a config made for the embedded model
runs unchanged on TGI endpoints by adding `run.conductor.endpoints`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

from pydantic import Field, ValidationError, field_validator, model_validator

from metasynth_hf.config import CustomDomain, RunConfig
from metasynth_hf.config_io import StrictConfig, format_validation_error
from metasynth_hf.errors import ConfigError
from metasynth_hf.metrics.config import MetricsConfig

#: corpus label -> (RunConfig.method, seeds.kind). Order is the order of every table.
METHOD_SPECS: dict[str, tuple[str, str]] = {
    "metasynth_keyword": ("metasynth", "keyword"),
    "metasynth_document": ("metasynth", "topic_aware"),
    "template": ("template", "keyword"),
    "template_prior": ("template_prior", "keyword"),
    "template_icl": ("template_icl", "topic_aware"),
    # MetaSynth-Instruct, from one of the corpora above (`instruct_from`): run after it
    "instruct": ("instruct", "keyword"),
}
MethodName = Literal["metasynth_keyword", "metasynth_document", "template", "template_prior", "template_icl"]
#: RunConfig fields the experiment sets per method; `run:` must not set them.
OWNED_FIELDS = (
    "method",
    "domain",
    "num_docs",
    "target_tokens",
    "seed",
    "output_dir",
    "shard_index",
    "num_shards",
    "cache_path",
)


class ReferenceConfig(StrictConfig):
    """Real text: seeds/exemplars, the MAUVE/Vendi reference, held-out perplexity text.

    `source` and `general` are files, a folder or a Hub id with a text column, or
    `path/to/file.py:function` returning rows of {id, text, topic}.
    The real corpus is shuffled once (seeded) and cut into three disjoint parts, so no text a
    generator saw as a seed or exemplar is scored as reference or held-out text.
    """

    source: str = Field(description="the domain's real text: files, a folder, a Hub id or file.py:function")
    general: str | None = Field(None, description="off-domain real text, to measure forgetting (same forms)")
    description: str | None = Field(None, description="What the real text is, for the results.")
    text_column: str = "text"
    seed_docs: int = Field(96, ge=2, description="pool for topic-aware seeds and ICL exemplars")
    reference_docs: int = Field(64, ge=2, description="the MAUVE/Vendi reference corpus")
    heldout_docs: int = Field(32, ge=1, description="domain text scored by perplexity")
    general_docs: int = Field(32, ge=1, description="general text scored by perplexity")


class CptConfig(StrictConfig):
    """The tiny continual pre-training effect: base vs MetaSynth-trained vs template-trained."""

    recipe: Path = Field(description="a training recipe (YAML of metasynth train), e.g. recipes/tiny/cpt.yaml")
    corpora: tuple[MethodName, ...] = Field(("metasynth_keyword", "template"), min_length=1)
    seeds: tuple[int, ...] = Field((0, 1, 2), min_length=1, description="one training run per seed and corpus")
    max_steps: int = Field(20, ge=1)
    max_length: int = Field(128, ge=16, description="training sequence length (packed)")
    eval_max_length: int = Field(256, ge=16, description="perplexity window")
    extra_args: tuple[str, ...] = Field((), description="more TRL options, e.g. --learning_rate")


class ExperimentConfig(StrictConfig):
    """One comparison: methods, shared generation settings, real text, metrics, CPT."""

    name: str
    note: str = Field("", description="What this run is (scale, machine), quoted in the results.")
    domain: str | CustomDomain = "finance"
    num_docs: int = Field(ge=2, description="documents per method (the same for every method)")
    seed: int = Field(0, ge=0)
    methods: tuple[MethodName, ...] = cast("tuple[MethodName, ...]", tuple(m for m in METHOD_SPECS if m != "instruct"))
    run: dict[str, Any] = Field(default_factory=dict, description="shared RunConfig fields")
    reference: ReferenceConfig
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    cpt: CptConfig | None = None
    instruct_from: MethodName | None = Field(
        None,
        description="also make a MetaSynth-Instruct corpus from this method's documents (one "
        "instruction per document, after that corpus is done; settings from `run.instruct`)",
    )
    interval_rounds: int = Field(
        100, ge=0, description="subsamples for every metric's 95% interval (metrics/intervals.py); 0 = none"
    )
    instruct_docs: int | None = Field(
        None, ge=1, description="instructions to make with `instruct_from` (default: num_docs)"
    )
    parallel_methods: bool = Field(
        True,
        description="generate all methods at once on shared backends (the embedded model batches "
        "their requests together); per-method wall times then overlap",
    )
    threads: int | None = Field(
        None, ge=1, description="torch/BLAS threads for scoring and CPT (1 on a busy shared CPU)"
    )
    context: tuple[Path, ...] = Field(
        (), description="YAML files of fixed context for the results: `paper` (a table and its source), `limits`"
    )
    output_dir: Path = Path("experiments/out")
    results: Path | None = Field(None, description="markdown results file (default: OUTPUT_DIR/results.md)")

    @property
    def results_file(self) -> Path:
        return self.results or self.output_dir / "results.md"

    @field_validator("run")
    @classmethod
    def _not_owned(cls, value: dict[str, Any]) -> dict[str, Any]:
        owned = [k for k in OWNED_FIELDS if k in value]
        if owned:
            raise ValueError(f"{owned} are set by the experiment for every method; remove them")
        seeds = value.get("seeds") or {}
        if "kind" in seeds or "corpus" in seeds:
            raise ValueError("seeds.kind and seeds.corpus are set per method; remove them")
        return value

    @model_validator(mode="after")
    def _lanes_below_docs(self) -> ExperimentConfig:
        lanes = int(self.run.get("lanes", RunConfig.model_fields["lanes"].default))
        conditioned = {"metasynth_keyword", "metasynth_document", "template_prior"}
        if lanes >= self.num_docs and conditioned & set(self.methods):
            raise ValueError(
                f"run.lanes ({lanes}) must be below num_docs ({self.num_docs}): document i sees "
                "only documents <= i - lanes, so template_prior and MetaSynth's instance table "
                "would see no earlier document; lower run.lanes"
            )
        return self

    @model_validator(mode="after")
    def _instruct_source_is_made(self) -> ExperimentConfig:
        if self.instruct_from is not None and self.instruct_from not in self.methods:
            raise ValueError(f"instruct_from: {self.instruct_from!r} is not in methods {list(self.methods)}")
        return self

    @field_validator("methods")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"give each method once, at least one, got {list(value)}")
        return value

    def metrics_config(self) -> MetricsConfig:
        """`metrics` with `threads` applied (the metrics' own thread field, when it has one)."""
        if self.threads is None:
            return self.metrics
        names = [n for n in ("cpu_threads", "torch_threads") if n in MetricsConfig.model_fields]
        return self.metrics.model_copy(update={n: self.threads for n in names[:1]})

    def corpus_dir(self, label: str) -> Path:
        return self.output_dir / "corpora" / label

    def run_config(self, label: str, seed_corpus: str | None) -> RunConfig:
        """The RunConfig of one method: shared `run` fields + what the experiment owns."""
        method, kind = METHOD_SPECS[label]
        data = {k: v for k, v in self.run.items()}
        num_docs = self.num_docs
        seeds = dict(data.pop("seeds", None) or {})
        seeds["kind"] = kind
        if kind == "topic_aware":
            seeds["corpus"] = seed_corpus
        if method == "instruct":
            if self.instruct_from is None:
                raise ConfigError("the instruct corpus needs `instruct_from`: the method whose documents it evolves")
            data["instruct"] = {**(data.get("instruct") or {}), "source": str(self.corpus_dir(self.instruct_from))}
            num_docs = self.instruct_docs or self.num_docs
        data.update(
            method=method,
            domain=self.domain,
            num_docs=num_docs,
            seed=self.seed,
            seeds=seeds,
            output_dir=str(self.corpus_dir(label)),
        )
        try:
            return RunConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, source=f"run (method {label})")) from exc
