"""A short soak on every test backend: phones writing, conflicting, retrying and syncing
against a real server for 15 s (longer if a slow machine needs it to do all of the below),
and not one acknowledged write lost (engine: soak.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BACKENDS, POSTGRES_URL
from tests.reliability.soak import SoakConfig, Stats, soak, summary

KINDS = {"entry", "course", "session"}


def did_it_all(stats: Stats) -> bool:
    """It did what it set out to do: many writes of every kind, deletes, conflicts, replays,
    writes of unknown outcome (abandoned after milliseconds, then retried)."""
    return (
        stats.acknowledged > 100
        and set(stats.acknowledged_by_kind) == KINDS
        and stats.deletes > 0
        and stats.conflicts > 0
        and stats.batch_conflicts > 0
        and stats.replayed_batches > 0
        and stats.replayed_writes > 0
        and stats.unknown_outcomes > 0
        and stats.acknowledged_records > 100
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_short_soak_loses_nothing(backend: str, tmp_path: Path) -> None:
    config = SoakConfig(duration=15, patients=10, goal=did_it_all)
    report = soak(backend, tmp_path, config, POSTGRES_URL)
    print(summary(report))
    stats = report.stats
    assert stats.problems == [], summary(report)
    assert (stats.server_errors, stats.lost, stats.mismatches) == (0, 0, 0)
    assert (stats.unexpected, stats.leaks) == (0, 0)
    # It did what it set out to do: many writes of every kind, deletes, conflicts, replays.
    assert stats.acknowledged > 100
    assert set(stats.acknowledged_by_kind) == KINDS
    assert stats.deletes > 0 and stats.conflicts > 0 and stats.batch_conflicts > 0
    assert stats.replayed_batches > 0 and stats.replayed_writes > 0
    assert stats.unknown_outcomes > 0
    assert stats.records_checked > 100
