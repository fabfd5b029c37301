"""Years of diary answered as fast as a week: latencies of sequential reads from one httpx
client over one keep-alive connection, the bare framework measured the same way in the same
run, so both carry the same client overhead.

A *cold* read is the first after a write: before each one the client writes (untimed) a
diary entry for the patient read, so no per-data-version cache can answer it. The *warm*
figure is the same read repeated without writes, printed beside the cold one. Requests send
``Accept-Encoding: identity``, as wrk does in the rows of bench/measuring.py.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from measuring import SERVICE, server
from seeding import REPORT_YEARS, ZONE, Diary, DiaryYears

#: Timed requests of each latency (the targets need at least 50).
READS = 50
#: The bare constant, measured over more requests: it is the yardstick of the others.
BARE_READS = 200
#: The FHIR report and the CSV of years of diary stop after this many seconds of each series,
#: once they have at least REPORT_MIN_READS.
REPORT_SECONDS = 60.0
REPORT_MIN_READS = 10
#: Cold summaries of the 8,000-day course.
LONG_COURSE_READS = 10
#: The second client's pause between two /healthz polls.
POLL_PAUSE_S = 0.002
FHIR_JSON = "application/fhir+json"
#: The patient list, whole: every linked patient on one page.
LIST_PATH = "/v1/patients?limit=500"
LIST_SORTS = {"default": "", "attention": "&sort=attention"}


@dataclass(frozen=True)
class Latency:
    """Sequential requests' times in ms, and the size of the last response's body."""

    ms: list[float]
    body_bytes: int = 0

    @property
    def p50(self) -> float:
        return statistics.median(self.ms)

    @property
    def p99(self) -> float:
        """Nearest rank: with 50 requests, the slowest."""
        ordered = sorted(self.ms)
        return ordered[math.ceil(0.99 * len(ordered)) - 1]


@dataclass(frozen=True)
class ColdWarm:
    cold: Latency
    warm: Latency


@dataclass(frozen=True)
class Memory:
    """The server's resident set and its peak (VmRSS, VmHWM), in MB (10⁶ bytes)."""

    rss_mb: float
    peak_mb: float


@dataclass(frozen=True)
class LongCourse:
    """The 8,000-day course's summary on a server of its own."""

    summary: ColdWarm
    #: The server's memory before the cold summaries (peak reset) and after them.
    before: Memory
    after: Memory
    #: /healthz polled by a second client while the cold summaries ran.
    healthz: Latency
    #: The status of a PUT of an entry on the course's first day, 8,000 days ago.
    first_day_write: int


@dataclass(frozen=True)
class DiaryReads:
    """Everything the years-of-diary rows measured on one backend (`table.py` prints it)."""

    backend: str
    bare: Latency
    #: By years of course: the summaries, and the entries of each diary.
    summaries: dict[int, ColdWarm]
    entries: dict[int, int]
    csv: ColdWarm
    fhir: ColdWarm
    #: By (linked patients, sort).
    patient_lists: dict[tuple[int, str], ColdWarm]
    long_course: LongCourse


@dataclass(frozen=True)
class Read:
    path: str
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def measure_reads(backend: str, work: DiaryYears, reads: int = READS) -> DiaryReads:
    """The bare constant and the service's reads, both servers up, in a fixed order; then the
    8,000-day course on a fresh server (its memory is its own)."""
    with (
        server("bare_app:app", work.server) as bare_app,
        server(SERVICE, work.server, factory=True) as service,
    ):
        with connection(bare_app.base) as client:
            bare = warm_reads(client, Read("/constant"), BARE_READS)
        with connection(service.base) as client:
            summaries = {
                years: cold_and_warm(client, summary(diary), [diary.token], reads)
                for years, diary in work.diaries.items()
            }
            token = work.diaries[REPORT_YEARS].token
            csv = cold_and_warm(
                client, Read("/v1/patients/me/entries.csv", token), [token], reads, REPORT_SECONDS
            )
            fhir = cold_and_warm(
                client,
                Read("/v1/patients/me/report", token, {"Accept": FHIR_JSON}),
                [token],
                reads,
                REPORT_SECONDS,
            )
            patient_lists = {
                (size, sort): cold_and_warm(
                    client,
                    Read(LIST_PATH + query, clinic.clinician_token),
                    clinic.patient_tokens,
                    reads,
                )
                for size, clinic in work.clinics.items()
                for sort, query in LIST_SORTS.items()
            }
    return DiaryReads(
        backend=backend,
        bare=bare,
        summaries=summaries,
        entries={years: diary.entries for years, diary in work.diaries.items()},
        csv=csv,
        fhir=fhir,
        patient_lists=patient_lists,
        long_course=long_course(work),
    )


def long_course(work: DiaryYears) -> LongCourse:
    """Cold summaries of the 8,000-day course on a server of its own, with its memory before
    and after and a second client polling /healthz meanwhile."""
    diary = work.long_course
    with (
        server(SERVICE, work.server, factory=True) as service,
        connection(service.base) as client,
    ):
        # A year's summary first: the growth measured is the long course's, not the code's.
        timed(client, summary(work.diaries[1]))
        first_day = dt.datetime.combine(diary.course_start, dt.time(12), ZONE)
        first_day_write = write_entry(client, diary.token, first_day, check=False)
        reset_peak(service.pid)
        before = memory(service.pid)
        with polling_healthz(service.base) as healthz:
            cold = cold_reads(client, summary(diary), [diary.token], LONG_COURSE_READS)
        after = memory(service.pid)
        warm = warm_reads(client, summary(diary), LONG_COURSE_READS)
    return LongCourse(ColdWarm(cold, warm), before, after, Latency(healthz), first_day_write)


def summary(diary: Diary) -> Read:
    return Read(diary.summary_path, diary.token)


# The measuring loop.


@contextmanager
def connection(base: str) -> Iterator[httpx.Client]:
    """A client that keeps one connection alive for all its requests."""
    with httpx.Client(
        base_url=base,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        headers={"Accept-Encoding": "identity"},
        timeout=600,
    ) as client:
        yield client


def cold_and_warm(
    client: httpx.Client,
    read: Read,
    writers: list[str],
    count: int,
    seconds: float | None = None,
) -> ColdWarm:
    """``read`` cold (after a write by one of ``writers`` in turn), then warm, after one
    untimed read."""
    timed(client, read)
    return ColdWarm(
        cold_reads(client, read, writers, count, seconds), warm_reads(client, read, count, seconds)
    )


def cold_reads(
    client: httpx.Client, read: Read, writers: list[str], count: int, seconds: float | None = None
) -> Latency:
    """``read`` ``count`` times, each after an untimed new entry written by the next of
    ``writers`` (a patient's token)."""
    return series(
        client, read, count, seconds, lambda n: write_entry(client, writers[n % len(writers)])
    )


def warm_reads(
    client: httpx.Client, read: Read, count: int, seconds: float | None = None
) -> Latency:
    """``read`` ``count`` times over unchanged data, after one untimed read."""
    timed(client, read)
    return series(client, read, count, seconds)


def series(
    client: httpx.Client,
    read: Read,
    count: int,
    seconds: float | None = None,
    before: Callable[[int], object] | None = None,
) -> Latency:
    """``count`` timed reads, each after ``before(n)`` (untimed); with ``seconds``, fewer
    once that time has passed and REPORT_MIN_READS were taken."""
    started = time.monotonic()
    samples, size = [], 0
    for n in range(count):
        if before is not None:
            before(n)
        ms, size = timed(client, read)
        samples.append(ms)
        out_of_time = seconds is not None and time.monotonic() - started > seconds
        if out_of_time and len(samples) >= REPORT_MIN_READS:
            break
    return Latency(samples, size)


def timed(client: httpx.Client, read: Read) -> tuple[float, int]:
    """One GET, its whole body read: (ms, body bytes). Anything but 200 stops the run."""
    headers = dict(read.headers)
    if read.token:
        headers["Authorization"] = f"Bearer {read.token}"
    start = time.perf_counter()
    response = client.get(read.path, headers=headers)
    ms = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {read.path}: {response.status_code} {response.text[:500]}")
    return ms, len(response.content)


def write_entry(
    client: httpx.Client, token: str, at: dt.datetime | None = None, *, check: bool = True
) -> int:
    """PUT a new diary entry (made now, or ``at``) as the patient of ``token``; answers the
    status (with ``check``, anything but 201 stops the run)."""
    recorded_at = (at or dt.datetime.now(ZONE)).isoformat(timespec="seconds")
    response = client.put(
        f"/v1/patients/me/entries/{uuid.uuid4()}",
        json={"recorded_at": recorded_at, "pain": 4, "stress": 3},
        headers={"Authorization": f"Bearer {token}"},
    )
    if check and response.status_code != 201:
        raise SystemExit(f"PUT entry: {response.status_code} {response.text[:500]}")
    return response.status_code


@contextmanager
def polling_healthz(base: str) -> Iterator[list[float]]:
    """A second client on its own connection polling /healthz (pausing POLL_PAUSE_S between
    polls) for the block; the list fills with the polls' times in ms."""
    samples: list[float] = []
    failures: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        with connection(base) as client:
            while not stop.is_set():
                start = time.perf_counter()
                status = client.get("/healthz").status_code
                samples.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    failures.append(status)
                stop.wait(POLL_PAUSE_S)

    thread = threading.Thread(target=poll, name="healthz-poller")
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
    if failures:
        raise SystemExit(f"/healthz answered {failures[:5]} during the long course's summaries")


# The server's memory.


def memory(pid: int) -> Memory:
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024 / 1e6
    return Memory(rss_mb=fields["VmRSS"], peak_mb=fields["VmHWM"])


def reset_peak(pid: int) -> None:
    """Set the process's VmHWM back to its VmRSS (Linux 4.0+); where that is refused the
    peak stays the process's lifetime peak, which only overstates the growth."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass
