"""The course chart SVG, read back as XML. Expected coordinates are worked out here from the
chart's geometry (viewBox 0 0 800 400, plot x 60–780 and y 56–336), not by calling the
code under test: a range of n days gives each day a slot of 720 / n units with the day at
the slot's centre, x = 60 + (i + ½) × 720 / n for day i; pain p sits at y = 336 − 28 × p."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
import xml.etree.ElementTree as ET

import pytest

from app.clinicians.chart import course_chart_svg
from app.trends.stats import Day, Window
from app.trends.summaries import SessionFacts

SVG = "http://www.w3.org/2000/svg"
NS = {"svg": SVG}
D = dt.date
CET = dt.timezone(dt.timedelta(hours=1))
MARCH_1 = D(2026, 3, 1)


def day(date: dt.date, pain: float) -> Day:
    return Day(date, pain, pain, None, None, None, False)


def march(n: int) -> dt.date:
    return D(2026, 3, n)


def session(n: int, date: dt.date) -> SessionFacts:
    return SessionFacts(uuid.UUID(int=n), dt.datetime.combine(date, dt.time(10), CET), date, 6, 3)


def baseline(first: dt.date, last: dt.date, mean: float | None) -> Window:
    return Window(first, last, 3, mean, mean, 0, None, None, None, 0)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode())  # noqa: S314 — our own output, not untrusted input


def with_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == name]


def dots(root: ET.Element) -> list[tuple[float, float]]:
    return [
        (float(c.attrib["cx"]), float(c.attrib["cy"]))
        for c in root.findall(".//svg:g[@class='daily-pain']/svg:circle", NS)
    ]


def mean_segments(root: ET.Element) -> list[list[tuple[float, float]]]:
    """The 7-day mean path as its subpaths, each a list of points."""
    paths = with_class(root, "mean-7d")
    if not paths:
        return []
    assert len(paths) == 1
    segments: list[list[tuple[float, float]]] = []
    for command, x, y in re.findall(r"([ML])(-?[\d.]+) (-?[\d.]+)", paths[0].attrib["d"]):
        if command == "M":
            segments.append([])
        segments[-1].append((float(x), float(y)))
    return segments


def child_text(root: ET.Element, tag: str) -> str:
    """The text of the document's ``<title>`` or ``<desc>``."""
    child = root.find(f"svg:{tag}", NS)
    assert child is not None and child.text is not None
    return child.text


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{{{SVG}}}text")]


def test_a_standalone_accessible_svg_document() -> None:
    svg = course_chart_svg([day(march(2), 5)], start=MARCH_1, end=march(10), title="Jane")
    root = parse(svg)
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert root.tag == f"{{{SVG}}}svg"
    assert root.attrib["viewBox"] == "0 0 800 400"
    assert root.attrib["width"] == "100%"
    assert "height" not in root.attrib
    assert root.attrib["role"] == "img"
    assert root.attrib["font-family"] == "system-ui, sans-serif"
    assert child_text(root, "title") == "Jane"
    assert child_text(root, "desc") == (
        "Daily pain on a 0–10 scale from 2026-03-01 to 2026-03-10: 1 day with data,"
        " mean 5.0, lowest 5.0, highest 5.0."
    )
    # Nothing external: no script, style sheet, link or image.
    tags = {e.tag.split("}")[1] for e in root.iter()}
    assert not tags & {"script", "style", "image", "a", "foreignObject", "use"}
    assert "href" not in svg and "url(" not in svg and "@import" not in svg


def test_one_dot_per_day_with_data_in_the_range_at_its_pain() -> None:
    days = [
        day(D(2026, 2, 28), 9),  # before the range
        day(march(1), 0),
        day(march(3), 6.5),
        day(march(10), 10),
        day(march(11), 1),  # after the range
    ]
    root = parse(course_chart_svg(days, start=MARCH_1, end=march(10)))
    # 10 days: slots of 72 units.
    assert dots(root) == [
        (60 + 0.5 * 72, 336),  # pain 0 on the x axis
        (60 + 2.5 * 72, 336 - 28 * 6.5),  # (240, 154)
        (60 + 9.5 * 72, 56),  # pain 10 at the top of the plot
    ]


def test_days_may_come_in_any_order() -> None:
    days = [day(march(5), 4), day(march(2), 2)]
    root = parse(course_chart_svg(days, start=MARCH_1, end=march(10)))
    assert dots(root) == [(60 + 1.5 * 72, 336 - 56), (60 + 4.5 * 72, 336 - 112)]


def test_the_7_day_mean_is_drawn_where_the_week_has_3_days_and_breaks_elsewhere() -> None:
    days = [
        day(march(1), 4),
        day(march(2), 6),
        day(march(3), 8),
        # 03-08's week [03-02, 03-08] has only 2 days: the line breaks.
        day(march(15), 2),
        day(march(16), 2),
        day(march(17), 5),
    ]
    root = parse(course_chart_svg(days, start=MARCH_1, end=march(20)))
    # 20 days: slots of 36 units; x(03-d) = 60 + (d − ½) × 36.
    assert mean_segments(root) == [
        # 03-03 … 03-07: the mean of 4, 6, 8 = 6 → y = 168.
        [(60 + (d - 0.5) * 36, 168) for d in range(3, 8)],
        # 03-17 … 03-20: the mean of 2, 2, 5 = 3 → y = 252.
        [(60 + (d - 0.5) * 36, 252) for d in range(17, 21)],
    ]


def test_the_7_day_mean_counts_the_days_before_the_range() -> None:
    days = [day(D(2026, 2, 27), 1), day(D(2026, 2, 28), 2), day(march(1), 6)]
    root = parse(course_chart_svg(days, start=MARCH_1, end=march(10)))
    assert dots(root) == [(96, 168)]
    # 03-01 … 03-05 have all three in their week (mean 3 → y 252); 03-06's week starts 02-28.
    assert mean_segments(root) == [[(60 + (d - 0.5) * 72, 252) for d in range(1, 6)]]


def test_no_7_day_mean_without_3_days_in_a_week() -> None:
    days = [day(march(1), 4), day(march(2), 6), day(march(9), 8)]
    root = parse(course_chart_svg(days, start=MARCH_1, end=march(20)))
    assert with_class(root, "mean-7d") == []
    assert len(dots(root)) == 3


def test_the_mean_line_takes_a_rounded_value() -> None:
    days = [day(march(1), 1), day(march(2), 1), day(march(3), 2)]
    root = parse(course_chart_svg(days, start=MARCH_1, end=march(3)))
    # 3 days: slots of 240 units; mean 4/3 → y = 336 − 37.33… = 298.7 (one decimal).
    assert mean_segments(root) == [[(660, 298.7)]]


def test_one_marker_per_session_in_the_range_numbered_in_the_given_order() -> None:
    sessions = [
        session(1, D(2026, 2, 20)),  # before the range: not drawn, but still number 1
        session(2, march(2)),
        session(3, march(2)),
        session(4, march(9)),
        session(5, march(25)),  # after the range
    ]
    root = parse(course_chart_svg([], start=MARCH_1, end=march(10), sessions=sessions))
    markers = with_class(root, "session-marker")
    assert [m.attrib["data-session"] for m in markers] == ["2", "3", "4"]
    # A downward triangle whose tip touches the plot's top, centred on the day.
    assert markers[0].attrib["d"] == f"M{60 + 1.5 * 72 - 5:g} 44h10l-5 10z"
    group = root.find(".//svg:g[@class='sessions']", NS)
    assert group is not None
    assert texts(group) == ["2,3", "4"]  # one label per date
    assert len(group.findall("svg:line", NS)) == 2  # one line per date
    assert "3 sessions shown." in child_text(root, "desc")


def test_no_session_group_without_sessions_in_the_range() -> None:
    root = parse(
        course_chart_svg([], start=MARCH_1, end=march(10), sessions=[session(1, march(11))])
    )
    assert with_class(root, "sessions") == []
    assert "Session" not in texts(root)


def test_the_baseline_band_and_its_mean() -> None:
    root = parse(
        course_chart_svg(
            [], start=MARCH_1, end=march(20), baseline=baseline(march(1), march(7), 6.0)
        )
    )
    (band,) = with_class(root, "baseline-band")
    # 20 days: slots of 36; 03-01 … 03-07 is the first 7 slots.
    assert (band.attrib["x"], band.attrib["width"]) == ("60", "252")
    assert (band.attrib["y"], band.attrib["height"]) == ("56", "280")
    (line,) = with_class(root, "baseline-mean")
    assert (line.attrib["x1"], line.attrib["x2"]) == ("60", "780")  # across the chart
    assert line.attrib["y1"] == line.attrib["y2"] == "168"
    assert "baseline 6.0" in texts(root)
    assert "Baseline" in texts(root)  # the legend


def test_the_baseline_band_is_clipped_to_the_range() -> None:
    root = parse(
        course_chart_svg(
            [], start=march(5), end=march(14), baseline=baseline(march(1), march(7), 5.0)
        )
    )
    (band,) = with_class(root, "baseline-band")
    assert (band.attrib["x"], band.attrib["width"]) == ("60", "216")  # 03-05 … 03-07


def test_a_baseline_outside_the_range_keeps_its_line_without_a_band() -> None:
    root = parse(
        course_chart_svg(
            [], start=march(10), end=march(20), baseline=baseline(march(1), march(7), 5.0)
        )
    )
    assert with_class(root, "baseline-band") == []
    assert with_class(root, "baseline-mean")[0].attrib["y1"] == "196"


def test_a_baseline_without_a_mean_is_a_labelled_band() -> None:
    root = parse(
        course_chart_svg(
            [], start=MARCH_1, end=march(20), baseline=baseline(march(1), march(7), None)
        )
    )
    assert len(with_class(root, "baseline-band")) == 1
    assert with_class(root, "baseline-mean") == []
    assert "baseline" in texts(root)


def test_no_baseline_drawing_without_a_baseline() -> None:
    root = parse(course_chart_svg([day(march(1), 3)], start=MARCH_1, end=march(10)))
    assert with_class(root, "baseline") == []
    assert "Baseline" not in texts(root)


def test_the_course_start_is_a_dashed_line_when_in_the_range() -> None:
    root = parse(course_chart_svg([], start=MARCH_1, end=march(10), course_start=march(8)))
    (line,) = with_class(root, "course-start")
    assert float(line.attrib["x1"]) == float(line.attrib["x2"]) == 60 + 7.5 * 72
    assert (line.attrib["y1"], line.attrib["y2"]) == ("56", "336")
    assert line.attrib["stroke-dasharray"]
    outside = parse(course_chart_svg([], start=MARCH_1, end=march(10), course_start=march(11)))
    assert with_class(outside, "course-start") == []


def test_the_axes_are_labelled() -> None:
    root = parse(course_chart_svg([day(march(1), 3)], start=MARCH_1, end=march(10)))
    y_ticks = root.find(".//svg:g[@class='y-ticks']", NS)
    assert y_ticks is not None
    assert texts(y_ticks) == ["0", "2", "4", "6", "8", "10"]
    assert [t.attrib["y"] for t in y_ticks.findall("svg:text", NS)] == [
        "341", "285", "229", "173", "117", "61",
    ]  # fmt: skip  # y(p) + 5, to centre the digits on the tick
    assert "Pain (0–10)" in texts(root)
    x_ticks = root.find(".//svg:g[@class='x-ticks']", NS)
    assert x_ticks is not None
    assert texts(x_ticks) == [f"{d} Mar" for d in range(1, 11)]  # daily for 10 days


DATE_LABEL_CASES = [
    # 20 days: every other day.
    (MARCH_1, march(20), [f"{d} Mar" for d in range(1, 20, 2)]),
    # 61 days: Mondays.
    (MARCH_1, D(2026, 4, 30), [
        "2 Mar", "9 Mar", "16 Mar", "23 Mar", "30 Mar", "6 Apr", "13 Apr", "20 Apr", "27 Apr",
    ]),
    # 122 days: every other Monday.
    (MARCH_1, D(2026, 6, 30), [
        "2 Mar", "16 Mar", "30 Mar", "13 Apr", "27 Apr", "11 May", "25 May", "8 Jun", "22 Jun",
    ]),
    # A year: months, the year on the first and on January.
    (MARCH_1, D(2027, 2, 28), [
        "Mar 2026", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan 2027",
        "Feb",
    ]),
    # The year goes to a January that comes second.
    (D(2025, 12, 1), D(2026, 9, 30), [
        "Dec", "Jan 2026", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
    ]),
    # 25 firsts of months, 13 of them every other month: quarters, on Jan, Apr, Jul, Oct.
    (MARCH_1, D(2028, 3, 1), [
        "Apr 2026", "Jul", "Oct", "Jan 2027", "Apr", "Jul", "Oct", "Jan 2028",
    ]),
]  # fmt: skip


@pytest.mark.parametrize(("start", "end", "labels"), DATE_LABEL_CASES)
def test_date_labels_suit_the_span(start: dt.date, end: dt.date, labels: list[str]) -> None:
    root = parse(course_chart_svg([], start=start, end=end))
    x_ticks = root.find(".//svg:g[@class='x-ticks']", NS)
    assert x_ticks is not None
    assert texts(x_ticks) == labels


def test_every_span_gets_a_few_date_labels_inside_the_plot() -> None:
    for span in [*range(1, 160), *range(160, 800, 9), 1500, 4000]:
        for start in (MARCH_1, D(2025, 12, 31)):
            end = start + dt.timedelta(days=span - 1)
            root = parse(course_chart_svg([], start=start, end=end))
            x_ticks = root.find(".//svg:g[@class='x-ticks']", NS)
            assert x_ticks is not None
            xs = [float(t.attrib["x"]) for t in x_ticks.findall("svg:text", NS)]
            assert 1 <= len(xs) <= 12, (start, span)
            assert all(60 < x < 780 for x in xs)
            assert xs == sorted(xs)


def test_a_hostile_title_is_escaped() -> None:
    hostile = '</text><script>alert(1)</script>&amp;"'
    svg = course_chart_svg([day(march(1), 3)], start=MARCH_1, end=march(2), title=hostile)
    root = parse(svg)
    assert not [e for e in root.iter() if e.tag.split("}")[-1] == "script"]
    assert "<script" not in svg
    assert "&lt;script" in svg
    assert child_text(root, "title") == hostile
    assert hostile in texts(root)  # shown as text, whole: it fits


def test_a_long_title_is_shortened_on_the_chart_only() -> None:
    long = "A" * 30 + " " + "B" * 30
    root = parse(course_chart_svg([], start=MARCH_1, end=march(2), title=long))
    assert child_text(root, "title") == long
    (shown,) = with_class(root, "title")
    assert shown.text == "A" * 30 + " " + "B" * 12 + "…"  # 44 characters


def test_characters_xml_forbids_are_dropped_from_the_title() -> None:
    svg = course_chart_svg([], start=MARCH_1, end=march(2), title="Jane\x00\x07 Doe\n\tpain")
    assert child_text(parse(svg), "title") == "Jane Doe pain"


def test_no_nan_whatever_the_input() -> None:
    days = [day(march(1), math.nan), day(march(2), 4), day(march(3), math.inf)]
    svg = course_chart_svg(
        days,
        start=MARCH_1,
        end=march(10),
        baseline=baseline(march(1), march(3), math.nan),
        title="t",
    )
    root = parse(svg)
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    assert dots(root) == [(60 + 1.5 * 72, 224)]  # only the finite day
    assert with_class(root, "baseline-mean") == []


def test_out_of_scale_pain_stays_inside_the_plot() -> None:
    root = parse(
        course_chart_svg([day(march(1), -2), day(march(2), 12)], start=MARCH_1, end=march(2))
    )
    assert [y for _, y in dots(root)] == [336, 56]


def test_no_days_at_all() -> None:
    root = parse(course_chart_svg([], start=MARCH_1, end=march(31), title="Empty"))
    assert dots(root) == []
    assert with_class(root, "mean-7d") == []
    assert [e.text for e in with_class(root, "empty-note")] == ["No diary entries in this period"]
    assert root.find(".//svg:g[@class='axes']", NS) is not None
    assert "no diary entries in this period" in child_text(root, "desc")


def test_only_days_outside_the_range_is_an_empty_chart() -> None:
    root = parse(course_chart_svg([day(march(20), 5)], start=MARCH_1, end=march(10)))
    assert dots(root) == []
    assert len(with_class(root, "empty-note")) == 1


def test_a_single_day_range() -> None:
    root = parse(course_chart_svg([day(march(1), 5)], start=MARCH_1, end=MARCH_1))
    assert dots(root) == [(420, 196)]  # the one slot is the whole plot: its centre
    assert with_class(root, "empty-note") == []
    x_ticks = root.find(".//svg:g[@class='x-ticks']", NS)
    assert x_ticks is not None
    assert texts(x_ticks) == ["1 Mar"]


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before start"):
        course_chart_svg([], start=march(2), end=MARCH_1)


def test_deterministic_and_compact_numbers() -> None:
    days = [day(MARCH_1 + dt.timedelta(days=i), (i * 7) % 11) for i in range(0, 97, 2)]

    def draw() -> str:
        return course_chart_svg(
            days,
            start=MARCH_1,
            end=D(2026, 6, 5),
            sessions=[session(1, march(9)), session(2, march(23))],
            baseline=baseline(march(1), march(7), 14 / 3),
            course_start=march(9),
            title="Course",
        )

    svg = draw()
    assert svg == draw()
    decimals = {n for n in re.findall(r"\d+\.\d+", svg) if len(n.split(".")[1]) > 1}
    assert decimals == {"0.25"}  # the band's opacity; coordinates have one decimal at most
