"""`make bench`: the service beside the bare framework (FastAPI answering a constant), the
framework-free ceiling (the same PUT as a bare ASGI callable) and the peer (a tutorial-style
SQLModel endpoint), on PostgreSQL and SQLite, with wrk as the load generator.

Every figure is a ratio of two measurements taken in the same run on the same machine.
Usage: python bench/run.py [--backend postgresql|sqlite|both] [--duration SECONDS]

Modules: seeding.py (the database and its data), measuring.py (servers, wrk, the order of the
measurements), table.py (the rows and their targets).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

# The app and the tests' database helper are imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measuring import measure
from seeding import workload
from table import Row, rows


def bench_backend(backend: str, duration: int) -> list[Row]:
    print(f"\n== {backend}", flush=True)
    with workload(backend) as work:
        measured = measure(backend, work, duration)
    table = rows(measured)
    for row in table:
        print(f"  {row.measure}: {row.value}  ({row.ratio}; target {row.target})", flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    results = {backend: bench_backend(backend, args.duration) for backend in backends}
    print("\n| backend | measure | value | ratio | target |\n|---|---|---|---|---|")
    for backend, table in results.items():
        for row in table:
            print(f"| {backend} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
