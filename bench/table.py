"""The printed table: one function per row, each with its ratio and its target."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import NamedTuple

from measuring import ROUNDS, Measurements
from reads import ColdWarm, DiaryReads, Latency
from seeding import CLINIC_PATIENTS, LONG_COURSE, WRITERS

#: The PUT of a new entry against the tutorial peer and the framework-free ceiling.
PUT_OVER_TUTORIAL = 4.0
PUT_OVER_CEILING = 0.6


class Row(NamedTuple):
    measure: str
    value: str
    ratio: str
    target: str


def rows(m: Measurements) -> list[Row]:
    return [row(m) for row in ROWS if m.ceiling is not None or row is not ceiling]


def bare_framework(m: Measurements) -> Row:
    return Row(
        "bare framework, constant",
        f"{m.bare.rps:.0f} req/s (median of {ROUNDS}), p50 {m.bare_latency.p50:.2f} ms",
        "—",
        "—",
    )


def tutorial(m: Measurements) -> Row:
    return Row("tutorial SQLModel PUT", f"{m.tutorial.rps:.0f} req/s", "—", "—")


def ceiling(m: Measurements) -> Row:
    assert m.ceiling is not None
    return Row(
        "  framework-free PUT (bench/ceiling_app.py) vs bare framework",
        f"{m.ceiling.rps:.0f} req/s",
        f"{m.ceiling.rps / m.bare.rps:.2f}×",
        "— (what this machine allows a Python process writing to PostgreSQL)",
    )


def put_vs_ceiling(m: Measurements) -> Row:
    name = "PUT new entry vs framework-free PUT"
    value = f"{m.put.rps:.0f} req/s (median of {ROUNDS})"
    target = f"≥ {PUT_OVER_CEILING}×"
    if m.ceiling is None:
        return Row(name, value, "not measured (bench/ceiling_app.py is PostgreSQL-only)", target)
    return Row(name, value, f"{m.put.rps / m.ceiling.rps:.2f}×", target)


def put_vs_tutorial(m: Measurements) -> Row:
    return Row(
        "PUT new entry vs tutorial endpoint",
        f"{m.put.rps:.0f} req/s",
        f"{m.put.rps / m.tutorial.rps:.2f}×",
        f"≥ {PUT_OVER_TUTORIAL:.0f}×",
    )


def put_vs_bare(m: Measurements) -> Row:
    rounds = ", ".join(f"{r:.2f}" for r in m.put_over_bare)
    return Row(
        "  PUT new entry vs bare framework, rounds in turn",
        f"{m.put.rps:.0f} req/s (median of {ROUNDS})",
        f"{statistics.median(m.put_over_bare):.2f}× (median; rounds {rounds})",
        "— (information)",
    )


def put_limited(m: Measurements) -> Row:
    rounds = ", ".join(f"{r:.2f}" for r in m.limited_over_put)
    where = "in the database" if m.backend == "postgresql" else "in process"
    return Row(
        f"  PUT new entry, {WRITERS} patients, write limit on ({where}) vs off, rounds in turn",
        f"{m.put_limited.rps:.0f} req/s (median of {ROUNDS})",
        f"{statistics.median(m.limited_over_put):.2f}× (median; rounds {rounds})",
        "— (information: what counting every write costs)",
    )


def summary(m: Measurements) -> Row:
    return Row(
        "course summary, a year (730 entries, 12 sessions), p50",
        f"{m.summary.p50:.2f} ms",
        f"{m.summary.p50 / m.bare_latency.p50:.1f}× bare p50",
        "≤ 25×",
    )


def summary_computed(m: Measurements) -> Row:
    return Row(
        "  the same, computed on every request (cache off)",
        f"{m.summary_computed.p50:.2f} ms",
        f"{m.summary_computed.p50 / m.bare_latency.p50:.1f}× bare p50",
        "— (what the first read after a write costs)",
    )


def two_workers(m: Measurements) -> Row:
    return Row(
        "PUT new entry, 2 worker processes vs 1",
        f"{m.two_workers.rps:.0f} req/s",
        f"{m.two_workers.rps / m.put.rps:.2f}×",
        "— (stateless processes scale)",
    )


def batch(m: Measurements) -> Row:
    return Row(
        "batch of 500 entries vs single PUTs, entries/s",
        f"{m.batch.rps * 500:.0f} entries/s",
        f"{m.batch.rps * 500 / m.put.rps:.2f}×",
        "≥ 10×",
    )


def memory(m: Measurements) -> Row:
    growth = m.memory_mib[-1] - m.memory_mib[0]
    return Row(
        "server RSS after 20k…100k more entries written",
        " → ".join(f"{mib:.0f}" for mib in m.memory_mib) + " MiB",
        f"{growth:+.1f} MiB after warm-up",
        "no growth",
    )


def patient_list(m: Measurements) -> Row:
    return Row(
        f"clinician patient list, {CLINIC_PATIENTS} linked patients, p50",
        f"{m.patient_list.p50:.2f} ms",
        f"{m.patient_list.p50 / m.summary.p50:.1f}× summary p50",
        "≤ 3×",
    )


def list_computed(m: Measurements) -> Row:
    return Row(
        "  the same, computed on every request (cache off)",
        f"{m.list_computed.p50:.2f} ms",
        f"{m.list_computed.p50 / m.summary_computed.p50:.1f}× computed summary p50",
        "— (what the first read after a write costs)",
    )


#: The rows in the order printed (the ceiling's only when it was measured).
ROWS: list[Callable[[Measurements], Row]] = [
    bare_framework,
    tutorial,
    ceiling,
    put_vs_ceiling,
    put_vs_tutorial,
    put_vs_bare,
    put_limited,
    summary,
    summary_computed,
    two_workers,
    batch,
    memory,
    patient_list,
    list_computed,
]


# Years of diary answered as fast as a week (bench/reads.py): sequential httpx requests,
# cold = the first read after a write; the targets are judged on PostgreSQL.

SUMMARY_OVER_BARE = 15.0
TEN_YEARS_OVER_ONE = 10.0
FHIR_OVER_CSV = 3.0
LIST_GROWTH = 3.0
LONG_SUMMARY_MS = 1000.0
LONG_GROWTH_MB = 100.0
HEALTHZ_P99_MS = 50.0


def reads_rows(m: DiaryReads) -> list[Row]:
    return [row(m) for row in READS_ROWS]


def _latency(lat: Latency) -> str:
    return f"p50 {lat.p50:.2f} ms, p99 {lat.p99:.2f} ms"


def _cold_warm(cw: ColdWarm) -> str:
    reads = f"{len(cw.cold.ms)}+{len(cw.warm.ms)} requests"
    return f"cold {_latency(cw.cold)}; warm p50 {cw.warm.p50:.2f}, p99 {cw.warm.p99:.2f} ({reads})"


def _judged(m: DiaryReads, target: str, met: bool) -> str:
    verdict = "met" if met else "NOT met"
    if m.backend != "postgresql":
        return f"{target} (judged on PostgreSQL; here {verdict})"
    return f"{target} ({verdict})"


def reads_bare(m: DiaryReads) -> Row:
    return Row(
        "bare framework, constant, sequential httpx requests",
        f"{_latency(m.bare)} ({len(m.bare.ms)} requests)",
        "—",
        "— (the yardstick of the rows below)",
    )


def year_summary(m: DiaryReads) -> Row:
    ratio = m.summaries[1].cold.p50 / m.bare.p50
    return Row(
        f"course summary, 1-year diary ({m.entries[1]} entries, 10 sessions)",
        _cold_warm(m.summaries[1]),
        f"{ratio:.1f}× bare p50 (cold)",
        _judged(m, f"≤ {SUMMARY_OVER_BARE:.0f}×", ratio <= SUMMARY_OVER_BARE),
    )


def three_year_summary(m: DiaryReads) -> Row:
    return Row(
        f"  the same, 3-year diary ({m.entries[3]} entries)",
        _cold_warm(m.summaries[3]),
        f"{m.summaries[3].cold.p50 / m.summaries[1].cold.p50:.2f}× the 1-year (cold)",
        "— (information: 3× the days)",
    )


def ten_year_summary(m: DiaryReads) -> Row:
    ratio = m.summaries[10].cold.p50 / m.summaries[1].cold.p50
    return Row(
        f"  the same, 10-year diary ({m.entries[10]} entries)",
        _cold_warm(m.summaries[10]),
        f"{ratio:.2f}× the 1-year (cold)",
        _judged(m, f"≤ {TEN_YEARS_OVER_ONE:.0f}× (10× the days)", ratio <= TEN_YEARS_OVER_ONE),
    )


def ten_year_csv(m: DiaryReads) -> Row:
    return Row(
        f"entries.csv of the 10-year diary ({m.csv.cold.body_bytes / 1e6:.1f} MB)",
        _cold_warm(m.csv),
        f"{m.csv.cold.p50 / m.bare.p50:.0f}× bare p50 (cold)",
        "— (the FHIR report's yardstick)",
    )


def ten_year_fhir(m: DiaryReads) -> Row:
    ratio = m.fhir.cold.p50 / m.csv.cold.p50
    return Row(
        f"  FHIR report of the same diary ({m.fhir.cold.body_bytes / 1e6:.1f} MB) vs its CSV",
        _cold_warm(m.fhir),
        f"{ratio:.2f}× the CSV (cold)",
        _judged(m, f"≤ {FHIR_OVER_CSV:.0f}×", ratio <= FHIR_OVER_CSV),
    )


def _small_list(m: DiaryReads, sort: str) -> Row:
    small = min(size for size, _ in m.patient_lists)
    lists = m.patient_lists[small, sort]
    return Row(
        f"clinician patient list, {small} linked patients, {sort} sort",
        _cold_warm(lists),
        f"{lists.cold.p50 / m.bare.p50:.1f}× bare p50 (cold)",
        "— (the yardstick of the next row)",
    )


def _large_list(m: DiaryReads, sort: str) -> Row:
    small = min(size for size, _ in m.patient_lists)
    large = max(size for size, _ in m.patient_lists)
    lists = m.patient_lists[large, sort]
    ratio = lists.cold.p50 / m.patient_lists[small, sort].cold.p50
    return Row(
        f"  the same, {large} linked patients",
        _cold_warm(lists),
        f"{ratio:.2f}× {small} patients (cold)",
        _judged(m, f"≤ {LIST_GROWTH:.0f}×", ratio <= LIST_GROWTH),
    )


def small_list(m: DiaryReads) -> Row:
    return _small_list(m, "default")


def large_list(m: DiaryReads) -> Row:
    return _large_list(m, "default")


def small_list_attention(m: DiaryReads) -> Row:
    return _small_list(m, "attention")


def large_list_attention(m: DiaryReads) -> Row:
    return _large_list(m, "attention")


def long_summary(m: DiaryReads) -> Row:
    cold = m.long_course.summary.cold
    return Row(
        f"course summary, {LONG_COURSE.course_days:,}-day course, an entry every day, own server",
        _cold_warm(m.long_course.summary),
        f"{cold.p50 / m.summaries[1].cold.p50:.1f}× the 1-year (cold)",
        _judged(m, f"< {LONG_SUMMARY_MS / 1000:.0f} s", cold.p50 < LONG_SUMMARY_MS),
    )


def long_memory(m: DiaryReads) -> Row:
    before, after = m.long_course.before, m.long_course.after
    peak_growth = after.peak_mb - before.rss_mb
    return Row(
        "  server memory during those cold summaries (VmRSS, VmHWM)",
        f"RSS {before.rss_mb:.0f} → {after.rss_mb:.0f} MB, peak {after.peak_mb:.0f} MB",
        f"{after.rss_mb - before.rss_mb:+.1f} MB, peak {peak_growth:+.1f} MB",
        _judged(m, f"< {LONG_GROWTH_MB:.0f} MB (peak)", peak_growth < LONG_GROWTH_MB),
    )


def long_healthz(m: DiaryReads) -> Row:
    polls = m.long_course.healthz
    return Row(
        "  /healthz meanwhile, polled by a second client on its own connection",
        f"{_latency(polls)} ({len(polls.ms)} polls)",
        "—",
        _judged(m, f"p99 < {HEALTHZ_P99_MS:.0f} ms", polls.p99 < HEALTHZ_P99_MS),
    )


def long_first_day(m: DiaryReads) -> Row:
    status = m.long_course.first_day_write
    return Row(
        f"  an entry on the course's first day ({LONG_COURSE.course_days:,} days ago) via PUT",
        f"{status}",
        "—",
        _judged(m, "201 (the seeding itself is bulk inserts)", status == 201),
    )


#: The years-of-diary rows in the order printed.
READS_ROWS: list[Callable[[DiaryReads], Row]] = [
    reads_bare,
    year_summary,
    three_year_summary,
    ten_year_summary,
    ten_year_csv,
    ten_year_fhir,
    small_list,
    large_list,
    small_list_attention,
    large_list_attention,
    long_summary,
    long_memory,
    long_healthz,
    long_first_day,
]
