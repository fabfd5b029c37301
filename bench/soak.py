"""Soak without loss: simulated phones against a real server for a while, then proof that
every acknowledged write is there as acknowledged (the engine: tests/reliability/soak.py).

Usage: python bench/soak.py [--backend postgresql|sqlite] [--duration 180] [--patients 40]
Exits 1 on any loss, mismatch, unexpected answer, cross-patient leak or 5xx.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.soak import SoakConfig, soak, summary  # noqa: E402

POSTGRES = os.environ.get(
    "PAINDIARY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--duration", type=float, default=180, help="seconds of load")
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--phones", type=int, default=2, help="phones per patient")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    config = SoakConfig(
        duration=args.duration,
        patients=args.patients,
        phones_per_patient=args.phones,
        concurrency=args.concurrency,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(prefix="paindiary-soak-") as directory:
        report = soak(args.backend, Path(directory), config, POSTGRES, workers=args.workers)
    print(summary(report), flush=True)
    return 0 if report.stats.ok else 1


if __name__ == "__main__":
    sys.exit(main())
