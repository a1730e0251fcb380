"""How many requests an endpoint admits at once: a ceiling, lowered by overload, crept back.

TGI answers 429 "Model is overloaded" at once, without Retry-After, whenever more than its
`max_concurrent_requests` are in flight (router/src/infer/mod.rs); N Slurm tasks sharing one
server each see a share of that. An overload is back-pressure, not failure. A 429 comes back at
once while admitted requests take a whole generation, so when the last 429 of a burst returns,
the requests of ours still in flight are exactly those the server took: each overload sets the
limit to the others in flight (`active - 1`), which finds the server's share in one round trip.
The limit grows back by one per `limit` successes while it is in use, probing for room that
other clients freed. Requests wait here for a slot, first come first served.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Admission:
    """An adjustable semaphore for one endpoint's requests."""

    def __init__(self, ceiling: int, start: int | None = None):
        self.ceiling = max(1, ceiling)
        self.limit = float(min(self.ceiling, start or self.ceiling))
        self.active = 0
        self.peak_active = 0
        self.overloads = 0
        self.lowest = self.limit
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def admitted(self) -> int:
        return max(1, int(self.limit))

    def set_ceiling(self, ceiling: int, start: int | None = None) -> None:
        """A limit the server stated after the endpoint was built (its /info)."""
        self.ceiling = max(1, ceiling)
        self.limit = float(min(self.ceiling, start or self.ceiling))
        self.lowest = min(self.lowest, self.limit)
        self._wake()

    async def acquire(self) -> None:
        if self.active < self.admitted and not self._waiters:
            self._take()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot as we were cancelled
                self.release(ok=False)
            else:
                self._waiters.remove(waiter)
            raise

    def _take(self) -> None:
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)

    def release(self, *, ok: bool) -> None:
        in_use = self.active >= self.admitted
        self.active -= 1
        if ok and in_use and self.limit < self.ceiling:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
        self._wake()

    def overloaded(self) -> None:
        """The server refused one of the active requests for overload (call before `release`)."""
        self.overloads += 1
        self.limit = max(1.0, min(self.limit, float(self.active - 1)))
        self.lowest = min(self.lowest, self.limit)

    def _wake(self) -> None:
        while self._waiters and self.active < self.admitted:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._take()
                waiter.set_result(None)

    def report(self) -> dict[str, int]:
        return {
            "ceiling": self.ceiling,
            "admitted": self.admitted,
            "lowest": max(1, int(self.lowest)),
            "peak_in_flight": self.peak_active,
            "overloads": self.overloads,
        }
