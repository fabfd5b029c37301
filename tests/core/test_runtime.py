"""The garbage-collector tuning holds while an app runs, and is undone when it stops."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.runtime import YOUNG_THRESHOLD
from app.main import create_app
from tests.conftest import make_settings


@pytest.fixture
def default_collector() -> Iterator[tuple[int, int, int]]:
    """CPython's defaults for the test, whatever other apps of the session did; then back."""
    saved = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_the_collector_is_tuned_while_the_app_runs(
    database_url: str, default_collector: tuple[int, int, int]
) -> None:
    with TestClient(create_app(make_settings(database_url))):
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        assert gc.get_freeze_count() > 10_000  # the framework, the schemas, the routes
    assert gc.get_threshold() == default_collector
    assert gc.get_freeze_count() == 0


def test_the_tuning_can_be_switched_off(
    database_url: str, default_collector: tuple[int, int, int]
) -> None:
    with TestClient(create_app(make_settings(database_url, gc_tuning=False))):
        assert gc.get_threshold() == default_collector
        assert gc.get_freeze_count() == 0
