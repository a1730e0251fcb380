"""The generation driver: a plain async API, usable without `datasets`.

    summary = asyncio.run(generate(load_config(RunConfig, "run.yaml")))

Lanes and conditioning. With `lanes = L`, up to L documents are in flight and document i
is conditioned on exactly the finished documents with index <= i - L (a sliding window):
it starts when document i - L is published. Documents are published (appended to the
shard file, added to the instance table, their keywords given to the seeder) strictly in
index order. So the output depends on L but never on timing: reruns hit the response cache
and are byte-identical, and resumed runs continue exactly. More lanes = more throughput
(calls overlap, the embedded model batches them) but each document sees L - 1 fewer
predecessors, so near-duplicates among the last L documents are not ruled out by the
table; `benchmarks/bench_lanes.py` measures both sides. A method whose documents read no
history (`history_free`: the plain template on keyword seeds) has no window: a document starts
whenever a lane frees, is shown an empty table, and its record does not depend on L (but for
the config fingerprint in its provenance).

Sharding: shard k of N makes documents i with i % N == k, each shard with its own instance
table (shards never talk), ids `{domain}-{method}-s{seed}-{i:07d}` are unique across shards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, cast

from metasynth_hf.config import RunConfig, fingerprint, fingerprint_fields
from metasynth_hf.corpus.records import InstanceEntry, Record
from metasynth_hf.corpus.store import (
    ShardFile,
    ShardLock,
    check_fingerprint,
    shard_path,
    summary_path,
    write_json_atomic,
)
from metasynth_hf.generation.agency import AgencyTotals
from metasynth_hf.generation.context import RunContext
from metasynth_hf.generation.instance_table import InstanceTable, TableView
from metasynth_hf.generation.methods import method_spec
from metasynth_hf.generation.preflight import make_plan, prepare
from metasynth_hf.generation.prompts import PromptSet
from metasynth_hf.generation.text import make_token_counter
from metasynth_hf.llm.accounting import UsageMeter
from metasynth_hf.llm.base import ChatModel
from metasynth_hf.seeds.types import Seeder, SeedSet

if TYPE_CHECKING:
    from metasynth_hf.llm.factory import RoleModels

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    """Handed to `on_record` after each published document."""

    published: int
    total: int | None
    tokens: int
    target_tokens: int | None
    generated: int
    generated_tokens: int
    elapsed_s: float


@dataclass
class RunSummary:
    """What one run (one shard) did; also written as `summary-K-of-N.json`."""

    shard_index: int
    num_shards: int
    output_file: str
    fingerprint: str
    documents: int = 0
    generated: int = 0
    resumed: int = 0
    tokens: int = 0
    calls: int = 0
    cache_hits: int = 0
    by_role: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    # How much the conductor decided (generation/agency.py); {} for methods without one.
    agency: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0
    generated_tokens_per_s: float = 0.0
    stopped_by: str = ""
    error: str | None = None
    # Per backend, what it reports of itself: for the embedded engine, prompt tokens computed
    # vs answered from a kept KV prefix (cumulative within the process).
    backends: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def positions_for(config: RunConfig) -> int | None:
    """How many documents this shard makes at most (None: until target_tokens)."""
    if config.num_docs is None:
        return None
    k, n = config.shard_index, config.num_shards
    return max(0, math.ceil((config.num_docs - k) / n))


def build_models(config: RunConfig, roles: tuple[str, ...], meter=None):
    """RoleModels for the producer's roles: conductor on `conductor`, the rest on `experts`."""
    from metasynth_hf.llm.factory import RoleModels

    configs = {role: config.conductor if role == "conductor" else config.expert_model for role in roles}
    return RoleModels(configs, cache_path=config.resolved_cache_path, meter=meter, share=config.num_shards)


def _expand(seeder: Seeder, entry: InstanceEntry) -> None:
    if entry.keywords_added:
        seeder.expand(entry.keywords_added, source=entry.index)


async def generate(
    config: RunConfig,
    *,
    models: Mapping[str, ChatModel] | None = None,
    seeder: Seeder | None = None,
    on_record: Callable[[Record, Progress], None] | None = None,
    meter: UsageMeter | None = None,
) -> RunSummary:
    """Generate (or resume) this config's shard; returns and writes the run summary.

    `models` maps role -> ChatModel (default: built from the config, with the response
    cache); `seeder` overrides the one built from `config.seeds`; `meter` receives every
    call's cost as it happens (the CLI shows live calls and tokens/s from it) when the models
    are built here, and is where the summary's cost by role comes from either way (a caller
    passing its own metered `models` passes their meter too).
    """
    started = time.monotonic()
    prompts = PromptSet(config.prompts_dir)
    table = InstanceTable(
        config.instance_table,
        text_horizon=config.lanes + config.baseline.prior_docs + 1,
        keep_summaries=method_spec(config.method).conductor,  # conductors read old summaries
    )
    plan = make_plan(config, prompts, table)
    own_seeder = seeder is None  # a caller's seeder may read history: keep the window for it
    producer, seeder = prepare(plan, seeder, positions_for(config))  # all checks before calls
    free = own_seeder and producer.history_free
    count_tokens = make_token_counter(config.tokenizer)
    out = config.output_dir
    owned = models is None
    if models is None:
        models = build_models(config, producer.roles, meter)
    k, n = config.shard_index, config.num_shards
    async with contextlib.AsyncExitStack() as stack:  # unwinds: lock, then the models
        served: dict[str, list[str]] = {}
        role_models: RoleModels | None = None
        if owned:  # before any call: reachable, and which model answers (cache keys, fingerprint)
            role_models = cast("RoleModels", models)  # built by `build_models` above
            meter = role_models.meter
            stack.push_async_callback(role_models.aclose)
            await role_models.check_reachable()
            served = await role_models.identify()
        fp = fingerprint(config, prompts.hash, served)
        ctx = RunContext(plan, models, fp, count_tokens)
        check_fingerprint(out, fp, fingerprint_fields(config, prompts.hash, served))
        stack.enter_context(ShardLock(out, k, n))  # a second writer of this shard fails here
        shard = ShardFile(shard_path(out, k, n))
        existing = shard.load(lambda p: config.doc_id(k + p * n))
        summary = RunSummary(k, n, str(shard.path), fp)
        try:
            await _run_window(ctx, producer, seeder, shard, existing, summary, on_record, started, free)
        except BaseException as exc:
            summary.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            _finish(shard, summary, started, out, meter, role_models)
    return summary


def _finish(
    shard: ShardFile,
    summary: RunSummary,
    started: float,
    out,
    meter: UsageMeter | None,
    role_models: RoleModels | None,
) -> None:
    """Close the shard and write the summary, also when the run failed; an error here (a full
    disk) is logged and kept in the summary, never raised over the run's own error."""
    try:
        shard.close()
    except OSError as exc:
        summary.error = summary.error or f"{type(exc).__name__}: {exc}"
        logger.warning("closing %s failed: %s", shard.path, exc)
    if meter is not None:
        snap = meter.snapshot()
        summary.by_role = snap["by_role"]
        summary.calls = snap["total"]["calls"]
        summary.cache_hits = snap["total"]["cache_hits"]
    if role_models is not None:
        summary.backends = role_models.backend_stats()
    summary.wall_time_s = round(time.monotonic() - started, 3)
    path = summary_path(out, summary.shard_index, summary.num_shards)
    try:
        write_json_atomic(path, summary.to_dict())
    except OSError as exc:
        logger.warning("could not write %s: %s", path, exc)


async def _durable(shard: ShardFile) -> None:
    """fsync the lines written so far; a cancellation waits for the fsync to end first, so that
    the summary written on the way out counts exactly the documents the shard holds."""
    commit = asyncio.ensure_future(shard.commit())
    try:
        await asyncio.shield(commit)
    except asyncio.CancelledError:
        await commit
        raise


def _account(summary: RunSummary, statuses: Counter, agency: AgencyTotals, record: Record, is_new: bool) -> None:
    prov = record.provenance_dict
    statuses[prov.get("status", "final")] += 1
    if "agency" in prov:
        agency.add(prov["agency"])
    summary.fallbacks += len(prov.get("fallbacks", []))
    summary.documents += 1
    summary.tokens += record.num_tokens
    if is_new:  # cost by role from provenance; replaced by the meter's when there is one
        for role, tally in prov.get("tokens_by_role", {}).items():
            mine = summary.by_role.setdefault(role, {})
            for key, value in tally.items():
                mine[key] = mine.get(key, 0) + value
        summary.calls += sum(t.get("calls", 0) for t in prov.get("tokens_by_role", {}).values())


async def _run_window(ctx, producer, seeder, shard, existing, summary, on_record, started, free) -> None:
    """Sliding-window scheduler: start doc p + L when doc p is published, publish in order.

    A producer whose documents read no history (`history_free`: the plain template on keyword
    seeds) needs no window: a new document starts whenever one of the L in flight finishes, up
    to 4 L ahead of the first unpublished one (bounded memory), and each is given an empty view,
    so its record does not depend on timing either. Publication stays in index order."""
    config = ctx.config
    k, n, lanes = config.shard_index, config.num_shards, config.lanes
    limit = positions_for(config)
    limit = producer.limit(limit)
    target = math.ceil(config.target_tokens / n) if config.target_tokens else None
    empty = TableView([], [], 0)
    pending: dict[int, asyncio.Future] = {}
    statuses: Counter = Counter()
    agency = AgencyTotals()
    generated_tokens = 0
    # Free mode: the next position to start, how many run, the first unpublished position, and
    # whether starting is over (target reached, or the run is unwinding).
    next_p, running, p_next, closed = 0, 0, 0, False
    loop = asyncio.get_running_loop()

    def finished(_future: asyncio.Future) -> None:  # free mode: a lane is free, fill it now
        nonlocal running
        running -= 1
        top_up()

    def start(p: int) -> None:
        nonlocal running
        if limit is not None and p >= limit:
            return
        if p < len(existing):
            done = loop.create_future()
            done.set_result((existing[p], InstanceEntry.from_record(existing[p])))
            pending[p] = done
            return
        index, visible = k + p * n, empty if free else ctx.table.snapshot()
        try:
            seeds = seeder.seeds_for(index, visible) if seeder is not None else SeedSet(keywords=())
        except Exception as exc:  # raised where document p is published, in order (start may run in a callback)
            pending[p] = failed = loop.create_future()
            failed.set_exception(exc)
            return
        pending[p] = task = asyncio.ensure_future(producer.produce(ctx, index, seeds, visible))
        if free:
            running += 1
            task.add_done_callback(finished)

    def top_up() -> None:
        nonlocal next_p
        while not closed and running < lanes and next_p < p_next + 4 * lanes and (limit is None or next_p < limit):
            start(next_p)
            next_p += 1

    try:
        if free:
            top_up()
        else:
            for p in range(lanes):
                start(p)
        stop = False
        while p_next in pending and not stop:
            await asyncio.wait([pending[p_next]])
            # Group commit: every document finished by now, in order, goes to the shard with one
            # fsync (in a thread, so the other lanes' calls go on meanwhile); none is counted or
            # reported (summary, progress) before it is on disk.
            batch: list[tuple[int, Record, InstanceEntry]] = []
            tokens = summary.tokens
            while p_next + len(batch) in pending and pending[p_next + len(batch)].done():
                p = p_next + len(batch)
                if batch and (pending[p].cancelled() or pending[p].exception() is not None):
                    break  # the documents before a failed one are written first; it raises next round
                record, entry = pending.pop(p).result()
                batch.append((p, record, entry))
                tokens += record.num_tokens
                if target is not None and tokens >= target:
                    break
            fresh = [record for p, record, _ in batch if p >= len(existing)]
            for record in fresh:
                shard.write(record)
            # The next documents may start before the fsync returns: they depend on these only in
            # memory, and their own lines come later in the file, so a crash loses them together
            # and a resume regenerates both identically (from the cache).
            reached = target is not None and tokens >= target
            for p, _, entry in batch:  # one at a time: document p + L sees exactly documents <= p
                ctx.table.add(entry)
                _expand(seeder, entry)
                if not reached and not free:
                    start(p + lanes)
            if reached:
                closed = True
            stopped: asyncio.CancelledError | None = None
            if fresh:
                try:
                    await _durable(shard)
                except asyncio.CancelledError as exc:  # Ctrl-C, SIGTERM: these lines are on disk, count them
                    stopped = exc
            for p, record, _ in batch:  # now durable: counted, reported
                is_new = p >= len(existing)
                if is_new:
                    summary.generated += 1
                    generated_tokens += record.num_tokens
                else:
                    summary.resumed += 1
                _account(summary, statuses, agency, record, is_new)
                if on_record is not None:
                    elapsed = time.monotonic() - started
                    on_record(
                        record,
                        Progress(
                            summary.documents,
                            limit,
                            summary.tokens,
                            target,
                            summary.generated,
                            generated_tokens,
                            elapsed,
                        ),
                    )
            if stopped is not None:
                raise stopped
            if reached:
                summary.stopped_by, stop = "target_tokens", True
            p_next += len(batch)
            if free:
                top_up()  # the lookahead bound moved
        summary.stopped_by = summary.stopped_by or "num_docs"
    finally:
        closed = True
        for task in pending.values():
            task.cancel()
        await asyncio.gather(*pending.values(), return_exceptions=True)
        summary.statuses = dict(sorted(statuses.items()))
        summary.agency = agency.to_dict()
        elapsed = max(time.monotonic() - started, 1e-9)
        summary.generated_tokens_per_s = round(generated_tokens / elapsed, 3)
