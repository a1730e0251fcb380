"""`MetaSynthBuilder`: a `datasets` builder that generates its corpus.

    builder = MetaSynthBuilder(config_name="finance", num_docs=8)
    builder.download_and_prepare(num_proc=2)     # generation in 2 processes
    ds = builder.as_dataset(split="train")

Every generation setting is a config field (YAML-shaped dicts for nested sections such as
`conductor`, `seeds`, `stop`); they are validated into a `RunConfig` before any model call.
The cache directory includes the run fingerprint (config + prompt-set hash + model ids +
seed), so a changed prompt never reuses a stale cache and an unchanged config never
regenerates. Generation runs in `_split_generators` (own process pool, `num_proc` parts, each
an engine shard with its own instance table), so cleaning and statistics see the whole corpus;
the engine's JSONL shards and the response cache live in a work dir that survives kill -9.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import posixpath
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import datasets
from pydantic import ValidationError

from metasynth_hf.config import RunConfig, fingerprint
from metasynth_hf.config_io import format_validation_error
from metasynth_hf.corpus.shards import as_row, merged_records, record_features
from metasynth_hf.errors import ConfigError
from metasynth_hf.paper import CITATION

logger = logging.getLogger(__name__)


#: RunConfig fields the builder config exposes one to one (None = RunConfig's default).
RUN_FIELDS = (
    "domain",
    "method",
    "seeds",
    "num_docs",
    "target_tokens",
    "lanes",
    "seed",
    "target_words",
    "stop",
    "memory",
    "instance_table",
    "expert_set",
    "required_experts",
    "conductor",
    "experts",
    "conductor_sampling",
    "expert_sampling",
    "baseline",
    "instruct",
    "tokenizer",
    "prompts_dir",
    "cache_path",
    "shard_index",
    "num_shards",
)


@dataclasses.dataclass
class MetaSynthConfig(datasets.BuilderConfig):
    """Builder config: the RunConfig fields, plus where work goes and what runs after."""

    domain: Any = None
    method: str | None = None
    seeds: dict | None = None
    num_docs: int | None = None
    target_tokens: int | None = None
    lanes: int | None = None
    seed: int | None = None
    target_words: int | None = None
    stop: dict | None = None
    memory: dict | None = None
    instance_table: dict | None = None
    expert_set: list | None = None
    required_experts: list | None = None
    conductor: dict | None = None
    experts: dict | None = None
    conductor_sampling: dict | None = None
    expert_sampling: dict | None = None
    baseline: dict | None = None
    instruct: dict | None = None
    tokenizer: str | None = None
    prompts_dir: str | None = None
    cache_path: str | None = None
    shard_index: int | None = None
    num_shards: int | None = None
    #: Engine work dir (JSONL shards, response cache); default: under the datasets cache.
    output_dir: str | None = None
    #: Corpus hygiene before statistics (metasynth_hf.clean.CleanConfig fields); None = off.
    clean: dict | None = None
    #: Diversity statistics after generation, written to OUTPUT/diversity.json.
    compute_stats: bool = False
    stats: dict | None = None

    def run_config(self, output_dir: str | Path | None = None) -> RunConfig:
        """Validate into a RunConfig, or raise ConfigError naming the field."""
        data = {name: getattr(self, name) for name in RUN_FIELDS if getattr(self, name) is not None}
        if "num_docs" not in data and "target_tokens" not in data:
            data["num_docs"] = 8
        if self.name == "custom" and self.domain is None:
            raise ConfigError(
                "builder config 'custom' needs domain={'name': ..., 'description': ..., "
                "'keywords': '<file with one keyword per line>'}"
            )
        from metasynth_hf.generation.methods import method_spec

        if self.name.endswith("topic-aware") or method_spec(self.method or "metasynth").seeds == "topic_aware":
            data["seeds"] = {"kind": "topic_aware", **(self.seeds or {})}
        if output_dir is not None:
            data["output_dir"] = str(output_dir)
        try:
            return RunConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, source=f"builder config {self.name!r}")) from exc


#: What a builder config of a method must be given beyond the domain (MethodSpec.seeds).
_NEEDS = {
    "topic_aware": "pass seeds={kind: topic_aware, corpus: ...}",
    "own": "pass instruct={source: <generated corpus dir>}",
}


def _default_configs() -> list[MetaSynthConfig]:
    """One config per shipped domain and registered method (generation/methods: METHODS), named
    `<domain>` for MetaSynth and `<domain>-<method>` otherwise, plus MetaSynth with topic-aware
    seeds (`<domain>-topic-aware`) and `custom` (your domain)."""
    from metasynth_hf.generation.methods import METHODS

    configs = []
    for domain in ("finance", "biomedicine"):
        for method, spec in METHODS.items():
            needs = _NEEDS.get(spec.seeds)
            configs.append(
                MetaSynthConfig(
                    name=domain if method == "metasynth" else f"{domain}-{method}",
                    domain=domain,
                    method=method,
                    description=f"{spec.summary} ({domain}, {'keyword seeds' if method == 'metasynth' else method})"
                    + (f": {needs}." if needs else "."),
                )
            )
        configs.append(
            MetaSynthConfig(
                name=f"{domain}-topic-aware",
                domain=domain,
                description=f"{METHODS['metasynth'].summary} ({domain}, topic-aware seeds): {_NEEDS['topic_aware']}.",
            )
        )
    configs.append(
        MetaSynthConfig(
            name="custom",
            description=f"{METHODS['metasynth'].summary}, on your domain: pass domain={{name, description, keywords}}.",
        )
    )
    return configs


def _split_threads(run: RunConfig, parts: int) -> dict[str, Any]:
    """Embedded models without an explicit thread count get cores / parts threads each:
    llama.cpp's threads spin while they wait: two demo runs side by side, each with both cores,
    ran over 10x slower here than one after the other (17 min, unfinished, against 100 s)."""
    from metasynth_hf.llm.local import default_threads

    threads = max(1, default_threads() // parts)
    out = {}
    for field in ("conductor", "experts"):
        model = getattr(run, field)
        if model is not None and not model.endpoints and model.threads is None:
            out[field] = model.model_copy(update={"threads": threads})
    return out


def _generate_part(run_json: str) -> dict:
    """One engine shard, in this process (pickled by name for the process pool).

    Progress goes through `datasets`' own tqdm and logger: a bar with live calls, tokens/s and an
    ETA (silenced by `datasets.disable_progress_bars()` like the library's other bars), and one
    INFO line per document (shown with `datasets.logging.set_verbosity_info()`).
    """
    from datasets.utils.logging import get_logger
    from datasets.utils.tqdm import tqdm as datasets_tqdm

    from metasynth_hf.progress import GenerationProgress, bar_label, generate_with_progress

    config = RunConfig.model_validate_json(run_json)
    desc = f"generating {bar_label(config)}"  # e.g. "generating metasynth documents", shards counted from 1
    # a child of datasets' library logger, so that `datasets.logging.set_verbosity_*` governs it
    logger = get_logger("datasets.metasynth")
    bar = GenerationProgress(config, tqdm_class=datasets_tqdm, desc=desc, logger=logger)
    try:
        return asyncio.run(generate_with_progress(config, bar)).to_dict()
    finally:
        bar.close()


class MetaSynthBuilder(datasets.GeneratorBasedBuilder):
    """Generates a MetaSynth (or baseline) corpus; see the module docstring."""

    BUILDER_CONFIG_CLASS = MetaSynthConfig
    BUILDER_CONFIGS = _default_configs()
    DEFAULT_CONFIG_NAME = "finance"
    VERSION = datasets.Version("1.0.0")

    config: MetaSynthConfig

    # -- identity ---------------------------------------------------------------------------
    @property
    def run_fingerprint(self) -> str:
        """Config + prompt set + model ids + seed (+ clean/stats settings): the cache key."""
        if getattr(self, "_run_fingerprint", None) is None:
            from metasynth_hf.generation.prompts import PromptSet

            run = self.config.run_config()
            extra = json.dumps(
                {"clean": self.config.clean, "stats": self.config.stats, "compute_stats": self.config.compute_stats},
                sort_keys=True,
            )
            base = fingerprint(run, PromptSet(run.prompts_dir).hash)
            self._run_fingerprint = hashlib.sha256(f"{base}|{extra}".encode()).hexdigest()[:16]
        return self._run_fingerprint

    def _relative_data_dir(self, with_version: bool = True, with_hash: bool = True) -> str:
        base = super()._relative_data_dir(with_version=with_version, with_hash=with_hash)
        return posixpath.join(base, self.run_fingerprint) if with_hash else base

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="Synthetic domain documents generated with MetaSynth (arXiv 2504.12563).",
            features=record_features(),
            homepage="https://arxiv.org/abs/2504.12563",
            citation=CITATION,
        )

    # -- generation -------------------------------------------------------------------------
    def download_and_prepare(self, *args, num_proc: int | None = None, **kwargs):
        self._parts = max(1, num_proc or 1)
        return super().download_and_prepare(*args, num_proc=num_proc, **kwargs)

    def work_dir(self) -> Path:
        if self.config.output_dir:
            return Path(self.config.output_dir)
        parts = getattr(self, "_parts", 1)
        root = Path(self._cache_dir_root) / "metasynth_work"
        return root / f"{self.config.name}-{self.run_fingerprint}-p{parts}"

    def _part_configs(self, run: RunConfig, work: Path, parts: int) -> list[RunConfig]:
        k, n = run.shard_index, run.num_shards
        update: dict[str, Any] = {"output_dir": work, "num_shards": n * parts}
        if parts == 1:
            return [run.model_copy(update={**update, "shard_index": k})]
        update.update(_split_threads(run, parts))  # each process runs its own embedded engine
        configs = []
        for j in range(parts):
            part = {**update, "shard_index": k + n * j}
            if run.cache_path is None:  # one SQLite file per process: no lock contention
                part["cache_path"] = work / f"llm_cache-part-{j}-of-{parts}.sqlite"
            configs.append(run.model_copy(update=part))
        return configs

    def _split_generators(self, dl_manager):
        parts = getattr(self, "_parts", 1)
        work = self.work_dir()
        run = self.config.run_config(work)
        configs = self._part_configs(run, work, parts)
        if parts == 1:
            summaries = [_generate_part(configs[0].model_dump_json())]
        else:
            with ProcessPoolExecutor(parts, mp_context=get_context("spawn")) as pool:
                summaries = list(pool.map(_generate_part, [c.model_dump_json() for c in configs]))
        wanted = {c.shard_index for c in configs}
        records = [r for r in merged_records([work]) if self._shard_of(r, run, parts) in wanted]
        rows = [as_row(r) for r in records]
        report: dict[str, Any] = {"generation": summaries}
        if self.config.clean is not None:
            rows, report["clean"] = self._clean(rows, work)
        if self.config.compute_stats:
            report["diversity"] = self._stats(rows)
        (work / "builder_report.json").write_text(json.dumps(report, indent=2, default=str))
        self.report = report
        files = self._write_prepared(rows, work / "prepared", parts)
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"files": files})]

    @staticmethod
    def _shard_of(record, run: RunConfig, parts: int) -> int:
        from metasynth_hf.corpus.shards import doc_index

        return doc_index(record) % (run.num_shards * parts)

    def _clean(self, rows: list[dict], work: Path) -> tuple[list[dict], dict]:
        from metasynth_hf.clean import CleanConfig, clean_corpus

        try:
            config = CleanConfig.model_validate(self.config.clean)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, source="builder config field 'clean'")) from exc
        result = clean_corpus(rows, config)
        with (work / "removed.jsonl").open("w", encoding="utf-8") as fh:
            for row in result.removed:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return list(result.kept), result.report

    def _stats(self, rows: list[dict]) -> dict:
        from metasynth_hf.metrics.config import MetricsConfig
        from metasynth_hf.metrics.report import diversity_report

        try:
            config = MetricsConfig.model_validate(self.config.stats or {})
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, source="builder config field 'stats'")) from exc
        report = diversity_report([r["text"] for r in rows], config=config, name=self.config.name)
        (self.work_dir() / "diversity.json").write_text(json.dumps(report, indent=2))
        return report

    @staticmethod
    def _write_prepared(rows: list[dict], folder: Path, parts: int) -> list[str]:
        folder.mkdir(parents=True, exist_ok=True)
        files, size = [], -(-len(rows) // parts) if rows else 0
        for j in range(parts):
            path = folder / f"train-{j:05d}-of-{parts:05d}.jsonl"
            tmp = path.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                for row in rows[j * size : (j + 1) * size]:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            tmp.replace(path)
            files.append(str(path))
        return files

    def _generate_examples(self, files: list[str]):
        for path in files:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line)
                    yield row["id"], row
