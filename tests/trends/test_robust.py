"""robust.py against its oracles: scipy.stats.theilslopes and pymannkendall (O(n²) each).

Slopes must equal the libraries' bit for bit (the selection computes the very same float
divisions); p-values to 1e-9 with the same NaN-ness. ``python -m tests.trends.test_robust``
prints the timing and memory comparison with the library code that ``trend()`` replaced.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pymannkendall
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.trends import robust, stats
from app.trends.stats import Day, EntryValues

TOLERANCE = 1e-9
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = (
    "pain",  # integer pain 0–10, many ties, a drift
    "means",  # day means of 1–3 integer entries: k/m
    "floats",  # any float in [0, 10)
    "runs",  # constant runs
    "constant",  # all equal
    "linear",  # exactly a + b·x, b dyadic or not
    "linear_index",  # exactly a + b·index: Hamed–Rao is NaN, the fallback applies
    "near_linear",  # linear within 1e-12: a cluster of slopes equal to ~40 bits
)


@dataclass(frozen=True)
class Series:
    kind: str
    x: npt.NDArray[np.int64]
    y: npt.NDArray[np.float64]


def make_series(kind: str, n: int, seed: int, max_gap: int = 4, start: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    x = start + np.concatenate([[0], np.cumsum(rng.integers(1, max_gap + 1, n - 1))])
    index = np.arange(n)
    slope = float(rng.choice([0.25, -0.5, 1 / 3, -1 / 7, 0.01, 3.0]))
    y: npt.NDArray[Any]
    if kind == "pain":
        drift = rng.uniform(-3, 3) * index / n
        y = np.clip(np.round(5 + drift + rng.normal(0, 2, n)), 0, 10)
    elif kind == "means":
        entries = rng.integers(1, 4, n)
        y = np.array([rng.integers(0, 11, m).sum() / m for m in entries])
    elif kind == "floats":
        y = rng.uniform(0, 10, n)
    elif kind == "runs":
        y = np.repeat(rng.integers(0, 11, n).astype(float), rng.integers(1, 8, n))[:n]
        y = np.concatenate([y, np.full(n - y.size, y[-1])])
    elif kind == "constant":
        y = np.full(n, float(rng.integers(0, 11)))
    elif kind == "linear":
        y = 2.0 + slope * (x - x[0])
    elif kind == "linear_index":
        y = 2.0 + slope * index
    elif kind == "near_linear":
        y = 2.0 + slope * index + rng.choice([-1e-12, 0.0, 1e-12], n)
    else:  # pragma: no cover
        raise AssertionError(kind)
    return Series(kind, x.astype(np.int64), y.astype(np.float64))


@st.composite
def series(draw: st.DrawFn, max_size: int = 300) -> Series:
    kind = draw(st.sampled_from(KINDS))
    return make_series(
        kind,
        draw(st.integers(10, max_size)),
        draw(st.integers(0, 2**32 - 1)),
        draw(st.sampled_from([1, 1, 2, 4, 30])),
        draw(st.integers(-400, 400)),
    )


def library(y: Sequence[float], x: Sequence[int]) -> dict[str, float]:
    """The O(n²) oracles."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theil = scipy.stats.theilslopes(y, x, alpha=0.95)
        hamed_rao = pymannkendall.hamed_rao_modification_test(y)
        original = pymannkendall.original_test(y)
        return {
            "slope": float(theil.slope),
            "low": float(theil.low_slope),
            "high": float(theil.high_slope),
            "hamed_rao_p": float(hamed_rao.p),
            "p": float(original.p),
            "s": float(original.s),
            "var_s": float(original.var_s),
            "sens": float(pymannkendall.sens_slope(y).slope),
        }


def ours(y: Sequence[float], x: Sequence[int]) -> dict[str, float]:
    theil = robust.theil_sen(y, x, alpha=0.95)
    mk = robust.mann_kendall(y)
    return {
        "slope": theil.slope,
        "low": theil.low_slope,
        "high": theil.high_slope,
        "hamed_rao_p": mk.hamed_rao_p,
        "p": mk.p,
        "s": mk.s,
        "var_s": mk.var_s,
        "sens": robust.sens_slope(y),
    }


def assert_matches(got: dict[str, float], expected: dict[str, float]) -> None:
    for key in ("slope", "low", "high", "sens", "s", "var_s"):
        assert got[key] == expected[key], key  # the same floats, bit for bit
    for key in ("hamed_rao_p", "p"):
        assert math.isnan(got[key]) == math.isnan(expected[key]), key
        if not math.isnan(expected[key]):
            assert abs(got[key] - expected[key]) <= TOLERANCE, key


@SETTINGS
@given(s=series())
def test_matches_the_libraries(s: Series) -> None:
    assert_matches(ours(s.y.tolist(), s.x.tolist()), library(s.y.tolist(), s.x.tolist()))


@settings(max_examples=60, deadline=None)
@given(y=st.lists(st.floats(0, 10), min_size=10, max_size=40), gap=st.integers(1, 3))
def test_matches_the_libraries_on_any_floats(y: list[float], gap: int) -> None:
    # subnormals, 0.0 beside 5e-324, values one ulp apart: slopes that tie or nearly do
    x = list(range(0, gap * len(y), gap))
    assert_matches(ours(y, x), library(y, x))


@pytest.mark.parametrize(
    ("kind", "n", "seed"),
    [("pain", 1000, 1), ("means", 2000, 2), ("floats", 1500, 3), ("runs", 2000, 4)],
)
def test_matches_the_libraries_on_long_series(kind: str, n: int, seed: int) -> None:
    s = make_series(kind, n, seed)
    assert_matches(ours(s.y.tolist(), s.x.tolist()), library(s.y.tolist(), s.x.tolist()))


@SETTINGS
@given(s=series())
def test_mann_kendall_given_the_theil_sen_slope_of_consecutive_days(s: Series) -> None:
    """Over consecutive x, ``theil_sen``'s slope is Sen's slope over the index, bit for
    bit, so ``stats.trend`` hands it to ``mann_kendall`` instead of selecting it again."""
    x = list(range(int(s.x[0]), int(s.x[0]) + len(s.y)))
    theil = robust.theil_sen(s.y, x)
    assert theil.slope == robust.sens_slope(s.y)
    given_slope = dataclasses.astuple(robust.mann_kendall(s.y, sens=theil.slope))
    computed = dataclasses.astuple(robust.mann_kendall(s.y))
    assert np.array_equal(given_slope, computed, equal_nan=True)


def test_a_near_linear_series_is_counted_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slopes that agree to ~40 bits without being equal are not narrowed by thresholds;
    they are enumerated a chunk at a time, still exactly."""
    calls: list[int] = []
    chunked = robust._Slopes._pick_in_chunks

    def spy(self: robust._Slopes, ks: list[int], bounds: robust._Bounds) -> dict[int, float]:
        calls.append(bounds.size)
        return chunked(self, ks, bounds)

    monkeypatch.setattr(robust._Slopes, "_pick_in_chunks", spy)
    monkeypatch.setattr(robust, "_CHUNK", 1000)
    x = list(range(0, 800, 2))
    y = [1.1 + i / 3 for i in range(400)]
    assert_matches(ours(y, x), library(y, x))
    assert calls and max(calls) > robust._MIN_ENUMERATE


# -- the pieces ----------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(perm=st.integers(0, 70).flatmap(lambda n: st.permutations(list(range(n)))))
def test_count_inversions(perm: list[int]) -> None:
    brute = sum(1 for i, j in itertools.combinations(range(len(perm)), 2) if perm[i] > perm[j])
    assert robust.count_inversions(np.array(perm, dtype=np.int64)) == brute
    # The numpy levels, for a scipy without its compiled counter (private API).
    compiled = robust._kendall_dis
    try:
        robust._kendall_dis = None
        assert robust.count_inversions(np.array(perm, dtype=np.int64)) == brute
    finally:
        robust._kendall_dis = compiled


@settings(max_examples=80, deadline=None)
@given(y=st.lists(st.integers(0, 10).map(float), min_size=3, max_size=60))
def test_mann_kendall_s_and_its_tie_corrected_variance(y: list[float]) -> None:
    n = len(y)
    s = sum(np.sign(y[j] - y[i]) for i, j in itertools.combinations(range(n), 2))
    groups = np.unique(y, return_counts=True)[1]
    var_s = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in groups)) / 18
    assert robust.mann_kendall_s(y) == (s, var_s)
    original = pymannkendall.original_test(y)
    assert robust.mann_kendall_s(y) == (original.s, original.var_s)


@settings(max_examples=80, deadline=None)
@given(
    y=st.lists(st.sampled_from([0.0, 1.0, 2.5, 10 / 3, 7.0, 7.0, 9.75]), min_size=2, max_size=45),
    gaps=st.lists(st.integers(1, 5), min_size=44, max_size=44),
)
def test_kth_slopes_are_the_sorted_slopes(y: list[float], gaps: list[int]) -> None:
    x = [0, *itertools.accumulate(gaps[: len(y) - 1])]
    slopes = sorted(
        (y[j] - y[i]) / (float(x[j]) - float(x[i]))
        for i, j in itertools.combinations(range(len(y)), 2)
    )
    ks = list(range(len(slopes)))
    assert robust.kth_slopes(y, x, ks) == slopes


def test_kth_slopes_narrow_to_ranks_far_apart() -> None:
    s = make_series("means", 600, 11)
    x, y = s.x.tolist(), s.y.tolist()
    all_slopes = np.sort(
        [(y[j] - y[i]) / (x[j] - x[i]) for i, j in itertools.combinations(range(600), 2)]
    )
    ks = [0, 1, 5000, 89_000, 89_001, 150_000, all_slopes.size - 1]
    assert robust.kth_slopes(y, x, ks) == all_slopes[ks].tolist()


@pytest.mark.parametrize("scale", [1, 300])
def test_autocorrelation_sums_are_exact(scale: int) -> None:
    rng = np.random.default_rng(5)
    d = rng.integers(-1000, 1001, 1200).astype(np.int64) * scale
    split = float(np.dot(d, d)) * math.log2(4096) * 1e-15 >= 0.1  # the FFT error bound
    assert split == (scale > 1)  # the second case takes the high/low path
    exact = np.correlate(d, d, "full")[d.size - 1 :]  # integer arithmetic
    assert np.array_equal(robust._autocorrelation_sums(d), exact.astype(np.float64))


def test_doubled_centered_ranks_are_rankdata() -> None:
    values = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0, 0.5])
    ranks = scipy.stats.rankdata(values)
    assert robust._doubled_centered_ranks(values).tolist() == (2 * ranks - 8).tolist()


#: Means of a day's 1–3 pain scores.
DAY_MEANS = st.tuples(st.integers(0, 30), st.integers(1, 3)).map(lambda t: t[0] / t[1])


@settings(max_examples=150, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 10).map(float), st.floats(0, 24).map(lambda v: round(v, 1))),
            st.one_of(st.integers(0, 10).map(float), DAY_MEANS),
        ),
        min_size=3,
        max_size=400,
    )
)
def test_spearman_is_scipys(pairs: list[tuple[float, float]]) -> None:
    x, y = (list(v) for v in zip(*pairs, strict=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: both are NaN
        expected = scipy.stats.spearmanr(x, y)
    rho, p = robust.spearman(x, y)
    for got, want in ((rho, float(expected.statistic)), (p, float(expected.pvalue))):
        assert math.isnan(got) == math.isnan(want)
        if not math.isnan(want):
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_spearman_of_perfectly_ranked_and_constant_series() -> None:
    assert robust.spearman([1, 2, 3, 4], [2, 4, 8, 16]) == (1.0, 0.0)
    assert robust.spearman([1, 2, 3, 4], [9, 7, 7.5, 1])[0] == -0.8
    rho, p = robust.spearman([5, 5, 5, 5], [1, 2, 3, 4])
    assert math.isnan(rho) and math.isnan(p)
    with pytest.raises(ValueError, match="same length"):
        robust.spearman([1, 2, 3], [1, 2])


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        robust.theil_sen([1.0, 2.0, 3.0], [0, 2, 2])
    with pytest.raises(ValueError, match="strictly increasing"):
        robust.theil_sen([1.0, 2.0], [0.0, 0.5])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="finite"):
        robust.mann_kendall([1.0, math.nan, 2.0])
    with pytest.raises(ValueError, match="length"):
        robust.theil_sen([1.0, 2.0], [0, 1, 2])
    with pytest.raises(IndexError):
        robust.kth_slopes([1.0, 2.0], [0, 1], [1])


# -- trend() against the code it replaced -----------------------------------------------

ORIGIN = dt.date(2026, 1, 5)


def old_trend(
    days: Sequence[Day], origin: dt.date, start: dt.date, end: dt.date
) -> stats.Trend | None:
    """``stats.trend`` as it was, on the libraries."""
    inside = stats.days_between(days, start, end)
    if len(inside) < stats.MIN_TREND_DAYS:
        return None
    x = [(d.local_date - origin).days for d in inside]
    y = [d.pain for d in inside]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theil = scipy.stats.theilslopes(y, x, alpha=0.95)
        p_value = float(pymannkendall.hamed_rao_modification_test(y).p)
        if math.isnan(p_value):
            p_value = float(pymannkendall.original_test(y).p)
    slope = float(theil.slope)
    direction: stats.Direction = "no_clear_trend"
    if p_value < stats.SIGNIFICANCE and slope < 0:
        direction = "improving"
    elif p_value < stats.SIGNIFICANCE and slope > 0:
        direction = "worsening"
    return stats.Trend(
        slope_per_week=7 * slope,
        slope_low=7 * float(theil.low_slope),
        slope_high=7 * float(theil.high_slope),
        mann_kendall_p=p_value,
        direction=direction,
        days_with_data=len(inside),
    )


def diary(days: int, seed: int, improving: float = 2.0, skip: float = 0.2) -> list[Day]:
    """A real-looking diary: 1–3 entries a day, integer pain easing by ``improving`` over the
    period, noise, skipped days, a flare week."""
    rng = np.random.default_rng(seed)
    entries = []
    for day in range(days):
        if rng.random() < skip:
            continue
        level = 7 - improving * day / days + (2 if days // 2 <= day < days // 2 + 7 else 0)
        for _ in range(int(rng.integers(1, 4))):
            pain = int(np.clip(round(level + rng.normal(0, 1.3)), 0, 10))
            entries.append(EntryValues(ORIGIN + dt.timedelta(days=day), pain))
    return stats.daily_series(entries)


@pytest.mark.parametrize(
    ("days", "seed", "improving", "skip"),
    [
        (12, 1, 2.0, 0.0),
        (30, 2, 0.0, 0.3),
        (90, 3, 3.0, 0.2),
        (365, 4, 1.0, 0.1),
        (1000, 5, 4.0, 0.5),
    ],
)
def test_trend_equals_the_library_code(days: int, seed: int, improving: float, skip: float) -> None:
    series_ = diary(days, seed, improving, skip)
    end = ORIGIN + dt.timedelta(days=days)
    new = stats.trend(series_, ORIGIN, ORIGIN, end)
    assert new is not None
    assert new == old_trend(series_, ORIGIN, ORIGIN, end)
    later = ORIGIN + dt.timedelta(days=days // 3)
    assert stats.trend(series_, ORIGIN, later, end) == old_trend(series_, ORIGIN, later, end)


def test_trend_of_constant_and_linear_diaries_equals_the_library_code() -> None:
    flat = [
        Day(ORIGIN + dt.timedelta(days=i), 4.0, 4.0, None, None, None, False) for i in range(20)
    ]
    steady = [
        Day(ORIGIN + dt.timedelta(days=2 * i), 10 - i / 2, 10.0, None, None, None, False)
        for i in range(15)
    ]
    end = ORIGIN + dt.timedelta(days=40)
    for days in (flat, steady):
        assert stats.trend(days, ORIGIN, ORIGIN, end) == old_trend(days, ORIGIN, ORIGIN, end)


# -- by hand: python -m tests.trends.test_robust ---------------------------------------


def _seconds(call: Callable[[], object], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def _peak_bytes(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def timing_report() -> None:
    """Best-of time of the new trend() and of the library code it replaced, and the peak
    memory (tracemalloc) of both at n = 8,000."""
    print(f"{'n':>6} {'new trend()':>12} {'old trend()':>12} {'speed-up':>9}")
    for n in (365, 1000, 3660, 8000):
        days = diary(n, seed=n, skip=0.0)
        end = ORIGIN + dt.timedelta(days=n)
        assert stats.trend(days, ORIGIN, ORIGIN, end) == old_trend(days, ORIGIN, ORIGIN, end)
        new = _seconds(lambda: stats.trend(days, ORIGIN, ORIGIN, end), 20)  # noqa: B023
        old = _seconds(lambda: old_trend(days, ORIGIN, ORIGIN, end), 1 if n > 2000 else 3)  # noqa: B023
        print(f"{len(days):>6} {new * 1e3:>9.1f} ms {old * 1e3:>9.1f} ms {old / new:>8.0f}×")
    days = diary(8000, seed=8000, skip=0.0)
    end = ORIGIN + dt.timedelta(days=8000)
    new_peak = _peak_bytes(lambda: stats.trend(days, ORIGIN, ORIGIN, end))
    old_peak = _peak_bytes(lambda: old_trend(days, ORIGIN, ORIGIN, end))
    print(
        f"peak memory at n = 8000: new {new_peak / 2**20:.1f} MiB, old {old_peak / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    timing_report()
