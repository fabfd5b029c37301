"""A soak test without loss: many simulated phones against a real server, then proof that
nothing the server acknowledged went missing.

Each patient has two phones and a feed reader. The phones create entries (PUT with fresh
client ids, POST with an ``Idempotency-Key``), edit them (PATCH/PUT with ``If-Match``, at
times with a stale version, as a tablet that had not synced would), delete them, send
batches (some sent twice verbatim, as after a lost response), and keep courses and sessions.
A few writes are sent with a timeout of milliseconds, so that their outcome is really
unknown; the phone retries them idempotently and then takes the server's word.

An abandoned attempt may still be applied long after its retry was answered (SQLite's
writers wait for the lock in no particular order). A conditional write then fails, as the
version has moved on, with one exception: a create-only write (``If-None-Match: *``, a batch
item's ``if_version: 0``) succeeds again once the record is deleted, as it should. So a
record whose create-only write had an unknown outcome is never deleted: the phone could not
know whether the abandoned attempt re-created it.

The model: every 2xx answer is an acknowledged state of one record at one version. A correct
server never shows two different states at one version, and a record's final state is its
acknowledged state with the highest version (deleted: a tombstone at that version). Writes
to records another phone may touch are conditional, so versions order them.

At the end (:func:`verify`): (a) every acknowledged state is what the list endpoints show,
field for field and version for version, deleted ones absent; (b) the changes feed read
from the start holds exactly the listed records at the listed versions, and a tombstone for
every acknowledged delete; (c) each feed reader's state, built only from the pages it
fetched along the way, equals that too; (d) no 5xx; (e) no record of one patient is seen by
another. ``bench/soak.py`` runs it from the command line; ``test_soak.py`` briefly in the suite.

The load lasts ``duration`` seconds, and with a ``goal`` until that holds too (at most
``longest`` seconds): on a slow machine a test gets the load it needs to prove anything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "soak-password-0123456789"
ENTRIES, COURSES, SESSIONS = "entries", "courses", "sessions"
COLLECTION = {"entry": ENTRIES, "course": COURSES, "session": SESSIONS}
OFFSETS = (0, 60, 120, -300, -240, 330, 345, -210)  # minutes; India and Nepal included
REGIONS = ("head", "neck", "lower_back", "knee", "shoulder", "hip", "jaw", "foot")
QUALITIES = ("aching", "sharp", "burning", "throbbing", "dull", "stiff")
TAGS = ("weather", "long drive", "yoga", "poor sleep", "work", "stairs", "period")
POINTS = ("LI4", "ST36", "GB20", "li 4", "LIV3", "SJ5", "EX-HN3", "DU20", "BL23", "KI3")
CANONICAL_POINTS = ("LI4", "ST36", "GB20", "BL23", "KI3")
CONDITIONS = ("neck_pain", "low_back_pain", "migraine", "osteoarthritis", "other")
MODALITIES = ("acupuncture", "electroacupuncture", "dry_needling", "medical_acupuncture")
RETRY_FOR = 120.0  # seconds a phone keeps retrying one write before it gives up


@dataclass
class SoakConfig:
    duration: float = 15.0
    patients: int = 10
    phones_per_patient: int = 2
    #: Requests in flight at once, over all phones (the server has a few cores, not 100).
    concurrency: int = 16
    #: Share of conditional writes sent with a timeout of a few milliseconds.
    impatient: float = 0.03
    #: Share of edits sent with a stale If-Match (412 expected).
    stale: float = 0.12
    think: float = 0.01  # a phone's pause between operations, at most, in seconds
    timeout: float = 60.0
    seed: int = 1
    #: Once ``duration`` is over, the load goes on until ``goal(stats)`` holds (if given) …
    goal: Callable[[Stats], bool] | None = None
    #: … for at most this many seconds in all.
    longest: float = 180.0


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    acknowledged: int = 0
    acknowledged_by_kind: Counter[str] = field(default_factory=Counter)
    deletes: int = 0
    conflicts: int = 0  # 412 answers
    batch_conflicts: int = 0
    replayed_batches: int = 0
    replayed_writes: int = 0
    unknown_outcomes: int = 0  # no answer (or a 5xx) to a write: retried
    abandoned: int = 0  # of those, writes sent with a timeout of milliseconds on purpose
    server_errors: int = 0
    lost: int = 0
    mismatches: int = 0
    unexpected: int = 0
    leaks: int = 0
    acknowledged_records: int = 0  # records acknowledged at least once
    records_checked: int = 0
    problems: list[str] = field(default_factory=list)
    #: (when it ended, seconds it took, kind) of every answered request
    timings: list[tuple[float, float, str]] = field(default_factory=list)
    load_started: float = 0.0

    def problem(self, counter: str, message: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        if len(self.problems) < 50:
            self.problems.append(f"{counter}: {message}")

    @property
    def ok(self) -> bool:
        failures = (self.lost, self.mismatches, self.unexpected, self.leaks, self.server_errors)
        return not any(failures)


@dataclass
class State:
    """One record at one version, as the server said it was."""

    version: int
    deleted: bool = False
    body: dict[str, Any] | None = None  # the whole record, when the answer carried it
    sent: dict[str, Any] | None = None  # else what the phone wrote (batch answers)


@dataclass
class Record:
    kind: str
    id: str
    author: int  # the phone that created it; only that phone deletes it
    acked: State | None = None  # the acknowledged state with the highest version
    seen: dict[int, State] = field(default_factory=dict)  # every state seen, by version

    @property
    def alive(self) -> bool:
        return self.acked is not None and not self.acked.deleted


@dataclass
class Patient:
    number: int
    id: str
    email: str
    access: str
    refresh: str
    records: dict[tuple[str, str], Record] = field(default_factory=dict)
    never: set[tuple[str, str]] = field(default_factory=set)  # ids refused, never stored
    #: records a create-only write of unknown outcome may still create (again): not deleted
    undeletable: set[tuple[str, str]] = field(default_factory=set)
    living: dict[str, dict[str, Record]] = field(default_factory=dict)  # kind → id → alive
    cursor: str | None = None
    synced: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    token_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def alive(self, kind: str) -> list[Record]:
        return list(self.living.get(kind, {}).values())

    def settle(self, record: Record, state: State) -> None:
        """``state`` is now the record's acknowledged state."""
        record.acked = state
        living = self.living.setdefault(record.kind, {})
        if state.deleted:
            living.pop(record.id, None)
        else:
            living[record.id] = record


class Unknown(Exception):
    """The request's outcome is unknown: no answer (timeout, connection lost) or a 5xx."""


class GaveUp(Exception):
    pass


class Api:
    """Loopback HTTP with bounded concurrency; counts every request and answer."""

    def __init__(self, client: httpx.AsyncClient, stats: Stats, config: SoakConfig) -> None:
        self.client = client
        self.stats = stats
        self.config = config
        self.gate = asyncio.Semaphore(config.concurrency)

    async def call(
        self,
        kind: str,
        method: str,
        url: str,
        patient: Patient | None = None,
        *,
        patience: float | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The answer; :class:`Unknown` when there was none (or a 5xx). ``patience``: this
        request's timeout in seconds, instead of the configured one."""
        for _ in range(3):
            token = patient.access if patient else None
            all_headers = dict(headers or {})
            if token:
                all_headers["Authorization"] = f"Bearer {token}"
            self.stats.requests[kind] += 1
            async with self.gate:
                started = time.monotonic()
                try:
                    response = await self.client.request(
                        method,
                        url,
                        headers=all_headers,
                        timeout=patience or self.config.timeout,
                        **kwargs,
                    )
                except httpx.TransportError as exc:
                    self.stats.transport_errors[type(exc).__name__] += 1
                    raise Unknown(type(exc).__name__) from exc
            ended = time.monotonic()
            self.stats.timings.append((ended, ended - started, kind))
            self.stats.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.stats.problem(
                    "server_errors",
                    f"{method} {url} → {response.status_code} {response.text[:300]}",
                )
                raise Unknown(str(response.status_code))
            if response.status_code == 401 and patient is not None:
                await refresh(self, patient, token)
                continue
            return response
        raise GaveUp(f"{method} {url}: still 401 after refreshing the token")


async def refresh(api: Api, patient: Patient, stale_token: str | None) -> None:
    async with patient.token_lock:
        if patient.access != stale_token:
            return  # another phone of this patient refreshed it meanwhile
        response = await api.call(
            "token",
            "POST",
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": patient.refresh},
        )
        response.raise_for_status()
        pair = response.json()
        patient.access, patient.refresh = pair["access_token"], pair["refresh_token"]


async def register(api: Api, n: int, run: str) -> Patient:
    email = f"soak-{run}-{n}@example.org"
    created = await api.call(
        "register",
        "POST",
        "/v1/auth/register",
        json={"email": email, "password": PASSWORD, "role": "patient"},
    )
    if created.status_code != 201:
        raise RuntimeError(f"register: {created.status_code} {created.text}")
    token = await api.call(
        "token",
        "POST",
        "/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": PASSWORD},
    )
    if token.status_code != 200:
        raise RuntimeError(f"token: {token.status_code} {token.text}")
    pair = token.json()
    return Patient(n, created.json()["id"], email, pair["access_token"], pair["refresh_token"])


# --- what a phone writes, and how to tell whether the server kept it ---------------------


def _moment(rng: random.Random, days_back: float = 45) -> dt.datetime:
    offset = dt.timezone(dt.timedelta(minutes=rng.choice(OFFSETS)))
    ago = dt.timedelta(days=rng.uniform(0, days_back), seconds=rng.randint(60, 3600))
    return (dt.datetime.now(dt.UTC) - ago).astimezone(offset).replace(microsecond=0)


def entry_body(rng: random.Random, note: str) -> dict[str, Any]:
    recorded = _moment(rng)
    body: dict[str, Any] = {"recorded_at": recorded.isoformat(), "pain": rng.randint(0, 10)}
    body["notes"] = note
    if rng.random() < 0.5:
        body["pain_worst"] = rng.randint(body["pain"], 10)
    if rng.random() < 0.2:
        body["local_date"] = (recorded.date() - dt.timedelta(days=1)).isoformat()
    if rng.random() < 0.5:
        body["sleep_hours"] = rng.choice([4.5, 6, 7.25, 8, 9.5])
        body["sleep_quality"] = rng.randint(0, 10)
    for name in ("stress", "mood", "activity_interference", "enjoyment_interference"):
        if rng.random() < 0.4:
            body[name] = rng.randint(0, 10)
    if rng.random() < 0.4:
        body["sites"] = [
            {"region": region, "side": rng.choice(["left", "right", "both"]), "intensity": 5}
            | ({"qualities": rng.sample(QUALITIES, 2)} if rng.random() < 0.5 else {})
            for region in rng.sample(REGIONS, rng.randint(1, 3))
        ]
    if rng.random() < 0.3:
        body["medications"] = [
            {"name": "ibuprofen", "dose": 400, "unit": "mg", "kind": "as_needed"},
            {"name": "amitriptyline", "kind": "preventive"},
        ][: rng.randint(1, 2)]
    if rng.random() < 0.4:
        body["tags"] = rng.sample(TAGS, rng.randint(1, 3))
    return body


def entry_patch(rng: random.Random, note: str) -> dict[str, Any]:
    patch: dict[str, Any] = {"notes": note, "pain": rng.randint(0, 10)}
    choice = rng.random()
    if choice < 0.2:
        patch["tags"] = rng.sample(TAGS, 2)
    elif choice < 0.35:
        patch["sleep_hours"] = None  # merge patch: null clears
    elif choice < 0.45:
        patch["recorded_at"] = _moment(rng).isoformat()
    return patch


def course_body(rng: random.Random, note: str) -> dict[str, Any]:
    start = dt.date.today() - dt.timedelta(days=rng.randint(0, 60))
    body: dict[str, Any] = {
        "name": f"Course {note}",
        "condition": rng.choice(CONDITIONS),
        "modality": rng.choice(MODALITIES),
        "start_date": start.isoformat(),
        "notes": note,
    }
    if rng.random() < 0.5:
        body["end_date"] = (start + dt.timedelta(days=rng.randint(14, 70))).isoformat()
        body["planned_sessions"] = rng.randint(4, 12)
    if rng.random() < 0.5:
        body["practitioner"] = "Dr. Lin"
        body["pattern"] = "qi stagnation"
    return body


def session_body(rng: random.Random, note: str, course_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occurred_at": _moment(rng, 60).isoformat(),
        "points": rng.sample(POINTS, rng.randint(0, 5)),
        "notes": note,
    }
    if course_id is not None:
        body["course_id"] = course_id
    if rng.random() < 0.3:
        body["modality"] = "electroacupuncture"
        body["electro_frequency_hz"] = rng.choice([2, 15.5, 100])
    if rng.random() < 0.6:
        body["pain_before"] = rng.randint(3, 10)
        body["pain_after"] = rng.randint(0, body["pain_before"])
        body["duration_minutes"] = rng.choice([20, 30, 45])
    if rng.random() < 0.2:
        body["adverse_events"] = ["bruising"]
    return body


ENTRY_DEFAULTS: dict[str, Any] = {
    "pain_worst": None, "sites": [], "sleep_hours": None, "sleep_quality": None,
    "stress": None, "mood": None, "activity_interference": None,
    "enjoyment_interference": None, "medications": [], "tags": [], "notes": None,
}  # fmt: skip


def _instant(text: str) -> tuple[dt.datetime, dt.timedelta | None]:
    value = dt.datetime.fromisoformat(text)
    return value, value.utcoffset()


def expected_entry(sent: dict[str, Any]) -> dict[str, Any]:
    """The client fields a stored entry must show after ``sent`` was written whole."""
    out = ENTRY_DEFAULTS | {k: v for k, v in sent.items() if k != "if_version"}
    out["local_date"] = (
        sent.get("local_date") or _instant(sent["recorded_at"])[0].date().isoformat()
    )
    out["sites"] = [
        {"side": None, "intensity": None, "qualities": []} | site for site in out["sites"]
    ]
    out["medications"] = [{"dose": None, "unit": None} | m for m in out["medications"]]
    return out


def differences(record: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """The fields of ``record`` that do not hold what ``expected`` says (timestamps compared
    as instants with their offset)."""
    wrong = []
    for name, want in expected.items():
        have = record.get(name, "<absent>")
        if name in ("recorded_at", "occurred_at") and isinstance(have, str):
            if _instant(have) != _instant(want):
                wrong.append(f"{name}: {have!r} != {want!r}")
        elif have != want:
            wrong.append(f"{name}: {have!r} != {want!r}")
    return wrong


def same_state(a: State, b: State) -> bool:
    if a.deleted or b.deleted:
        return a.deleted == b.deleted
    if a.body is not None and b.body is not None:
        return a.body == b.body
    if a.body is not None and b.sent is not None:
        return not differences(a.body, expected_entry(b.sent))
    if b.body is not None and a.sent is not None:
        return not differences(b.body, expected_entry(a.sent))
    return (
        a.sent is not None
        and b.sent is not None
        and (expected_entry(a.sent) == expected_entry(b.sent))
    )


# --- a phone -----------------------------------------------------------------------------


class Phone:
    """One device of one patient. Device 0 also keeps the courses and sessions."""

    def __init__(
        self,
        api: Api,
        patient: Patient,
        device: int,
        everyone: list[Patient],
        rng: random.Random,
    ) -> None:
        self.api = api
        self.stats = api.stats
        self.config = api.config
        self.patient = patient
        self.device = device
        self.everyone = everyone
        self.rng = rng
        self.serial = 0

    # -- the model

    def note(self) -> str:
        """A text no other write carries: every write changes its record's content."""
        self.serial += 1
        return f"p{self.patient.number}d{self.device}n{self.serial}"

    def observe(self, kind: str, record_id: str, state: State, *, acknowledged: bool) -> None:
        key = (kind, record_id)
        record = self.patient.records.get(key)
        if record is None:
            record = self.patient.records[key] = Record(kind, record_id, self.device)
        before = record.seen.get(state.version)
        if before is not None and not same_state(before, state):
            self.stats.problem(
                "mismatches",
                f"{kind} {record_id}: two different states at version {state.version}: "
                f"{before} / {state}",
            )
        if before is None or (state.body is not None and before.body is None):
            record.seen[state.version] = state
        if not acknowledged:
            return
        self.stats.acknowledged += 1
        self.stats.acknowledged_by_kind[kind] += 1
        current = record.acked
        if current is None:
            self.stats.acknowledged_records += 1
        if (
            current is None
            or state.version > current.version
            or (state.version == current.version and state.body and not current.body)
        ):
            self.patient.settle(record, state)

    def ack_body(self, kind: str, body: dict[str, Any], sent: dict[str, Any] | None) -> None:
        """A 2xx answer carrying the record; ``sent`` (entries written whole) must show in it."""
        if body.get("patient_id") != self.patient.id:
            self.stats.problem("leaks", f"{kind} {body.get('id')} answered for another patient")
        if sent is not None and kind == "entry":
            wrong = differences(body, expected_entry(sent))
            if wrong:
                self.stats.problem("mismatches", f"entry {body['id']} answered {wrong}")
        self.observe(kind, body["id"], State(body["version"], body=body), acknowledged=True)

    def ack_deleted(self, kind: str, record_id: str, version: int) -> None:
        self.stats.deletes += 1
        self.observe(kind, record_id, State(version, deleted=True), acknowledged=True)

    def url(self, kind: str, record_id: str | None = None) -> str:
        base = f"/v1/patients/me/{COLLECTION[kind]}"
        return base if record_id is None else f"{base}/{record_id}"

    def unexpected(self, what: str, response: httpx.Response) -> None:
        self.stats.problem("unexpected", f"{what}: {response.status_code} {response.text[:300]}")

    # -- requests with an unknown outcome retried until the server answers

    async def definite(
        self, kind: str, method: str, url: str, *, impatient: bool = False, **kwargs: Any
    ) -> tuple[httpx.Response, bool]:
        """The server's answer to this request, retried verbatim while the outcome is
        unknown; the flag says whether an earlier attempt may have been applied."""
        deadline = time.monotonic() + RETRY_FOR
        attempt = 0
        uncertain = False
        while True:
            patience = self.rng.uniform(0.002, 0.03) if impatient and attempt == 0 else None
            label = kind if attempt == 0 else f"{kind} (retry)"
            try:
                response = await self.api.call(
                    label, method, url, self.patient, patience=patience, **kwargs
                )
            except Unknown:
                uncertain = True
                self.stats.unknown_outcomes += attempt == 0
                self.stats.abandoned += attempt == 0 and impatient
                attempt += 1
                if time.monotonic() > deadline:
                    raise GaveUp(f"{method} {url}: no answer for {RETRY_FOR} s") from None
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
                continue
            if response.status_code == 409 and "Idempotency-Key" in kwargs.get("headers", {}):
                # The first attempt is still being processed: wait for its answer.
                if time.monotonic() > deadline:
                    raise GaveUp(f"{method} {url}: 409 for {RETRY_FOR} s")
                attempt += 1
                await asyncio.sleep(0.25)
                continue
            return response, uncertain

    async def read(self, kind: str, record_id: str) -> dict[str, Any] | None:
        """Re-read a record (the server's word); None when it is not there."""
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                response = await self.api.call(
                    "get", "GET", self.url(kind, record_id), self.patient
                )
                break
            except Unknown:
                if time.monotonic() > deadline:
                    raise GaveUp(f"GET {kind} {record_id}: no answer") from None
                await asyncio.sleep(0.1)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self.unexpected(f"GET {kind} {record_id}", response)
            return None
        body = response.json()
        if response.headers.get("etag") != f'"{body["version"]}"':
            self.stats.problem("mismatches", f"{kind} {record_id}: ETag {response.headers}")
        self.observe(kind, record_id, State(body["version"], body=body), acknowledged=False)
        return dict(body)

    # -- the operations

    async def run(self, over: Callable[[], bool]) -> None:
        operations = [
            (self.put_new_entry, 18),
            (self.post_new_entry, 8),
            (self.patch_entry, 16),
            (self.replace_entry, 7),
            (self.delete_entry, 6),
            (self.batch, 7),
            (self.conditional_get, 4),
            (self.probe_other_patient, 1),
        ]
        if self.device == 0:
            operations += [
                (self.new_course, 2),
                (self.patch_course, 2),
                (self.delete_course, 1),
                (self.new_session, 6),
                (self.patch_session, 3),
                (self.delete_session, 1),
                (self.revive_entry, 1),
            ]
        actions = [op for op, _ in operations]
        weights = [w for _, w in operations]
        while not over():
            action = self.rng.choices(actions, weights)[0]
            try:
                await action()
            except GaveUp as exc:
                self.stats.problem("unexpected", f"gave up: {exc}")
            await asyncio.sleep(self.rng.uniform(0, self.config.think))

    def deletable(self, record: Record) -> bool:
        return (record.kind, record.id) not in self.patient.undeletable

    def pick(self, kind: str) -> Record | None:
        alive = self.patient.alive(kind)
        return self.rng.choice(alive) if alive else None

    def if_match(self, record: Record) -> tuple[int, bool]:
        """The version to send in If-Match, and whether it is deliberately stale."""
        assert record.acked is not None
        version = record.acked.version
        if version > 1 and self.rng.random() < self.config.stale:
            return self.rng.randint(1, version - 1), True
        return version, False

    async def put_new_entry(self) -> None:
        record_id = str(uuid.uuid4())
        body = entry_body(self.rng, self.note())
        create_only = self.rng.random() < 0.5
        headers = {"If-None-Match": "*"} if create_only else {}
        # Only a conditional write is safe to abandon: a late first attempt cannot land
        # over a newer write.
        impatient = create_only and self.rng.random() < self.config.impatient
        response, uncertain = await self.definite(
            "put new entry",
            "PUT",
            self.url("entry", record_id),
            json=body,
            headers=headers,
            impatient=impatient,
        )
        if uncertain and create_only:
            self.patient.undeletable.add(("entry", record_id))
        if response.status_code in (200, 201):
            self.ack_body("entry", response.json(), body)
        elif response.status_code == 412 and uncertain:
            await self.settle_create("entry", record_id, body)
            return
        else:
            self.unexpected("PUT new entry", response)
            return
        if not create_only and self.rng.random() < 0.1:
            # The answer was lost: the phone sends the same PUT again.
            self.stats.replayed_writes += 1
            again, _ = await self.definite(
                "put replay", "PUT", self.url("entry", record_id), json=body
            )
            if again.status_code == 200:
                self.ack_body("entry", again.json(), body)
            else:
                self.unexpected("PUT replay", again)

    async def settle_create(
        self, kind: str, record_id: str, sent: dict[str, Any], version: int = 1
    ) -> None:
        """A create-only write retried after an unknown outcome was refused (412): the first
        attempt was applied. The server's word decides."""
        body = await self.read(kind, record_id)
        if body is None:
            self.stats.problem("lost", f"{kind} {record_id}: 412 on create, yet absent")
        elif body["version"] == version:
            self.ack_body(kind, body, sent if kind == "entry" else None)
        # else the other phone has changed it since: its answer is the acknowledged state

    async def post_new_entry(self) -> None:
        await self.post_new("entry", entry_body(self.rng, self.note()))

    async def post_new(self, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        key = str(uuid.uuid4())
        impatient = self.rng.random() < self.config.impatient
        response, _ = await self.definite(
            f"post new {kind}",
            "POST",
            self.url(kind),
            json=body,
            headers={"Idempotency-Key": key},
            impatient=impatient,
        )
        if response.status_code != 201:
            self.unexpected(f"POST {kind}", response)
            return None
        created = response.json()
        if response.headers.get("location", "").rsplit("/", 1)[-1] != created["id"]:
            self.stats.problem("mismatches", f"POST {kind}: Location {response.headers}")
        self.ack_body(kind, created, body)
        if self.rng.random() < 0.1:
            self.stats.replayed_writes += 1
            again, _ = await self.definite(
                f"post {kind} replay",
                "POST",
                self.url(kind),
                json=body,
                headers={"Idempotency-Key": key},
            )
            if (
                again.content != response.content
                or again.headers.get("idempotent-replayed") != "true"
            ):
                self.stats.problem("mismatches", f"POST {kind} replay: {again.text[:300]}")
        return dict(created)

    async def edit(
        self,
        kind: str,
        record: Record,
        method: str,
        make: Any,
    ) -> None:
        """PATCH or PUT with If-Match; on 412 re-read and apply the change on top (3 tries)."""
        version, stale = self.if_match(record)
        for _ in range(3):
            body = make()
            impatient = self.rng.random() < self.config.impatient
            response, uncertain = await self.definite(
                f"{method.lower()} {kind}",
                method,
                self.url(kind, record.id),
                json=body,
                headers={"If-Match": f'"{version}"'},
                impatient=impatient,
            )
            sent = body if method == "PUT" and kind == "entry" else None
            if response.status_code == 200:
                answer = response.json()
                if stale or answer["version"] != version + 1:
                    self.stats.problem(
                        "mismatches",
                        f"{kind} {record.id}: If-Match {version} (stale: {stale}) answered "
                        f"200 at version {answer['version']}",
                    )
                if method == "PATCH":
                    wrong = differences(answer, {k: v for k, v in body.items() if v is not None})
                    wrong += [
                        f"{k} not cleared" for k, v in body.items() if v is None and answer[k]
                    ]
                    if wrong:
                        self.stats.problem("mismatches", f"PATCH {kind} {record.id}: {wrong}")
                self.ack_body(kind, answer, sent)
                if self.rng.random() < 0.05:
                    # Lost answer: the same conditional write again is answered 200 (RFC 9110).
                    self.stats.replayed_writes += 1
                    again, _ = await self.definite(
                        f"{method.lower()} replay",
                        method,
                        self.url(kind, record.id),
                        json=body,
                        headers={"If-Match": f'"{version}"'},
                    )
                    if again.status_code == 200:
                        self.ack_body(kind, again.json(), sent)
                    elif again.status_code not in (404, 412):  # another device got there
                        self.unexpected(f"{method} replay", again)
                return
            if response.status_code == 404:
                return  # deleted meanwhile, by the other phone
            if response.status_code != 412:
                self.unexpected(f"{method} {kind}", response)
                return
            self.stats.conflicts += 1
            current = await self.read(kind, record.id)
            if current is None:
                return
            if uncertain and not stale and current["version"] == version + 1:
                # The abandoned first attempt was applied: is it ours?
                if self.settled_edit(method, current, body):
                    self.ack_body(kind, current, sent)
                    return
            version, stale = current["version"], False

    def settled_edit(self, method: str, current: dict[str, Any], body: dict[str, Any]) -> bool:
        if method == "PUT":
            return current.get("notes") == body.get("notes")
        return all(current.get(k) == v for k, v in body.items() if k in ("notes", "name"))

    async def patch_entry(self) -> None:
        record = self.pick("entry")
        if record is not None:
            await self.edit("entry", record, "PATCH", lambda: entry_patch(self.rng, self.note()))

    async def replace_entry(self) -> None:
        record = self.pick("entry")
        if record is not None:
            await self.edit("entry", record, "PUT", lambda: entry_body(self.rng, self.note()))

    async def delete(self, kind: str, record: Record) -> bool:
        """DELETE with If-Match; True when this phone's delete is acknowledged."""
        version, stale = self.if_match(record)
        for _ in range(3):
            impatient = self.rng.random() < self.config.impatient
            response, uncertain = await self.definite(
                f"delete {kind}",
                "DELETE",
                self.url(kind, record.id),
                headers={"If-Match": f'"{version}"'},
                impatient=impatient,
            )
            if response.status_code == 204:
                if stale:
                    self.stats.problem("mismatches", f"{kind} {record.id}: stale DELETE accepted")
                self.ack_deleted(kind, record.id, version + 1)
                if self.rng.random() < 0.1:  # lost answer: a plain DELETE again is a no-op
                    self.stats.replayed_writes += 1
                    again, _ = await self.definite(
                        f"delete {kind} replay", "DELETE", self.url(kind, record.id)
                    )
                    if again.status_code != 204:
                        self.unexpected("DELETE replay", again)
                return True
            if response.status_code == 404:
                return False
            if response.status_code != 412:
                self.unexpected(f"DELETE {kind}", response)
                return False
            self.stats.conflicts += 1
            current = await self.read(kind, record.id)
            if current is None:
                if uncertain and not stale:
                    # Only this phone deletes this record: the abandoned attempt did it.
                    self.ack_deleted(kind, record.id, version + 1)
                    return True
                return False
            version, stale = current["version"], False
        return False

    async def delete_entry(self) -> None:
        # Each phone deletes only entries it created, so that every delete has one author.
        for _ in range(5):
            record = self.pick("entry")
            if record is not None and record.author == self.device and self.deletable(record):
                await self.delete("entry", record)
                return

    async def revive_entry(self) -> None:
        """Re-create a deleted entry at its old id: versions continue after the tombstone."""
        dead = [
            r
            for r in self.patient.records.values()
            if r.kind == "entry" and r.acked is not None and r.acked.deleted
        ]
        if not dead:
            return
        record = self.rng.choice(dead)
        assert record.acked is not None
        body = entry_body(self.rng, self.note())
        response, uncertain = await self.definite(
            "revive entry",
            "PUT",
            self.url("entry", record.id),
            json=body,
            headers={"If-None-Match": "*"},
        )
        if uncertain:
            self.patient.undeletable.add(("entry", record.id))
        if response.status_code == 201:
            if response.json()["version"] != record.acked.version + 1:
                self.stats.problem(
                    "mismatches", f"revived {record.id} at {response.json()['version']}"
                )
            self.ack_body("entry", response.json(), body)
        elif response.status_code == 412 and uncertain:
            await self.settle_create("entry", record.id, body, record.acked.version + 1)
        else:
            self.unexpected("revive", response)

    async def batch(self) -> None:
        items: list[dict[str, Any]] = []
        fresh: set[str] = set()
        impatient = self.rng.random() < self.config.impatient * 3
        alive = self.patient.alive("entry")
        for _ in range(self.rng.randint(3, 40)):
            roll = self.rng.random()
            valid = [item for item in items if item["pain"] <= 10]
            if roll < 0.55 or not alive:
                item = {"id": str(uuid.uuid4()), **entry_body(self.rng, self.note())}
                if impatient or self.rng.random() < 0.5:
                    item["if_version"] = 0  # only if absent: safe to retry after a timeout
                fresh.add(item["id"])
                items.append(item)
            elif roll < 0.86:
                record = self.rng.choice(alive)
                version, _ = self.if_match(record)
                items.append(
                    {"id": record.id, **entry_body(self.rng, self.note()), "if_version": version}
                )
            elif roll < 0.94 and valid:
                earlier = self.rng.choice(valid)  # edited again before it was sent
                items.append({**earlier, "pain": self.rng.randint(0, 10), "notes": self.note()})
            else:
                bad = {"id": str(uuid.uuid4()), **entry_body(self.rng, self.note()), "pain": 11}
                self.patient.never.add(("entry", bad["id"]))
                items.append(bad)
        url = self.url("entry") + "/batch"
        response, uncertain = await self.definite(
            "batch", "POST", url, json={"items": items}, impatient=impatient
        )
        self.create_only_unknown(items, uncertain)
        if response.status_code != 200:
            self.unexpected("batch", response)
            return
        first = response.json()["results"]
        await self.settle_batch(items, first, fresh if not uncertain else set())
        if self.rng.random() < 0.25:
            # The answer was lost: the phone sends the very same batch again.
            self.stats.replayed_batches += 1
            again, uncertain = await self.definite(
                "batch replay", "POST", url, json={"items": items}
            )
            self.create_only_unknown(items, uncertain)
            if again.status_code != 200:
                self.unexpected("batch replay", again)
                return
            replay = again.json()["results"]
            for item, before, after in zip(items, first, replay, strict=True):
                if not replayed_alike(item, before, after):
                    self.stats.problem("mismatches", f"batch replay {before} → {after}")
            await self.settle_batch(items, replay, set())

    def create_only_unknown(self, items: list[dict[str, Any]], uncertain: bool) -> None:
        if uncertain:
            for item in items:
                if item.get("if_version") == 0:
                    self.patient.undeletable.add(("entry", item["id"]))

    async def settle_batch(
        self, items: list[dict[str, Any]], results: list[dict[str, Any]], fresh: set[str]
    ) -> None:
        """Acknowledge each applied item; ``fresh``: new ids that cannot conflict."""
        if len(results) != len(items):
            self.stats.problem("mismatches", f"batch: {len(items)} items, {len(results)} results")
            return
        last = {item["id"]: n for n, item in enumerate(items) if item["pain"] <= 10}
        for n, (item, result) in enumerate(zip(items, results, strict=True)):
            status = result["status"]
            if result["id"] != item["id"]:
                self.stats.problem("mismatches", f"batch result {n}: {result} for {item['id']}")
            elif item["pain"] > 10:
                if status != "invalid":
                    self.stats.problem("mismatches", f"batch: invalid item {result}")
            elif last[item["id"]] != n:
                continue  # superseded by a later item with its id: reports that one's outcome
            elif status in ("created", "updated", "unchanged"):
                sent = {k: v for k, v in item.items() if k not in ("id", "if_version")}
                state = State(result["version"], sent=sent)
                self.observe("entry", item["id"], state, acknowledged=True)
            elif status == "conflict":
                self.stats.batch_conflicts += 1
                if item["id"] in fresh:
                    self.stats.problem("unexpected", f"batch: a new id in conflict {result}")
                await self.read("entry", item["id"])  # the phone fetches what won
            else:
                self.stats.problem("unexpected", f"batch item {item['id']}: {result}")

    async def conditional_get(self) -> None:
        record = self.pick("entry")
        if record is None or record.acked is None:
            return
        version = record.acked.version
        url = self.url("entry", record.id)
        try:
            response = await self.api.call(
                "conditional get",
                "GET",
                url,
                self.patient,
                headers={"If-None-Match": f'"{version}"'},
            )
        except Unknown:
            return
        if response.status_code == 200 and response.json()["version"] == version:
            self.stats.problem("mismatches", f"GET If-None-Match {version} → 200 at {version}")
        elif response.status_code not in (200, 304, 404):
            self.unexpected("conditional GET", response)

    async def probe_other_patient(self) -> None:
        """Another patient's data must answer 404, whichever way it is asked for."""
        other = self.rng.choice(self.everyone)
        if other is self.patient:
            return
        urls = [f"/v1/patients/{other.id}/entries", f"/v1/patients/{other.id}/changes"]
        theirs = [r for r in other.records.values() if r.alive]
        if theirs:
            record = self.rng.choice(theirs)
            urls.append(self.url(record.kind, record.id))
        for url in urls:
            try:
                response = await self.api.call("probe other patient", "GET", url, self.patient)
            except Unknown:
                continue
            if response.status_code != 404:
                self.stats.problem("leaks", f"{url} → {response.status_code} for {self.patient.id}")

    async def put_new_create_only(self, kind: str, body: dict[str, Any]) -> None:
        """A new course or session at a fresh id, create-only (``If-None-Match: *``)."""
        record_id = str(uuid.uuid4())
        response, uncertain = await self.definite(
            f"put new {kind}",
            "PUT",
            self.url(kind, record_id),
            json=body,
            headers={"If-None-Match": "*"},
            impatient=self.rng.random() < self.config.impatient,
        )
        if uncertain:
            self.patient.undeletable.add((kind, record_id))
        if response.status_code == 201:
            self.ack_body(kind, response.json(), None)
        elif response.status_code == 412 and uncertain:
            await self.settle_create(kind, record_id, body)
        else:
            self.unexpected(f"PUT {kind}", response)

    async def new_course(self) -> None:
        if len(self.patient.alive("course")) >= 4:
            return
        body = course_body(self.rng, self.note())
        if self.rng.random() < 0.5:
            await self.post_new("course", body)
            return
        await self.put_new_create_only("course", body)

    async def patch_course(self) -> None:
        record = self.pick("course")
        if record is not None:
            await self.edit(
                "course",
                record,
                "PATCH",
                lambda: {"notes": self.note(), "planned_sessions": self.rng.randint(4, 12)},
            )

    async def delete_course(self) -> None:
        record = self.pick("course")
        if record is None or not self.deletable(record):
            return
        attached = [
            s
            for s in self.patient.alive("session")
            if s.acked is not None
            and s.acked.body is not None
            and s.acked.body["course_id"] == record.id
        ]
        if not await self.delete("course", record):
            return
        # The course's sessions stay, detached from it, each one version later.
        for session in attached:
            assert session.acked is not None and session.acked.body is not None
            before = session.acked.body
            after = await self.read("session", session.id)
            expected = {**before, "course_id": None, "version": before["version"] + 1}
            if after is None:
                self.stats.problem("lost", f"session {session.id} gone with its course")
                continue
            wrong = [k for k in expected if k != "updated_at" and after.get(k) != expected[k]]
            if wrong:
                self.stats.problem("mismatches", f"detached session {session.id}: {wrong}")
            # Not a write of the phone's, but the state the server now owes it.
            self.patient.settle(session, State(after["version"], body=after))

    async def new_session(self) -> None:
        course = self.pick("course") if self.rng.random() < 0.7 else None
        body = session_body(self.rng, self.note(), course.id if course else None)
        if self.rng.random() < 0.5:
            await self.post_new("session", body)
            return
        await self.put_new_create_only("session", body)

    async def patch_session(self) -> None:
        record = self.pick("session")
        if record is not None:
            await self.edit(
                "session",
                record,
                "PATCH",
                lambda: {"notes": self.note(), "points": self.rng.sample(CANONICAL_POINTS, 2)},
            )

    async def delete_session(self) -> None:
        record = self.pick("session")
        if record is not None and self.deletable(record):
            await self.delete("session", record)


def replayed_alike(item: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether a batch item's answer to a verbatim replay fits its first answer: applied
    items are unchanged now, or in conflict (conditional) or written again (unconditional)
    when another phone changed them since."""
    if before["status"] == "invalid":
        return after == before
    if after["status"] == "conflict":
        return after["version"] != before["version"] or before["status"] == "conflict"
    if after["status"] == "updated":
        return item.get("if_version") is None and after["version"] > before["version"]
    return after["status"] == "unchanged" and after["version"] == before["version"]


# --- the feed reader ---------------------------------------------------------------------


async def sync(api: Api, patient: Patient, rng: random.Random) -> None:
    """Fetch the changes after the stored cursor until there are none left."""
    deadline = time.monotonic() + RETRY_FOR
    while True:
        params: dict[str, Any] = {"limit": rng.choice([5, 20, 100, 500])}
        if patient.cursor is not None:
            params["since"] = patient.cursor
        try:
            response = await api.call(
                "changes feed", "GET", f"/v1/patients/{patient.id}/changes", patient, params=params
            )
        except Unknown:
            if time.monotonic() > deadline:
                raise GaveUp(f"changes feed: no answer for {RETRY_FOR} s") from None
            await asyncio.sleep(0.2)
            continue
        if response.status_code != 200:
            api.stats.problem("unexpected", f"feed: {response.status_code} {response.text[:300]}")
            return
        page = response.json()
        for change in page["changes"]:
            key = (change["type"], change["id"])
            before = patient.synced.get(key)
            if before is not None and change["version"] <= before["version"]:
                api.stats.problem(
                    "mismatches", f"feed sent {key} at {change['version']} again after {before}"
                )
            data = change.get("data")
            if data is not None and data.get("patient_id") != patient.id:
                api.stats.problem("leaks", f"feed of {patient.id} holds {data}")
            patient.synced[key] = change
        patient.cursor = page["next_cursor"]
        if not page["has_more"]:
            return


async def keep_syncing(
    api: Api, patient: Patient, rng: random.Random, over: Callable[[], bool]
) -> None:
    while not over():
        try:
            await sync(api, patient, rng)
        except GaveUp as exc:
            api.stats.problem("unexpected", f"gave up: {exc}")
            return
        await asyncio.sleep(rng.uniform(0.1, 1.5))


# --- the checks at the end ---------------------------------------------------------------


async def _final_read(
    api: Api, patient: Patient, url: str, params: dict[str, Any]
) -> httpx.Response:
    deadline = time.monotonic() + RETRY_FOR
    while time.monotonic() < deadline:
        try:
            response = await api.call("final read", "GET", url, patient, params=params)
        except Unknown:
            await asyncio.sleep(0.5)
            continue
        response.raise_for_status()
        return response
    raise GaveUp(f"GET {url}: no answer for {RETRY_FOR} s")


async def _pages(api: Api, patient: Patient, url: str, key: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor_name = "since" if key == "changes" else "cursor"
    cursor = None
    while True:
        query = dict(params) | ({cursor_name: cursor} if cursor else {})
        response = await _final_read(api, patient, url, query)
        page = response.json()
        items += page[key]
        cursor = page["next_cursor"]
        if key == "changes" and not page["has_more"]:
            return items
        if key != "changes" and cursor is None:
            return items


async def verify(api: Api, patient: Patient) -> None:
    stats = api.stats
    listed: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, collection in COLLECTION.items():
        items = await _pages(api, patient, f"/v1/patients/me/{collection}", "items", limit=37)
        for item in items:
            key = (kind, item["id"])
            if key in listed:
                stats.problem("mismatches", f"{key} listed twice")
            listed[key] = item
            if item["patient_id"] != patient.id:
                stats.problem("leaks", f"{key} of {item['patient_id']} listed for {patient.id}")

    # (a) every acknowledged state, as acknowledged; deleted ones absent.
    for key, record in patient.records.items():
        state = record.acked
        if state is None:
            continue
        stats.records_checked += 1
        item = listed.get(key)
        if state.deleted:
            if item is not None:
                stats.problem("lost", f"{key} deleted at {state.version}, listed at {item}")
            continue
        if item is None:
            stats.problem("lost", f"{key} acknowledged at {state.version}, not listed")
        elif state.body is not None and item != state.body:
            wrong = {k: (v, item.get(k)) for k, v in state.body.items() if item.get(k) != v}
            stats.problem("lost", f"{key} listed differently from its last answer: {wrong}")
        elif state.sent is not None:
            fields = differences(item, expected_entry(state.sent))
            if item["version"] != state.version or fields:
                stats.problem("lost", f"{key} at {item['version']}/{state.version}: {fields}")
    for key in listed:
        if key not in patient.records or patient.records[key].acked is None:
            stats.problem("mismatches", f"{key} listed, never acknowledged to {patient.id}")
    for key in patient.never & set(listed):
        stats.problem("mismatches", f"{key}: refused, yet stored")

    # (b) the feed from the start: the listed records at their versions, and the deletes.
    replayed = await _pages(api, patient, f"/v1/patients/{patient.id}/changes", "changes", limit=97)
    feed: dict[tuple[str, str], dict[str, Any]] = {}
    for change in replayed:
        key = (change["type"], change["id"])
        if key in feed:
            stats.problem("mismatches", f"feed from the start holds {key} twice")
        feed[key] = change
    compare_feed("feed from the start", feed, listed, patient, stats)

    # (c) what the reader built from the pages it fetched along the way.
    await sync(api, patient, random.Random(0))
    compare_feed("incremental sync", patient.synced, listed, patient, stats)
    url = f"/v1/patients/{patient.id}/changes"
    after = await _final_read(api, patient, url, {"since": patient.cursor})
    if after.json()["changes"]:
        stats.problem("mismatches", f"a drained cursor still returns {after.json()['changes']}")


def compare_feed(
    what: str,
    feed: dict[tuple[str, str], dict[str, Any]],
    listed: dict[tuple[str, str], dict[str, Any]],
    patient: Patient,
    stats: Stats,
) -> None:
    for key, item in listed.items():
        change = feed.get(key)
        if change is None or change["op"] != "upsert":
            stats.problem("mismatches", f"{what}: {key} listed, feed has {change}")
        elif change["version"] != item["version"] or change["data"] != item:
            wrong = {
                k: (v, change["data"].get(k)) for k, v in item.items() if change["data"].get(k) != v
            }
            stats.problem("mismatches", f"{what}: {key} listed ≠ feed (list, feed): {wrong}")
    for key, change in feed.items():
        if change["op"] == "upsert" and key not in listed:
            stats.problem("mismatches", f"{what}: {key} in the feed, not listed")
        if change["op"] == "delete":
            record = patient.records.get(key)
            if record is None or record.acked is None or not record.acked.deleted:
                stats.problem("mismatches", f"{what}: {key} deleted in the feed, not by the phone")
            elif change["version"] != record.acked.version:
                stats.problem("mismatches", f"{what}: {key} tombstone {change}, {record.acked}")
    for key, record in patient.records.items():
        if record.acked is not None and record.acked.deleted and key not in feed:
            stats.problem("mismatches", f"{what}: no tombstone for {key}")


# --- running it --------------------------------------------------------------------------


@dataclass
class Report:
    backend: str
    config: SoakConfig
    stats: Stats
    seconds: float
    check_seconds: float
    records: dict[str, int]


async def run_soak(base_url: str, config: SoakConfig, backend: str = "?") -> Report:
    stats = Stats()
    rng = random.Random(config.seed)
    run = uuid.uuid4().hex[:8]
    limits = httpx.Limits(
        max_connections=config.concurrency, max_keepalive_connections=config.concurrency
    )
    async with httpx.AsyncClient(base_url=base_url, limits=limits) as client:
        api = Api(client, stats, config)
        gate = asyncio.Semaphore(4)  # Argon2 is costly: a few registrations at a time

        async def one(n: int) -> Patient:
            async with gate:
                return await register(api, n, run)

        patients = list(await asyncio.gather(*(one(n) for n in range(config.patients))))
        started = stats.load_started = time.monotonic()

        def over() -> bool:
            """Once true, true for good (the counts only grow)."""
            elapsed = time.monotonic() - started
            if elapsed < config.duration:
                return False
            return config.goal is None or config.goal(stats) or elapsed >= config.longest

        tasks = []
        for patient in patients:
            for device in range(config.phones_per_patient):
                phone = Phone(api, patient, device, patients, random.Random(rng.random()))
                tasks.append(phone.run(over))
            tasks.append(keep_syncing(api, patient, random.Random(rng.random()), over))
        await asyncio.gather(*tasks)
        seconds = time.monotonic() - started
        await asyncio.gather(*(verify(api, p) for p in patients))
        check_seconds = time.monotonic() - started - seconds
    records: Counter[str] = Counter()
    for patient in patients:
        for record in patient.records.values():
            if record.alive:
                records[record.kind] += 1
    return Report(backend, config, stats, seconds, check_seconds, dict(records))


def summary(report: Report) -> str:
    s, c = report.stats, report.config
    total = sum(s.requests.values())
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.requests.items(), key=lambda kv: -kv[1]))
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(s.statuses.items()))
    acked = ", ".join(f"{k} {v}" for k, v in sorted(s.acknowledged_by_kind.items()))
    alive = ", ".join(f"{k} {v}" for k, v in sorted(report.records.items()))
    lines = [
        f"soak on {report.backend}: {report.seconds:.0f} s of load, {c.patients} patients "
        f"({c.phones_per_patient} phones and a feed reader each), {c.concurrency} requests "
        f"in flight at most; checks took {report.check_seconds:.1f} s",
        f"requests: {total} ({total / report.seconds:.0f}/s) — {kinds}",
        f"answers: {statuses}",
        f"acknowledged writes: {s.acknowledged} ({acked}); deletes {s.deletes}",
        f"conflicts: 412 × {s.conflicts}, batch conflicts {s.batch_conflicts}; "
        f"replayed batches {s.replayed_batches}, replayed single writes {s.replayed_writes}; "
        f"unknown outcomes retried {s.unknown_outcomes} ({s.abandoned} abandoned on purpose "
        f"after milliseconds; {dict(s.transport_errors) or 'no transport errors'})",
        f"records at the end: {alive}; acknowledged states checked {s.records_checked}",
        f"5xx = {s.server_errors}, lost = {s.lost}, mismatches = {s.mismatches}, "
        f"unexpected answers = {s.unexpected}, cross-patient leaks = {s.leaks}",
        latency_line(report),
        "RESULT: " + ("no loss" if s.ok else "FAILED"),
    ]
    lines += [f"  {p}" for p in s.problems]
    return "\n".join(lines)


def _quantile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def latency_line(report: Report) -> str:
    """Latency over the load, and per third of it: a server that degrades shows here."""
    start = report.stats.load_started
    timings = [t for t in report.stats.timings if start <= t[0] <= start + report.seconds]
    if not timings:
        return "latency: no requests"
    third = report.seconds / 3
    parts = []
    for n in range(3):
        part = [t[1] for t in timings if n * third <= t[0] - start < (n + 1) * third]
        parts.append(
            f"{len(part) / third:.0f} req/s, p50 {_quantile(part, 0.5) * 1000:.0f} ms, "
            f"p99 {_quantile(part, 0.99) * 1000:.0f} ms"
        )
    every = [t[1] for t in timings]
    by_kind: dict[str, list[float]] = {}
    for _, took, kind in timings:
        by_kind.setdefault(kind, []).append(took)
    medians = sorted(
        ((_quantile(v, 0.5), k) for k, v in by_kind.items() if len(v) >= 20), reverse=True
    )
    slowest = ", ".join(f"{k} {m * 1000:.0f} ms" for m, k in medians[:4])
    p50, p99 = _quantile(every, 0.5) * 1000, _quantile(every, 0.99) * 1000
    return (
        f"latency: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(every) * 1000:.0f} ms; "
        f"by thirds of the run: {' | '.join(parts)}; slowest medians: {slowest}"
    )


# --- a throwaway database ----------------------------------------------------------------


@contextmanager
def throwaway_database(backend: str, directory: Path, postgres_url: str | None) -> Iterator[str]:
    """A new, empty database (``serve`` migrates it); PostgreSQL's is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'soak.db'}"
        return
    if postgres_url is None:
        raise ValueError("a PostgreSQL URL is needed")
    from tests.databases import throwaway_postgres

    with throwaway_postgres(postgres_url, "paindiary_soak") as url:
        yield url


def soak(
    backend: str,
    directory: Path,
    config: SoakConfig,
    postgres_url: str | None,
    *,
    workers: int = 1,
) -> Report:
    """Start a server (``workers`` processes) on a new database, run the soak against it,
    stop it."""
    from tests.reliability.live_server import live_server

    with (
        throwaway_database(backend, directory, postgres_url) as url,
        live_server(url, directory, workers=workers) as server,
    ):
        report = asyncio.run(run_soak(server.base_url, config, backend))
        if report.stats.server_errors:
            report.stats.problems.append("server log tail:\n" + server.log()[-3000:])
    return report
