"""The course summary and the window summary of contract §6, assembled from the statistics.

Pure functions: plain facts in, the response's JSON as plain data out (dicts, lists,
numbers, dates), every float rounded to 3 decimals, ready for ``render_data``. The
response models in ``schemas.py`` document that JSON in OpenAPI; the tests hold the data
to them (every key, no other, values as the models would give them). Building the models
instead costs a year's summary a fifth more: one validated model per day. The database
side is ``service.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from app.trends import stats
from app.trends.schemas import round3_memo

#: A summary's JSON object as plain data (see the module's docstring).
JSONObject = dict[str, Any]

WEEK = dt.timedelta(days=7)
ONE_DAY = dt.timedelta(days=1)
#: A course summary looks at most this many days back from ``as_of`` (contract §6, Bounds).
MAX_SUMMARY_DAYS = 3660


@dataclass(frozen=True, slots=True)
class CourseFacts:
    id: uuid.UUID
    start_date: dt.date
    end_date: dt.date | None
    planned_sessions: int | None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    id: uuid.UUID
    occurred_at: dt.datetime  # in the offset it was recorded with
    local_date: dt.date
    pain_before: int | None
    pain_after: int | None


def course_sessions(
    course: CourseFacts, sessions: Iterable[SessionFacts], as_of: dt.date
) -> list[SessionFacts]:
    """The course's sessions that count: dated within the course (its end, if any) and by
    ``as_of``, in ``occurred_at`` order."""
    last = min(course.end_date, as_of) if course.end_date else as_of
    inside = [s for s in sessions if course.start_date <= s.local_date <= last]
    return sorted(inside, key=lambda s: (s.occurred_at, s.id))


def series_start(course: CourseFacts, as_of: dt.date) -> tuple[dt.date, bool]:
    """The first day of the course summary's daily series, and whether the series was cut
    to the last :data:`MAX_SUMMARY_DAYS` days (``window_truncated``)."""
    if (as_of - course.start_date).days >= MAX_SUMMARY_DAYS:
        return as_of - dt.timedelta(days=MAX_SUMMARY_DAYS - 1), True
    return course.start_date - WEEK, False


def course_ranges(course: CourseFacts, as_of: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The days whose daily series a course summary reads, as inclusive ranges in date
    order, none overlapping: its own series, the baseline weeks and the end-of-course and
    follow-up windows (which a truncated series may not hold); nothing after ``as_of``."""
    start, end = course.start_date, course.end_date
    first, _ = series_start(course, as_of)
    wanted = [(start - WEEK, start + WEEK - ONE_DAY), (first, as_of)]
    if end is not None and end <= as_of:
        wanted.append((end - WEEK + ONE_DAY, end))
    if end is not None and end < as_of:
        wanted.append((end + ONE_DAY, as_of))
    return merge_ranges((a, min(b, as_of)) for a, b in wanted)


def merge_ranges(ranges: Iterable[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Inclusive date ranges, empty ones dropped, overlapping or adjacent ones joined."""
    merged: list[tuple[dt.date, dt.date]] = []
    for a, b in sorted(r for r in ranges if r[0] <= r[1]):
        if merged and a <= merged[-1][1] + ONE_DAY:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def course_summary(
    course: CourseFacts,
    daily: Iterable[stats.Day],
    sessions: Iterable[SessionFacts],
    as_of: dt.date,
) -> JSONObject:
    """Contract §6 for one course (``CourseSummary``), from the patient's daily series in
    date order (at least the days of :func:`course_ranges`; others are ignored)."""
    start, end = course.start_date, course.end_date
    first_day, truncated = series_start(course, as_of)
    # Every window reads ``known``; the series and what is computed from it, ``days``.
    known = [d for d in daily if d.local_date <= as_of]
    days = [d for d in known if d.local_date >= first_day]
    warnings: list[stats.WarningCode] = ["window_truncated"] if truncated else []

    baseline, baseline_method = stats.baseline_window(known, start)
    if baseline is None:
        warnings.append("insufficient_baseline")
    current = stats.current_window(known, as_of)
    if current is None:
        warnings.append("insufficient_recent_data")
    end_of_course = (
        stats.window(known, end - dt.timedelta(days=6), end) if end and end <= as_of else None
    )
    follow_up = (
        stats.window(known, end + dt.timedelta(days=1), as_of) if end and end < as_of else None
    )

    baseline_mean = baseline.pain_mean if baseline else None
    points, pct = stats.reduction(baseline_mean, current.pain_mean if current else None)
    pct = _r3(pct)
    _, follow_pct = stats.reduction(baseline_mean, follow_up.pain_mean if follow_up else None)
    follow_pct = _r3(follow_pct)

    trend_end = min(as_of, end) if end else as_of
    trend = stats.trend(days, start, start, trend_end)
    if trend is None:
        warnings.append("insufficient_data_for_trend")

    counted = course_sessions(course, sessions, as_of)
    reliefs = [
        s.pain_before - s.pain_after
        for s in counted
        if s.pain_before is not None and s.pain_after is not None
    ]
    return {
        "course_id": course.id,
        "as_of": as_of,
        "daily": [_day(d) for d in days],
        "baseline_method": baseline_method,
        "baseline": _window(baseline),
        "current": _window(current),
        "end_of_course": _window(end_of_course),
        "follow_up": _window(follow_up),
        "reduction_points": _r3(points),
        "reduction_pct": pct,
        "category": stats.category(pct),
        "responder": stats.is_responder(pct),
        "follow_up_reduction_pct": follow_pct,
        "sustained": stats.is_responder(follow_pct),
        "trend": _trend(trend),
        "weekly": [
            _week(w) for w in stats.weekly(days, start, (first_day - start).days // 7, as_of)
        ],
        "sessions": [_session(n, s) for n, s in enumerate(counted, start=1)],
        "sessions_completed": len(counted),
        "planned_sessions": course.planned_sessions,
        "mean_relief": _r3(fmean(reliefs)) if reliefs else None,
        "time_to_response_days": stats.time_to_response(
            days, start, as_of, baseline_mean, first=max(start, first_day)
        ),
        "adherence_pct": _r3(stats.adherence(days, first_day, as_of)),
        "factors": [_factor(f) for f in stats.factor_correlations(days)],
        "tag_effects": [_tag_effect(t) for t in stats.tag_effects(days)],
        "warnings": warnings,
    }


def patient_summary(daily: Iterable[stats.Day], date_from: dt.date, date_to: dt.date) -> JSONObject:
    """``PatientSummary``: daily series, weekly means (weeks counted from ``date_from``),
    trend and factors for ``[date_from, date_to]``, from the patient's daily series in date
    order."""
    days = [d for d in daily if date_from <= d.local_date <= date_to]
    trend = stats.trend(days, date_from, date_from, date_to)
    return {
        "from": date_from,
        "to": date_to,
        "daily": [_day(d) for d in days],
        "weekly": [_week(w) for w in stats.weekly(days, date_from, 0, date_to)],
        "trend": _trend(trend),
        "factors": [_factor(f) for f in stats.factor_correlations(days)],
        "tag_effects": [_tag_effect(t) for t in stats.tag_effects(days)],
        "warnings": [] if trend else ["insufficient_data_for_trend"],
    }


# The JSON of each part, as its model in schemas.py names it.


def _day(d: stats.Day) -> JSONObject:  # DayOut
    # _r3 written out: a year's summary has hundreds of days
    sleep, quality, stress = d.sleep_hours, d.sleep_quality, d.stress
    return {
        "local_date": d.local_date,
        "pain": _round(d.pain),
        "pain_worst": _round(d.pain_worst),
        "sleep_hours": None if sleep is None else _round(sleep),
        "sleep_quality": None if quality is None else _round(quality),
        "stress": None if stress is None else _round(stress),
        "as_needed": d.as_needed,
    }


def _window(w: stats.Window | None) -> JSONObject | None:  # WindowOut
    if w is None:
        return None
    return {
        "start": w.start,
        "end": w.end,
        "days_with_data": w.days_with_data,
        "pain_mean": _r3(w.pain_mean),
        "pain_worst_mean": _r3(w.pain_worst_mean),
        "high_pain_days": w.high_pain_days,
        "sleep_hours_mean": _r3(w.sleep_hours_mean),
        "sleep_quality_mean": _r3(w.sleep_quality_mean),
        "stress_mean": _r3(w.stress_mean),
        "as_needed_days": w.as_needed_days,
    }


def _week(w: stats.Week) -> JSONObject:  # WeekOut
    return {
        "week": w.week,
        "start": w.start,
        "end": w.end,
        "days_with_data": w.days_with_data,
        "pain_mean": _r3(w.pain_mean),
        "pain_min": _r3(w.pain_min),
        "pain_max": _r3(w.pain_max),
        "sleep_hours_mean": _r3(w.sleep_hours_mean),
        "stress_mean": _r3(w.stress_mean),
    }


def _trend(t: stats.Trend | None) -> JSONObject | None:  # TrendOut
    if t is None:
        return None
    return {
        "slope_per_week": _round(t.slope_per_week),
        "slope_low": _round(t.slope_low),
        "slope_high": _round(t.slope_high),
        "mann_kendall_p": _round(t.mann_kendall_p),
        "direction": t.direction,
        "days_with_data": t.days_with_data,
    }


def _session(number: int, s: SessionFacts) -> JSONObject:  # SessionRelief
    before, after = s.pain_before, s.pain_after
    return {
        "number": number,
        "id": s.id,
        "occurred_at": s.occurred_at,
        "local_date": s.local_date,
        "pain_before": s.pain_before,
        "pain_after": s.pain_after,
        "relief": before - after if before is not None and after is not None else None,
    }


def _factor(f: stats.FactorCorrelation) -> JSONObject:  # FactorOut
    return {"factor": f.factor, "rho": _r3(f.rho), "p_value": _r3(f.p_value), "n": f.n}


def _tag_effect(t: stats.TagEffect) -> JSONObject:  # TagEffectOut
    return {
        "tag": t.tag,
        "days_with": t.days_with,
        "days_without": t.days_without,
        "pain_with": _round(t.pain_with),
        "pain_without": _round(t.pain_without),
        "difference": _round(t.difference),
    }


_round = round3_memo


def _r3(value: float | None) -> float | None:
    """Rounded to 3 decimals (None stays None). Thresholds are applied to the reported
    (rounded) value, so number and label agree."""
    return None if value is None else round3_memo(value)
