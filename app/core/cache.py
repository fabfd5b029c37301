"""Rendered read results kept while the data they were computed from is unchanged.

A key always carries the version of its inputs — a patient's change position, which every
write to the patient's entries, courses and sessions advances in the writing transaction —
so a cached answer can only be used for exactly the data it was computed from: nothing is
ever invalidated, an outdated entry is simply never asked for again and ages out of the LRU.
Each process keeps its own; correctness never depends on what another process holds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class VersionedCache(Generic[K, V]):
    """A bounded least-recently-used map from versioned keys to what was computed from
    exactly that version (a rendered body, a list row…)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        body = self._entries.get(key)
        if body is not None:
            self._entries.move_to_end(key)
        return body

    def put(self, key: K, body: V) -> None:
        if self.max_entries <= 0:
            return
        self._entries[key] = body
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


#: Rendered response bodies, e.g. course summaries.
RenderedBodies = VersionedCache[Hashable, bytes]
