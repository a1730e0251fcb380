"""Stopping a run on a signal the way Ctrl-C stops it: every `finally` runs, the shard is closed,
its summary written, and the same command resumes.

SIGTERM is what `kill`, systemd and Slurm send at a job's end or pre-emption; SIGUSR1 is what
Slurm sends ahead of it with `sbatch --signal=USR1@120`. Without a handler SIGTERM killed the
process silently, and SIGUSR1 too.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Stopped(KeyboardInterrupt):
    """The run was stopped by `signum`; the process exits with 128 + signum, as the shell reports
    a process that signal killed (so `afterok` jobs and `set -e` scripts see an unfinished run)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum


async def until_signalled(awaitable: Awaitable[T]) -> T:
    """Await `awaitable`; a stop signal cancels it as `asyncio.run` does on Ctrl-C, then raises
    `Stopped`. Outside the main thread (no signal handlers there) it just awaits."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        if task is not None:  # the reason reaches the run summary's `error`
            task.cancel(f"stopped by {signal.Signals(signum).name}")

    installed = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, stop, signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            continue
        installed.append(signum)
    try:
        return await awaitable
    except asyncio.CancelledError:
        if received:
            raise Stopped(received[0]) from None
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
