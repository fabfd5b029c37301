"""The trend statistics of ``stats.trend`` in O(n log n) time and O(n) memory.

``theil_sen`` equals the slope and 95 % bounds of ``scipy.stats.theilslopes(y, x, 0.95)``
and ``mann_kendall`` the p-values of ``pymannkendall.hamed_rao_modification_test(y)`` and
``pymannkendall.original_test(y)``. Both libraries build all n(n − 1)/2 pairs (O(n²) time
and memory); here nothing of that size is ever built:

- Mann–Kendall S counts the decreasing pairs as the inversions of the stable sort order
  (Knight's algorithm, as inside ``scipy.stats.kendalltau``); its variance uses the sizes
  of the tie groups.
- The k-th smallest pairwise slope (medians, Sen's bounds ``Rl``/``Ru``, Sen's slope over
  the index) is found by randomized interval narrowing (Matoušek 1991; Dillencourt, Mount
  & Netanyahu 1992): the number of pairs i < j with slope ≤ t is the number of inversions
  of the points ordered by z = y − t·x, so sampled slopes narrow [lo, hi] around the rank
  until O(n) slopes are left, which are enumerated and computed exactly as the libraries
  do, ``(y[j] − y[i]) / (x[j] − x[i])`` in float64.
- The rank autocorrelations at every lag come from one FFT, rounded to the exact integers
  they are, so the values (and the lags found significant) are those of ``np.correlate``.

Exactness. Counts are exact, not approximate: thresholds t are rounded to floats with at
most 53 − bits(max x − min x) significant bits, so t·x is exact, and z = y − t·x is kept
exactly as an unevaluated sum of two floats (Knuth's TwoSum) and compared
lexicographically. Because t·Δx is then a float, rounding is monotone around t: a pair
whose real slope is ≤ t (≥ t) has a computed slope ≤ t (≥ t), so the exact counts of real
slopes bracket the computed ones and the selected value is the library's, bit for bit.
Pairs whose real slope equals a threshold (ties: equal y give slope 0) are counted at the
threshold, never enumerated. Only if more than O(n) slopes agree to ~40 significant bits
without being equal (a series linear to rounding error) does the selection enumerate them
in chunks (O(n) memory, time linear in their number).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri, stdtr

try:  # scipy.stats.kendalltau's discordant-pair counter: a Fenwick tree in compiled code
    from scipy.stats._stats import _kendall_dis
except ImportError:  # pragma: no cover - a scipy without it: the numpy levels below
    _kendall_dis = None

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_SEED = 20_240_617  # the narrowing is randomized; a fixed seed makes every call repeatable
_SAMPLE_PER_POINT = 8  # slopes sampled per round: 8n
_ENUMERATE_PER_POINT = 16  # slopes left in [lo, hi] that are enumerated: ≤ 16n
_MIN_ENUMERATE = 16_384  # 128 KiB of slopes: a year's diary is narrowed once, then enumerated
_CHUNK = 1 << 17  # pairs per chunk when a cluster of near-equal slopes is enumerated
_MAX_STALLS = 3
_TINY = 2.0**-1000  # thresholds are 0 or at least this large: t·x stays a normal float
_MANTISSA = 53
_MAX_SPAN_BITS = 40  # x spans up to 2**40: thresholds keep at least 13 significant bits
_LARGEST = 2.0**500  # |y| below this: slopes, t·x and z never overflow


@dataclass(frozen=True, slots=True)
class TheilSen:
    slope: float
    low_slope: float
    high_slope: float


@dataclass(frozen=True, slots=True)
class MannKendall:
    s: float
    var_s: float
    p: float  # pymannkendall.original_test(y).p
    hamed_rao_p: float  # pymannkendall.hamed_rao_modification_test(y).p (NaN where it is)


def theil_sen(
    y: Sequence[float] | Floats, x: Sequence[int] | Ints, alpha: float = 0.95
) -> TheilSen:
    """``scipy.stats.theilslopes(y, x, alpha)``'s slope, low_slope and high_slope, for x
    strictly increasing integers (day numbers)."""
    ys = _finite(y)
    xs = _days(x, len(ys))
    if len(ys) < 2:
        raise ValueError("theil_sen needs at least 2 points")
    slopes = _Slopes(xs, ys)
    count = slopes.count
    # Sen (1968) eq. 2.6, as scipy computes it (x has no repeats: it strictly increases).
    if alpha > 0.5:
        alpha = 1.0 - alpha
    z = float(ndtri(alpha / 2.0))
    ny = len(ys)
    ties = _tie_sizes(ys)
    sigsq = 1 / 18.0 * (ny * (ny - 1) * (2 * ny + 5) - sum(k * (k - 1) * (2 * k + 5) for k in ties))
    sigma = math.sqrt(sigsq)  # sigsq ≥ 0: the tie terms never exceed the first
    ru = min(int(np.round((count - z * sigma) / 2.0)), count - 1)
    rl = max(int(np.round((count + z * sigma) / 2.0)) - 1, 0)
    middle = _middle(count)
    found = slopes.select([rl, *middle, ru])
    slope = _median_of([found[k] for k in middle])
    low, high = found[rl], found[ru]
    return TheilSen(slope, low, high)


def sens_slope(y: Sequence[float] | Floats) -> float:
    """``pymannkendall.sens_slope(y).slope``: the median of (y[j] − y[i]) / (j − i), i < j."""
    ys = _finite(y)
    if len(ys) < 2:
        raise ValueError("sens_slope needs at least 2 values")
    return _Slopes(np.arange(len(ys), dtype=np.int64), ys).median()


def kth_slopes(
    y: Sequence[float] | Floats, x: Sequence[int] | Ints, ks: Sequence[int]
) -> list[float]:
    """The ks-th smallest (0-based) of the pairwise slopes (y[j] − y[i]) / (x[j] − x[i]),
    i < j, for x strictly increasing integers; equal to ``np.sort(slopes)[ks]``."""
    ys = _finite(y)
    slopes = _Slopes(_days(x, len(ys)), ys)
    if any(not 0 <= k < slopes.count for k in ks):
        raise IndexError("slope rank out of range")
    found = slopes.select(ks)
    return [found[k] for k in ks]


def mann_kendall(
    y: Sequence[float] | Floats, alpha: float = 0.05, *, sens: float | None = None
) -> MannKendall:
    """Mann–Kendall S, its tie-corrected variance and the p-values of pymannkendall's
    ``original_test`` and ``hamed_rao_modification_test`` (all lags; detrended by Sen's
    slope over the index: ``sens`` where the caller has it, e.g. ``theil_sen``'s slope over
    consecutive x, which is the same median of the same float divisions)."""
    ys = _finite(y)
    n = len(ys)
    if n < 3:
        raise ValueError("mann_kendall needs at least 3 values")
    s, var_s = mann_kendall_s(ys)
    p = _p_value(s, np.float64(var_s))

    slope = sens_slope(ys) if sens is None else sens
    detrended = ys - np.arange(1, n + 1) * slope
    d = _doubled_centered_ranks(detrended)  # 2 · (rank − mean rank), integers
    c = _autocorrelation_sums(d)  # Σ d_i d_{i+k}, exactly
    with np.errstate(divide="ignore", invalid="ignore"):
        acov = (c / 4.0) / n
        acf = acov / acov[0]
    interval = float(ndtri(1 - alpha / 2)) / np.sqrt(n)
    lags = np.arange(1, n, dtype=np.int64)
    r = acf[1:]
    significant = ~((r <= interval) & (r >= -interval))  # NaN counts, as in the library
    weights = ((n - lags) * (n - lags - 1) * (n - lags - 2)).astype(np.float64)
    terms = weights[significant] * r[significant]
    sni = float(np.cumsum(terms)[-1]) if terms.size else 0.0  # summed in lag order
    n_ns = 1 + (2 / (n * (n - 1) * (n - 2))) * sni
    hamed_rao = _p_value(s, np.float64(var_s) * np.float64(n_ns))
    return MannKendall(s=s, var_s=var_s, p=p, hamed_rao_p=hamed_rao)


def spearman(x: Sequence[float] | Floats, y: Sequence[float] | Floats) -> tuple[float, float]:
    """``scipy.stats.spearmanr(x, y)``'s rho and two-sided p-value (NaN for a constant
    input), without its generality: Pearson's r of the average ranks, from exact integer
    sums of the centred ranks, and Student's t with n − 2 degrees of freedom."""
    xs, ys = _finite(x), _finite(y)
    n = xs.size
    if ys.size != n or n < 3:
        raise ValueError("spearman needs two series of the same length, at least 3")
    rx, ry = _doubled_centered_ranks(xs), _doubled_centered_ranks(ys)
    sxx, syy = int(np.dot(rx, rx)), int(np.dot(ry, ry))
    if not sxx or not syy:
        return math.nan, math.nan
    rho = max(-1.0, min(1.0, int(np.dot(rx, ry)) / math.sqrt(sxx * syy)))
    dof = n - 2
    if abs(rho) == 1.0:
        return rho, 0.0
    t = rho * math.sqrt(dof / ((rho + 1.0) * (1.0 - rho)))
    return rho, float(2 * stdtr(dof, -abs(t)))


def mann_kendall_s(y: Sequence[float] | Floats) -> tuple[float, float]:
    """S = Σ_{i<j} sign(y[j] − y[i]) and its variance with the tie correction, as
    pymannkendall computes them."""
    ys = _finite(y)
    n = len(ys)
    order = np.argsort(ys, kind="stable")  # equal values keep their index order
    decreasing = count_inversions(order)  # pairs i < j with y[i] > y[j]
    ties = _tie_sizes(ys)
    tied = int(np.sum(ties * (ties - 1) // 2))
    increasing = n * (n - 1) // 2 - decreasing - tied
    tie_terms = int(np.sum(ties * (ties - 1) * (2 * ties + 5)))
    return float(increasing - decreasing), (n * (n - 1) * (2 * n + 5) - tie_terms) / 18


def count_inversions(perm: Ints) -> int:
    """The number of pairs p < q with perm[p] > perm[q], for a permutation of 0 … n − 1.

    Bit by bit from the top, the values are kept grouped by their higher bits (each group
    in position order); an inversion is counted at the highest bit where the two values
    differ, as a one before a zero in one group. For the zeros of a group, the ones before
    them sum to Σ(position − group start) − Z(Z − 1)/2, and group starts and zero counts
    depend on n alone (``_inversion_offset``), so a level costs one dot product and one
    stable radix sort of its prefixes: O(n log n) in all. Where scipy has it, the same
    count comes from ``kendalltau``'s compiled counter (positions against values + 1)."""
    a = np.asarray(perm, dtype=np.int64)
    n = a.size
    if _kendall_dis is not None and n:
        return int(_kendall_dis(np.arange(n, dtype=np.intp), a.astype(np.intp) + 1))
    positions = np.arange(n, dtype=np.int64)
    all_positions = n * (n - 1) // 2
    total = 0
    for bit in range(n.bit_length() - 1, -1, -1):
        prefix = a >> bit
        total += all_positions - int(np.dot(positions, prefix & 1))  # Σ positions of zeros
        if bit:
            a = a[np.argsort(_radix_key(prefix, n >> bit), kind="stable")]
    return total - _inversion_offset(n)


@functools.lru_cache(maxsize=256)
def _inversion_offset(n: int) -> int:
    """Σ over levels and groups of Z·start + Z(Z − 1)/2 (see ``count_inversions``)."""
    total = 0
    for bit in range(n.bit_length()):
        half = 1 << bit
        starts = np.arange(0, n, 2 * half, dtype=np.int64)
        zeros = np.clip(n - starts, 0, half)
        total += int(np.dot(zeros, starts)) + int(np.dot(zeros, zeros - 1)) // 2
    return total


def _radix_key(prefix: Ints, largest: int) -> npt.NDArray[np.integer]:
    # numpy sorts 16-bit integers stably by radix sort, in linear time
    return prefix.astype(np.uint16) if largest < 1 << 16 else prefix


def _inversion_levels(perm: Ints) -> Iterator[tuple[Ints, Ints, Ints, Ints]]:
    """The inversions of ``perm`` level by level (as in ``count_inversions``): for each
    level, the values v of the zeros that have ones before them in their group, how many
    (c), the position b of their group's first one after the level's partition, and the
    partitioned array w; the partners of v are w[b], …, w[b + c − 1] (all larger than v,
    all before it in ``perm``)."""
    a = np.asarray(perm, dtype=np.int64)
    n = a.size
    positions = np.arange(n, dtype=np.int64)
    for bit in range(n.bit_length() - 1, -1, -1):
        prefix = a >> bit
        order = np.argsort(_radix_key(prefix, n >> bit), kind="stable")
        after = a[order]
        new_position = np.empty(n, dtype=np.int64)
        new_position[order] = positions
        # a zero moves left past the ones before it in its group; a one never moves left
        ones_before = positions - new_position
        chosen = np.flatnonzero(ones_before > 0)
        start = (prefix[chosen] >> 1) << (bit + 1)
        first_one = start + np.minimum(1 << bit, n - start)
        yield a[chosen], ones_before[chosen], first_one, after
        a = after


def _middle(count: int) -> list[int]:
    """The ranks np.median averages: the middle one, or the two middle ones."""
    half = count // 2
    return [half] if count % 2 else [half - 1, half]


def _median_of(values: list[float]) -> float:
    """np.median's mean of the middle values: (a + b) / 2 in float64."""
    return float(np.mean(np.array(values)))


def _clusters(ranks: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive ranks (the two middle ones of an even count), as (first, last)."""
    out: list[tuple[int, int]] = []
    for k in ranks:
        if out and k == out[-1][1] + 1:
            out[-1] = (out[-1][0], k)
        else:
            out.append((k, k))
    return out


def _expand(counts: Ints) -> tuple[Ints, Ints]:
    """For each i, the pairs (i, 0), …, (i, counts[i] − 1), as two arrays."""
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    ends = np.cumsum(counts)
    offset = np.arange(int(ends[-1]) if ends.size else 0, dtype=np.int64) - np.repeat(
        ends - counts, counts
    )
    return owner, offset


@dataclass(frozen=True, slots=True)
class _Threshold:
    """A threshold t with the exact numbers of pairs whose slope is < t and ≤ t, and the
    order of the points just below t (``before``) and just above it (``after``)."""

    t: float
    lt: int
    le: int
    before: Ints
    after: Ints


@dataclass(frozen=True, slots=True)
class _Bounds:
    lo: _Threshold
    hi: _Threshold

    @property
    def size(self) -> int:
        """The number of pairs with lo < slope < hi."""
        return self.hi.lt - self.lo.le


class _Slopes:
    """The pairwise slopes of points with strictly increasing integer x, never built."""

    def __init__(self, x: Ints, y: Floats) -> None:
        n = len(y)
        shifted = x - x[0] if n else x  # slopes are unchanged; x·t stays small and exact
        span = int(shifted[-1]) if n else 0
        if span.bit_length() > _MAX_SPAN_BITS:
            raise ValueError("x spans too many days")
        self.n = n
        self.y = y
        self.x = shifted.astype(np.float64)
        self.count = n * (n - 1) // 2
        self.bits = _MANTISSA - span.bit_length()
        self.rng = np.random.default_rng(_SEED)
        self.enumerate_at_most = max(_ENUMERATE_PER_POINT * n, _MIN_ENUMERATE)
        self.sample_size = _SAMPLE_PER_POINT * n
        identity = np.arange(n, dtype=np.int64)
        reverse = identity[::-1].copy()
        self.bottom = _Threshold(-math.inf, 0, 0, identity, identity)
        self.top = _Threshold(math.inf, self.count, self.count, reverse, reverse)

    def median(self) -> float:
        """``np.median`` of the slopes."""
        middle = _middle(self.count)
        found = self.select(middle)
        return _median_of([found[k] for k in middle])

    def slopes(self, i: Ints, j: Ints) -> Floats:
        """The slopes of the pairs (i, j), i < j, computed as scipy and pymannkendall do."""
        return (self.y[j] - self.y[i]) / (self.x[j] - self.x[i])

    # -- selection ---------------------------------------------------------------------

    def select(self, ks: Sequence[int]) -> dict[int, float]:
        """The ks-th smallest slopes (0-based), narrowed together: each round splits every
        interval that still holds wanted ranks at thresholds drawn from a sample of it,
        until each is small enough to enumerate."""
        found: dict[int, float] = {}
        work = [(_Bounds(self.bottom, self.top), sorted(set(ks)), 0)]
        while work:
            later = []
            for bounds, wanted, stalls in work:
                lo, hi = bounds.lo, bounds.hi
                inside = []
                for k in wanted:  # invariant: lo.lt ≤ k < hi.le
                    if lo.lt <= k < lo.le:  # pairs whose slope is exactly lo
                        found[k] = lo.t
                    elif hi.lt <= k < hi.le:
                        found[k] = hi.t
                    else:
                        inside.append(k)
                if not inside:
                    continue
                if bounds.size <= self.enumerate_at_most:
                    found.update(self._pick(inside, bounds))
                elif stalls >= _MAX_STALLS or not self._room(lo.t, hi.t):
                    found.update(self._pick_in_chunks(inside, bounds))
                else:
                    later += self._split(bounds, inside, stalls)
            work = later
        return found

    def _split(
        self, bounds: _Bounds, wanted: list[int], stalls: int
    ) -> list[tuple[_Bounds, list[int], int]]:
        """Evaluate the thresholds of ``_candidates`` and share the ranks among the pieces."""
        cuts = [self._threshold(t) for t in self._candidates(bounds, wanted)]
        pieces = []
        rest = wanted
        for lo, hi in itertools.pairwise([bounds.lo, *cuts, bounds.hi]):
            mine = [k for k in rest if k < hi.le]
            rest = rest[len(mine) :]
            if mine:
                piece = _Bounds(lo, hi)
                pieces.append((piece, mine, stalls + 1 if piece.size == bounds.size else 0))
        return pieces

    def _candidates(self, bounds: _Bounds, wanted: list[int]) -> list[float]:
        """Thresholds on either side of the wanted ranks, from a sample of the slopes
        strictly between the bounds (Matoušek's narrowing): a rank's window spans 2.5
        standard deviations of its sample position each way; windows that overlap, or
        that would be enumerated together anyway, are merged. Rounded outwards to
        thresholds t where t·x is exact, strictly between the bounds, sorted."""
        size = bounds.size
        sample = self._sample(bounds)
        m = sample.size
        windows: list[list[int]] = []
        for first, last in _clusters(wanted):
            p, q = (first - bounds.lo.le) / size, (last - bounds.lo.le + 1) / size
            low = math.floor(p * m - 2.5 * math.sqrt(m * p * (1 - p)) - 2)
            high = math.ceil(q * m + 2.5 * math.sqrt(m * q * (1 - q)) + 2)
            if windows:
                previous = windows[-1]
                gap = low - previous[1]
                widths = (previous[1] - previous[0]) + (high - low)
                merged = (high - previous[0]) * size / m  # expected pairs, merged
                apart = max(previous[1] - previous[0], high - low) * size / m  # or the larger
                small = self.enumerate_at_most / 2
                if gap <= 0 or merged <= small or (apart > small and gap <= widths):
                    previous[1] = high
                    continue
            windows.append([low, high])
        positions = sorted({i for w in windows for i in w if 0 <= i < m})
        if not positions:
            return []
        ordered = np.partition(sample, positions)
        out = set()
        for low, high in windows:
            if 0 <= low < m:
                out.add(self._grid_floor(float(ordered[low])))
            if 0 <= high < m:
                out.add(self._grid_ceil(float(ordered[high])))
        return sorted(t for t in out if bounds.lo.t < t < bounds.hi.t)

    def _sample(self, bounds: _Bounds) -> Floats:
        """Slopes drawn uniformly (with replacement) among the pairs strictly between the
        bounds: 8n of all pairs at first, then as many as make the next windows small
        enough to enumerate (at most 8n)."""
        if bounds.lo is self.bottom and bounds.hi is self.top:
            m = min(self.sample_size, self.count)
            i = self.rng.integers(0, self.n, m)
            j = self.rng.integers(0, self.n - 1, m)
            j += j >= i
            return self.slopes(np.minimum(i, j), np.maximum(i, j))
        perm, points = self._between(bounds)
        total = bounds.size
        wanted = (10 * total / self.enumerate_at_most) ** 2
        m = int(min(self.sample_size, total, max(256, wanted)))
        draws = np.sort(self.rng.integers(0, total, m))
        firsts: list[Ints] = []
        seconds: list[Ints] = []
        done = 0
        for values, counts, first_one, after in _inversion_levels(perm):
            ends = np.cumsum(counts)
            level = int(ends[-1]) if ends.size else 0
            mine = draws[np.searchsorted(draws, done) : np.searchsorted(draws, done + level)]
            local = mine - done
            owner = np.searchsorted(ends, local, side="right")
            offset = local - (ends[owner] - counts[owner])
            firsts.append(values[owner])
            seconds.append(after[first_one[owner] + offset])
            done += level
        a = points[np.concatenate(firsts)]
        b = points[np.concatenate(seconds)]
        return self.slopes(np.minimum(a, b), np.maximum(a, b))

    def _between(self, bounds: _Bounds) -> tuple[Ints, Ints]:
        """A permutation whose inversions are the pairs with lo < slope < hi (the points in
        their order just above lo, numbered by their place just below hi), and the point
        of each number."""
        rank = np.empty(self.n, dtype=np.int64)
        rank[bounds.hi.before] = np.arange(self.n, dtype=np.int64)
        return rank[bounds.lo.after], bounds.hi.before

    def _pairs_between(self, bounds: _Bounds, chunk: int) -> Iterator[tuple[Ints, Ints]]:
        """The pairs (i, j), i < j, with lo < slope < hi, about ``chunk`` at a time."""
        perm, points = self._between(bounds)
        if bounds.size <= chunk:  # all levels at once: one expansion instead of one a level
            levels = list(_inversion_levels(perm))
            if not levels:
                return
            values = np.concatenate([level[0] for level in levels])
            counts = np.concatenate([level[1] for level in levels])
            first_one = np.concatenate([level[2] + k * self.n for k, level in enumerate(levels)])
            after = np.concatenate([level[3] for level in levels])
            owner, offset = _expand(counts)
            a = points[values[owner]]
            b = points[after[first_one[owner] + offset]]
            yield np.minimum(a, b), np.maximum(a, b)
            return
        for values, counts, first_one, after in _inversion_levels(perm):
            ends = np.cumsum(counts)
            cuts = [
                0,
                *np.searchsorted(
                    ends, np.arange(chunk, int(ends[-1]) if ends.size else 0, chunk)
                ).tolist(),
                counts.size,
            ]
            for begin, end in itertools.pairwise(cuts):
                if begin >= end:
                    continue
                owner, offset = _expand(counts[begin:end])
                owner += begin
                a = points[values[owner]]
                b = points[after[first_one[owner] + offset]]
                yield np.minimum(a, b), np.maximum(a, b)

    def _pick(self, ks: list[int], bounds: _Bounds) -> dict[int, float]:
        """Enumerate the few slopes between the bounds and select exactly."""
        parts = [self.slopes(i, j) for i, j in self._pairs_between(bounds, max(bounds.size, 1))]
        values = np.concatenate(parts) if parts else np.empty(0)
        assert values.size == bounds.size
        wanted = [k - bounds.lo.le for k in ks]
        chosen = np.partition(values, wanted)
        return {k: float(chosen[w]) for k, w in zip(ks, wanted, strict=True)}

    def _pick_in_chunks(self, ks: list[int], bounds: _Bounds) -> dict[int, float]:
        """Many slopes agree to the thresholds' precision without being equal: count them
        by value, a chunk at a time."""
        keys = np.empty(0)
        weights = np.empty(0, dtype=np.int64)
        for i, j in self._pairs_between(bounds, max(_CHUNK, self.n)):
            values, counts = np.unique(self.slopes(i, j), return_counts=True)
            keys, inverse = np.unique(np.concatenate([keys, values]), return_inverse=True)
            weights = np.bincount(
                inverse, weights=np.concatenate([weights, counts]), minlength=keys.size
            ).astype(np.int64)
        ends = np.cumsum(weights)
        return {k: float(keys[np.searchsorted(ends, k - bounds.lo.le, side="right")]) for k in ks}

    # -- thresholds --------------------------------------------------------------------

    def _threshold(self, t: float) -> _Threshold:
        """Exact counts at t: z = y − t·x, exactly, as z_hi + z_lo (TwoSum; t·x is exact)."""
        p = t * self.x
        z_hi = self.y - p
        virtual = z_hi - self.y
        z_lo = (self.y - (z_hi - virtual)) + (-p - virtual)
        before = np.lexsort((z_lo, z_hi))  # equal z: by x, as just below t
        lt = count_inversions(before)
        zh, zl = z_hi[before], z_lo[before]
        same = (zh[1:] == zh[:-1]) & (zl[1:] == zl[:-1])
        if not same.any():
            return _Threshold(t, lt, lt, before, before)
        starts = np.flatnonzero(np.concatenate([[True], ~same]))
        sizes = np.diff(np.concatenate([starts, [self.n]]))
        tied = int(np.sum(sizes * (sizes - 1) // 2))  # pairs whose slope is exactly t
        group = np.repeat(np.arange(sizes.size), sizes)
        mirror = 2 * starts[group] + sizes[group] - 1 - np.arange(self.n)
        after = before[mirror]  # just above t, the points of equal z come in reverse order
        return _Threshold(t, lt, lt + tied, before, after)

    def _grid_floor(self, t: float) -> float:
        """The largest threshold ≤ t (0, or |·| ≥ 2**-1000 with ``bits`` significant bits)."""
        if abs(t) < _TINY:
            return 0.0 if t >= 0 else -_TINY
        mantissa, exponent = math.frexp(t)
        return math.ldexp(math.floor(math.ldexp(mantissa, self.bits)), exponent - self.bits)

    def _grid_ceil(self, t: float) -> float:
        return -self._grid_floor(-t)

    def _room(self, lo: float, hi: float) -> bool:
        """Is there a threshold strictly between lo and hi?"""
        if math.isinf(lo) or math.isinf(hi):
            return True
        return self._grid_ceil(math.nextafter(lo, math.inf)) < hi


def _p_value(s: float, var_s: np.float64) -> float:
    """pymannkendall's ``__z_score`` and two-sided ``__p_value``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if s > 0:
            z = (s - 1) / np.sqrt(var_s)
        elif s < 0:
            z = (s + 1) / np.sqrt(var_s)
        else:
            z = np.float64(0.0)
        return float(2 * (1 - ndtr(abs(z))))


def _finite(y: Sequence[float] | Floats) -> Floats:
    ys = np.array(y, dtype=np.float64).ravel()
    if not np.all(np.abs(ys) < _LARGEST):
        raise ValueError("values must be finite (and below 2**500 in size)")
    return ys


def _days(x: Sequence[int] | Ints, n: int) -> Ints:
    arr = np.asarray(x)
    if arr.shape != (n,):
        raise ValueError("x and y differ in length")
    xs = arr.astype(np.int64)
    if not np.array_equal(xs, arr) or np.any(np.diff(xs) <= 0):
        raise ValueError("x must be strictly increasing integers")
    return xs


def _tie_sizes(values: Floats) -> Ints:
    """The sizes of the groups of equal values that have more than one member."""
    _, counts = np.unique(values, return_counts=True)
    return counts[counts > 1].astype(np.int64)


def _doubled_centered_ranks(values: Floats) -> Ints:
    """2 · (average rank − (n + 1)/2), as integers (``scipy.stats.rankdata``'s ranks)."""
    n = values.size
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    dense = np.cumsum(new)
    ends = np.concatenate([np.flatnonzero(new), [n]])  # ends[r] = values with dense rank ≤ r
    out = np.empty(n, dtype=np.int64)
    out[order] = ends[dense - 1] + ends[dense] + 1 - (n + 1)
    return out


def _autocorrelation_sums(d: Ints) -> Floats:
    """c_k = Σ_i d_i d_{i+k} for k = 0 … n − 1, exactly: by FFT, rounded to the integers
    they are. The FFT's rounding error is of the order of ε · log2(size) · ‖d‖²; while
    ‖d‖² · log2(size) · 1e-15 < 0.1 (ranks: n up to ~25,000) it stays far below 0.5, and
    above that d is split into high and low halves whose products are each that small."""
    n = d.size
    size = 1 << (2 * n - 1).bit_length()
    energy = float(np.dot(d, d))
    if energy * math.log2(size) * 1e-15 < 0.1:
        f = np.fft.rfft(d.astype(np.float64), size)
        return np.rint(np.fft.irfft(f.real**2 + f.imag**2, size)[:n])
    shift = (int(np.max(np.abs(d))).bit_length() + 1) // 2
    high = d >> shift
    low = d - (high << shift)
    fh = np.fft.rfft(high.astype(np.float64), size)
    fl = np.fft.rfft(low.astype(np.float64), size)
    hh = np.rint(np.fft.irfft(fh.real**2 + fh.imag**2, size)[:n]).astype(np.int64)
    cross = np.rint(np.fft.irfft(2 * (np.conj(fh) * fl).real, size)[:n]).astype(np.int64)
    ll = np.rint(np.fft.irfft(fl.real**2 + fl.imag**2, size)[:n]).astype(np.int64)
    return ((hh << (2 * shift)) + (cross << shift) + ll).astype(np.float64)
