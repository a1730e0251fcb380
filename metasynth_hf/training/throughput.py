"""Tokens per second per device and peak memory, logged while training and summarised after.

Numbers a user needs to size a run (how long will 25M tokens take on my GPUs?) and that the GPU
check reports. Token counts come from the Trainer's own `num_input_tokens_seen` (summed over
all processes); with packing every token is a real one, so there is no padding to discount.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

logger = logging.getLogger(__name__)


def peak_memory_gib() -> dict[str, float]:
    """Peak GPU memory allocated by this process (if any GPU) and peak host RSS, in GiB."""
    import torch

    peaks = {}
    if torch.cuda.is_available():
        peaks["gpu_peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
        peaks["gpu_peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    peaks["host_peak_rss_gib"] = rss / (2**30 if sys.platform == "darwin" else 2**20)
    return peaks


class ThroughputCallback(TrainerCallback):
    """Adds tokens/s/device and memory to every log line; keeps the totals for the summary."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.first_tokens = 0
        self.summary: dict[str, Any] = {}

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102 - Trainer hook
        self.start = time.perf_counter()
        self.first_tokens = state.num_input_tokens_seen

    def _measure(self, args, state) -> dict[str, Any]:
        elapsed = time.perf_counter() - (self.start or time.perf_counter())
        tokens = state.num_input_tokens_seen - self.first_tokens
        per_device = tokens / elapsed / args.world_size if elapsed > 0 else 0.0
        return {
            "tokens_seen": tokens,
            "elapsed_s": round(elapsed, 3),
            "world_size": args.world_size,
            "tokens_per_second_per_device": round(per_device, 2),
            **{k: round(v, 3) for k, v in peak_memory_gib().items()},
        }

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102 - Trainer hook
        if logs is not None and "loss" in logs:
            measured = self._measure(args, state)
            logs["tokens_per_second_per_device"] = measured["tokens_per_second_per_device"]

    def on_train_end(self, args, state, control, **kwargs):  # noqa: D102 - Trainer hook
        self.summary = {"global_step": state.global_step, **self._measure(args, state)}
        logger.info("throughput: %s", self.summary)


def write_summary(path: str | Path, payload: dict[str, Any]) -> None:
    """Write `payload` as indented JSON (the caller decides which process writes)."""
    Path(path).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
