"""Invariants of the trend statistics, checked on generated diaries (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
import warnings
from dataclasses import replace
from statistics import fmean

import pymannkendall
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.http import render_data
from app.trends import stats, summaries
from app.trends.schemas import CourseSummary, PatientSummary
from app.trends.stats import Day, EntryValues, daily_series
from app.trends.summaries import CourseFacts, SessionFacts
from tests.trends.summarized import course_summary_model

ORIGIN = dt.date(2026, 1, 5)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

entries_strategy = st.lists(
    st.builds(
        EntryValues,
        local_date=st.integers(-14, 70).map(lambda n: ORIGIN + dt.timedelta(days=n)),
        pain=st.integers(0, 10),
        pain_worst=st.none() | st.integers(0, 10),
        sleep_hours=st.none() | st.floats(0, 24, allow_nan=False).map(lambda v: round(v, 1)),
        sleep_quality=st.none() | st.integers(0, 10),
        stress=st.none() | st.integers(0, 10),
        as_needed=st.booleans(),
        tags=st.lists(st.sampled_from(["weather", "yoga", "long drive"]), max_size=2).map(tuple),
    ),
    max_size=80,
)


@SETTINGS
@given(
    entries=entries_strategy,
    outside=entries_strategy,
    start=st.integers(0, 20),
    length=st.integers(0, 20),
)
def test_entries_outside_a_window_never_move_it(
    entries: list[EntryValues], outside: list[EntryValues], start: int, length: int
) -> None:
    first = ORIGIN + dt.timedelta(days=start)
    last = first + dt.timedelta(days=length)
    far = [o for o in outside if not first <= o.local_date <= last]
    before = stats.window(stats.daily_series(entries), first, last)
    after = stats.window(stats.daily_series(entries + far), first, last)
    assert after == before


@SETTINGS
@given(entries=entries_strategy, shift=st.integers(-400, 400), as_of=st.integers(-10, 75))
def test_shifting_every_date_changes_nothing_but_dates(
    entries: list[EntryValues], shift: int, as_of: int
) -> None:
    delta = dt.timedelta(days=shift)
    end = ORIGIN + dt.timedelta(days=49)
    course = CourseFacts(uuid.UUID(int=1), ORIGIN, end, 8)
    moved_course = CourseFacts(course.id, ORIGIN + delta, end + delta, 8)
    moved = [replace(e, local_date=e.local_date + delta) for e in entries]
    day = ORIGIN + dt.timedelta(days=as_of)
    a = course_summary_model(course, daily_series(entries), [], day).model_dump(mode="json")
    b = course_summary_model(moved_course, daily_series(moved), [], day + delta).model_dump(
        mode="json"
    )
    assert _without_dates(a) == _without_dates(b)


@SETTINGS
@given(pains=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=7))
def test_a_day_at_the_window_mean_leaves_the_mean_unchanged(pains: list[float]) -> None:
    days = [_day(ORIGIN + dt.timedelta(days=i), p) for i, p in enumerate(pains)]
    last = ORIGIN + dt.timedelta(days=13)
    before = stats.window(days, ORIGIN, last)
    assert before.pain_mean is not None
    extra = _day(ORIGIN + dt.timedelta(days=len(pains)), before.pain_mean)
    after = stats.window([*days, extra], ORIGIN, last)
    assert after.days_with_data == before.days_with_data + 1
    assert after.pain_mean == pytest.approx(before.pain_mean, abs=1e-12)


@pytest.mark.parametrize(
    ("pct", "label", "responder"),
    [
        (50.0, "substantial", True),
        (49.999, "moderate", True),
        (30.0, "moderate", True),
        (29.999, "minimal", False),
        (10.0, "minimal", False),
        (9.999, "unchanged", False),
        (0.0, "unchanged", False),
        (-9.999, "unchanged", False),
        (-10.0, "worse", False),
        (-250.0, "worse", False),
        (100.0, "substantial", True),
    ],
)
def test_category_and_responder_at_the_thresholds_exact_edges(
    pct: float, label: str, responder: bool
) -> None:
    assert stats.category(pct) == label
    assert stats.is_responder(pct) is responder


@SETTINGS
@given(entries=entries_strategy, as_of=st.integers(0, 70))
def test_reported_category_agrees_with_reported_percent(
    entries: list[EntryValues], as_of: int
) -> None:
    course = CourseFacts(uuid.UUID(int=2), ORIGIN, None, None)
    s = course_summary_model(course, daily_series(entries), [], ORIGIN + dt.timedelta(days=as_of))
    assert s.category == stats.category(s.reduction_pct)
    assert s.responder == (None if s.reduction_pct is None else s.reduction_pct >= 30)
    assert s.sustained == (
        None if s.follow_up_reduction_pct is None else s.follow_up_reduction_pct >= 30
    )


@SETTINGS
@given(pains=st.lists(st.integers(0, 10), min_size=10, max_size=40))
def test_mann_kendall_p_is_hamed_rao_where_defined(pains: list[int]) -> None:
    days = [_day(ORIGIN + dt.timedelta(days=i), p) for i, p in enumerate(pains)]
    trend = stats.trend(days, ORIGIN, ORIGIN, ORIGIN + dt.timedelta(days=len(pains)))
    assert trend is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = pymannkendall.hamed_rao_modification_test([float(p) for p in pains]).p
        if math.isnan(oracle):
            oracle = pymannkendall.original_test([float(p) for p in pains]).p
    assert trend.mann_kendall_p == pytest.approx(oracle)
    if trend.mann_kendall_p >= 0.05:
        assert trend.direction == "no_clear_trend"


@SETTINGS
@given(
    entries=entries_strategy,
    as_of=st.integers(-10, 75),
    end=st.none() | st.integers(0, 60),
    visits=st.lists(st.tuples(st.integers(-3, 70), st.none() | st.integers(0, 10)), max_size=6),
)
def test_the_plain_data_is_what_the_models_render(
    entries: list[EntryValues], as_of: int, end: int | None, visits: list[tuple[int, int | None]]
) -> None:
    """Every key of the models, no other, and each value as the model would write it."""
    course = CourseFacts(
        uuid.UUID(int=9), ORIGIN, None if end is None else ORIGIN + dt.timedelta(days=end), 8
    )
    sessions = [
        SessionFacts(
            id=uuid.UUID(int=100 + n),
            occurred_at=dt.datetime.combine(
                ORIGIN + dt.timedelta(days=day), dt.time(10), dt.timezone(dt.timedelta(hours=1))
            ),
            local_date=ORIGIN + dt.timedelta(days=day),
            pain_before=before,
            pain_after=None if before is None else before // 2,
        )
        for n, (day, before) in enumerate(visits)
    ]
    days = daily_series(entries)
    day = ORIGIN + dt.timedelta(days=as_of)
    data = summaries.course_summary(course, days, sessions, day)
    model = CourseSummary.model_validate(data)
    assert json.loads(render_data(data)) == model.model_dump(mode="json")
    window = summaries.patient_summary(days, ORIGIN, day + dt.timedelta(days=14))
    expected = PatientSummary.model_validate(window).model_dump(mode="json", by_alias=True)
    assert json.loads(render_data(window)) == expected


def time_to_response_by_definition(
    days: list[Day], start: dt.date, as_of: dt.date, baseline: float, first: dt.date
) -> int | None:
    """Contract §6 word for word: each date in turn, its trailing week's days with data."""
    pain_on = {d.local_date: d.pain for d in days}
    d = first
    while d <= as_of:
        week = [pain_on[day] for i in range(7) if (day := d - dt.timedelta(days=i)) in pain_on]
        if len(week) >= 3 and fmean(week) <= 0.7 * baseline:
            return (d - start).days
        d += dt.timedelta(days=1)
    return None


@settings(max_examples=300, deadline=None)
@given(
    pains=st.lists(st.none() | st.integers(0, 30).map(lambda p: p / 3), min_size=1, max_size=70),
    baseline=st.floats(1, 10),
    first=st.integers(-14, 30),
    as_of=st.integers(-20, 80),
)
def test_time_to_response_is_the_definition(
    pains: list[float | None], baseline: float, first: int, as_of: int
) -> None:
    # A diary with gaps from two weeks before the course's start.
    days = [
        _day(ORIGIN + dt.timedelta(days=i - 14), p) for i, p in enumerate(pains) if p is not None
    ]
    start, first_day = ORIGIN, ORIGIN + dt.timedelta(days=first)
    last = ORIGIN + dt.timedelta(days=as_of)
    expected = time_to_response_by_definition(days, start, last, baseline, first_day)
    assert stats.time_to_response(days, start, last, baseline, first=first_day) == expected


def test_time_to_response_at_the_threshold_exactly() -> None:
    """Trailing weeks whose mean is the threshold, or one float either side of it: the
    first date at or below it counts, as the definition's exact mean decides."""
    checked = 0
    for thirds in range(1, 31):
        for week in ([thirds / 3] * 7, [thirds / 3 - 1 / 3, thirds / 3 + 1 / 3, thirds / 3] * 2):
            # three days above the week's mean first, then the week itself
            pains = [10.0, 10.0, 10.0, *week]
            days = [_day(ORIGIN + dt.timedelta(days=i), p) for i, p in enumerate(pains)]
            mean = fmean(week)
            for baseline in (mean / 0.7, math.nextafter(mean / 0.7, 0), mean / 0.7 * (1 + 1e-15)):
                last = days[-1].local_date
                expected = time_to_response_by_definition(days, ORIGIN, last, baseline, ORIGIN)
                assert stats.time_to_response(days, ORIGIN, last, baseline) == expected
                checked += expected is not None
    assert checked > 60  # most of them respond on the week's last day


@SETTINGS
@given(
    diary=st.lists(
        st.tuples(st.floats(0, 10), st.frozensets(st.sampled_from(["weather", "yoga", "work"]))),
        max_size=60,
    )
)
def test_tag_effects_are_the_definition(diary: list[tuple[float, frozenset[str]]]) -> None:
    days = [
        Day(ORIGIN + dt.timedelta(days=i), p, p, None, None, None, False, tags)
        for i, (p, tags) in enumerate(diary)
    ]
    expected = []
    for tag in sorted({t for d in days for t in d.tags}):
        with_tag = [d.pain for d in days if tag in d.tags]
        without = [d.pain for d in days if tag not in d.tags]
        if len(with_tag) >= 3 and len(without) >= 3:
            expected.append((tag, len(with_tag), len(without), fmean(with_tag), fmean(without)))
    expected.sort(key=lambda e: (-abs(e[3] - e[4]), e[0]))
    got = stats.tag_effects(days)
    assert [(e.tag, e.days_with, e.days_without, e.pain_with, e.pain_without) for e in got] == (
        expected
    )
    assert all(e.difference == e.pain_with - e.pain_without for e in got)


def _day(date: dt.date, pain: float) -> Day:
    return Day(date, pain, pain, None, None, None, False)


DATE_KEYS = {"as_of", "start", "end", "local_date", "course_id"}


def _without_dates(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_dates(v) for k, v in value.items() if k not in DATE_KEYS}
    if isinstance(value, list):
        return [_without_dates(v) for v in value]
    return value


optional_value = st.none() | st.integers(0, 30).map(lambda v: v / 3)


@SETTINGS
@given(
    diary=st.lists(
        st.tuples(st.integers(0, 30).map(lambda p: p / 3), optional_value, optional_value),
        max_size=60,
    ),
    gaps=st.lists(st.integers(1, 5), min_size=60, max_size=60),
    first_week=st.integers(-3, 2),
    last=st.integers(-10, 300),
)
def test_weekly_is_the_definition(
    diary: list[tuple[float, float | None, float | None]],
    gaps: list[int],
    first_week: int,
    last: int,
) -> None:
    """Each week's means, minimum and maximum over its days with data, the means of the
    values present summed in date order, as the contract defines them."""
    dates = [ORIGIN + dt.timedelta(days=sum(gaps[:i]) - 20) for i in range(len(diary))]
    days = [
        Day(date, pain, pain, sleep, None, stress, False)
        for date, (pain, sleep, stress) in zip(dates, diary, strict=False)
    ]
    last_date = ORIGIN + dt.timedelta(days=last)
    expected = []
    week = first_week
    while ORIGIN + dt.timedelta(days=7 * week) <= last_date:
        start = ORIGIN + dt.timedelta(days=7 * week)
        end = start + dt.timedelta(days=6)
        inside = [d for d in days if start <= d.local_date <= end]
        pains = [d.pain for d in inside]
        sleep = [d.sleep_hours for d in inside if d.sleep_hours is not None]
        stress = [d.stress for d in inside if d.stress is not None]
        expected.append(
            (
                week, start, end, len(inside),
                sum(pains) / len(pains) if pains else None,
                min(pains, default=None), max(pains, default=None),
                sum(sleep) / len(sleep) if sleep else None,
                sum(stress) / len(stress) if stress else None,
            )
        )  # fmt: skip
        week += 1
    got = stats.weekly(days, ORIGIN, first_week, last_date)
    assert [
        (
            w.week, w.start, w.end, w.days_with_data, w.pain_mean, w.pain_min, w.pain_max,
            w.sleep_hours_mean, w.stress_mean,
        )
        for w in got
    ] == expected  # fmt: skip


@SETTINGS
@given(
    diary=st.lists(
        st.tuples(st.integers(0, 30).map(lambda p: p / 3), optional_value, optional_value),
        max_size=60,
    )
)
def test_factor_correlations_use_the_days_having_both(
    diary: list[tuple[float, float | None, float | None]],
) -> None:
    """Spearman's rho and p of each factor against pain over exactly the days having both,
    for each factor with at least 10 such days, as scipy.stats.spearmanr gives them."""
    days = [
        Day(ORIGIN + dt.timedelta(days=i), pain, pain, sleep, None, stress, False)
        for i, (pain, sleep, stress) in enumerate(diary)
    ]
    expected = []
    for name in ("stress", "sleep_hours"):
        both = [(getattr(d, name), d.pain) for d in days if getattr(d, name) is not None]
        if len(both) >= 10:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a constant input: scipy warns, gives NaN
                rho, p = scipy.stats.spearmanr([v for v, _ in both], [p for _, p in both])
            expected.append((name, float(rho), float(p), len(both)))
    got = stats.factor_correlations(days)
    assert [(f.factor, f.n) for f in got] == [(name, n) for name, _, _, n in expected]
    for f, (_, rho, p, _) in zip(got, expected, strict=True):
        if math.isnan(rho):
            assert f.rho is None and f.p_value is None
        else:
            assert f.rho == pytest.approx(rho, abs=1e-12)
            assert f.p_value == pytest.approx(p, abs=1e-12)
