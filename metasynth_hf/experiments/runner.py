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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metasynth_hf.config import RunConfig
from metasynth_hf.experiments.config import METHOD_SPECS, ExperimentConfig
from metasynth_hf.experiments.reference import RealText
from metasynth_hf.llm.accounting import MeteredChatModel, UsageMeter
from metasynth_hf.llm.base import ChatModel
from metasynth_hf.llm.cache import CachedChatModel, ResponseCache
from metasynth_hf.llm.config import ModelConfig
from metasynth_hf.metrics.sizing import equal_size

if TYPE_CHECKING:
    from metasynth_hf.corpus.records import Record

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
    wall_time_s: float  # this invocation's: a resumed corpus was partly made by earlier ones
    fallbacks: int
    statuses: dict[str, int]
    models: dict[str, str]
    prompt_hash: str
    fingerprint: str
    agency: dict[str, Any] = field(default_factory=dict)  # conductor methods only
    generated: int = 0  # documents this invocation made (the rest were kept from an earlier run)
    doc_wall_time_s: float = 0.0  # mean seconds one document took, from every record's provenance
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


def _texts(records: Sequence[Record]) -> list[str]:
    return [r.text for r in records if r.text.strip()]


def corpus_cost(records: Sequence[Record]) -> dict[str, Any]:
    """What the whole corpus cost, from every record's provenance: model calls, completion
    tokens, the mean seconds per document and the model of each role called. The run summary counts only the
    documents its own invocation made, so a corpus resumed across sessions would look free."""
    calls = completion = 0
    seconds = 0.0
    models: dict[str, str] = {}
    for record in records:
        prov = record.provenance_dict
        models.update(prov.get("models", {}))
        for tally in prov.get("tokens_by_role", {}).values():
            calls += tally.get("calls", 0)
            completion += tally.get("completion_tokens", 0)
        seconds += float(prov.get("wall_time_s", 0.0))
    return {
        "calls": calls,
        "completion_tokens": completion,
        "doc_wall_time_s": round(seconds / len(records), 2) if records else 0.0,
        "models": dict(sorted(models.items())),
    }


def corpus_texts(out_dir: Path) -> list[str]:
    """The non-empty documents of one method's output dir, in index order."""
    from metasynth_hf.corpus.shards import merged_records

    return _texts(merged_records([out_dir]))


async def _run_method(
    label: str, config: RunConfig, backends: dict[ModelConfig, ChatModel], model: ChatModel | None
) -> MethodRun:
    from metasynth_hf.corpus.shards import merged_records
    from metasynth_hf.generation.engine import generate
    from metasynth_hf.generation.prompts import PromptSet

    config.output_dir.mkdir(parents=True, exist_ok=True)
    roles = SharedRoles(config, backends, model)
    for role in ("conductor", "writer"):  # load shared backends before timing
        roles[role]
    started = time.monotonic()
    try:
        summary = await generate(config, models=roles, meter=roles.meter)  # type: ignore[arg-type]
    finally:
        roles.cache.close()
    wall = time.monotonic() - started
    records = merged_records([config.output_dir])
    texts = _texts(records)
    cost = corpus_cost(records)
    method, kind = METHOD_SPECS[label]
    return MethodRun(
        label=label,
        method=method,
        seeds_kind=kind,
        output_dir=str(config.output_dir),
        documents=summary.documents,
        empty_documents=len(records) - len(texts),
        tokens=summary.tokens,
        tokenizer=config.tokenizer,
        calls=int(cost["calls"]),
        cache_hits=summary.cache_hits,
        completion_tokens=int(cost["completion_tokens"]),
        wall_time_s=round(wall, 2),
        generated=summary.generated,
        doc_wall_time_s=cost["doc_wall_time_s"],
        fallbacks=summary.fallbacks,
        statuses=summary.statuses,
        models=cost["models"],
        prompt_hash=PromptSet(config.prompts_dir).hash,
        fingerprint=summary.fingerprint,
        agency=summary.agency,
        texts=texts,
    )


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
            logger.info("generating %s at once: %d documents each", list(config.methods), config.num_docs)
            jobs = [_run_method(label, rc, backends, model) for label, rc in configs]
            runs = list(await asyncio.gather(*jobs))
        else:
            runs = []
            for label, run_config in configs:
                logger.info("generating %s: %d documents", label, config.num_docs)
                runs.append(await _run_method(label, run_config, backends, model))
                logger.info("%s done in %.0f s", label, runs[-1].wall_time_s)
        if config.instruct_from is not None:  # needs its source corpus finished
            logger.info("generating instruct from %s", config.instruct_from)
            runs.append(await _run_method("instruct", config.run_config("instruct", None), backends, model))
        return runs
    finally:
        for backend in backends.values():
            await backend.aclose()


def instruct_sample(out_dir: Path, count: int = 3) -> list[dict[str, Any]]:
    """The first `count` instructions with every version of them (their evolution) and the response."""
    from metasynth_hf.corpus.shards import merged_records

    sample = []
    for record in merged_records([out_dir]):
        prov = record.provenance_dict
        if not record.instruction or not prov.get("evolution"):
            continue
        sample.append(
            {
                "id": record.id,
                "source_id": prov.get("source_id", ""),
                "evolutions": prov.get("evolutions", 0),
                "evolution": prov["evolution"],
                "response": record.response or "",
            }
        )
        if len(sample) == count:
            break
    return sample


def score(
    config: ExperimentConfig, runs: list[MethodRun], real: RealText, plots_dir: Path | None
) -> tuple[dict[str, dict], dict[str, Any]]:
    """Every metric for every corpus at equal size (+ the real reference), with 95% intervals.

    The document corpora (and the reference) are cut to the smallest corpus's token count; an
    Instruct corpus (instruction + response pairs, another kind of text) is scored at its own size.
    Returns the reports and how the corpora were sized; plots when `plots_dir` is given.
    """
    from metasynth_hf.generation.text import make_token_counter
    from metasynth_hf.metrics.intervals import add_intervals
    from metasynth_hf.metrics.report import compare_corpora

    count = make_token_counter(config.run.get("tokenizer", "approx"))
    documents = {run.label: run.texts for run in runs if run.method != "instruct"}
    reference = [r["text"] for r in real.reference]
    if reference:
        documents[REFERENCE_NAME] = reference
    cut, budget = equal_size(documents, count)
    reference_cut = cut.pop(REFERENCE_NAME, None)
    corpora = {**cut, **{run.label: run.texts for run in runs if run.method == "instruct"}}
    sizing = {
        "tokens_per_corpus": budget,
        "tokenizer": config.run.get("tokenizer", "approx"),
        "documents": {name: len(texts) for name, texts in {**corpora, REFERENCE_NAME: reference_cut or []}.items()},
        "uncut": [run.label for run in runs if run.method == "instruct"],
    }
    metrics_config = config.metrics_config()
    embeddings: dict = {}
    reports = compare_corpora(
        corpora,
        reference=reference_cut or None,
        reference_name=REFERENCE_NAME,
        config=metrics_config,
        embeddings_out=embeddings,
    )
    ref_emb = embeddings.get(REFERENCE_NAME)
    for name, texts in {**corpora, **({REFERENCE_NAME: reference_cut} if reference_cut else {})}.items():
        add_intervals(
            reports[name],
            texts,
            embeddings=embeddings.get(name),
            reference_embeddings=None if name == REFERENCE_NAME else ref_emb,
            config=metrics_config,
            rounds=config.interval_rounds,
            log=logger.info,
        )
    if plots_dir is not None:
        from metasynth_hf.metrics.plots import write_plots

        write_plots(reports, plots_dir, embeddings or None, seed=config.metrics.seed)
    return reports, sizing


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
    reports, sizing = score(config, runs, real, plots_dir)
    result = {
        "sizing": sizing,
        "instruct_sample": instruct_sample(config.corpus_dir("instruct")) if config.instruct_from else [],
        "experiment": config.model_dump(mode="json"),
        "methods": [run.to_dict() for run in runs],
        "reports": reports,
        "real_text": {
            "description": real.description,
            "counts": {k: len(getattr(real, k)) for k in ("seeds", "reference", "heldout", "general")},
        },
        "generation_wall_time_s": round(generated, 1),
        "scoring_wall_time_s": round(time.monotonic() - started - generated, 1),
    }
    out = config.output_dir
    (out / "comparison.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # The shape `metasynth stats` writes, which the dataset card reads (card.load_reports).
    (out / "diversity.json").write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result
