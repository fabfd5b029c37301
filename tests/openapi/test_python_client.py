"""A Python client generated from the OpenAPI document works against the running service.

openapi-python-client generates the client once per test worker from the document the app
builds (the ``openapi_file`` of this package's conftest), as a package of its own name; the
service runs as a real ``uvicorn`` process on a fresh, migrated database (SQLite, and
PostgreSQL when ``PAINDIARY_TEST_POSTGRES_URL`` is set). Every request goes through the
generated operations and models, as a phone or an integrator would make it; where the
generated client cannot express a request, the test says so where it steps outside it.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import httpx
import pytest

from app.core.migrations import upgrade
from tests.conftest import BACKENDS, PASSWORD, POSTGRES_URL, SECRET
from tests.databases import throwaway_postgres
from tests.openapi.conftest import ROOT, Ran, run

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
#: Seconds the service may take to answer ``/readyz`` with 200 (importing the app alone
#: takes several seconds on a loaded 2-core machine).
READY_WITHIN = 120
#: Seconds the service may take to stop after SIGTERM.
STOP_WITHIN = 30
#: The generator's configuration. SVG is text: without the override the generator drops the
#: chart's 200 response with a warning (it knows only JSON, octet-stream and ``text/*``).
#: Its post hooks would run ruff over the generated code, which the test does not need.
GENERATOR_CONFIG = {"content_type_overrides": {"image/svg+xml": "text/plain"}, "post_hooks": []}

#: West of UTC, so that an entry made yesterday in this offset is back-filled (received more
#: than a day after its date ended) only from tomorrow 10:00 UTC: never while a test runs.
#: (At UTC+02:00 it was back-filled from 22:00 UTC, and the test failed late in the day.)
OFFSET = dt.timezone(dt.timedelta(hours=-10))
TODAY = dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class GeneratedClient:
    """The generated package, imported under a name of its own for this test run."""

    package: str
    generation: Ran

    def api(self, tag: str, operation_id: str) -> ModuleType:
        """The module of one operation, as a phone developer imports it:
        ``from <package>.api.<tag> import <operation_id>``."""
        return importlib.import_module(f"{self.package}.api.{tag}.{operation_id}")

    @property
    def models(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.models")

    @property
    def clients(self) -> ModuleType:
        """``Client`` (anonymous) and ``AuthenticatedClient`` (bearer token)."""
        return importlib.import_module(f"{self.package}.client")


@pytest.fixture(scope="session")
def generated(
    openapi_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GeneratedClient]:
    if not GENERATOR.exists():
        pytest.fail(
            f"{GENERATOR} is missing: install the dev extra (`make install`), which holds "
            "openapi-python-client"
        )
    directory = tmp_path_factory.mktemp("openapi-python-client")
    config = directory / "config.json"
    config.write_text(json.dumps(GENERATOR_CONFIG))
    package = f"paindiary_client_{uuid.uuid4().hex[:12]}"
    command: list[str | Path] = [GENERATOR, "generate", "--path", openapi_file, "--config", config]
    ran = run([*command, "--meta", "none", "--output-path", directory / package], cwd=directory)
    assert ran.returncode == 0, ran.described()

    sys.path.insert(0, str(directory))
    try:
        yield GeneratedClient(package, ran)
    finally:
        sys.path.remove(str(directory))
        for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
            del sys.modules[name]


@dataclass(frozen=True)
class Service:
    base_url: str
    log: Path


def _serve(database_url: str, directory: Path, generated: GeneratedClient) -> Iterator[Service]:
    """``uvicorn`` serving the app on ``database_url`` (migrated first) on a free port, for
    as long as the fixture lasts; its output goes to ``directory/service.log``."""
    upgrade(database_url, configure_logger=False)
    log = directory / "service.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith("PAINDIARY_")}
    env |= {
        "PAINDIARY_DATABASE_URL": database_url,
        "PAINDIARY_SECRET_KEY": SECRET,
        # Every test registers and signs in from the same address.
        "PAINDIARY_WRITES_PER_MINUTE": "0",
        "PAINDIARY_SIGN_INS_PER_MINUTE": "0",
        "PAINDIARY_SIGN_UPS_PER_HOUR": "0",
        "PAINDIARY_DB_POOL_SIZE": "4",
    }
    # The socket is bound here and handed over, so no other process can take the port
    # between choosing it and uvicorn binding it.
    with socket.socket() as listener, log.open("wb") as output:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
        command += ["--fd", str(listener.fileno()), "--no-access-log", "--log-level", "warning"]
        process = subprocess.Popen(  # noqa: S603 (a fixed command)
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
            start_new_session=True,
        )
    service = Service(f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_ready(service, process, generated)
        yield service
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_ready(
    service: Service, process: subprocess.Popen[bytes], generated: GeneratedClient
) -> None:
    """Poll ``/readyz`` (through the generated ``readyz``) until it answers 200."""
    readyz = generated.api("operations", "readyz")
    deadline = time.monotonic() + READY_WITHIN
    answer = "no answer"
    with generated.clients.Client(base_url=service.base_url, timeout=httpx.Timeout(5)) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = service.log.read_text()
                pytest.fail(f"the service exited with {process.returncode}:\n{log}")
            try:
                response = readyz.sync_detailed(client=client)
            except httpx.TransportError as error:  # not listening yet
                answer = repr(error)
            else:
                if response.status_code == 200:
                    assert response.parsed.status == generated.models.ReadinessStatus.OK
                    return
                answer = f"{response.status_code} {response.content!r}"
            time.sleep(0.05)
    pytest.fail(
        f"the service was not ready within {READY_WITHIN} s (last: {answer}):\n"
        f"{service.log.read_text()}"
    )


@pytest.fixture(scope="session", params=BACKENDS)
def service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    generated: GeneratedClient,
) -> Iterator[Service]:
    """The service running on a fresh database of each backend."""
    directory = tmp_path_factory.mktemp(f"service-{request.param}")
    if request.param == "sqlite":
        yield from _serve(f"sqlite:///{directory / 'paindiary.db'}", directory, generated)
        return
    assert POSTGRES_URL is not None
    with throwaway_postgres(POSTGRES_URL, "paindiary_client") as url:
        yield from _serve(url, directory, generated)


@dataclass(frozen=True)
class SignedIn:
    """An account made through the generated client: its ``UserOut`` and an
    ``AuthenticatedClient`` holding its access token."""

    user: Any
    client: Any

    @property
    def id(self) -> str:
        return str(self.user.id)

    def accepting(self, media_type: str) -> Any:
        """A new ``AuthenticatedClient`` of this account that sends ``Accept: media_type``
        (to be closed by the caller). Not ``client.with_headers``: once the client has
        sent a request, that changes the headers of the client itself too."""
        return attrs.evolve(self.client, headers={"Accept": media_type})


def expect(response: Any, status: int) -> Any:
    """The parsed body of a generated ``Response`` with this status."""
    assert response.status_code == status, response.content
    return response.parsed


@pytest.fixture
def sign_up(generated: GeneratedClient, service: Service) -> Iterator[Callable[..., SignedIn]]:
    """``sign_up(role, display_name)``: registers an account (``auth_register``), signs in
    with the OAuth2 password form (``auth_token``) and checks the token with ``me_get``."""
    models = generated.models
    auth_register = generated.api("accounts", "auth_register")
    auth_token = generated.api("accounts", "auth_token")
    me_get = generated.api("accounts", "me_get")
    clients = ExitStack()
    anonymous = clients.enter_context(
        generated.clients.Client(base_url=service.base_url, raise_on_unexpected_status=True)
    )

    def make(role: str, display_name: str) -> SignedIn:
        email = f"{role}-{uuid.uuid4().hex[:12]}@example.org"
        registration = models.Registration(
            email=email, password=PASSWORD, role=models.Role(role), display_name=display_name
        )
        user = expect(auth_register.sync_detailed(client=anonymous, body=registration), 201)
        assert isinstance(user, models.UserOut)
        assert (user.email, user.role, user.display_name) == (email, role, display_name)
        assert (user.timezone, user.version) == ("UTC", 1)

        form = models.TokenRequest(grant_type="password", username=email, password=PASSWORD)
        tokens = expect(auth_token.sync_detailed(client=anonymous, body=form), 200)
        assert isinstance(tokens, models.TokenPair)
        assert tokens.token_type == "bearer"
        assert 0 < tokens.expires_in <= 900
        assert tokens.refresh_token != tokens.access_token

        client = clients.enter_context(
            generated.clients.AuthenticatedClient(
                base_url=service.base_url,
                token=tokens.access_token,
                raise_on_unexpected_status=True,
            )
        )
        me = expect(me_get.sync_detailed(client=client), 200)
        assert (me.id, me.email) == (user.id, email)
        return SignedIn(user, client)

    with clients:
        yield make


def at(days_ago: int, hour: int = 9) -> dt.datetime:
    """A time of day ``days_ago`` days before today (UTC's), at UTC−10:00 (its local date
    is that day)."""
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour), OFFSET)


def etag(version: int) -> str:
    return f'"{version}"'


def test_the_generator_warns_about_nothing(generated: GeneratedClient) -> None:
    """Each warning of openapi-python-client names a piece of the document it left out of
    the client (an operation, a response, a model)."""
    assert "Warning" not in generated.generation.output, generated.generation.described()


def test_entries_put_conditional_get_patch_and_batch(
    generated: GeneratedClient, sign_up: Callable[..., SignedIn]
) -> None:
    models = generated.models
    entries_put = generated.api("diary", "entries_put")
    entries_get = generated.api("diary", "entries_get")
    entries_patch = generated.api("diary", "entries_patch")
    entries_batch = generated.api("diary", "entries_batch")
    patient = sign_up("patient", "Pat Patient")

    entry_id = uuid.uuid4()
    entry = models.EntryIn(
        recorded_at=at(1, hour=8),
        pain=6,
        sleep_hours=6.5,
        stress=4,
        sites=[
            models.PainSite(
                region=models.BodyRegion.LOWER_BACK,
                side=models.Side.LEFT,
                qualities=[models.PainQuality.ACHING],
            )
        ],
        medications=[models.Medication(name="ibuprofen", kind=models.MedicationKind.AS_NEEDED)],
        tags=["long drive"],
        notes="stiff after the drive",
    )
    put = entries_put.sync_detailed(patient.id, entry_id, client=patient.client, body=entry)
    created = expect(put, 201)
    assert isinstance(created, models.EntryOut)
    assert (created.id, str(created.patient_id), created.version) == (entry_id, patient.id, 1)
    assert (created.pain, created.sleep_hours, created.stress) == (6, 6.5, 4)
    assert created.recorded_at == at(1, hour=8)
    assert created.recorded_at.utcoffset() == dt.timedelta(hours=-10)  # the offset sent
    assert created.local_date == TODAY - dt.timedelta(days=1)
    assert created.sites[0].region == models.BodyRegion.LOWER_BACK
    assert created.medications[0].kind == models.MedicationKind.AS_NEEDED
    assert (created.tags, created.backfilled) == (["long drive"], False)
    assert put.headers["ETag"] == etag(1)
    assert put.headers["Location"].endswith(f"/entries/{entry_id}")

    # A phone that lost the response sends the same PUT again: nothing changes.
    replay = entries_put.sync_detailed(patient.id, entry_id, client=patient.client, body=entry)
    assert expect(replay, 200).version == 1

    unchanged = entries_get.sync_detailed(
        "me", entry_id, client=patient.client, if_none_match=put.headers["ETag"]
    )
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    fetched = entries_get.sync_detailed("me", entry_id, client=patient.client)
    assert expect(fetched, 200).to_dict() == created.to_dict()
    assert fetched.headers["ETag"] == etag(1)

    patch = models.EntryPatch(pain=3, notes=None)
    patched = entries_patch.sync_detailed(
        patient.id, entry_id, client=patient.client, body=patch, if_match=put.headers["ETag"]
    )
    changed = expect(patched, 200)
    assert (changed.version, changed.pain, changed.notes) == (2, 3, None)
    assert (changed.sleep_hours, changed.tags) == (6.5, ["long drive"])  # not in the patch
    assert patched.headers["ETag"] == etag(2)
    # The same patch retried with the old tag (its response was lost) is already applied.
    retried = entries_patch.sync_detailed(
        patient.id, entry_id, client=patient.client, body=patch, if_match=etag(1)
    )
    assert expect(retried, 200).version == 2
    other = models.EntryPatch(pain=8)
    stale = entries_patch.sync_detailed(
        patient.id, entry_id, client=patient.client, body=other, if_match=etag(1)
    )
    assert expect(stale, 412).status == 412

    batch_ids = [uuid.uuid4() for _ in range(3)]
    batch = models.BatchRequest(
        items=[
            models.BatchItem(id=batch_ids[0], recorded_at=at(3), pain=5, if_version=0),
            models.BatchItem(id=batch_ids[1], recorded_at=at(2), pain=4, tags=["yoga"]),
            # Sent with the version the phone last saw, which is stale: a conflict.
            models.BatchItem(id=entry_id, recorded_at=at(1, hour=8), pain=9, if_version=1),
        ]
    )
    answer = expect(entries_batch.sync_detailed(patient.id, client=patient.client, body=batch), 200)
    assert isinstance(answer, models.BatchResponse)
    assert [(r.id, r.status, r.version) for r in answer.results] == [
        (batch_ids[0], models.BatchStatus.CREATED, 1),
        (batch_ids[1], models.BatchStatus.CREATED, 1),
        (entry_id, models.BatchStatus.CONFLICT, 2),
    ]
    # The phone sends the batch again (the response was lost): what is stored stays.
    again = expect(entries_batch.sync_detailed(patient.id, client=patient.client, body=batch), 200)
    assert [(r.status, r.version) for r in again.results] == [
        (models.BatchStatus.UNCHANGED, 1),
        (models.BatchStatus.UNCHANGED, 1),
        (models.BatchStatus.CONFLICT, 2),
    ]
    stored = expect(entries_get.sync_detailed("me", batch_ids[1], client=patient.client), 200)
    assert (stored.pain, stored.tags, stored.version) == (4, ["yoga"], 1)


def test_changes_feed_decodes_every_kind_and_delete(
    generated: GeneratedClient, sign_up: Callable[..., SignedIn]
) -> None:
    """The offline sync loop: write with client ids, read the changes after a stored
    cursor, each decoded into its own model by the feed's discriminator."""
    models = generated.models
    entries_put = generated.api("diary", "entries_put")
    entries_patch = generated.api("diary", "entries_patch")
    entries_batch = generated.api("diary", "entries_batch")
    entries_delete = generated.api("diary", "entries_delete")
    courses_put = generated.api("courses", "courses_put")
    sessions_put = generated.api("sessions", "sessions_put")
    changes_list = generated.api("sync", "changes_list")
    patient = sign_up("patient", "Pat Patient")
    client = patient.client

    first, kept, dropped = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    course_id, session_id = uuid.uuid4(), uuid.uuid4()
    expect(
        entries_put.sync_detailed(
            "me", first, client=client, body=models.EntryIn(recorded_at=at(2), pain=7)
        ),
        201,
    )
    patch = models.EntryPatch(pain=6)
    expect(entries_patch.sync_detailed("me", first, client=client, body=patch), 200)
    batch = models.BatchRequest(
        items=[
            models.BatchItem(id=kept, recorded_at=at(1), pain=5),
            models.BatchItem(id=dropped, recorded_at=at(1, hour=20), pain=8),
        ]
    )
    expect(entries_batch.sync_detailed("me", client=client, body=batch), 200)
    deleted = entries_delete.sync_detailed("me", dropped, client=client, if_match=etag(1))
    assert deleted.status_code == 204
    course = models.CourseIn(name="Acupuncture for back pain", start_date=TODAY)
    expect(courses_put.sync_detailed("me", course_id, client=client, body=course), 201)
    session = models.SessionIn(
        occurred_at=at(1, hour=12), course_id=course_id, points=["li 4", "BL-23"], pain_before=6
    )
    expect(sessions_put.sync_detailed("me", session_id, client=client, body=session), 201)

    page = expect(changes_list.sync_detailed("me", client=client), 200)
    assert isinstance(page, models.ChangesPage)
    assert page.has_more is False
    upsert, delete = models.ChangeOp.UPSERT, models.ChangeOp.DELETE
    assert [(type(c), c.id, c.op, c.version) for c in page.changes] == [
        (models.EntryChange, first, upsert, 2),
        (models.EntryChange, kept, upsert, 1),
        (models.EntryChange, dropped, delete, 2),
        (models.CourseChange, course_id, upsert, 1),
        (models.SessionChange, session_id, upsert, 1),
    ]
    by_id = {change.id: change for change in page.changes}
    assert by_id[dropped].data is None
    assert by_id[dropped].type_ == models.EntryChangeType.ENTRY
    assert isinstance(by_id[first].data, models.EntryOut)
    assert (by_id[first].data.pain, by_id[kept].data.pain) == (6, 5)
    assert isinstance(by_id[course_id].data, models.CourseOut)
    assert by_id[course_id].type_ == models.CourseChangeType.COURSE
    assert by_id[course_id].data.name == "Acupuncture for back pain"
    assert isinstance(by_id[session_id].data, models.SessionOut)
    assert by_id[session_id].type_ == models.SessionChangeType.SESSION
    assert by_id[session_id].data.points == ["LI4", "BL23"]  # stored normalised

    # The phone stores next_cursor: nothing again, then only what changed since.
    cursor = page.next_cursor
    nothing = expect(changes_list.sync_detailed("me", client=client, since=cursor), 200)
    assert (nothing.changes, nothing.has_more) == ([], False)
    patch = models.EntryPatch(tags=["weather"])
    expect(entries_patch.sync_detailed("me", kept, client=client, body=patch), 200)
    later = expect(changes_list.sync_detailed("me", client=client, since=cursor), 200)
    assert [(c.id, c.op, c.version, c.data.tags) for c in later.changes] == [
        (kept, upsert, 2, ["weather"])
    ]

    # Pages of one change each: every record once, in the order of its last write.
    seen: list[uuid.UUID] = []
    since: str | None = None  # from the beginning
    has_more = True
    while has_more:
        one = expect(changes_list.sync_detailed("me", client=client, since=since, limit=1), 200)
        seen += [change.id for change in one.changes]
        since, has_more = one.next_cursor, one.has_more
    assert seen == [first, dropped, course_id, session_id, kept]


def test_course_summary_counts_the_sessions(
    generated: GeneratedClient, sign_up: Callable[..., SignedIn]
) -> None:
    models = generated.models
    entries_batch = generated.api("diary", "entries_batch")
    courses_put = generated.api("courses", "courses_put")
    sessions_put = generated.api("sessions", "sessions_put")
    course_summary_get = generated.api("trends", "course_summary_get")
    patient = sign_up("patient", "Pat Patient")
    client = patient.client

    course_id = uuid.uuid4()
    course = models.CourseIn(
        name="Acupuncture for neck pain",
        condition=models.Condition.NECK_PAIN,
        modality=models.Modality.ACUPUNCTURE,
        start_date=TODAY - dt.timedelta(days=14),
        planned_sessions=8,
    )
    put = courses_put.sync_detailed(patient.id, course_id, client=client, body=course)
    stored_course = expect(put, 201)
    assert (stored_course.id, stored_course.version, stored_course.end_date) == (course_id, 1, None)
    assert stored_course.condition == models.Condition.NECK_PAIN
    assert put.headers["ETag"] == etag(1)

    sessions = [(uuid.uuid4(), 10, 7, 4), (uuid.uuid4(), 3, 6, 4)]
    for session_id, days_ago, before, after in sessions:
        session = models.SessionIn(
            occurred_at=at(days_ago, hour=15),
            course_id=course_id,
            points=["GB20", "SI3"],
            duration_minutes=25,
            pain_before=before,
            pain_after=after,
        )
        stored = expect(
            sessions_put.sync_detailed(patient.id, session_id, client=client, body=session), 201
        )
        assert (stored.id, stored.course_id, stored.modality) == (
            session_id,
            course_id,
            models.Modality.ACUPUNCTURE,  # the course's
        )

    batch = models.BatchRequest(
        items=[
            models.BatchItem(id=uuid.uuid4(), recorded_at=at(4, hour=8), pain=6, stress=5),
            models.BatchItem(id=uuid.uuid4(), recorded_at=at(4, hour=20), pain=3, stress=3),
            models.BatchItem(id=uuid.uuid4(), recorded_at=at(2), pain=2, sleep_hours=7.5),
        ]
    )
    results = expect(entries_batch.sync_detailed(patient.id, client=client, body=batch), 200)
    assert [r.status for r in results.results] == [models.BatchStatus.CREATED] * 3

    summary = expect(
        course_summary_get.sync_detailed(patient.id, course_id, client=client, as_of=TODAY), 200
    )
    assert isinstance(summary, models.CourseSummary)
    assert (summary.course_id, summary.as_of) == (course_id, TODAY)
    assert (summary.sessions_completed, summary.planned_sessions) == (2, 8)
    assert [(s.number, s.id, s.relief) for s in summary.sessions] == [
        (1, sessions[0][0], 3),
        (2, sessions[1][0], 2),
    ]
    assert summary.sessions[0].local_date == TODAY - dt.timedelta(days=10)
    assert summary.mean_relief == 2.5
    assert [
        (d.local_date, d.pain, d.pain_worst, d.stress, d.sleep_hours) for d in summary.daily
    ] == [
        (TODAY - dt.timedelta(days=4), 4.5, 6, 4.0, None),
        (TODAY - dt.timedelta(days=2), 2.0, 2, None, 7.5),
    ]
    assert summary.baseline is None  # two days with data; three are needed
    assert summary.trend is None
    assert models.WarningCode.INSUFFICIENT_BASELINE in summary.warnings
    assert models.WarningCode.INSUFFICIENT_DATA_FOR_TREND in summary.warnings
    assert [week.week for week in summary.weekly] == [-1, 0, 1, 2]


def test_clinician_links_lists_and_reads_both_reports(
    generated: GeneratedClient, sign_up: Callable[..., SignedIn]
) -> None:
    models = generated.models
    entries_put = generated.api("diary", "entries_put")
    courses_put = generated.api("courses", "courses_put")
    sessions_put = generated.api("sessions", "sessions_put")
    share_codes_create = generated.api("clinicians", "share_codes_create")
    links_create = generated.api("clinicians", "links_create")
    patients_list = generated.api("clinicians", "patients_list")
    report_get = generated.api("clinicians", "report_get")
    report_chart = generated.api("clinicians", "report_chart")
    patient = sign_up("patient", "Pat Patient")
    clinician = sign_up("clinician", "Dr. Chen")

    entry_id, course_id, session_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    entry = models.EntryIn(recorded_at=at(1), pain=5, sleep_hours=7.5, stress=3)
    expect(entries_put.sync_detailed("me", entry_id, client=patient.client, body=entry), 201)
    course = models.CourseIn(
        name="Electroacupuncture", start_date=TODAY - dt.timedelta(days=7), planned_sessions=6
    )
    expect(courses_put.sync_detailed("me", course_id, client=patient.client, body=course), 201)
    session = models.SessionIn(
        occurred_at=at(2, hour=15),
        course_id=course_id,
        modality=models.Modality.ELECTROACUPUNCTURE,
        electro_frequency_hz=2.0,
        points=["ST36"],
        pain_before=6,
        pain_after=3,
    )
    expect(sessions_put.sync_detailed("me", session_id, client=patient.client, body=session), 201)

    request = models.ShareCodeRequest(expires_in_hours=24)
    share = expect(share_codes_create.sync_detailed(client=patient.client, body=request), 201)
    assert isinstance(share, models.ShareCodeOut)
    assert len(share.code) >= 8
    expires_in = share.expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=23) < expires_in <= dt.timedelta(hours=24)

    link = models.LinkRequest(code=share.code)
    linked = expect(links_create.sync_detailed(client=clinician.client, body=link), 201)
    assert (str(linked.patient_id), linked.display_name) == (patient.id, "Pat Patient")
    used = links_create.sync_detailed(client=clinician.client, body=link)
    assert expect(used, 404).status == 404  # single-use

    patients = expect(patients_list.sync_detailed(client=clinician.client), 200)
    assert isinstance(patients, models.PagePatientOverview)
    assert patients.next_cursor is None
    [overview] = patients.items
    assert (str(overview.patient_id), overview.display_name) == (patient.id, "Pat Patient")
    assert (overview.last_entry_date, overview.pain_7d_mean) == (TODAY - dt.timedelta(days=1), 5.0)
    assert (overview.active_course.id, overview.active_course.name) == (
        course_id,
        "Electroacupuncture",
    )

    # The generated client sends httpx's default `Accept: */*`: a tie, so JSON.
    report = expect(report_get.sync_detailed(patient.id, client=clinician.client), 200)
    assert isinstance(report, models.Report)
    assert (str(report.patient.id), report.patient.display_name) == (patient.id, "Pat Patient")
    assert report.as_of == TODAY
    [course_report] = report.courses
    assert course_report.course.id == course_id
    assert (course_report.summary.sessions_completed, course_report.summary.mean_relief) == (1, 3.0)
    assert [(e.id, e.pain) for e in report.recent_entries] == [(entry_id, 5)]
    assert [(s.id, s.electro_frequency_hz) for s in report.sessions] == [(session_id, 2.0)]
    with clinician.accepting("application/fhir+json;q=0.5, application/json") as as_json:
        again = expect(report_get.sync_detailed(patient.id, client=as_json), 200)
    assert again.courses[0].course.id == course_id

    # report_get cannot ask for the FHIR form: openapi-python-client gives an operation the
    # first media type its 200 response declares (application/json) and always parses the
    # body as a Report. So this request is sent through the generated client's own httpx
    # client (its base URL and token), and the body decoded with the generated FhirBundle.
    with clinician.accepting("application/fhir+json") as as_fhir:
        answer = as_fhir.get_httpx_client().get(f"/v1/patients/{patient.id}/report")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/fhir+json")
    bundle = models.FhirBundle.from_dict(answer.json())
    assert (bundle.resource_type, bundle.type_) == ("Bundle", "collection")
    resources = [item.resource for item in bundle.entry]
    assert [r.resource_type for r in resources] == [
        models.FhirResourceType.PATIENT,
        *[models.FhirResourceType.OBSERVATION] * 3,
        models.FhirResourceType.PROCEDURE,
    ]
    assert resources[0].id == patient.id
    values = {
        r.code.coding[0].code: r.value_integer if r.value_integer else r.value_quantity.value
        for r in resources[1:4]
    }
    assert values == {"72514-3": 5, "93832-4": 7.5, "93038-8": 3}
    assert resources[4].identifier[0].value == f"urn:uuid:{session_id}"

    chart = expect(report_chart.sync_detailed(patient.id, client=clinician.client), 200)
    assert isinstance(chart, str)
    assert chart.lstrip().startswith(("<svg", "<?xml"))
    assert chart.rstrip().endswith("</svg>")
