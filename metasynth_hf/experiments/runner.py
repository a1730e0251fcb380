"""Generate every method's corpus with the same model(s) and size, then score them together.

All methods run in one event loop on backends built once and shared (the embedded model is
loaded once; an endpoint pool keeps one concurrency limit), each method with its own output
dir, response cache and usage meter. Generation is the engine's own `generate(RunConfig)`, so
reruns are answered by the cache and an interrupted comparison resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from metasynth_hf.config import RunConfig
from metasynth_hf.experiments.config import METHOD_SPECS, ExperimentConfig
from metasynth_hf.experiments.reference import RealText
from metasynth_hf.llm.accounting import MeteredChatModel, UsageMeter
from metasynth_hf.llm.base import ChatModel
from metasynth_hf.llm.cache import CachedChatModel, ResponseCache
from metasynth_hf.llm.config import ModelConfig

logger = logging.getLogger(__name__)

REFERENCE_NAME = "real_reference"


@dataclass
class MethodRun:
    """What one method's generation did: counts, cost and identity, for the results table."""

    label: str
    method: str
    seeds_kind: str
    output_dir: str
    documents: int
    empty_documents: int
    tokens: int
    tokenizer: str
    calls: int
    cache_hits: int
    completion_tokens: int
    wall_time_s: float
    fallbacks: int
    statuses: dict[str, int]
    models: dict[str, str]
    prompt_hash: str
    fingerprint: str
    agency: dict[str, Any] = field(default_factory=dict)  # conductor methods only
    texts: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("texts")
        return data


class SharedRoles:
    """Role -> metered, cached ChatModel over backends shared by every method of a comparison."""

    def __init__(
        self,
        config: RunConfig,
        backends: dict[ModelConfig, ChatModel],
        model: ChatModel | None = None,
    ):
        self.meter = UsageMeter()
        self.cache = ResponseCache(config.resolved_cache_path)
        self._config = config
        self._backends = backends
        self._model = model
        self.models: dict[str, ChatModel] = {}

    def __getitem__(self, role: str) -> ChatModel:
        if role not in self.models:
            cfg = self._config.conductor if role == "conductor" else self._config.expert_model
            if self._model is not None:
                self._backends.setdefault(cfg, self._model)
            if cfg not in self._backends:
                from metasynth_hf.llm.factory import build_backend

                backend = build_backend(cfg)
                if hasattr(backend, "load"):  # embedded model: load before the clock runs
                    backend.load()
                self._backends[cfg] = backend
            inner = CachedChatModel(self._backends[cfg], self.cache)
            self.models[role] = MeteredChatModel(inner, self.meter, role)
        return self.models[role]

    def model_ids(self) -> dict[str, str]:
        return {role: model.model_id for role, model in sorted(self.models.items())}


def _texts(out_dir: Path) -> tuple[list[str], int]:
    from metasynth_hf.shards import merged_records

    records = merged_records([out_dir])
    texts = [r.text for r in records if r.text.strip()]
    return texts, len(records) - len(texts)


def corpus_texts(out_dir: Path) -> list[str]:
    """The non-empty documents of one method's output dir, in index order."""
    return _texts(out_dir)[0]


async def _run_method(
    label: str, config: RunConfig, backends: dict[ModelConfig, ChatModel], model: ChatModel | None
) -> MethodRun:
    from metasynth_hf.engine import generate
    from metasynth_hf.scaffold.prompts import PromptSet

    config.output_dir.mkdir(parents=True, exist_ok=True)
    roles = SharedRoles(config, backends, model)
    for role in ("conductor", "writer"):  # load shared backends before timing
        roles[role]
    started = time.monotonic()
    try:
        summary = await generate(config, models=roles)  # type: ignore[arg-type]
    finally:
        roles.cache.close()
    wall = time.monotonic() - started
    texts, empty = _texts(config.output_dir)
    by_role = summary.by_role or {}
    method, kind = METHOD_SPECS[label]
    return MethodRun(
        label=label, method=method, seeds_kind=kind, output_dir=str(config.output_dir),
        documents=summary.documents, empty_documents=empty, tokens=summary.tokens,
        tokenizer=config.tokenizer, calls=summary.calls, cache_hits=summary.cache_hits,
        completion_tokens=sum(r.get("completion_tokens", 0) for r in by_role.values()),
        wall_time_s=round(wall, 2), fallbacks=summary.fallbacks, statuses=summary.statuses,
        models={r: m for r, m in roles.model_ids().items() if r in by_role},
        prompt_hash=PromptSet(config.prompts_dir).hash, fingerprint=summary.fingerprint,
        agency=summary.agency, texts=texts,
    )  # fmt: skip


async def generate_all(config: ExperimentConfig, real: RealText, model: ChatModel | None = None) -> list[MethodRun]:
    """Every method of the experiment on shared backends, concurrently unless configured not to.

    Concurrent methods share one embedded model (their requests are batched together, which is
    where a CPU gets its throughput) or one endpoint pool (one concurrency limit per server).
    `model` answers every role instead of the configured backends (a loaded model, a fake).
    """
    backends: dict[ModelConfig, ChatModel] = {}
    configs = [(label, config.run_config(label, real.files.get("seeds"))) for label in config.methods]
    try:
        if config.parallel_methods:
            logger.info("generating %s at once: %d documents each", list(config.methods),
                        config.num_docs)  # fmt: skip
            jobs = [_run_method(label, rc, backends, model) for label, rc in configs]
            return list(await asyncio.gather(*jobs))
        runs = []
        for label, run_config in configs:
            logger.info("generating %s: %d documents", label, config.num_docs)
            runs.append(await _run_method(label, run_config, backends, model))
            logger.info("%s done in %.0f s", label, runs[-1].wall_time_s)
        return runs
    finally:
        for backend in backends.values():
            await backend.aclose()


def score(config: ExperimentConfig, runs: list[MethodRun], real: RealText, plots_dir: Path | None) -> dict[str, dict]:
    """Every metric for every corpus (+ the real reference); plots when `plots_dir` is given."""
    from metasynth_hf.metrics.report import compare_corpora

    corpora = {run.label: run.texts for run in runs}
    reference = [r["text"] for r in real.reference] or None
    embeddings: dict = {}
    reports = compare_corpora(
        corpora,
        reference=reference,
        reference_name=REFERENCE_NAME,
        config=config.metrics_config(),
        embeddings_out=embeddings,
    )
    if plots_dir is not None:
        from metasynth_hf.metrics.plots import write_plots

        write_plots(reports, plots_dir, embeddings or None, seed=config.metrics.seed)
    return reports


def run_comparison(
    config: ExperimentConfig,
    real: RealText,
    plots_dir: Path | None,
    model: ChatModel | None = None,
) -> dict[str, Any]:
    """Generate, score and return the JSON-able comparison (also written to OUT/comparison.json)."""
    started = time.monotonic()
    runs = asyncio.run(generate_all(config, real, model))
    generated = time.monotonic() - started
    reports = score(config, runs, real, plots_dir)
    result = {
        "experiment": config.model_dump(mode="json"),
        "methods": [run.to_dict() for run in runs],
        "reports": reports,
        "real_text": {
            "description": real.description,
            "counts": {k: len(getattr(real, k)) for k in ("seeds", "reference", "heldout", "general")},
        },
        "generation_wall_time_s": round(generated, 1),
        "scoring_wall_time_s": round(time.monotonic() - started - generated, 1),
    }  # fmt: skip
    out = config.output_dir
    (out / "comparison.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # The shape `metasynth stats` writes, which the dataset card reads (card.load_reports).
    (out / "diversity.json").write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result
