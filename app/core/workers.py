"""CPU-bound work — summaries, reports, charts — run off the event loop, and bounded.

A summary over years of diary is milliseconds to tens of milliseconds of pure Python and
numpy; on the event loop it would hold every other request of the process (``/healthz``
included) for that long. :class:`HeavyWork` runs such work in a small thread pool, and
admits at most ``limit`` pieces of it per process at a time (running or queued): one
more is refused at once with ``503`` and ``Retry-After``, so a flood of expensive reads
cannot queue without bound or starve the cheap ones.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from app.core.errors import ServiceUnavailable

P = ParamSpec("P")
T = TypeVar("T")

#: Seconds a refused client is told to wait.
RETRY_AFTER = 1


class HeavyWork:
    """A bounded pool for CPU-bound request work (see the module's docstring)."""

    def __init__(self, threads: int, limit: int) -> None:
        self.limit = limit
        self.admitted = 0
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="paindiary-heavy")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in the pool; ``503`` when ``limit`` are admitted already."""
        if self.admitted >= self.limit:
            raise ServiceUnavailable(
                "The service is busy with other reports; try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        self.admitted += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs)
            )
        finally:
            self.admitted -= 1
