"""`make bench`: the service beside the bare framework (FastAPI answering a constant), the
framework-free ceiling (the same PUT as a bare ASGI callable) and the peer (a tutorial-style
SQLModel endpoint), on PostgreSQL and SQLite, with wrk as the load generator; then years of
diary read as fast as a week, with sequential httpx requests (bench/reads.py).

Every figure is a ratio of two measurements taken in the same run on the same machine.
Usage: python bench/run.py [--backend postgresql|sqlite|both] [--duration SECONDS]
       [--only core|years] [--reads N]

Modules: seeding.py (the databases and their data), measuring.py (servers, wrk, the order of
the measurements), reads.py (sequential reads, cold and warm), table.py (the rows and their
targets).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

# The app and the tests' database helper are imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measuring import measure
from reads import READS, measure_reads
from seeding import diary_years, workload
from table import Row, reads_rows, rows

#: What --only picks: the wrk rows, or the years-of-diary rows.
PARTS = ("core", "years")


def bench_backend(backend: str, duration: int, parts: list[str], reads: int) -> list[Row]:
    print(f"\n== {backend}", flush=True)
    table = []
    if "core" in parts:
        with workload(backend) as work:
            measured = measure(backend, work, duration)
        table += rows(measured)
    if "years" in parts:
        with diary_years(backend) as years:
            seeding = ", ".join(f"{name} {s:.2f} s" for name, s in years.seeding_s.items())
            print(f"  seeded in bulk: {seeding}", flush=True)
            table += reads_rows(measure_reads(backend, years, reads))
    for row in table:
        print(f"  {row.measure}: {row.value}  ({row.ratio}; target {row.target})", flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument(
        "--only", choices=PARTS, help="only the wrk rows (core) or the years-of-diary rows"
    )
    parser.add_argument(
        "--reads", type=int, default=READS, help="timed requests per latency (targets: ≥ 50)"
    )
    args = parser.parse_args()
    parts = [args.only] if args.only else list(PARTS)
    if "core" in parts and not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    results = {
        backend: bench_backend(backend, args.duration, parts, args.reads) for backend in backends
    }
    print("\n| backend | measure | value | ratio | target |\n|---|---|---|---|---|")
    for backend, table in results.items():
        for row in table:
            print(f"| {backend} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
