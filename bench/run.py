"""`make bench`: the service beside the ceiling (bare FastAPI) and the peer (a tutorial-style
SQLModel endpoint), on PostgreSQL and SQLite, with wrk as the load generator.

Every figure is a ratio of two measurements taken in the same run on the same machine.
Usage: python bench/run.py [--backend postgresql|sqlite|both] [--duration SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from app.core.database import Database, create_engine  # noqa: E402
from app.core.migrations import upgrade  # noqa: E402
from app.core.security import AccessTokens  # noqa: E402
from tests.databases import throwaway_postgres  # noqa: E402

SECRET = "bench-secret-key-bench-secret-key-0123456789"
POSTGRES = os.environ.get(
    "PAINDIARY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CONNECTIONS = 32
PATIENTS = 64
CLINIC_PATIENTS = 500


@dataclass
class Result:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, measure: str, value: str, ratio: str, target: str) -> None:
        self.rows.append((measure, value, ratio, target))
        print(f"  {measure}: {value}  ({ratio}; target {target})", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(app: str, env: dict[str, str], *, factory: bool = False, workers: int = 1):
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning", "--workers", str(workers),
    ]  # fmt: skip
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(
        cmd,
        cwd=BENCH if app.split(":")[0] in ("bare_app", "tutorial_app", "ceiling_app") else ROOT,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        wait_up(port)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def wait_up(port: int) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # the server answers (404 for the bare apps)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def memory_while_writing(base: str, pid: int, env: dict[str, str]) -> list[float]:
    """RSS of the server after each 20,000 of 100,000 entries written in 500-entry batches
    (plus what earlier rows wrote): flat after the first step means no growth."""
    samples = []
    for _ in range(5):
        _batches(base, env, 40)
        samples.append(rss_mib(pid))
    return samples


def _batches(base: str, env: dict[str, str], count: int) -> None:
    """Exactly ``count`` batches of 500 (wrk has no request count, so plain HTTP here)."""
    import json
    import urllib.request

    tokens = open(env["TOKENS_FILE"]).read().split()
    for n in range(count):
        items = [
            {
                "id": str(uuid.uuid4()),
                "recorded_at": "2026-11-20T08:30:00+01:00",
                "pain": i % 11,
                "notes": "x" * 200,
                "tags": ["weather"],
            }
            for i in range(500)
        ]
        request = urllib.request.Request(
            base + "/v1/patients/me/entries/batch",
            data=json.dumps({"items": items}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Bearer " + tokens[n % len(tokens)],
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200


def wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    script: str | None = None,
    env: dict[str, str] | None = None,
    latency: bool = False,
) -> dict[str, float]:
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s"]
    if script:
        cmd += ["-s", str(BENCH / "lua" / script)]
    if latency:
        cmd.append("--latency")
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result = {"rps": rps, "errors": float(errors.group(1)) if errors else 0.0}
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)", out, re.M)
    if p50:
        value, unit = float(p50.group(1)), p50.group(2)
        result["p50_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    if result["errors"]:
        print(out, file=sys.stderr)
    return result


#: Rounds of (bare constant, service PUT) taken in turn for the headline ratio.
ROUNDS = 3


def paired_rounds(
    bare_base: str, base: str, duration: int, put_env: dict[str, str]
) -> tuple[dict[str, float], dict[str, float], list[float]]:
    """The bare constant and the service's PUT measured in turn, ``ROUNDS`` times each, both
    servers up: a shared machine's speed drifts by ±20 % over minutes, and a ratio of two
    measurements taken minutes apart would carry that drift. Answers the median run of
    each (by req/s) and the ratio of each round, PUT over bare."""
    wrk(bare_base + "/constant", duration=2, connections=CONNECTIONS)
    _puts(base, 2, put_env)
    bares, puts = [], []
    for _ in range(ROUNDS):
        bares.append(wrk(bare_base + "/constant", duration=duration, connections=CONNECTIONS))
        puts.append(_puts(base, duration, put_env))
    ratios = [p["rps"] / b["rps"] for b, p in zip(bares, puts, strict=True)]

    def median(runs: list[dict[str, float]]) -> dict[str, float]:
        ordered = sorted(runs, key=lambda run: run["rps"])
        return {**ordered[len(ordered) // 2], "errors": sum(run["errors"] for run in runs)}

    return median(bares), median(puts), ratios


def put_load(base: str, duration: int, put_env: dict[str, str]) -> dict[str, float]:
    """PUTs of new entries at 32 connections, after a 2 s warm-up."""
    _puts(base, 2, put_env)
    return _puts(base, duration, put_env)


def _puts(base: str, duration: int, put_env: dict[str, str]) -> dict[str, float]:
    return wrk(
        base, duration=duration, connections=CONNECTIONS, script="put_entries.lua", env=put_env
    )


async def seed(url: str) -> tuple[list[str], str, str]:
    """Patients for the write load; one patient with a year of diary for the summary."""
    from app.accounts.schemas import Registration
    from app.accounts.service import register
    from app.core.security import Passwords
    from app.courses.schemas import CourseIn
    from app.courses.service import courses
    from app.diary.schemas import EntryIn
    from app.diary.service import entries
    from app.records.service import put_record
    from app.sessions.schemas import SessionIn
    from app.sessions.service import sessions

    db = Database(create_engine(url))
    passwords = Passwords(19 * 1024, 2, 1)
    tokens = AccessTokens(SECRET, 900)
    access = []
    for i in range(PATIENTS):
        user = await register(
            db,
            passwords,
            Registration(
                email=f"bench{i}-{uuid.uuid4().hex[:6]}@example.org",
                password="bench-password",
                role="patient",
            ),
        )
        access.append(tokens.issue(user.id, "patient"))
    year = await register(
        db,
        passwords,
        Registration(
            email=f"year-{uuid.uuid4().hex[:6]}@example.org",
            password="bench-password",
            role="patient",
        ),
    )
    today = dt.date.today()
    start = today - dt.timedelta(days=300)
    course_id = uuid.uuid4()
    await put_record(
        db,
        courses,
        year.id,
        course_id,
        CourseIn(
            name="Year course",
            modality="acupuncture",
            start_date=start,
            end_date=start + dt.timedelta(weeks=11),
            planned_sessions=12,
        ),
    )
    for k in range(12):
        await put_record(
            db,
            sessions,
            year.id,
            uuid.uuid4(),
            SessionIn(
                course_id=course_id,
                occurred_at=dt.datetime.combine(start + dt.timedelta(weeks=k), dt.time(10), dt.UTC),
                points=["LI4", "GB20"],
                pain_before=6,
                pain_after=4,
            ),
        )
    tz = dt.timezone(dt.timedelta(hours=1))
    for n in range(365):
        day = today - dt.timedelta(days=364 - n)
        for hour, pain in ((8, 4 + n % 5), (20, 3 + n % 4)):
            await put_record(
                db,
                entries,
                year.id,
                uuid.uuid4(),
                EntryIn(
                    recorded_at=dt.datetime.combine(day, dt.time(hour), tz),
                    pain=pain,
                    sleep_hours=6 + (n % 3),
                    stress=n % 8,
                    tags=["weather"] if n % 4 == 0 else [],
                ),
            )
    clinician_token = await seed_clinic(db, passwords, tokens)
    await db.dispose()
    summary_path = f"/v1/patients/me/courses/{course_id}/summary"
    return access, tokens.issue(year.id, "patient"), summary_path, clinician_token


async def seed_clinic(db: Database, passwords: object, tokens: AccessTokens) -> str:
    """A clinician linked to CLINIC_PATIENTS patients, each with a running course and two
    weeks of entries around its start and today (bulk inserts: this is only the set-up)."""
    import sqlalchemy as sa

    from app.access.models import ClinicianLink
    from app.accounts.models import User
    from app.core.database import table_of
    from app.courses.models import TreatmentCourse
    from app.diary.models import DiaryEntry
    from app.records.models import ChangeCounter

    now = dt.datetime.now(dt.UTC)
    today = now.date()
    password_hash = passwords.hash("bench-password")  # type: ignore[attr-defined]
    clinician_id = uuid.uuid4()
    people = [
        {
            "id": clinician_id,
            "email": f"clinic-{clinician_id.hex[:8]}@example.org",
            "password_hash": password_hash,
            "role": "clinician",
            "display_name": "Dr. Bench",
            "timezone": "UTC",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    ]
    counters, links, courses_rows, entry_rows = [], [], [], []
    for i in range(CLINIC_PATIENTS):
        pid = uuid.uuid4()
        people.append(
            {
                "id": pid,
                "email": f"p{i}-{pid.hex[:8]}@example.org",
                "password_hash": password_hash,
                "role": "patient",
                "display_name": f"Patient {i:03d}",
                "timezone": "Europe/Berlin",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        counters.append({"patient_id": pid, "position": 100})
        links.append({"patient_id": pid, "clinician_id": clinician_id, "linked_at": now})
        start = today - dt.timedelta(days=21 + i % 30)
        courses_rows.append(
            {
                "patient_id": pid,
                "id": uuid.uuid4(),
                "name": "Acupuncture",
                "condition": "neck_pain",
                "modality": "acupuncture",
                "start_date": start,
                "end_date": None,
                "planned_sessions": 10,
                "practitioner": None,
                "pattern": None,
                "notes": None,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "change_position": 1,
            }
        )
        for n, day in enumerate(
            [start - dt.timedelta(days=k) for k in range(1, 6)]
            + [today - dt.timedelta(days=k) for k in range(0, 7 - i % 3)]
        ):
            entry_rows.append(
                {
                    "patient_id": pid,
                    "id": uuid.uuid4(),
                    "recorded_at": dt.datetime.combine(day, dt.time(8), dt.UTC),
                    "recorded_offset_minutes": 60,
                    "local_date": day,
                    "pain": (3 + n + i) % 11,
                    "pain_worst": None,
                    "sites": [],
                    "sleep_hours": 7.0,
                    "sleep_quality": None,
                    "stress": 4,
                    "mood": None,
                    "activity_interference": None,
                    "enjoyment_interference": None,
                    "medications": [],
                    "tags": [],
                    "notes": None,
                    "backfilled": False,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                    "change_position": 2 + n,
                }
            )
    async with db.transaction() as conn:
        for model, rows in (
            (User, people),
            (ChangeCounter, counters),
            (ClinicianLink, links),
            (TreatmentCourse, courses_rows),
            (DiaryEntry, entry_rows),
        ):
            await conn.execute(sa.insert(table_of(model)), rows)
    return tokens.issue(clinician_id, "clinician")


@contextmanager
def database(backend: str):
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="paindiary-bench-")
        try:
            yield f"sqlite:///{folder}/bench.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with throwaway_postgres(POSTGRES, "paindiary_bench") as url:
        yield url


def bench_backend(backend: str, duration: int) -> Result:
    result = Result()
    print(f"\n== {backend}", flush=True)
    with database(backend) as url:
        upgrade(url)
        access, year_token, summary_path, clinician_token = asyncio.run(seed(url))
        # A load test writes far faster than any phone: per-account write limits off.
        env = {
            "PAINDIARY_DATABASE_URL": url,
            "PAINDIARY_SECRET_KEY": SECRET,
            "PAINDIARY_WRITES_PER_MINUTE": "0",
        }
        with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
            f.write("\n".join(access) + "\n")
            tokens_file = f.name
        put_env = {"TOKENS_FILE": tokens_file}
        get_env = {"TOKEN": year_token, "BENCH_PATH": summary_path}
        list_env = {"TOKEN": clinician_token, "BENCH_PATH": "/v1/patients?limit=500&sort=attention"}

        with server("tutorial_app:app", env) as (base, _):
            tutorial = put_load(base, duration, put_env)
        ceiling = None
        if backend == "postgresql":
            with server("ceiling_app:app", env) as (base, _):
                ceiling = put_load(base, duration, put_env)
        with (
            server("bare_app:app", env) as (bare_base, _),
            server("app.main:create_app", env, factory=True) as (base, proc),
        ):
            bare, put, ratios = paired_rounds(bare_base, base, duration, put_env)
            bare_lat = wrk(bare_base + "/constant", duration=duration, connections=1, latency=True)
            batch = wrk(
                base, duration=duration, connections=4, script="batch_entries.lua", env=put_env
            )
            memory = memory_while_writing(base, proc.pid, put_env)
            wrk(base, duration=2, connections=1, script="get_auth.lua", env=get_env)
            summary = wrk(
                base,
                duration=duration,
                connections=1,
                script="get_auth.lua",
                env=get_env,
                latency=True,
            )
            wrk(base, duration=2, connections=1, script="get_auth.lua", env=list_env)
            patient_list = wrk(
                base,
                duration=duration,
                connections=1,
                script="get_auth.lua",
                env=list_env,
                latency=True,
            )
        # The same two reads computed on every request: the versioned cache switched off.
        with server(
            "app.main:create_app", env | {"PAINDIARY_SUMMARY_CACHE_ENTRIES": "0"}, factory=True
        ) as (base, _):
            wrk(base, duration=2, connections=1, script="get_auth.lua", env=get_env)
            summary_computed = wrk(
                base, duration=duration, connections=1, script="get_auth.lua", env=get_env,
                latency=True,
            )  # fmt: skip
            wrk(base, duration=2, connections=1, script="get_auth.lua", env=list_env)
            list_computed = wrk(
                base, duration=duration, connections=1, script="get_auth.lua", env=list_env,
                latency=True,
            )  # fmt: skip
        with server("app.main:create_app", env, factory=True, workers=2) as (base, _):
            two_workers = put_load(base, duration, put_env)
        os.unlink(tokens_file)

    for name, run in (
        ("bare", bare),
        ("tutorial PUT", tutorial),
        ("service PUT", put),
        ("summary", summary),
        ("patient list", patient_list),
        ("summary computed", summary_computed),
        ("patient list computed", list_computed),
        ("batch", batch),
        ("two workers", two_workers),
        ("framework-free PUT", ceiling or {"errors": 0.0}),
    ):
        if run["errors"]:
            raise SystemExit(f"{backend}: {name} had {int(run['errors'])} failed requests")
    result.add(
        "bare framework, constant",
        f"{bare['rps']:.0f} req/s (median of {ROUNDS}), p50 {bare_lat['p50_ms']:.2f} ms",
        "—",
        "—",
    )
    result.add("tutorial SQLModel PUT", f"{tutorial['rps']:.0f} req/s", "—", "—")
    if ceiling is not None:
        result.add(
            "  framework-free PUT (bench/ceiling_app.py) vs bare framework",
            f"{ceiling['rps']:.0f} req/s",
            f"{ceiling['rps'] / bare['rps']:.2f}×",
            "— (what this machine allows a Python process writing to PostgreSQL)",
        )
    result.add(
        "PUT new entry vs bare framework, rounds in turn",
        f"{put['rps']:.0f} req/s (median of {ROUNDS})",
        f"{statistics.median(ratios):.2f}× (median; rounds "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ")",
        "≥ 0.20",
    )
    result.add(
        "PUT new entry vs tutorial endpoint",
        f"{put['rps']:.0f} req/s",
        f"{put['rps'] / tutorial['rps']:.1f}×",
        "≥ 4×",
    )
    result.add(
        "course summary, a year (730 entries, 12 sessions), p50",
        f"{summary['p50_ms']:.2f} ms",
        f"{summary['p50_ms'] / bare_lat['p50_ms']:.1f}× bare p50",
        "≤ 25×",
    )
    result.add(
        "  the same, computed on every request (cache off)",
        f"{summary_computed['p50_ms']:.2f} ms",
        f"{summary_computed['p50_ms'] / bare_lat['p50_ms']:.1f}× bare p50",
        "— (what the first read after a write costs)",
    )
    result.add(
        "PUT new entry, 2 worker processes vs 1",
        f"{two_workers['rps']:.0f} req/s",
        f"{two_workers['rps'] / put['rps']:.2f}×",
        "— (stateless processes scale)",
    )
    result.add(
        "batch of 500 entries vs single PUTs, entries/s",
        f"{batch['rps'] * 500:.0f} entries/s",
        f"{batch['rps'] * 500 / put['rps']:.2f}×",
        "≥ 10×",
    )
    growth = memory[-1] - memory[0]
    result.add(
        "server RSS after 20k…100k more entries written",
        " → ".join(f"{m:.0f}" for m in memory) + " MiB",
        f"{growth:+.1f} MiB after warm-up",
        "no growth",
    )
    result.add(
        f"clinician patient list, {CLINIC_PATIENTS} linked patients, p50",
        f"{patient_list['p50_ms']:.2f} ms",
        f"{patient_list['p50_ms'] / summary['p50_ms']:.1f}× summary p50",
        "≤ 3×",
    )
    result.add(
        "  the same, computed on every request (cache off)",
        f"{list_computed['p50_ms']:.2f} ms",
        f"{list_computed['p50_ms'] / summary_computed['p50_ms']:.1f}× computed summary p50",
        "— (what the first read after a write costs)",
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    results = {b: bench_backend(b, args.duration) for b in backends}
    print("\n| backend | measure | value | ratio | target |\n|---|---|---|---|---|")
    for backend, result in results.items():
        for row in result.rows:
            print(f"| {backend} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
