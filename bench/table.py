"""The printed table: one function per row, each with its ratio and its target."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import NamedTuple

from measuring import ROUNDS, Measurements
from seeding import CLINIC_PATIENTS

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
    summary,
    summary_computed,
    two_workers,
    batch,
    memory,
    patient_list,
    list_computed,
]
