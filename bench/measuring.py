"""The measurements: servers started as uvicorn processes, wrk runs against them, paired
rounds, the server's RSS, latency probes, and `measure`, which takes them all for one
backend in a fixed order.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from seeding import Workload

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
#: The service, as uvicorn's factory.
SERVICE = "app.main:create_app"
#: The apps of bench/ (uvicorn runs them from there).
BENCH_APPS = ("bare_app", "tutorial_app", "ceiling_app")
#: Connections of the throughput loads.
CONNECTIONS = 32
#: Rounds of (bare constant, service PUT) taken in turn for the ratio to the bare framework.
ROUNDS = 3
#: The per-account write limit on, so high that no PUT of the load is refused: each PUT is
#: counted. The loads of that row spread over seeding.WRITERS patients.
LIMITED = {"PAINDIARY_WRITES_PER_MINUTE": "1000000"}


@dataclass(frozen=True)
class Load:
    """What one wrk run measured; ``p50_ms`` only when run with ``latency=True``."""

    rps: float
    errors: int
    p50_ms: float | None = None

    @property
    def p50(self) -> float:
        if self.p50_ms is None:
            raise ValueError("this run was taken without latency")
        return self.p50_ms


@dataclass(frozen=True)
class Measurements:
    """Everything one backend's run measured (`table.py` makes the rows of it)."""

    backend: str
    tutorial: Load
    #: None on SQLite: bench/ceiling_app.py speaks to PostgreSQL only.
    ceiling: Load | None
    #: The bare constant and the service's PUT: the median of the rounds of each.
    bare: Load
    put: Load
    put_over_bare: list[float]
    #: The PUT with the per-account write limit on (counted in the database on PostgreSQL),
    #: in rounds in turn with the PUT above (limit off): the median, and each round's ratio.
    put_limited: Load
    limited_over_put: list[float]
    bare_latency: Load
    batch: Load
    memory_mib: list[float]
    summary: Load
    patient_list: Load
    summary_computed: Load
    list_computed: Load
    two_workers: Load


class Server(NamedTuple):
    base: str
    pid: int


def measure(backend: str, work: Workload, duration: int) -> Measurements:
    """Every measurement of one backend. The order is part of the method: each write load
    grows the database the next one writes to and the reads see."""
    tutorial = tutorial_put(work, duration)
    ceiling = ceiling_put(work, duration) if backend == "postgresql" else None
    with (
        server("bare_app:app", work.server) as bare_app,
        server(SERVICE, work.server, factory=True) as service,
    ):
        bare, put, put_over_bare = paired_rounds(bare_app.base, service.base, duration, work)
        with server(SERVICE, work.server | LIMITED, factory=True) as limited:
            put_limited, limited_over_put = limit_rounds(service.base, limited.base, duration, work)
        bare_latency = wrk(
            bare_app.base + "/constant", duration=duration, connections=1, latency=True
        )
        batch = batch_load(service.base, duration, work)
        memory_mib = memory_while_writing(service, work)
        summary = p50_probe(service.base, duration, work.summary)
        patient_list = p50_probe(service.base, duration, work.patient_list)
    summary_computed, list_computed = computed_reads(work, duration)
    two_workers = two_workers_put(work, duration)
    measured = Measurements(
        backend=backend,
        tutorial=tutorial,
        ceiling=ceiling,
        bare=bare,
        put=put,
        put_over_bare=put_over_bare,
        put_limited=put_limited,
        limited_over_put=limited_over_put,
        bare_latency=bare_latency,
        batch=batch,
        memory_mib=memory_mib,
        summary=summary,
        patient_list=patient_list,
        summary_computed=summary_computed,
        list_computed=list_computed,
        two_workers=two_workers,
    )
    check_no_failures(measured)
    return measured


def check_no_failures(m: Measurements) -> None:
    """A run with failed requests measured something else: stop."""
    for name, load in (
        ("bare", m.bare),
        ("tutorial PUT", m.tutorial),
        ("service PUT", m.put),
        ("service PUT, write limit on", m.put_limited),
        ("summary", m.summary),
        ("patient list", m.patient_list),
        ("summary computed", m.summary_computed),
        ("patient list computed", m.list_computed),
        ("batch", m.batch),
        ("two workers", m.two_workers),
        ("framework-free PUT", m.ceiling),
    ):
        if load is not None and load.errors:
            raise SystemExit(f"{m.backend}: {name} had {load.errors} failed requests")


# The measurements that have a server to themselves.


def tutorial_put(work: Workload, duration: int) -> Load:
    """The peer: bench/tutorial_app.py's PUT of a new entry."""
    with server("tutorial_app:app", work.server) as tutorial:
        return put_load(tutorial.base, duration, work)


def ceiling_put(work: Workload, duration: int) -> Load:
    """The framework-free ceiling: bench/ceiling_app.py's PUT of a new entry."""
    with server("ceiling_app:app", work.server) as ceiling:
        return put_load(ceiling.base, duration, work)


def computed_reads(work: Workload, duration: int) -> tuple[Load, Load]:
    """The summary and the patient list computed on every request: the versioned summaries
    and the patient list's rows off."""
    computing = {"PAINDIARY_SUMMARY_CACHE_ENTRIES": "0", "PAINDIARY_PATIENT_ROWS_KEPT": "0"}
    with server(SERVICE, work.server | computing, factory=True) as service:
        summary = p50_probe(service.base, duration, work.summary)
        patient_list = p50_probe(service.base, duration, work.patient_list)
    return summary, patient_list


def two_workers_put(work: Workload, duration: int) -> Load:
    """The service's PUT of a new entry with two worker processes."""
    with server(SERVICE, work.server, factory=True, workers=2) as service:
        return put_load(service.base, duration, work)


# Loads and probes.


def in_turn(
    first: Callable[[int], Load], second: Callable[[int], Load], duration: int
) -> tuple[Load, Load, list[float]]:
    """Two loads (each given its duration) measured in turn, ``ROUNDS`` times each, after a
    2 s warm-up of each, both servers up: a shared machine's speed drifts over minutes, and
    a ratio of two measurements taken minutes apart would carry that drift. Answers the
    median run of each (by req/s), with the failures of all rounds, and the ratio of each
    round, second over first."""
    first(2)
    second(2)
    firsts, seconds = [], []
    for _ in range(ROUNDS):
        firsts.append(first(duration))
        seconds.append(second(duration))
    ratios = [b.rps / a.rps for a, b in zip(firsts, seconds, strict=True)]
    return _median(firsts), _median(seconds), ratios


def paired_rounds(
    bare_base: str, base: str, duration: int, work: Workload
) -> tuple[Load, Load, list[float]]:
    """The bare constant and the service's PUT in turn (:func:`in_turn`): the median of
    each, and each round's ratio, PUT over bare."""
    return in_turn(
        lambda seconds: wrk(bare_base + "/constant", duration=seconds, connections=CONNECTIONS),
        lambda seconds: puts(base, seconds, work.writes),
        duration,
    )


def limit_rounds(
    base: str, limited_base: str, duration: int, work: Workload
) -> tuple[Load, list[float]]:
    """The service's PUT with the write limit off and on, in turn (:func:`in_turn`), spread
    over many patients: the median run with the limit on, and each round's ratio, on over
    off."""
    _, on, ratios = in_turn(
        lambda seconds: puts(base, seconds, work.many_writers),
        lambda seconds: puts(limited_base, seconds, work.many_writers),
        duration,
    )
    return on, ratios


def _median(runs: list[Load]) -> Load:
    middle = sorted(runs, key=lambda run: run.rps)[len(runs) // 2]
    return Load(rps=middle.rps, errors=sum(run.errors for run in runs), p50_ms=middle.p50_ms)


def put_load(base: str, duration: int, work: Workload) -> Load:
    """PUTs of new entries after a 2 s warm-up."""
    puts(base, 2, work.writes)
    return puts(base, duration, work.writes)


def puts(base: str, duration: int, tokens: dict[str, str]) -> Load:
    """PUTs of new entries at fresh client ids, CONNECTIONS connections, the patients'
    tokens (``Workload.writes`` or ``.many_writers``) in turn."""
    return wrk(
        base, duration=duration, connections=CONNECTIONS, script="put_entries.lua", env=tokens
    )


def batch_load(base: str, duration: int, work: Workload) -> Load:
    """Batches of 500 new entries, 4 connections."""
    return wrk(base, duration=duration, connections=4, script="batch_entries.lua", env=work.writes)


def p50_probe(base: str, duration: int, env: dict[str, str]) -> Load:
    """One GET (``env``'s BENCH_PATH and TOKEN) at 1 connection, with its latency, after a
    2 s warm-up."""
    wrk(base, duration=2, connections=1, script="get_auth.lua", env=env)
    return wrk(base, duration=duration, connections=1, script="get_auth.lua", env=env, latency=True)


def memory_while_writing(service: Server, work: Workload) -> list[float]:
    """RSS of the server after each 20,000 of 100,000 entries written in 500-entry batches
    (plus what earlier rows wrote): flat after the first step means no growth."""
    samples = []
    for _ in range(5):
        batches(service.base, work, 40)
        samples.append(rss_mib(service.pid))
    return samples


def batches(base: str, work: Workload, count: int) -> None:
    """Exactly ``count`` batches of 500 (wrk has no request count, so plain HTTP here)."""
    with open(work.writes["TOKENS_FILE"]) as file:
        tokens = file.read().split()
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


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    script: str | None = None,
    env: dict[str, str] | None = None,
    latency: bool = False,
) -> Load:
    """One wrk run of ``duration`` seconds, with a script of bench/lua/ if given."""
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s"]
    if script:
        cmd += ["-s", str(BENCH / "lua" / script)]
    if latency:
        cmd.append("--latency")
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    load = Load(
        rps=float(rps.group(1)), errors=int(errors.group(1)) if errors else 0, p50_ms=_p50_ms(out)
    )
    if load.errors:
        print(out, file=sys.stderr)
    return load


def _p50_ms(out: str) -> float | None:
    """The median of wrk's latency distribution (printed with --latency), in ms."""
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)", out, re.M)
    if p50 is None:
        return None
    value, unit = float(p50.group(1)), p50.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


# Servers.


@contextmanager
def server(
    app: str, env: dict[str, str], *, factory: bool = False, workers: int = 1
) -> Iterator[Server]:
    """``app`` served by uvicorn the same way for all (no access log), stopped afterwards."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning", "--workers", str(workers),
    ]  # fmt: skip
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(
        cmd,
        cwd=BENCH if app.split(":")[0] in BENCH_APPS else ROOT,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        wait_up(port)
        yield Server(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # the server answers (404 for the bench's own apps)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")
