"""One concurrency limiter for every request of a run, which backs off when the API pushes back.

Additive increase, multiplicative decrease: a 429/529 halves the limit at once; each
run of successes after a quiet period raises it by one, back up to the configured
concurrency. Shared by every task, so parallel branches do not each hammer an API that
already said "slow down".
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class AdaptiveLimiter:
    def __init__(
        self,
        limit: int,
        *,
        cooldown: float = 5.0,
        successes_to_grow: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_limit = max(1, limit)
        self.limit = self.max_limit
        self.in_flight = 0
        self.peak_in_flight = 0
        self.throttle_events = 0
        self._cooldown = cooldown
        self._successes_to_grow = successes_to_grow
        self._clock = clock
        self._last_throttle = -math.inf
        self._successes = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    def on_throttle(self) -> None:
        self.throttle_events += 1
        self._last_throttle = self._clock()
        self._successes = 0
        self.limit = max(1, self.limit // 2)

    async def on_success(self) -> None:
        if self.limit >= self.max_limit:
            return
        self._successes += 1
        quiet = self._clock() - self._last_throttle >= self._cooldown
        if quiet and self._successes >= self._successes_to_grow:
            self._successes = 0
            async with self._changed:
                self.limit += 1
                self._changed.notify_all()
