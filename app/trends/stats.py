"""Trend statistics of contract §6, as pure functions over a plain daily series.

Nothing here touches the database or HTTP: dates and numbers in, dataclasses out. Float
results are rounded to 3 decimals only at the end (``summaries.py``), except where a
threshold is compared (category, responder), which uses the rounded value so that the
reported number and its label always agree.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Literal

from typing_extensions import TypeAliasType

from app.trends import robust

# Named aliases: OpenAPI lists each once, as a component clients turn into a type.
BaselineMethod = TypeAliasType("BaselineMethod", Literal["pre_course", "early_course"])
Category = TypeAliasType(
    "Category", Literal["substantial", "moderate", "minimal", "unchanged", "worse"]
)
Direction = TypeAliasType("Direction", Literal["improving", "worsening", "no_clear_trend"])
WarningCode = TypeAliasType(
    "WarningCode",
    Literal[
        "insufficient_baseline",
        "insufficient_recent_data",
        "insufficient_data_for_trend",
        "window_truncated",
    ],
)

HIGH_PAIN = 7  # a day with mean pain ≥ 7 is a high-pain day
MIN_WINDOW_DAYS = 3  # baseline, current and response windows need this many days with data
MIN_TREND_DAYS = 10
MIN_FACTOR_DAYS = 10
MIN_TAG_DAYS = 3
RESPONSE_RATIO = 0.7  # a 30 % reduction
SIGNIFICANCE = 0.05
#: Far above the rounding error of summing a week's daily means (≤ 7 values of 0–10).
_MARGIN = 1e-9


@dataclass(frozen=True, slots=True)
class EntryValues:
    """What a summary needs of one diary entry."""

    local_date: dt.date
    pain: int
    pain_worst: int | None = None
    sleep_hours: float | None = None
    sleep_quality: int | None = None
    stress: int | None = None
    as_needed: bool = False
    tags: tuple[str, ...] = ()


@dataclass(slots=True)
class Day:
    """One day with data: the day's entries combined. (Not frozen: a year's summary builds
    hundreds, and a frozen dataclass's ``__init__`` assigns through ``object.__setattr__``.)"""

    local_date: dt.date
    pain: float  # mean of the day's entries
    pain_worst: float  # max of pain_worst (pain where absent)
    sleep_hours: float | None  # means of the day's non-null values
    sleep_quality: float | None
    stress: float | None
    as_needed: bool  # any entry lists an as-needed medication
    tags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Window:
    start: dt.date
    end: dt.date
    days_with_data: int
    pain_mean: float | None
    pain_worst_mean: float | None
    high_pain_days: int
    sleep_hours_mean: float | None
    sleep_quality_mean: float | None
    stress_mean: float | None
    as_needed_days: int


@dataclass(frozen=True, slots=True)
class Trend:
    slope_per_week: float
    slope_low: float
    slope_high: float
    mann_kendall_p: float
    direction: Direction
    days_with_data: int


@dataclass(slots=True)
class Week:
    """One week of the weekly table (not frozen, as ``Day``: a long course has hundreds)."""

    week: int
    start: dt.date
    end: dt.date
    days_with_data: int
    pain_mean: float | None
    pain_min: float | None
    pain_max: float | None
    sleep_hours_mean: float | None
    stress_mean: float | None


@dataclass(frozen=True, slots=True)
class FactorCorrelation:
    factor: str
    rho: float | None  # None when a series is constant
    p_value: float | None
    n: int


@dataclass(frozen=True, slots=True)
class TagEffect:
    tag: str
    days_with: int
    days_without: int
    pain_with: float
    pain_without: float
    difference: float  # pain_with − pain_without


def daily_series(entries: Iterable[EntryValues]) -> list[Day]:
    """Combine entries into one value per ``local_date``, in date order: contract §6's
    daily series written out in Python. The service has the database do it
    (``trends.service.daily_series``); the tests hold the two equal."""
    by_date: dict[dt.date, list[EntryValues]] = defaultdict(list)
    for entry in entries:
        by_date[entry.local_date].append(entry)
    return [_combine(date, by_date[date]) for date in sorted(by_date)]


def _combine(date: dt.date, group: list[EntryValues]) -> Day:
    if len(group) == 1:  # the common case, without the arithmetic
        e = group[0]
        return Day(
            local_date=date,
            pain=float(e.pain),
            pain_worst=float(e.pain_worst if e.pain_worst is not None else e.pain),
            sleep_hours=None if e.sleep_hours is None else float(e.sleep_hours),
            sleep_quality=None if e.sleep_quality is None else float(e.sleep_quality),
            stress=None if e.stress is None else float(e.stress),
            as_needed=e.as_needed,
            tags=frozenset(e.tags),
        )
    return Day(
        local_date=date,
        pain=sum(e.pain for e in group) / len(group),
        pain_worst=float(max(e.pain_worst if e.pain_worst is not None else e.pain for e in group)),
        sleep_hours=_mean_of([e.sleep_hours for e in group]),
        sleep_quality=_mean_of([e.sleep_quality for e in group]),
        stress=_mean_of([e.stress for e in group]),
        as_needed=any(e.as_needed for e in group),
        tags=frozenset(t for e in group for t in e.tags),
    )


def days_between(days: Sequence[Day], start: dt.date, end: dt.date) -> list[Day]:
    """The days in ``[start, end]`` of a series in date order (found by bisection)."""
    first = bisect.bisect_left(days, start, key=_date)
    return list(days[first : bisect.bisect_right(days, end, first, key=_date)])


_date = operator.attrgetter("local_date")


def window(days: Sequence[Day], start: dt.date, end: dt.date) -> Window:
    """Means over the days with data in ``[start, end]`` (None where there are none)."""
    inside = days_between(days, start, end)
    return Window(
        start=start,
        end=end,
        days_with_data=len(inside),
        pain_mean=_mean_of(d.pain for d in inside),
        pain_worst_mean=_mean_of(d.pain_worst for d in inside),
        high_pain_days=sum(1 for d in inside if d.pain >= HIGH_PAIN),
        sleep_hours_mean=_mean_of(d.sleep_hours for d in inside),
        sleep_quality_mean=_mean_of(d.sleep_quality for d in inside),
        stress_mean=_mean_of(d.stress for d in inside),
        as_needed_days=sum(1 for d in inside if d.as_needed),
    )


def baseline_window(
    days: Sequence[Day], start_date: dt.date
) -> tuple[Window | None, BaselineMethod | None]:
    """The week before the course, else its first week; ``(None, None)`` when neither has
    3 days with data. The second value is ``"pre_course"`` or ``"early_course"``."""
    week = dt.timedelta(days=7)
    pre = window(days, start_date - week, start_date - dt.timedelta(days=1))
    if pre.days_with_data >= MIN_WINDOW_DAYS:
        return pre, "pre_course"
    early = window(days, start_date, start_date + dt.timedelta(days=6))
    if early.days_with_data >= MIN_WINDOW_DAYS:
        return early, "early_course"
    return None, None


def current_window(days: Sequence[Day], as_of: dt.date) -> Window | None:
    """The last 7 days up to ``as_of``, or None with fewer than 3 days with data."""
    current = window(days, as_of - dt.timedelta(days=6), as_of)
    return current if current.days_with_data >= MIN_WINDOW_DAYS else None


def reduction(
    baseline_mean: float | None, now_mean: float | None
) -> tuple[float | None, float | None]:
    """``(points, percent)`` of pain reduction; percent is None when the baseline is 0."""
    if baseline_mean is None or now_mean is None:
        return None, None
    points = baseline_mean - now_mean
    percent = None if baseline_mean == 0 else 100 * points / baseline_mean
    return points, percent


def category(reduction_pct: float | None) -> Category | None:
    """IMMPACT thresholds on a 0–10 scale."""
    if reduction_pct is None:
        return None
    if reduction_pct >= 50:
        return "substantial"
    if reduction_pct >= 30:
        return "moderate"
    if reduction_pct >= 10:
        return "minimal"
    if reduction_pct > -10:
        return "unchanged"
    return "worse"


def is_responder(reduction_pct: float | None) -> bool | None:
    return None if reduction_pct is None else reduction_pct >= 30


def trend(days: Sequence[Day], origin: dt.date, start: dt.date, end: dt.date) -> Trend | None:
    """Theil–Sen slope (per week, 95 % bounds) and Hamed–Rao Mann–Kendall p over the days
    with data in ``[start, end]``, x = days since ``origin``; None with fewer than 10 days."""
    inside = days_between(days, start, end)
    if len(inside) < MIN_TREND_DAYS:
        return None
    x = [(d.local_date - origin).days for d in inside]
    y = [d.pain for d in inside]
    # scipy.stats.theilslopes(y, x, alpha=0.95) and pymannkendall's tests, computed in
    # O(n log n) time and O(n) memory (robust.py); the libraries are its test oracles.
    theil = robust.theil_sen(y, x, alpha=0.95)
    # Over consecutive days, Sen's slope over the index (Hamed–Rao's detrending) is the
    # Theil–Sen slope: the same divisions, x[j] − x[i] = j − i.
    consecutive = x[-1] - x[0] == len(x) - 1
    mann_kendall = robust.mann_kendall(y, sens=float(theil.slope) if consecutive else None)
    p_value = mann_kendall.hamed_rao_p
    if math.isnan(p_value):
        # The residuals after removing the Sen slope are all tied (a perfectly linear
        # series), so there is no autocorrelation to correct for: the Hamed–Rao
        # variance correction is 1, which is the original Mann–Kendall test.
        p_value = mann_kendall.p
    slope = float(theil.slope)
    direction: Direction
    if p_value < SIGNIFICANCE and slope < 0:
        direction = "improving"
    elif p_value < SIGNIFICANCE and slope > 0:
        direction = "worsening"
    else:
        direction = "no_clear_trend"
    return Trend(
        slope_per_week=7 * slope,
        slope_low=7 * float(theil.low_slope),
        slope_high=7 * float(theil.high_slope),
        mann_kendall_p=p_value,
        direction=direction,
        days_with_data=len(inside),
    )


def weekly(days: Sequence[Day], origin: dt.date, first_week: int, last_date: dt.date) -> list[Week]:
    """Week k covers ``[origin + 7k, origin + 7k + 6]``, from ``first_week`` through the week
    holding ``last_date`` (empty when ``last_date`` falls before the first week)."""
    zero = origin.toordinal()
    by_week: dict[int, list[Day]] = defaultdict(list)
    for day in days:
        by_week[(day.local_date.toordinal() - zero) // 7].append(day)
    weeks = []
    for k in range(first_week, (last_date.toordinal() - zero) // 7 + 1):
        start = zero + 7 * k
        inside = by_week.get(k, ())
        # the means as _mean_of takes them: the values present, summed in order
        pains = [d.pain for d in inside]
        sleep = [d.sleep_hours for d in inside if d.sleep_hours is not None]
        stress = [d.stress for d in inside if d.stress is not None]
        weeks.append(
            Week(
                k,
                dt.date.fromordinal(start),
                dt.date.fromordinal(start + 6),
                len(pains),
                sum(pains) / len(pains) if pains else None,
                min(pains) if pains else None,
                max(pains) if pains else None,
                sum(sleep) / len(sleep) if sleep else None,
                sum(stress) / len(stress) if stress else None,
            )
        )
    return weeks


def time_to_response(
    days: Sequence[Day],
    start_date: dt.date,
    as_of: dt.date,
    baseline_mean: float | None,
    *,
    first: dt.date | None = None,
) -> int | None:
    """Days from ``start_date`` to the first date d (from ``first``, by default
    ``start_date``) whose trailing week ``[d − 6, d]`` has ≥ 3 days with data and a mean
    daily pain ≤ 0.7 × baseline; None if none by ``as_of``."""
    if baseline_mean is None:
        return None
    threshold = RESPONSE_RATIO * baseline_mean
    # One pass over the calendar: the days in the trailing week are days[lo:hi].
    dates = [d.local_date.toordinal() for d in days]
    pains = [d.pain for d in days]
    origin = start_date.toordinal()
    lo = hi = 0
    for today in range((first or start_date).toordinal(), as_of.toordinal() + 1):
        while hi < len(dates) and dates[hi] <= today:
            hi += 1
        while lo < hi and dates[lo] <= today - 7:
            lo += 1
        if hi - lo < MIN_WINDOW_DAYS:
            continue
        week = pains[lo:hi]
        # A plain sum of ≤ 7 means is within 1e-12 of their exact sum, so a week clearly
        # above the threshold is passed over without fmean's exact (fsum) mean.
        if sum(week) > (threshold + _MARGIN) * len(week):
            continue
        if fmean(week) <= threshold:
            return today - origin
    return None


def adherence(days: Sequence[Day], start: dt.date, end: dt.date) -> float | None:
    """Percent of the days in ``[start, end]`` that have data; None for an empty range."""
    span = (end - start).days + 1
    if span <= 0:
        return None
    return 100 * len(days_between(days, start, end)) / span


def factor_correlations(days: Sequence[Day]) -> list[FactorCorrelation]:
    """Spearman's rho of stress and of sleep hours against daily pain, over the days having
    both, for each factor with at least 10 such days (``scipy.stats.spearmanr``'s values:
    ``robust.spearman``)."""
    out = []
    pains = [d.pain for d in days]
    for name in ("stress", "sleep_hours"):
        values = list(map(operator.attrgetter(name), days))
        if None in values:  # the days having both
            factor = [v for v in values if v is not None]
            pain = [p for v, p in zip(values, pains, strict=True) if v is not None]
        else:
            factor, pain = values, pains
        if len(factor) < MIN_FACTOR_DAYS:
            continue
        rho, p_value = robust.spearman(factor, pain)
        out.append(
            FactorCorrelation(
                factor=name,
                rho=None if math.isnan(rho) else rho,
                p_value=None if math.isnan(p_value) else p_value,
                n=len(factor),
            )
        )
    return out


def tag_effects(days: Sequence[Day]) -> list[TagEffect]:
    """Mean daily pain with and without each tag seen on ≥ 3 days and absent on ≥ 3,
    largest absolute difference first."""
    pains_with: dict[str, list[float]] = defaultdict(list)
    for d in days:
        for tag in d.tags:
            pains_with[tag].append(d.pain)
    every_pain = [d.pain for d in days]
    effects = []
    for tag, with_tag in pains_with.items():
        days_without = len(days) - len(with_tag)
        if len(with_tag) < MIN_TAG_DAYS or days_without < MIN_TAG_DAYS:
            continue
        pain_with = fmean(with_tag)
        # fmean of the days without the tag: fsum is exact before its one rounding, so
        # the sum of all days less those with the tag is the same correctly rounded sum.
        pain_without = math.fsum([*every_pain, *(-p for p in with_tag)]) / days_without
        effects.append(
            TagEffect(
                tag=tag,
                days_with=len(with_tag),
                days_without=days_without,
                pain_with=pain_with,
                pain_without=pain_without,
                difference=pain_with - pain_without,
            )
        )
    effects.sort(key=lambda e: (-abs(e.difference), e.tag))
    return effects


def _mean_of(values: Iterable[float | int | None]) -> float | None:
    """The mean of the values present: their sum (in order) over their number."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
