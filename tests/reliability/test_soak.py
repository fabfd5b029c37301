"""A short soak on every test backend: phones writing, conflicting, retrying and syncing
against a real server for 15 s, and not one acknowledged write lost (engine: soak.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BACKENDS, POSTGRES_URL
from tests.reliability.soak import SoakConfig, soak, summary


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_short_soak_loses_nothing(backend: str, tmp_path: Path) -> None:
    report = soak(backend, tmp_path, SoakConfig(duration=15, patients=10), POSTGRES_URL)
    print(summary(report))
    stats = report.stats
    assert stats.problems == [], summary(report)
    assert (stats.server_errors, stats.lost, stats.mismatches) == (0, 0, 0)
    assert (stats.unexpected, stats.leaks) == (0, 0)
    # It did what it set out to do: many writes of every kind, deletes, conflicts, replays.
    assert stats.acknowledged > 100
    assert set(stats.acknowledged_by_kind) == {"entry", "course", "session"}
    assert stats.deletes > 0 and stats.conflicts > 0 and stats.batch_conflicts > 0
    assert stats.replayed_batches > 0 and stats.replayed_writes > 0
    assert stats.unknown_outcomes > 0
    assert stats.records_checked > 100
