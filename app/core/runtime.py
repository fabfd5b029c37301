"""Process-level tuning applied while the app runs: the garbage collector.

CPython's cyclic collector runs its youngest generation every 700 container allocations and,
now and then, walks every object in the process: the framework, SQLAlchemy's and pydantic's
schemas, the routes. A write allocates thousands of short-lived dicts and models (a batch of
500 entries, hundreds of thousands), so the collector kept walking the same long-lived
start-up objects. A higher young-generation threshold spares them (figures in
docs/performance.md).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

#: Allocations between collections of the youngest generation (CPython's default: 700).
YOUNG_THRESHOLD = 50_000


def tune_garbage_collector() -> Callable[[], None]:
    """Freeze what is alive now (out of every later collection: it lives as long as the
    process) and collect the youngest generation less often; return the undo.

    Reference counting still frees almost everything at once; only cycles wait for a
    collection, which still comes, and the benchmark shows no memory growth.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, previous[1], previous[2])

    def undo() -> None:
        gc.unfreeze()
        gc.set_threshold(*previous)

    return undo
