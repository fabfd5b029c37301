"""Summaries cost what they show: the database combines a day's entries, a course summary
reads only the days it reports (at most 3,660 back from ``as_of``), ``as_of`` is no later
than tomorrow, and the computation runs off the event loop in a bounded pool."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.core.database import Database
from app.core.errors import ServiceUnavailable
from app.core.workers import HeavyWork
from app.trends import service
from app.trends.stats import Day, EntryValues, daily_series
from app.trends.summaries import (
    MAX_SUMMARY_DAYS,
    CourseFacts,
    course_ranges,
    merge_ranges,
    series_start,
)
from tests.conftest import Account, app_of, assert_problem, portal_of
from tests.trends.summarized import course_summary_model

D = dt.date
ONE_DAY = dt.timedelta(days=1)
TAGS = ["weather", "yoga", "work", "travel"]
AS_NEEDED = {"name": "ibuprofen", "dose": 400, "unit": "mg", "kind": "as_needed"}
PREVENTIVE = {"name": "amitriptyline", "dose": 10, "unit": "mg", "kind": "preventive"}


def random_entries(seed: int, first: dt.date, days: int) -> list[dict[str, Any]]:
    """Entries on about two days in three, up to three a day, with every optional field
    sometimes absent; recorded in a few offsets so that local dates come from them."""
    rng = random.Random(seed)
    out = []
    for i in range(days):
        if rng.random() < 0.35:
            continue
        day = first + dt.timedelta(days=i)
        for _ in range(rng.choice([1, 1, 2, 3])):
            offset = rng.choice(["+01:00", "-05:00", "+09:30"])
            body: dict[str, Any] = {
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "recorded_at": f"{day}T{rng.randint(6, 22):02d}:{rng.randint(0, 59):02d}"
                f":00{offset}",
                "pain": rng.randint(0, 10),
            }
            if rng.random() < 0.5:
                body["pain_worst"] = rng.randint(body["pain"], 10)
            if rng.random() < 0.6:
                body["sleep_hours"] = rng.choice([4.5, 6.0, 6.25, 7.3, 8.1, 9.0])
            if rng.random() < 0.4:
                body["sleep_quality"] = rng.randint(0, 10)
            if rng.random() < 0.5:
                body["stress"] = rng.randint(0, 10)
            if rng.random() < 0.5:
                body["tags"] = rng.sample(TAGS, rng.randint(0, 3))
            if rng.random() < 0.3:
                body["medications"] = [rng.choice([AS_NEEDED, PREVENTIVE])]
            out.append(body)
    return out


def as_values(body: dict[str, Any]) -> EntryValues:
    return EntryValues(
        local_date=dt.date.fromisoformat(body["recorded_at"][:10]),
        pain=body["pain"],
        pain_worst=body.get("pain_worst"),
        sleep_hours=body.get("sleep_hours"),
        sleep_quality=body.get("sleep_quality"),
        stress=body.get("stress"),
        as_needed=any(m["kind"] == "as_needed" for m in body.get("medications", [])),
        tags=tuple(body.get("tags", [])),
    )


def write(client: TestClient, who: Account, bodies: list[dict[str, Any]]) -> None:
    for i in range(0, len(bodies), 500):
        items = bodies[i : i + 500]
        response = client.post(
            "/v1/patients/me/entries/batch", json={"items": items}, headers=who.headers
        )
        assert response.status_code == 200, response.text
        assert {r["status"] for r in response.json()["results"]} == {"created"}


async def _series(db: Database, patient_id: uuid.UUID, ranges: Any) -> list[Day]:
    async with db.read() as conn:
        return await service.daily_series(db, conn, patient_id, ranges)


def test_the_database_combines_each_day_as_the_contract_does(
    client: TestClient, db: Database, patient: Account, other_patient: Account
) -> None:
    first = D(2025, 1, 1)
    mine = random_entries(7, first, 120)
    write(client, patient, mine)
    write(client, other_patient, random_entries(8, first, 120))  # never read for `patient`
    portal = portal_of(client)
    whole = portal.call(_series, db, patient.id, [(first - ONE_DAY, first + 121 * ONE_DAY)])
    expected = daily_series(as_values(b) for b in mine)
    assert len(whole) == len(expected) > 60
    for got, want in zip(whole, expected, strict=True):
        assert got.local_date == want.local_date
        assert type(got.pain) is type(got.pain_worst) is float
        assert type(got.as_needed) is bool
        assert got.pain == want.pain
        assert got.pain_worst == want.pain_worst
        assert got.sleep_quality == want.sleep_quality
        assert got.stress == want.stress
        assert got.as_needed == want.as_needed
        assert got.tags == want.tags
        if want.sleep_hours is None:
            assert got.sleep_hours is None
        else:  # a sum of floats, in the database's order
            assert got.sleep_hours == pytest.approx(want.sleep_hours, abs=1e-12)

    ranges = [(D(2025, 1, 10), D(2025, 1, 20)), (D(2025, 3, 1), D(2025, 3, 5))]
    part = portal.call(_series, db, patient.id, ranges)
    assert [d.local_date for d in part] == [
        d.local_date for d in expected if any(a <= d.local_date <= b for a, b in ranges)
    ]
    assert portal.call(_series, db, patient.id, []) == []


def test_ranges_merge_and_drop_empty_ones() -> None:
    assert merge_ranges([]) == []
    assert merge_ranges([(D(2026, 1, 5), D(2026, 1, 1))]) == []
    assert merge_ranges(
        [
            (D(2026, 1, 10), D(2026, 1, 12)),
            (D(2026, 1, 1), D(2026, 1, 3)),
            (D(2026, 1, 4), D(2026, 1, 5)),
        ]
    ) == [(D(2026, 1, 1), D(2026, 1, 5)), (D(2026, 1, 10), D(2026, 1, 12))]


def test_a_recent_course_reads_its_week_before_through_as_of() -> None:
    course = CourseFacts(uuid.UUID(int=1), D(2026, 3, 9), D(2026, 3, 20), 8)
    assert series_start(course, D(2026, 3, 22)) == (D(2026, 3, 2), False)
    assert course_ranges(course, D(2026, 3, 22)) == [(D(2026, 3, 2), D(2026, 3, 22))]
    # As of a day before the course: nothing after it.
    assert course_ranges(course, D(2026, 3, 4)) == [(D(2026, 3, 2), D(2026, 3, 4))]


def test_an_old_course_reads_its_baseline_weeks_the_last_3660_days_and_its_end() -> None:
    course = CourseFacts(uuid.UUID(int=1), D(2000, 1, 10), D(2000, 3, 1), None)
    as_of = D(2026, 6, 30)
    first = as_of - dt.timedelta(days=MAX_SUMMARY_DAYS - 1)
    assert series_start(course, as_of) == (first, True)
    assert course_ranges(course, as_of) == [
        (D(2000, 1, 3), D(2000, 1, 16)),  # the pre-course and early-course weeks
        (D(2000, 2, 24), as_of),  # end of course, and the follow-up through as_of
    ]
    ongoing = CourseFacts(uuid.UUID(int=2), D(2000, 1, 10), None, None)
    assert course_ranges(ongoing, as_of) == [(D(2000, 1, 3), D(2000, 1, 16)), (first, as_of)]
    # 3,659 days after the start: not truncated yet.
    edge = D(2000, 1, 10) + dt.timedelta(days=MAX_SUMMARY_DAYS - 1)
    assert series_start(ongoing, edge) == (D(2000, 1, 3), False)
    assert series_start(ongoing, edge + ONE_DAY)[1] is True


def _day(date: dt.date, pain: float) -> Day:
    return Day(date, pain, pain, None, None, None, False)


def test_a_truncated_summary_reports_the_last_3660_days_and_keeps_its_baseline() -> None:
    start = D(2010, 1, 1)
    as_of = start + dt.timedelta(days=5000)
    course = CourseFacts(uuid.UUID(int=3), start, None, 10)
    rng = random.Random(3)
    days = [_day(start - dt.timedelta(days=7) + i * ONE_DAY, 8.0) for i in range(7)]
    days += [
        _day(start + i * ONE_DAY, float(rng.randint(1, 6)))
        for i in range(5001)
        if rng.random() < 0.8
    ]
    summary = course_summary_model(course, days, [], as_of)
    first = as_of - dt.timedelta(days=MAX_SUMMARY_DAYS - 1)
    assert summary.warnings == ["window_truncated"]
    assert summary.daily[0].local_date >= first
    assert [d.local_date for d in summary.daily] == [
        d.local_date for d in days if first <= d.local_date <= as_of
    ]
    assert summary.baseline is not None and summary.baseline_method == "pre_course"
    assert summary.baseline.pain_mean == 8.0
    assert summary.weekly[0].week == (first - start).days // 7
    assert summary.weekly[0].start <= first < summary.weekly[0].end + ONE_DAY
    assert summary.weekly[-1].start <= as_of <= summary.weekly[-1].end
    in_window = sum(1 for d in days if first <= d.local_date <= as_of)
    assert summary.adherence_pct == round(100 * in_window / MAX_SUMMARY_DAYS, 3)
    assert summary.trend is not None and summary.trend.days_with_data == in_window
    # The same summary from only the days it reads.
    wanted = course_ranges(course, as_of)
    read = [d for d in days if any(a <= d.local_date <= b for a, b in wanted)]
    assert course_summary_model(course, read, [], as_of) == summary


def test_an_untruncated_summary_has_no_truncation_warning() -> None:
    start = D(2026, 1, 1)
    course = CourseFacts(uuid.UUID(int=4), start, None, None)
    days = [_day(start + i * ONE_DAY, 5.0) for i in range(-7, 30)]
    assert "window_truncated" not in course_summary_model(course, days, [], D(2026, 1, 30)).warnings


# --- as_of no later than tomorrow -----------------------------------------------------------


def _course(client: TestClient, who: Account) -> str:
    course_id = str(uuid.uuid4())
    body = {"name": "Neck", "modality": "acupuncture", "start_date": "2026-01-05"}
    response = client.put(f"/v1/patients/me/courses/{course_id}", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return course_id


def test_as_of_may_be_tomorrow_in_the_patients_zone_and_no_later(
    client: TestClient, patient: Account
) -> None:
    course_id = _course(client, patient)
    tomorrow = dt.datetime.now(ZoneInfo("Europe/Berlin")).date() + ONE_DAY
    url = f"/v1/patients/me/courses/{course_id}/summary"
    answered = client.get(url, params={"as_of": str(tomorrow)}, headers=patient.headers)
    assert answered.status_code == 200, answered.text
    assert answered.json()["as_of"] == str(tomorrow)
    later = client.get(url, params={"as_of": str(tomorrow + ONE_DAY)}, headers=patient.headers)
    assert_problem(later, 422, field="as_of")


# --- off the event loop, bounded ------------------------------------------------------------


def test_work_beyond_the_limit_is_refused_with_retry_after() -> None:
    release = threading.Event()

    async def scenario() -> None:
        heavy = HeavyWork(threads=1, limit=2)
        running = [asyncio.create_task(heavy.run(release.wait, 30)) for _ in range(2)]
        await asyncio.sleep(0)  # both admitted
        assert heavy.admitted == 2
        with pytest.raises(ServiceUnavailable) as refused:
            await heavy.run(lambda: None)
        assert refused.value.headers == {"Retry-After": "1"}
        release.set()
        assert await asyncio.gather(*running) == [True, True]
        assert heavy.admitted == 0
        assert await heavy.run(lambda: 42) == 42

    asyncio.run(scenario())


@pytest.fixture
def blocked_summaries(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Course summaries that, once started, wait until the test releases them."""
    started, release = threading.Event(), threading.Event()
    compute: Callable[..., bytes] = service._render_course_summary

    def blocked(*args: Any) -> bytes:
        started.set()
        assert release.wait(30), "the test never released the summary"
        return compute(*args)

    monkeypatch.setattr(service, "_render_course_summary", blocked)
    yield started, release
    release.set()


def test_healthz_is_answered_while_a_summary_is_computed(
    client: TestClient,
    patient: Account,
    blocked_summaries: tuple[threading.Event, threading.Event],
) -> None:
    started, release = blocked_summaries
    course_id = _course(client, patient)
    url = f"/v1/patients/me/courses/{course_id}/summary"
    answers: list[int] = []
    reader = threading.Thread(
        target=lambda: answers.append(client.get(url, headers=patient.headers).status_code)
    )
    reader.start()
    try:
        assert started.wait(30), "the summary never started"
        # The summary holds its worker thread, not the event loop: health is answered now.
        assert client.get("/healthz").status_code == 200
        assert reader.is_alive() and answers == []
        assert app_of(client).state.heavy_work.admitted == 1
    finally:
        release.set()
        reader.join(30)
    assert answers == [200]
