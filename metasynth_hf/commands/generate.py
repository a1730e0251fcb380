r"""`metasynth generate`: make a corpus with MetaSynth, a template baseline or Instruct.

    metasynth generate --domain finance --method metasynth --num-docs 100 --out corpus/
    metasynth generate --config run.yaml --shard 3/8 --lanes 16
    metasynth generate --domain finance --num-docs 5000 --endpoint http://tgi-0:8080 \
        --endpoint http://tgi-1:8080 --out corpus/          # a pool of TGI servers
    metasynth generate --method instruct --set instruct.source=corpus/ --num-docs 50 --out instr/

Flags override the YAML file (`--config`), `--set field.path=value` overrides any field.
Runs on the embedded SmolLM2 model unless endpoints are given. Ctrl-C, SIGTERM or SIGUSR1 (or
kill -9) and the same command again resumes: finished documents are kept and finished calls are
answered by the response cache.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

from metasynth_hf.config import RunConfig
from metasynth_hf.config_io import load_config, parse_override
from metasynth_hf.errors import ConfigError
from metasynth_hf.generation.agency import describe as describe_agency
from metasynth_hf.generation.methods import METHODS
from metasynth_hf.progress import GenerationProgress, duration, generate_with_progress
from metasynth_hf.signals import until_signalled

logger = logging.getLogger(__name__)

#: flag dest -> config field (dotted); one source for the mapping.
FLAG_FIELDS = {
    "domain": "domain",
    "method": "method",
    "num_docs": "num_docs",
    "target_tokens": "target_tokens",
    "out": "output_dir",
    "lanes": "lanes",
    "seed": "seed",
    "target_words": "target_words",
    "max_turns": "stop.max_turns",
    "cache": "cache_path",
    "model": "conductor.model",
    "expert_model": "experts.model",
    "seeds_kind": "seeds.kind",
    "seed_corpus": "seeds.corpus",
    "tokenizer": "tokenizer",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = __doc__.split("\n\n", 1)[1]
    add = parser.add_argument
    add("--config", help="run YAML file (keys = RunConfig fields); flags override it")
    add("--domain", help="shipped domain (finance, biomedicine) or a keyword file")
    add("--method", choices=tuple(METHODS), help="metasynth (default) or a baseline, or instruct")
    add("--num-docs", type=int, help="documents in the whole run (all shards)")
    add("--target-tokens", type=int, help="stop once the run holds this many tokens")
    add("--out", help="output dir for shards, summary and the response cache")
    add("--lanes", type=int, help="documents in flight (doc i sees docs <= i - lanes)")
    add("--seed", type=int, help="run seed (different seed, different corpus)")
    add("--target-words", type=int, help="words per document asked for (paper: 400)")
    add("--max-turns", type=int, help="conductor turns per document")
    add(
        "--strict-final",
        action="store_true",
        default=None,
        help="fail (keeping finished docs) when the conductor gives no FINAL in max turns",
    )
    add("--cache", help="response cache file (default: OUT/llm_cache.sqlite)")
    add("--shard", help="i/N: make shard i of N (documents with index %% N == i)")
    add("--endpoint", action="append", help="OpenAI-compatible/TGI base URL (repeat for a pool)")
    add("--expert-endpoint", action="append", help="separate endpoints for the experts")
    add("--model", help="conductor model (embedded: smollm2, a path or a Hub id; else a label)")
    add("--expert-model", help="experts' model (default: the conductor's)")
    add("--seeds-kind", choices=("keyword", "topic_aware"), help="seed selection")
    add("--seed-corpus", help="topic-aware seeds: real domain corpus (files, dir or Hub id)")
    add("--tokenizer", help="num_tokens counting: approx (default) or a tokenizer reference")
    add(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any config field, e.g. --set stop.max_words=400",
    )
    add("--no-progress", action="store_true", help="no progress bar")
    add("--stats", action="store_true", help="then compute diversity statistics into OUT/stats")


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted config overrides from the flags (None = not given)."""
    out: dict[str, Any] = {field: getattr(args, dest) for dest, field in FLAG_FIELDS.items()}
    out["stop.strict_final"] = args.strict_final
    if args.shard:
        try:
            index, count = (int(x) for x in args.shard.split("/"))
        except ValueError as exc:
            raise ConfigError(f"--shard must look like i/N, e.g. 0/4, got {args.shard!r}") from exc
        if not 0 <= index < count:
            raise ConfigError(
                f"--shard {args.shard}: i must be in 0..N-1 (shards are numbered from 0), e.g. 0/{max(count, 1)}"
            )
        out["shard_index"], out["num_shards"] = index, count
    if args.endpoint:
        out["conductor.endpoints"] = [{"url": url} for url in args.endpoint]
    if args.expert_endpoint:
        out["experts.endpoints"] = [{"url": url} for url in args.expert_endpoint]
    for item in args.set:
        key, value = parse_override(item)
        out[key] = value
    return out


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Fewer garbage collections while one long generation runs.

    At hundreds of documents in flight the client process is CPU-bound, and Python's default
    collector (a pass every 700 allocations, each walking the imported modules' objects too)
    took ~5% of it (0.76 s of 14 s for 5,000 template documents at 256 in flight, measured with
    gc.callbacks). Freezing what exists after start-up and collecting the young generation
    every 20,000 allocations brings that to ~0.07 s; cyclic garbage still goes, just later.
    The settings are put back afterwards (tests and other callers run this in their process)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def run(args: argparse.Namespace) -> int:
    config = load_config(RunConfig, args.config, overrides_from(args))
    bar = GenerationProgress(config, enabled=not args.no_progress)
    try:
        with fewer_collections():
            summary = asyncio.run(until_signalled(generate_with_progress(config, bar)))
    finally:
        bar.close()
    result = {
        k: summary.to_dict()[k]
        for k in (
            "output_file",
            "documents",
            "generated",
            "resumed",
            "tokens",
            "calls",
            "cache_hits",
            "fallbacks",
            "agency",
            "statuses",
            "wall_time_s",
            "stopped_by",
        )
    }
    result["parquet"] = _export(config)
    print(json.dumps(result, indent=2))
    status = _stats(config) if args.stats else 0
    print(closing_summary(config, summary.to_dict(), result["parquet"], stats=args.stats), file=sys.stderr)
    return status


def closing_summary(config: RunConfig, summary: dict[str, Any], parquet: str | None, *, stats: bool) -> str:
    """A few plain sentences for a person: what was made, where it is, what to try next."""
    out = config.output_dir
    backend = (
        f"the embedded {config.conductor.model} model (llama.cpp, in this process)"
        if config.conductor.backend == "local"
        else f"{len(config.conductor.endpoints)} endpoint(s)"
    )
    made = (
        f"Made {summary['documents']} {config.method} documents ({summary['tokens']:,} tokens by `tokenizer: "
        f"{config.tokenizer}`{', chars/4' if config.tokenizer == 'approx' else ''}"
        f"{', ' + str(summary['resumed']) + ' kept from an earlier run' if summary['resumed'] else ''}) "
        f"in {duration(summary['wall_time_s'])} on {backend}: {summary['calls']} model calls, "
        f"{summary['cache_hits']} answered from the cache."
    )
    lines = ["", made]
    if summary.get("agency"):
        lines.append(f"Of the conductor loops, {describe_agency(summary['agency'])}; the scaffold decided the rest.")
    lines.extend(describe_endpoints(summary.get("backends", {})))
    truncated = summary.get("statuses", {}).get("truncated", 0)
    if truncated:
        lines.append(truncation_line(config, truncated, summary["documents"]))
    lines.append(f"  corpus:     {parquet or out} (shards and provenance in {out})")
    if stats:
        lines.append(f"  statistics: {out / 'stats' / 'diversity.json'} and plots in {out / 'stats'}")
    if summary.get("error"):
        lines.append(f"  stopped early: {summary['error']}")
    lines.append(f"Next: metasynth stats {out} --compare OTHER_CORPUS   |   metasynth clean {out} --out {out}-clean")
    if config.conductor.backend == "local":
        lines.append(
            "The embedded 135M model is for trying the pipeline without a server: expect weak, chatty text. "
            "For a real corpus, point the same run at a TGI endpoint: --endpoint http://HOST:8080"
        )
    return "\n".join(lines)


def describe_endpoints(backends: dict[str, Any]) -> list[str]:
    """One line per endpoint: what server it is, how its structured calls went, what it admitted;
    and a line of its own when a server refused structured output, with the server's reason."""
    lines = []
    for backend in backends.values():
        for url, e in (backend.get("endpoints") or {}).items():
            calls = e["structured_calls"]
            conc = e["concurrency"]
            line = (
                f"  endpoint {url}: {e['server_kind']}, {e['sent']} requests; structured calls "
                f"{calls['constrained']} constrained, {calls['unconstrained']} unconstrained"
                f"{', ' + str(calls['rejected']) + ' refused' if calls['rejected'] else ''}; "
                f"admitted {conc['admitted']} at once"
            )
            if conc["overloads"]:
                line += f" (overloaded {conc['overloads']} times, lowest {conc['lowest']})"
            if e.get("max_tokens_fitted"):
                line += f"; max_tokens fitted to the context on {e['max_tokens_fitted']} calls"
            lines.append(line)
            if e.get("lost_constraint"):
                lines.append(f"  structured output lost on {url}: the server refused it ({e['lost_constraint']})")
    return lines


def truncation_line(config: RunConfig, truncated: int, documents: int) -> str:
    """What a person reads when documents stop where a cap cut them (status `truncated`)."""
    tokens, words = config.expert_sampling.max_tokens, config.stop.max_words
    caps = f"expert_sampling.max_tokens={tokens}" + (f" or stop.max_words={words}" if words else "")
    fix = (
        "they held no full sentence to go back to"  # the word cap falls before the token cap already
        if words and words <= tokens * 3 // 4
        else "raise expert_sampling.max_tokens, or set stop.max_words below ~3/4 of it (words per token) so "
        "that documents are cut back to a full sentence"
    )
    return (
        f'{truncated} of {documents} documents stop mid-sentence where {caps} cut them (status "truncated"; '
        f"`metasynth clean` removes them as artefacts.unfinished_ending): {fix}."
    )


def _export(config: RunConfig) -> str | None:
    """Write OUT/metasynth_run.yaml and, once every shard is here, OUT/data/*.parquet."""
    import yaml

    from metasynth_hf.corpus.shards import export_shard
    from metasynth_hf.corpus.store import shard_path, write_text_atomic

    out = config.output_dir
    dump = config.model_dump(mode="json", exclude={"shard_index", "output_dir"})
    write_text_atomic(out / "metasynth_run.yaml", yaml.safe_dump(dump, sort_keys=False))
    if config.num_shards > 1:
        # Never from one shard: other tasks of the array may still be writing theirs, and an
        # export from whatever exists would publish an unfinished corpus (and race the others).
        logger.warning(
            "shard %d of %d is done; when every shard is, export them with `metasynth merge %s --out %s`",
            config.shard_index,
            config.num_shards,
            out,
            out,
        )
        return None
    # One shard: the engine wrote it in index order with unique ids, so Arrow reads it as is (a
    # rerun with fewer documents exports only those: the first num_docs lines).
    paths = export_shard(shard_path(out, 0, 1), out, config.num_docs)
    return str(paths[0].parent / "*.parquet")


def _stats(config: RunConfig) -> int:
    """The statistics of the corpus just written, into OUT/stats (what `metasynth stats OUT` does)."""
    try:
        from metasynth_hf.metrics.report import format_table
        from metasynth_hf.metrics.statistics import write_statistics
    except ImportError as exc:
        raise ConfigError(f"--stats needs the metrics module ({exc}); pip install 'metasynth-hf[metrics]'") from exc
    out = config.output_dir
    reports = write_statistics([str(out)], out / "stats")
    sys.stdout.write(format_table(reports) + "\n")
    sys.stdout.write(f"wrote {out / 'stats' / 'diversity.json'}\n")
    return 0
