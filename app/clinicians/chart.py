"""The course chart of contract §7 (``report/chart.svg``) as a standalone SVG document.

A pure function over the daily series: no database, no request. The drawing is plain SVG
with presentation attributes only (no script, style sheet, font or link), so it renders the
same in a browser, an ``<img>`` tag, a PDF converter or on paper. Series differ by shape and
dash as well as colour, so a greyscale print stays readable.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Sequence
from statistics import fmean
from xml.sax.saxutils import escape

from app.trends.stats import MIN_WINDOW_DAYS, Day, Window
from app.trends.summaries import SessionFacts

# Geometry, in viewBox units. Pain p sits at y = PLOT_BOTTOM − p × 28; day i of the range
# (0-based, of n days) at the centre of its slot, x = PLOT_LEFT + (i + ½) × 720 / n.
WIDTH, HEIGHT = 800, 400
PLOT_LEFT, PLOT_RIGHT = 60, 780
PLOT_TOP, PLOT_BOTTOM = 56, 336
PAIN_MAX = 10
PAIN_TICKS = (0, 2, 4, 6, 8, 10)
MAX_X_TICKS = 10
MAX_MONTH_TICKS = 12  # month labels are short: "Mar", the year only where needed
MAX_TITLE_CHARS = 44  # what fits beside the date range at the title's font size, with room

INK = "#111"
GRID = "#d9d9d9"
DOT = "#1a1a1a"
MEAN_LINE = "#d55e00"  # Okabe–Ito vermillion: mid-grey in print, under black dots
SESSION = "#00695c"
BASELINE_FILL = "#56b4e9"
BASELINE_LINE = "#0072b2"
COURSE_START = "#000"
# A white outline behind text drawn over data, so labels stay legible on dots and lines.
_HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"'

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ONE_DAY = dt.timedelta(days=1)
# Characters XML 1.0 forbids even when escaped; data holding them would break the document.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def course_chart_svg(
    days: Sequence[Day],
    *,
    start: dt.date,
    end: dt.date,
    sessions: Sequence[SessionFacts] = (),
    baseline: Window | None = None,
    title: str = "",
    course_start: dt.date | None = None,
) -> str:
    """A complete SVG document (UTF-8 text) charting pain over the dates ``[start, end]``.

    Drawn: each day's pain (0–10) as a dot; the trailing 7-day mean (mean daily pain over
    the days with data in ``[d − 6, d]``, only where that window has ≥ 3 of them — days in
    the week before ``start`` count towards it); a marker per session numbered 1, 2, … in
    the order given (pass them in ``occurred_at`` order, as ``course_sessions`` returns them);
    the baseline window as a shaded band with a line at its ``pain_mean`` across the chart;
    ``course_start`` as a dashed line. Days, sessions and dates outside the range are not
    drawn; non-finite pain values are skipped and pain is clamped to 0–10. ``days`` holds one
    entry per date, as ``trends.service.daily_series`` returns. Raises ``ValueError`` when
    ``end < start``.
    """
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    scale = _Scale(start, end)
    pain_on = {d.local_date: float(d.pain) for d in days if math.isfinite(d.pain)}
    shown = sorted((date, pain) for date, pain in pain_on.items() if start <= date <= end)
    means = _trailing_means(pain_on, start, end)
    numbered = [(n, s) for n, s in enumerate(sessions, start=1) if start <= s.local_date <= end]
    band = _baseline_band(baseline, start, end)
    baseline_mean = (
        baseline.pain_mean
        if baseline is not None
        and baseline.pain_mean is not None
        and math.isfinite(baseline.pain_mean)
        else None
    )
    start_line = course_start if course_start is not None and start <= course_start <= end else None

    full_title = _text(title) or "Pain diary chart"
    desc = _description(shown, means, numbered, baseline, baseline_mean, course_start, start, end)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%"'
        ' role="img" aria-labelledby="chart-title chart-desc"'
        f' font-family="system-ui, sans-serif" fill="{INK}">',
        f'<title id="chart-title">{escape(full_title)}</title>',
        f'<desc id="chart-desc">{escape(desc)}</desc>',
        # Transparent SVGs turn black-on-black in a dark viewer; paper is white anyway.
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
    ]
    parts += _grid(scale)
    if band is not None or baseline_mean is not None:
        parts += _baseline_drawing(scale, band, baseline_mean)
    parts += _session_drawing(scale, numbered)
    if start_line is not None:
        x = _n(scale.x(start_line))
        parts.append(
            f'<line class="course-start" x1="{x}" y1="{PLOT_TOP}" x2="{x}" y2="{PLOT_BOTTOM}"'
            f' stroke="{COURSE_START}" stroke-width="1.5" stroke-dasharray="8 5"/>'
        )
    parts += _dots(scale, shown)
    parts += _mean_line(scale, means)
    if band is not None or baseline_mean is not None:
        parts.append(_baseline_label(scale, band, baseline_mean))  # over the data it labels
    parts += _axes(scale)
    if not shown:
        parts.append(
            f'<text class="empty-note" x="{(PLOT_LEFT + PLOT_RIGHT) // 2}"'
            f' y="{(PLOT_TOP + PLOT_BOTTOM) // 2}" text-anchor="middle" font-size="17"'
            f' font-style="italic" {_HALO}>No diary entries in this period</text>'
        )
    parts += _legend(
        sessions=bool(numbered),
        baseline=band is not None or baseline_mean is not None,
        course_start=start_line is not None,
    )
    visible_title = (
        full_title
        if len(full_title) <= MAX_TITLE_CHARS
        else full_title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    )
    parts.append(
        f'<text class="title" x="12" y="23" font-size="20" font-weight="bold">'
        f"{escape(visible_title)}</text>"
    )
    range_text = f"{start.isoformat()} – {end.isoformat()}" if end != start else str(start)
    parts.append(
        f'<text x="{PLOT_RIGHT}" y="23" font-size="15" text-anchor="end">{range_text}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


class _Scale:
    """Dates and pain values to viewBox coordinates; each date gets an equal slot."""

    def __init__(self, start: dt.date, end: dt.date) -> None:
        self.start = start
        self.span = (end - start).days + 1
        self.slot = (PLOT_RIGHT - PLOT_LEFT) / self.span

    def x(self, date: dt.date) -> float:
        return PLOT_LEFT + ((date - self.start).days + 0.5) * self.slot

    def left(self, date: dt.date) -> float:
        return PLOT_LEFT + (date - self.start).days * self.slot

    @staticmethod
    def y(pain: float) -> float:
        clamped = min(max(pain, 0.0), PAIN_MAX)
        return PLOT_BOTTOM - clamped * (PLOT_BOTTOM - PLOT_TOP) / PAIN_MAX


def _trailing_means(
    pain_on: dict[dt.date, float], start: dt.date, end: dt.date
) -> list[tuple[dt.date, float | None]]:
    """The 7-day trailing mean for every date in ``[start, end]``; None where the window
    ``[d − 6, d]`` has fewer than 3 days with data."""
    out: list[tuple[dt.date, float | None]] = []
    date = start
    while date <= end:
        week = [p for i in range(7) if (p := pain_on.get(date - i * ONE_DAY)) is not None]
        out.append((date, fmean(week) if len(week) >= MIN_WINDOW_DAYS else None))
        date += ONE_DAY
    return out


def _baseline_band(
    baseline: Window | None, start: dt.date, end: dt.date
) -> tuple[dt.date, dt.date] | None:
    """The part of the baseline window inside the range, if any."""
    if baseline is None:
        return None
    first, last = max(baseline.start, start), min(baseline.end, end)
    return (first, last) if first <= last else None


def _grid(scale: _Scale) -> list[str]:
    out = [f'<g class="grid" stroke="{GRID}" stroke-width="1">']
    for pain in PAIN_TICKS[1:]:
        y = _n(scale.y(pain))
        out.append(f'<line x1="{PLOT_LEFT}" y1="{y}" x2="{PLOT_RIGHT}" y2="{y}"/>')
    for date, _ in _x_ticks(scale.start, scale.span):
        x = _n(scale.x(date))
        out.append(f'<line x1="{x}" y1="{PLOT_TOP}" x2="{x}" y2="{PLOT_BOTTOM}"/>')
    out.append("</g>")
    return out


def _baseline_drawing(
    scale: _Scale, band: tuple[dt.date, dt.date] | None, mean: float | None
) -> list[str]:
    out = ['<g class="baseline">']
    if band is not None:
        left = scale.left(band[0])
        width = scale.left(band[1]) + scale.slot - left
        out.append(
            f'<rect class="baseline-band" x="{_n(left)}" y="{PLOT_TOP}" width="{_n(width)}"'
            f' height="{PLOT_BOTTOM - PLOT_TOP}" fill="{BASELINE_FILL}" fill-opacity="0.25"/>'
        )
    if mean is not None:
        y = _n(scale.y(mean))
        # Across the whole chart: later pain is read against this level.
        out.append(
            f'<line class="baseline-mean" x1="{PLOT_LEFT}" y1="{y}" x2="{PLOT_RIGHT}" y2="{y}"'
            f' stroke="{BASELINE_LINE}" stroke-width="2" stroke-dasharray="10 3 2 3"/>'
        )
    out.append("</g>")
    return out


def _baseline_label(scale: _Scale, band: tuple[dt.date, dt.date] | None, mean: float | None) -> str:
    """ "baseline 6.3" above the mean's line at its right end, where the latest pain is read
    against it; without a mean, "baseline" at the top of the band."""
    if mean is not None:
        y = scale.y(mean)
        x, anchor, label = PLOT_RIGHT - 4.0, "end", f"baseline {mean:.1f}"
        y = y - 6 if y - 6 > PLOT_TOP + 14 else y + 16
    else:
        left = scale.left(band[0]) if band is not None else PLOT_LEFT
        x, anchor, label = min(left + 4, PLOT_RIGHT - 60), "start", "baseline"
        y = PLOT_TOP + 16
    return (
        f'<text class="baseline-label" x="{_n(x)}" y="{_n(y)}" font-size="15"'
        f' text-anchor="{anchor}" fill="{BASELINE_LINE}" {_HALO}>{label}</text>'
    )


def _session_drawing(scale: _Scale, numbered: list[tuple[int, SessionFacts]]) -> list[str]:
    if not numbered:
        return []
    by_date: dict[dt.date, list[int]] = {}
    for n, s in numbered:
        by_date.setdefault(s.local_date, []).append(n)
    out = [f'<g class="sessions" stroke="{SESSION}" fill="{SESSION}">']
    for date in sorted(by_date):
        line_x = _n(scale.x(date))
        out.append(
            f'<line x1="{line_x}" y1="{PLOT_TOP}" x2="{line_x}" y2="{PLOT_BOTTOM}"'
            ' stroke-width="1.2" stroke-dasharray="2 3"/>'
        )
    for n, s in numbered:
        x = scale.x(s.local_date)
        out.append(
            f'<path class="session-marker" data-session="{n}"'
            f' d="M{_n(x - 5)} 44h10l-5 10z" stroke="none"/>'
        )
    right_of_last = -math.inf
    for date in sorted(by_date):
        label = ",".join(str(n) for n in by_date[date])
        x = scale.x(date)
        half = len(label) * 4 + 1  # at font size 13, bold digits are about 8 units wide
        if x - half < right_of_last:
            continue  # sessions on close days: the marker shows, the number would overlap
        right_of_last = x + half
        out.append(
            f'<text x="{_n(x)}" y="40" font-size="13" font-weight="bold" text-anchor="middle"'
            f' stroke="none">{label}</text>'
        )
    out.append("</g>")
    return out


def _dots(scale: _Scale, shown: list[tuple[dt.date, float]]) -> list[str]:
    if not shown:
        return []
    radius = _n(min(max(scale.slot * 0.4, 2.5), 5.0))
    out = [f'<g class="daily-pain" fill="{DOT}" stroke="#fff" stroke-width="0.8">']
    out += [
        f'<circle cx="{_n(scale.x(date))}" cy="{_n(scale.y(pain))}" r="{radius}"/>'
        for date, pain in shown
    ]
    out.append("</g>")
    return out


def _mean_line(scale: _Scale, means: list[tuple[dt.date, float | None]]) -> list[str]:
    commands: list[str] = []
    previous_defined = False
    for date, mean in means:
        if mean is None:
            previous_defined = False
            continue
        point = f"{_n(scale.x(date))} {_n(scale.y(mean))}"
        commands.append(f"L{point}" if previous_defined else f"M{point}")
        previous_defined = True
    if not commands:
        return []
    # Round caps make a one-point segment (a defined mean between two gaps) show as a dot.
    return [
        f'<path class="mean-7d" d="{"".join(commands)}" fill="none" stroke="{MEAN_LINE}"'
        ' stroke-width="3" stroke-linejoin="round" stroke-linecap="round"/>'
    ]


def _axes(scale: _Scale) -> list[str]:
    out = [
        f'<g class="axes" stroke="{INK}" stroke-width="1.2">',
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{PLOT_BOTTOM}"/>',
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_RIGHT}" y2="{PLOT_BOTTOM}"/>',
        "</g>",
        '<g class="y-ticks" font-size="15" text-anchor="end">',
    ]
    for pain in PAIN_TICKS:
        y = scale.y(pain)
        out.append(
            f'<line x1="{PLOT_LEFT - 5}" y1="{_n(y)}" x2="{PLOT_LEFT}" y2="{_n(y)}"'
            f' stroke="{INK}"/><text x="{PLOT_LEFT - 8}" y="{_n(y + 5)}">{pain}</text>'
        )
    middle = (PLOT_TOP + PLOT_BOTTOM) // 2
    out += [
        "</g>",
        f'<text class="y-title" x="20" y="{middle}" font-size="15" text-anchor="middle"'
        f' transform="rotate(-90 20 {middle})">Pain (0–10)</text>',
        '<g class="x-ticks" font-size="15" text-anchor="middle">',
    ]
    for date, label in _x_ticks(scale.start, scale.span):
        x = _n(scale.x(date))
        out.append(
            f'<line x1="{x}" y1="{PLOT_BOTTOM}" x2="{x}" y2="{PLOT_BOTTOM + 5}"'
            f' stroke="{INK}"/><text x="{x}" y="{PLOT_BOTTOM + 22}">{label}</text>'
        )
    out.append("</g>")
    return out


def _x_ticks(start: dt.date, span: int) -> list[tuple[dt.date, str]]:
    """About 10 date labels: every day, every 2 days, Mondays, every other Monday, or the
    first of every 1, 2, 3, 6, 12, … months, whichever is the finest that fits."""
    end = start + (span - 1) * ONE_DAY
    for step in (1, 2, 7, 14):
        first = start if step < 7 else start + ((7 - start.weekday()) % 7) * ONE_DAY
        dates = _every(first, end, step)
        if len(dates) <= MAX_X_TICKS:
            return [(d, f"{d.day} {MONTHS[d.month - 1]}") for d in dates]
    for step in _month_steps():
        firsts = _firsts_of_months(start, end, step)
        if len(firsts) <= MAX_MONTH_TICKS:
            break
    # The year on each January, and on the first label unless a January follows at once.
    with_year = {d for d in firsts if d.month == 1}
    if firsts and (len(firsts) == 1 or firsts[1].month != 1):
        with_year.add(firsts[0])
    return [
        (d, f"{MONTHS[d.month - 1]} {d.year}" if d in with_year else MONTHS[d.month - 1])
        for d in firsts
    ]


def _firsts_of_months(start: dt.date, end: dt.date, step: int) -> list[dt.date]:
    """The firsts of months in ``[start, end]`` whose month number (counted from year 0) is a
    multiple of ``step``: Jan, Apr, Jul, Oct for 3."""
    index = start.year * 12 + start.month - 1 + (start.day != 1)
    index += -index % step
    out = []
    while (date := dt.date(index // 12, index % 12 + 1, 1)) <= end:
        out.append(date)
        index += step
    return out


def _every(first: dt.date, last: dt.date, step: int) -> list[dt.date]:
    count = (last - first).days // step + 1 if first <= last else 0
    return [first + i * step * ONE_DAY for i in range(count)]


def _month_steps() -> Iterator[int]:
    yield from (1, 2, 3, 6)
    years = 1
    while True:
        yield 12 * years
        years *= 2


def _legend(*, sessions: bool, baseline: bool, course_start: bool) -> list[str]:
    y = 386
    out = ['<g class="legend" font-size="15">']
    x: float = PLOT_LEFT
    items: list[tuple[str, str]] = [
        (
            f'<circle cx="{{x}}" cy="{y - 4.5}" r="4" fill="{DOT}"/>',
            "Daily pain",
        ),
        (
            f'<line x1="{{x0}}" y1="{y - 4.5}" x2="{{x1}}" y2="{y - 4.5}" stroke="{MEAN_LINE}"'
            ' stroke-width="3" stroke-linecap="round"/>',
            "7-day mean",
        ),
    ]
    if sessions:
        items.append((f'<path d="M{{x0}} {y - 10}h10l-5 10z" fill="{SESSION}"/>', "Session"))
    if baseline:
        items.append(
            (
                f'<rect x="{{x0}}" y="{y - 12}" width="20" height="15" fill="{BASELINE_FILL}"'
                f' fill-opacity="0.25"/><line x1="{{x0}}" y1="{y - 4.5}" x2="{{x1}}"'
                f' y2="{y - 4.5}" stroke="{BASELINE_LINE}" stroke-width="2"'
                ' stroke-dasharray="10 3 2 3"/>',
                "Baseline",
            )
        )
    if course_start:
        items.append(
            (
                f'<line x1="{{x}}" y1="{y - 12}" x2="{{x}}" y2="{y + 3}" stroke="{COURSE_START}"'
                ' stroke-width="1.5" stroke-dasharray="4 3"/>',
                "Course start",
            )
        )
    for symbol, label in items:
        out.append(symbol.format(x=_n(x + 10), x0=_n(x), x1=_n(x + 20)))
        out.append(f'<text x="{_n(x + 26)}" y="{y}">{label}</text>')
        x += 26 + len(label) * 8.3 + 22
    out.append("</g>")
    return out


def _description(
    shown: list[tuple[dt.date, float]],
    means: list[tuple[dt.date, float | None]],
    numbered: list[tuple[int, SessionFacts]],
    baseline: Window | None,
    baseline_mean: float | None,
    course_start: dt.date | None,
    start: dt.date,
    end: dt.date,
) -> str:
    """The chart in words, for screen readers."""
    text = f"Daily pain on a 0–10 scale from {start.isoformat()} to {end.isoformat()}: "
    if shown:
        pains = [p for _, p in shown]
        text += (
            f"{_count(len(shown), 'day')} with data, mean {fmean(pains):.1f},"
            f" lowest {min(pains):.1f}, highest {max(pains):.1f}."
        )
    else:
        text += "no diary entries in this period."
    last_mean = next(((d, m) for d, m in reversed(means) if m is not None), None)
    if last_mean is not None:
        text += f" 7-day mean on {last_mean[0].isoformat()}: {last_mean[1]:.1f}."
    if baseline is not None:
        text += f" Baseline {baseline.start.isoformat()} to {baseline.end.isoformat()}"
        text += f", mean {baseline_mean:.1f}." if baseline_mean is not None else "."
    if numbered:
        text += f" {_count(len(numbered), 'session')} shown."
    if course_start is not None:
        text += f" Course started {course_start.isoformat()}."
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _text(value: str) -> str:
    """Data text made safe to place in XML once escaped: forbidden characters dropped,
    whitespace runs (newlines too) made single spaces."""
    return " ".join(_NOT_XML.sub("", value).split())


def _n(value: float) -> str:
    """A coordinate with at most one decimal, without a trailing ``.0`` or a ``-0``."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text
