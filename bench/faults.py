"""`python bench/faults.py`: the machine's real PostgreSQL restarted under load.

What ``tests/reliability/test_faults.py`` plays with a TCP proxy, for real: a live
``paindiary serve`` on a throwaway database, 24 phone-like diary clients (PUTs with their
own ids, retried with the same body after a 503, and reads), then
``pg_ctlcluster <version> <cluster> restart -m <mode>`` in the middle. It prints the figures
and exits 1 unless:

* every answer was a 2xx or a 503 ``application/problem+json`` with ``Retry-After`` (no
  500, no dropped connection, no request slower than 10 s);
* the service recovered by itself within 5 s of the database being back;
* every acknowledged write is in the database with exactly the acknowledged content and
  version.

The restart disconnects EVERY client of that PostgreSQL server (other test runs included):
run it only when nobody else is using the database. Needs root (``pg_ctlcluster`` switches
to the cluster's owner itself) or ``--as-postgres`` (``runuser -u postgres``).

Usage: python bench/faults.py [--cluster 15/main] [--mode fast|immediate]
                              [--before SECONDS] [--after SECONDS] [--clients N]
PostgreSQL at PAINDIARY_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from app.core.migrations import upgrade  # noqa: E402
from tests.databases import throwaway_postgres  # noqa: E402
from tests.reliability.diary_load import add_patients, run_with_fault, stored_entries  # noqa: E402
from tests.reliability.live_server import live_server  # noqa: E402

POSTGRES = os.environ.get(
    "PAINDIARY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def restart_command(cluster: str, mode: str, as_postgres: bool) -> list[str]:
    version, name = cluster.split("/")
    command = ["pg_ctlcluster", version, name, "restart", "-m", mode]
    return ["runuser", "-u", "postgres", "--", *command] if as_postgres else command


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cluster", default="15/main", help="version/name, as pg_lsclusters")
    parser.add_argument("--mode", default="fast", choices=["fast", "immediate"])
    parser.add_argument("--as-postgres", action="store_true", help="run it with runuser")
    parser.add_argument("--before", type=float, default=3.0, help="seconds of load first")
    parser.add_argument("--after", type=float, default=10.0, help="seconds of load after")
    parser.add_argument("--clients", type=int, default=24)
    args = parser.parse_args()
    command = restart_command(args.cluster, args.mode, args.as_postgres)
    restart_seconds = 0.0

    def restart() -> None:
        nonlocal restart_seconds
        started = time.monotonic()
        subprocess.run(command, check=True)
        restart_seconds = time.monotonic() - started

    # Right after a restart the server may still refuse the drop for a moment: retries.
    database = throwaway_postgres(POSTGRES, "paindiary_faults", drop_attempts=20)
    with database as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        patients = add_patients(url, 8)
        with live_server(url, Path(tmp)) as server:
            print(f"load for {args.before} s, then: {' '.join(command)}", flush=True)
            run = run_with_fault(
                server.base_url,
                patients,
                restart,
                clients=args.clients,
                before=args.before,
                after=args.after,
            )
            alive = server.process.poll() is None
        stored = stored_entries(url, list(run.load.acknowledged))

    figures = run.figures(stored)
    figures |= {"restart_took_s": round(restart_seconds, 2), "service_alive": alive}
    print(json.dumps(figures, indent=2))
    unclean = [c for c in run.load.calls if not c.clean]
    for call in unclean[:10]:
        print(f"unclean: {call.method} {call.status} {call.error}")
    for entry_id, (acked, found) in list(run.load.lost(stored).items())[:10]:
        print(f"lost: {entry_id} acknowledged {acked}, stored {found}")
    recovered = figures["first_success_after_s"] is not None
    passed = (
        alive
        and not unclean
        and figures["lost"] == 0
        and figures["in_doubt"] == 0
        and recovered
        and figures["first_success_after_s"] < 5
        and figures["slowest_s"] < 10
    )
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
