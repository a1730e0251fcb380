"""Progress a person can read while a slow model works: documents, live calls, tokens/s, ETA.

Shared by `metasynth generate` (tqdm on stderr) and the `datasets` builder (datasets' own tqdm,
so `datasets.disable_progress_bars()` silences it like the library's other bars).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from metasynth_hf.config import RunConfig
from metasynth_hf.llm.accounting import UsageMeter

if TYPE_CHECKING:
    from metasynth_hf.generation.engine import RunSummary


def expected_calls_per_doc(config: RunConfig) -> float:
    """A first guess of model calls per document, until documents finish and measure it.

    A conductor loop makes about one conductor and one expert call a turn and two bookkeeping
    calls at the end; a template baseline makes one call.
    """
    from metasynth_hf.generation.methods import method_spec

    return method_spec(config.method).calls_per_doc(config)


def bar_label(config: RunConfig) -> str:
    """What a bar counts: 'metasynth documents', or 'template documents, shard 2/4' (from 1)."""
    label = f"{config.method} documents"
    return label if config.num_shards == 1 else f"{label}, shard {config.shard_index + 1}/{config.num_shards}"


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


class GenerationProgress:
    """tqdm over documents (or tokens when only target_tokens is known), with live call counts.

    A slow model can take minutes per document: the postfix is refreshed every second from the
    usage meter (calls answered, calls in flight, completion tokens/s), so work shows before the
    first document is published.
    """

    def __init__(
        self,
        config: RunConfig,
        enabled: bool = True,
        tqdm_class: Any = None,
        desc: str | None = None,
        logger: logging.Logger | None = None,
    ):
        from tqdm.auto import tqdm

        from metasynth_hf.generation.engine import positions_for

        tqdm = tqdm_class or tqdm

        total = positions_for(config)
        self.by_tokens = total is None
        if self.by_tokens:
            total = -(-(config.target_tokens or 0) // config.num_shards)
        unit = "tok" if self.by_tokens else "doc"
        self.total = total
        self.calls_per_doc = expected_calls_per_doc(config)
        self.new_docs = 0  # documents made by this process (resumed ones cost no calls)
        self.enabled = enabled
        self.desc = desc or bar_label(config)
        self.logger = logger
        self.meter: UsageMeter | None = None
        self.bar = tqdm(
            total=total, unit=unit, disable=not enabled, file=sys.stderr, dynamic_ncols=True, delay=0.5, desc=self.desc
        )
        self.enabled = not self.bar.disable  # datasets' tqdm is off when its bars are disabled

    def __call__(self, record, progress) -> None:
        self.bar.update(record.num_tokens if self.by_tokens else 1)
        self.new_docs = progress.generated
        if self.logger is not None:
            total = f"/{progress.total}" if progress.total is not None else ""
            calls = self.meter.total.calls if self.meter is not None else "?"
            self.logger.info(
                "%s: %d%s documents (%d made here, %d tokens) in %s; %s model calls",
                self.desc,
                progress.published,
                total,
                progress.generated,
                progress.tokens,
                duration(progress.elapsed_s),
                calls,
            )

    def eta_s(self, meter) -> float | None:
        """Seconds left, from the calls answered so far: known before the first document ends."""
        calls, elapsed = meter.total.calls, time.monotonic() - meter.started
        if self.by_tokens or not calls or elapsed <= 0:
            return None
        per_doc = calls / self.new_docs if self.new_docs else self.calls_per_doc
        left_docs = max(0, (self.total or 0) - self.bar.n)
        in_progress = calls - self.new_docs * per_doc  # calls of documents not yet finished
        return max(0.0, left_docs * per_doc - in_progress) / (calls / elapsed)

    def show(self, meter) -> None:
        total = meter.total
        text = (
            f"calls {total.calls} (+{meter.in_flight} running), {total.completion_tokens:,} completion tok, "
            f"{meter.tokens_per_second():.1f} tok/s"
        )
        eta = self.eta_s(meter) if not self.new_docs else None  # then tqdm's own ETA takes over
        if eta is not None:
            text += f", eta ~{duration(eta)} from calls"
        self.bar.set_postfix_str(text, refresh=True)
        # tqdm counts only `update`'s prints as shown: without this, a bar closed before its first
        # document left its line unended and the next message (Ctrl-C's) was glued to it.
        self.bar.last_print_t = time.time()

    async def tick(self, meter, every_s: float = 1.0) -> None:
        while self.enabled:
            self.show(meter)
            await asyncio.sleep(every_s)

    def close(self) -> None:
        self.bar.close()


async def generate_with_progress(config: RunConfig, bar: GenerationProgress) -> RunSummary:
    """`engine.generate` with the bar refreshed every second from the calls as they happen."""
    from metasynth_hf.generation.engine import generate

    meter = bar.meter = UsageMeter()
    ticker = asyncio.ensure_future(bar.tick(meter))
    try:
        return await generate(config, on_record=bar, meter=meter)
    finally:
        ticker.cancel()
        if bar.enabled:
            bar.show(meter)
