"""The course summary on small hand-worked cases: every expected number is worked out here,
in the test, from the contract's definitions — not by calling the code under test."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import TypedDict, Unpack

import pymannkendall
import pytest

from app.trends.stats import EntryValues, daily_series
from app.trends.summaries import CourseFacts, SessionFacts
from tests.trends.summarized import course_summary_model, patient_summary_model

D = dt.date
START = D(2026, 3, 9)
END = D(2026, 3, 20)
AS_OF = D(2026, 3, 22)
CET = dt.timezone(dt.timedelta(hours=1))
COURSE = CourseFacts(uuid.UUID(int=1), START, END, planned_sessions=8)

ALL_KEYS = {
    "course_id", "as_of", "daily", "baseline_method", "baseline", "current", "end_of_course",
    "follow_up", "reduction_points", "reduction_pct", "category", "responder",
    "follow_up_reduction_pct", "sustained", "trend", "weekly", "sessions",
    "sessions_completed", "planned_sessions", "mean_relief", "time_to_response_days",
    "adherence_pct", "factors", "tag_effects", "warnings",
}  # fmt: skip


class EntryExtras(TypedDict, total=False):
    """The optional fields of an ``EntryValues``."""

    pain_worst: int | None
    sleep_hours: float | None
    sleep_quality: int | None
    stress: int | None
    as_needed: bool
    tags: tuple[str, ...]


def e(day: dt.date, pain: int, **kw: Unpack[EntryExtras]) -> EntryValues:
    return EntryValues(local_date=day, pain=pain, **kw)


def session(n: int, day: dt.date, before: int | None, after: int | None) -> SessionFacts:
    return SessionFacts(
        uuid.UUID(int=100 + n), dt.datetime.combine(day, dt.time(10), CET), day, before, after
    )


# Baseline week 03-02..03-08: three days; two entries on 03-03.
# Course 03-09..03-20, as of 03-22: current week 03-16..03-22 with three days.
ENTRIES = [
    e(D(2026, 3, 2), 6, pain_worst=7, sleep_hours=6.0, stress=4, tags=("weather",)),
    e(D(2026, 3, 3), 8, pain_worst=9, sleep_hours=5.0, tags=("weather",)),
    e(D(2026, 3, 3), 6, as_needed=True, tags=("weather", "yoga")),
    e(D(2026, 3, 5), 7, tags=("weather",)),
    e(D(2026, 3, 16), 3),
    e(D(2026, 3, 18), 4),
    e(D(2026, 3, 22), 2),
    e(D(2026, 3, 23), 10),  # after as_of: ignored
    e(D(2026, 2, 20), 10),  # before the baseline week: ignored
]
SESSIONS = [
    session(1, D(2026, 3, 9), 6, 4),
    session(2, D(2026, 3, 16), 5, 2),
    session(3, D(2026, 3, 12), 5, None),
    session(4, D(2026, 3, 1), 7, 1),  # before the course: not counted
    session(5, D(2026, 3, 21), 4, 1),  # after the course's end: not counted
]


@pytest.fixture(scope="module")
def summary() -> dict:
    return course_summary_model(COURSE, daily_series(ENTRIES), SESSIONS, AS_OF).model_dump(
        mode="json"
    )


def test_every_key_is_present(summary: dict) -> None:
    assert set(summary) == ALL_KEYS


def test_daily_series(summary: dict) -> None:
    assert [d["local_date"] for d in summary["daily"]] == [
        "2026-03-02", "2026-03-03", "2026-03-05", "2026-03-16", "2026-03-18", "2026-03-22",
    ]  # fmt: skip
    day2 = summary["daily"][1]
    assert day2 == {
        "local_date": "2026-03-03",
        "pain": 7.0,  # (8 + 6) / 2
        "pain_worst": 9.0,  # max(9, 6 where absent)
        "sleep_hours": 5.0,  # the one non-null value
        "sleep_quality": None,
        "stress": None,
        "as_needed": True,
    }


def test_baseline_is_the_week_before(summary: dict) -> None:
    assert summary["baseline_method"] == "pre_course"
    assert summary["baseline"] == {
        "start": "2026-03-02",
        "end": "2026-03-08",
        "days_with_data": 3,
        "pain_mean": round((6 + 7 + 7) / 3, 3),
        "pain_worst_mean": round((7 + 9 + 7) / 3, 3),
        "high_pain_days": 2,
        "sleep_hours_mean": 5.5,
        "sleep_quality_mean": None,
        "stress_mean": 4.0,
        "as_needed_days": 1,
    }


def test_current_end_of_course_and_follow_up(summary: dict) -> None:
    assert summary["current"]["start"] == "2026-03-16"
    assert summary["current"]["days_with_data"] == 3
    assert summary["current"]["pain_mean"] == 3.0
    assert summary["end_of_course"]["start"] == "2026-03-14"
    assert summary["end_of_course"]["end"] == "2026-03-20"
    assert summary["end_of_course"]["days_with_data"] == 2
    assert summary["end_of_course"]["pain_mean"] == 3.5
    assert summary["follow_up"]["start"] == "2026-03-21"
    assert summary["follow_up"]["end"] == "2026-03-22"
    assert summary["follow_up"]["pain_mean"] == 2.0


def test_change_against_baseline(summary: dict) -> None:
    baseline = 20 / 3
    assert summary["reduction_points"] == round(baseline - 3, 3)
    assert summary["reduction_pct"] == round(100 * (baseline - 3) / baseline, 3) == 55.0
    assert summary["category"] == "substantial"
    assert summary["responder"] is True
    assert summary["follow_up_reduction_pct"] == round(100 * (baseline - 2) / baseline, 3)
    assert summary["sustained"] is True


def test_too_few_days_for_a_trend(summary: dict) -> None:
    assert summary["trend"] is None
    assert summary["warnings"] == ["insufficient_data_for_trend"]


def test_weekly_table(summary: dict) -> None:
    assert [w["week"] for w in summary["weekly"]] == [-1, 0, 1]
    assert summary["weekly"][0] == {
        "week": -1,
        "start": "2026-03-02",
        "end": "2026-03-08",
        "days_with_data": 3,
        "pain_mean": round(20 / 3, 3),
        "pain_min": 6.0,
        "pain_max": 7.0,
        "sleep_hours_mean": 5.5,
        "stress_mean": 4.0,
    }
    assert summary["weekly"][1]["days_with_data"] == 0
    assert summary["weekly"][1]["pain_mean"] is None
    assert summary["weekly"][2]["pain_mean"] == 3.0
    assert (summary["weekly"][2]["pain_min"], summary["weekly"][2]["pain_max"]) == (2.0, 4.0)


def test_sessions_in_order_and_relief(summary: dict) -> None:
    assert [(s["number"], s["local_date"], s["relief"]) for s in summary["sessions"]] == [
        (1, "2026-03-09", 2),
        (2, "2026-03-12", None),
        (3, "2026-03-16", 3),
    ]
    assert summary["sessions"][0]["occurred_at"] == "2026-03-09T10:00:00+01:00"
    assert summary["sessions_completed"] == 3
    assert summary["planned_sessions"] == 8
    assert summary["mean_relief"] == 2.5


def test_time_to_response_adherence_and_tags(summary: dict) -> None:
    # First d ≥ 03-09 whose week [d-6, d] has ≥ 3 days and mean ≤ 0.7 × 20/3 = 4.667:
    # only 03-22 (03-16, 03-18, 03-22: mean 3).
    assert summary["time_to_response_days"] == 13
    # Days with data in 03-02..03-22 (21 days): 6.
    assert summary["adherence_pct"] == round(100 * 6 / 21, 3)
    assert summary["factors"] == []
    assert summary["tag_effects"] == [
        {
            "tag": "weather",
            "days_with": 3,
            "days_without": 3,
            "pain_with": round(20 / 3, 3),
            "pain_without": 3.0,
            "difference": round(20 / 3 - 3, 3),
        }
    ]


def test_early_course_baseline_when_the_week_before_is_thin() -> None:
    entries = [e(D(2026, 3, 7), 9), e(D(2026, 3, 8), 9)] + [
        e(START + dt.timedelta(days=i), p) for i, p in [(0, 8), (2, 6), (6, 7)]
    ]
    s = course_summary_model(COURSE, daily_series(entries), [], D(2026, 3, 15))
    assert s.baseline_method == "early_course"
    assert s.baseline is not None
    assert (s.baseline.start, s.baseline.end) == (START, D(2026, 3, 15))
    assert s.baseline.pain_mean == 7.0


def test_no_entries_at_all() -> None:
    s = course_summary_model(COURSE, daily_series([]), [], AS_OF).model_dump(mode="json")
    assert set(s) == ALL_KEYS
    assert s["daily"] == []
    assert s["baseline"] is None and s["baseline_method"] is None
    assert s["current"] is None
    assert s["reduction_points"] is None and s["reduction_pct"] is None
    assert s["category"] is None and s["responder"] is None
    assert s["trend"] is None
    assert s["time_to_response_days"] is None
    assert s["adherence_pct"] == 0.0
    assert s["end_of_course"]["days_with_data"] == 0
    assert s["follow_up"]["pain_mean"] is None
    assert s["follow_up_reduction_pct"] is None and s["sustained"] is None
    assert s["warnings"] == [
        "insufficient_baseline",
        "insufficient_recent_data",
        "insufficient_data_for_trend",
    ]
    assert len(s["weekly"]) == 3 and all(w["days_with_data"] == 0 for w in s["weekly"])


def test_one_entry() -> None:
    s = course_summary_model(COURSE, daily_series([e(AS_OF, 5)]), [], AS_OF)
    assert [d.pain for d in s.daily] == [5.0]
    assert s.current is None and s.baseline is None
    assert s.adherence_pct == round(100 / 21, 3)


def test_baseline_mean_of_zero() -> None:
    entries = [e(D(2026, 3, d), 0) for d in (2, 3, 4)] + [e(D(2026, 3, d), 2) for d in (20, 21, 22)]
    s = course_summary_model(COURSE, daily_series(entries), [], AS_OF)
    assert s.baseline is not None and s.baseline.pain_mean == 0.0
    assert s.reduction_points == -2.0
    assert s.reduction_pct is None
    assert s.category is None and s.responder is None
    assert s.follow_up_reduction_pct is None and s.sustained is None
    assert s.time_to_response_days is None  # mean ≤ 0 never reached


def test_course_starting_in_the_future() -> None:
    course = CourseFacts(uuid.UUID(int=2), D(2026, 4, 6), None, None)
    entries = [e(D(2026, 3, d), 6) for d in (30, 31)] + [e(D(2026, 4, 1), 7)]
    s = course_summary_model(
        course, daily_series(entries), [session(1, D(2026, 4, 6), 6, 3)], D(2026, 4, 1)
    )
    assert s.baseline_method == "pre_course"
    assert s.baseline is not None and s.baseline.pain_mean == round(19 / 3, 3)
    assert s.trend is None and "insufficient_data_for_trend" in s.warnings
    assert s.sessions == [] and s.sessions_completed == 0  # in the future of as_of
    assert [w.week for w in s.weekly] == [-1]
    assert s.end_of_course is None and s.follow_up is None
    assert s.time_to_response_days is None
    assert s.adherence_pct == round(100 * 3 / 3, 3)  # 03-30 .. 04-01


def test_as_of_before_the_baseline_week() -> None:
    s = course_summary_model(COURSE, daily_series(ENTRIES), SESSIONS, D(2026, 2, 1))
    assert s.daily == [] and s.weekly == []
    assert s.adherence_pct is None  # empty range
    assert s.sessions_completed == 0


def test_course_without_sessions_has_null_relief() -> None:
    s = course_summary_model(COURSE, daily_series(ENTRIES), [], AS_OF)
    assert s.sessions == [] and s.sessions_completed == 0 and s.mean_relief is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_linear_improvement_trend() -> None:
    # Pain 10, 9, …, 0 on 11 consecutive course days: every pairwise slope is −1.
    course = CourseFacts(uuid.UUID(int=3), START, None, None)
    entries = [e(START + dt.timedelta(days=i), 10 - i) for i in range(11)]
    s = course_summary_model(course, daily_series(entries), [], START + dt.timedelta(days=10))
    assert s.trend is not None
    assert (s.trend.slope_per_week, s.trend.slope_low, s.trend.slope_high) == (-7.0, -7.0, -7.0)
    y = [10 - i for i in range(11)]
    # Hamed–Rao is undefined here (the detrended ranks are all tied: NaN); with no
    # autocorrelation to correct, the correction factor is 1 — the original test.
    assert math.isnan(pymannkendall.hamed_rao_modification_test(y).p)
    assert s.trend.mann_kendall_p == round(pymannkendall.original_test(y).p, 3) == 0.0
    assert s.trend.direction == "improving"
    assert s.trend.days_with_data == 11


def test_trend_uses_days_since_start_and_stops_at_the_end_date() -> None:
    # Gaps in x matter: days 0, 2, 4, … with pain rising by 1 each → slope 0.5/day.
    course = CourseFacts(uuid.UUID(int=4), START, START + dt.timedelta(days=20), None)
    entries = [e(START + dt.timedelta(days=2 * i), i) for i in range(11)]
    entries += [e(START + dt.timedelta(days=21 + i), 0) for i in range(5)]  # after end_date
    s = course_summary_model(course, daily_series(entries), [], START + dt.timedelta(days=30))
    assert s.trend is not None
    assert s.trend.slope_per_week == 3.5
    assert s.trend.direction == "worsening"
    assert s.trend.days_with_data == 11


def test_all_equal_pain_has_no_trend() -> None:
    course = CourseFacts(uuid.UUID(int=5), START, None, None)
    entries = [e(START + dt.timedelta(days=i), 5) for i in range(14)]
    s = course_summary_model(course, daily_series(entries), [], START + dt.timedelta(days=13))
    assert s.trend is not None
    assert s.trend.slope_per_week == 0.0
    assert s.trend.mann_kendall_p == 1.0
    assert s.trend.direction == "no_clear_trend"


def test_factors_need_ten_days_having_both() -> None:
    course = CourseFacts(uuid.UUID(int=6), START, None, None)
    entries = [
        e(START + dt.timedelta(days=i), i % 10, stress=i % 10, sleep_hours=None if i else 7.0)
        for i in range(10)
    ]
    s = course_summary_model(course, daily_series(entries), [], START + dt.timedelta(days=9))
    assert [(f.factor, f.rho, f.p_value, f.n) for f in s.factors] == [("stress", 1.0, 0.0, 10)]


def test_days_with_sleep_but_no_stress() -> None:
    course = CourseFacts(uuid.UUID(int=7), START, None, None)
    entries = [e(START + dt.timedelta(days=i), 5 - i % 3, sleep_hours=6 + i % 3) for i in range(12)]
    s = course_summary_model(course, daily_series(entries), [], START + dt.timedelta(days=11))
    assert [f.factor for f in s.factors] == ["sleep_hours"]
    assert s.factors[0].rho == -1.0 and s.factors[0].n == 12
    assert s.daily[0].stress is None and s.daily[0].sleep_hours == 6.0


def test_patient_summary_window() -> None:
    entries = [e(D(2026, 3, 1) + dt.timedelta(days=i), 8 - i // 2) for i in range(14)]
    s = patient_summary_model(daily_series(entries), D(2026, 3, 1), D(2026, 3, 14)).model_dump(
        mode="json", by_alias=True
    )
    assert set(s) == {
        "from",
        "to",
        "daily",
        "weekly",
        "trend",
        "factors",
        "tag_effects",
        "warnings",
    }
    assert s["from"] == "2026-03-01" and len(s["daily"]) == 14
    assert [w["week"] for w in s["weekly"]] == [0, 1]
    assert s["weekly"][0]["pain_mean"] == round((8 + 8 + 7 + 7 + 6 + 6 + 5) / 7, 3)
    assert s["trend"]["direction"] == "improving"
    assert s["warnings"] == []
