"""A sliding-window rate limiter kept in process memory.

Each process counts on its own: behind a load balancer with N processes a client gets at
most N × the limit, which still makes guessing a share code or a password hopeless.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from app.core.errors import AppError


class TooManyRequests(AppError):
    status, slug = 429, "too-many-requests"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many requests; try again in {seconds} s.", headers={"Retry-After": str(seconds)}
        )


class SlidingWindow:
    """At most ``limit`` events per ``window_seconds`` for each key."""

    MAX_KEYS = 100_000

    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        """Raise TooManyRequests when ``key`` has used up its window (without counting)."""
        if self.limit <= 0:
            return
        events = self._recent(key)
        if len(events) >= self.limit:
            raise TooManyRequests(events[0] + self.window - self._clock())

    def hit(self, key: str) -> None:
        """Count one event for ``key``; raise TooManyRequests if it is over the limit."""
        if self.limit <= 0:
            return
        self.check(key)
        if len(self._events) >= self.MAX_KEYS and key not in self._events:
            self._sweep()
        self._events.setdefault(key, deque()).append(self._clock())

    def _recent(self, key: str) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        horizon = self._clock() - self.window
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def _sweep(self) -> None:
        for key in list(self._events):
            self._recent(key)
        if len(self._events) >= self.MAX_KEYS:
            # Still full of live keys: forget the oldest tenth at once, so that the next
            # new keys do not each pay for a full scan.
            for key in list(self._events)[: max(1, self.MAX_KEYS // 10)]:
                del self._events[key]
