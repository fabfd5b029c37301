"""The authorization matrix: every route the app serves, called as every kind of caller.

The routes come from the app itself (``app.routes``, flattened through included routers,
with mounts and FastAPI's own pages), so a route added tomorrow is in the matrix without
anyone editing this file; a route the matrix cannot place (not public, no documented
audience) fails. Each route is called, with a body valid for its owner, as:

* no token, a garbage token, an expired token and a token signed with another key — 401
  problem+json with ``WWW-Authenticate: Bearer``;
* the owner (patient A, by UUID and as ``me``) — 2xx, so no row of the matrix can pass
  vacuously;
* another patient (B) on A's UUID, and on ``me`` paths with ids of records A really owns;
  a clinician linked to B only; a clinician whose link A revoked; A's linked clinician,
  also on ``me`` paths — 404 (§0: a patient's existence is not revealed), 403 for a linked
  clinician writing the diary (§2), 2xx where the contract lets them;
* account routes (``/v1/me``…, §1) and the clinician routes of §7 by role: 2xx for the
  role named in the contract's "who" column, 403 for the other.

Every response that is not A's or A's linked clinician's must hold none of A's data, and
a request that may not change A's data must leave every row of A as it was. Beside the
behaviour, a structural guard: every route on a patient's path depends on exactly one
patient access dependency from app/access/deps.py, with the need its method implies.
"""

from __future__ import annotations

import enum
import json
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import fastapi.routing
import jwt
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from starlette.routing import Mount

from app.access import deps as access
from app.access.models import AccessLogEntry, ClinicianLink
from app.access.service import Need
from app.accounts.models import RefreshToken, User
from app.clinicians.models import ShareCode
from app.core import deps
from app.core.database import Database, table_of
from app.core.deps import CurrentCaller, DbDep
from app.core.security import ALGORITHM
from app.core.sessions import EndedSessions
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.diary.service import entries
from app.main import create_app
from app.models import metadata
from app.records import service as records
from app.records.models import Tombstone
from app.sessions.models import SessionEvent
from tests.conftest import (
    PASSWORD,
    SECRET,
    Account,
    app_of,
    assert_problem,
    make_settings,
    portal_of,
)

# --- The routes, as the app serves them -------------------------------------------------


@dataclass(frozen=True)
class Served:
    """One method of one route (a mount counts as GET on its path)."""

    method: str
    path: str
    dependant: Dependant | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def served_routes(app: FastAPI) -> list[Served]:
    """Every (method, path) the app answers, flattened through included routers."""
    # FastAPI ≥ 0.160 keeps an included router as one lazy entry in ``app.routes``.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts: list[Any] = list(flatten(app.routes)) if flatten else list(app.routes)
    out: list[Served] = []
    for route in contexts:
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            out.append(Served("GET", route.path))
            continue
        dependant = getattr(route, "dependant", None)
        # The template as documented (`{record_id}`, without a path convertor's name).
        template = getattr(route, "path_format", route.path)
        for method in sorted(route.methods or {"WEBSOCKET"}):
            out.append(Served(method, template, dependant))
    return out


# The app only assembles at import (no connection is opened), so the matrix can be
# parametrised from the real route table at collection time.
LISTING = served_routes(
    create_app(make_settings(f"sqlite:///{Path(tempfile.gettempdir()) / 'never-opened.db'}"))
)


# --- Who may call what, from the contract -----------------------------------------------


@dataclass(frozen=True)
class Public:
    reason: str
    url: str | None = None  # what to request, when not the path itself (a mount's file)
    optional: bool = False  # may be absent from the app


PUBLIC: dict[tuple[str, str], Public] = {
    ("GET", "/healthz"): Public("liveness probe (§8): process up, no data"),
    ("GET", "/readyz"): Public("readiness probe (§8): database reachable, no data"),
    ("GET", "/metrics"): Public(
        "Prometheus scrape (§8), no patient data; being added, so its absence is tolerated",
        optional=True,
    ),
    ("GET", "/openapi.json"): Public("the published API description (§8)"),
    ("HEAD", "/openapi.json"): Public("HEAD of the published API description (§8)"),
    ("GET", "/docs"): Public("interactive docs (§8)"),
    ("GET", "/docs/oauth2-redirect"): Public("Swagger UI's sign-in redirect page, static"),
    ("GET", "/docs/assets"): Public(
        "Swagger UI's static files, served locally", url="/docs/assets/swagger-ui.css"
    ),
    ("GET", "/app"): Public(
        "the web app's static files (§9): it signs in through the API", url="/app/"
    ),
    ("GET", "/v1/reference/acupoints"): Public("reference list of point codes (§4), no data"),
    ("POST", "/v1/auth/register"): Public("sign-up (§1 'anyone'): the caller has no account"),
    ("POST", "/v1/auth/token"): Public("sign-in and refresh (§1 'anyone'): no access token yet"),
}


class Audience(enum.Enum):
    ANY_ACCOUNT = "any signed-in account, about itself"
    PATIENTS = "patient accounts, about themselves"
    CLINICIANS = "clinician accounts, about themselves"
    PATIENT_DATA = "the patient, and linked clinicians as §2–§7 allow"


# Routes without a patient in the path, by the contract's "who" column (§1, §7). Every path
# holding {patient_id} is PATIENT_DATA.
ACCOUNT_ROUTES: dict[tuple[str, str], Audience] = {
    ("POST", "/v1/auth/revoke"): Audience.ANY_ACCOUNT,
    ("POST", "/v1/me/password"): Audience.ANY_ACCOUNT,
    ("GET", "/v1/me"): Audience.ANY_ACCOUNT,
    ("PATCH", "/v1/me"): Audience.ANY_ACCOUNT,
    ("DELETE", "/v1/me"): Audience.ANY_ACCOUNT,
    ("GET", "/v1/me/export"): Audience.PATIENTS,
    ("POST", "/v1/patients/me/share-codes"): Audience.PATIENTS,
    ("GET", "/v1/patients/me/links"): Audience.PATIENTS,
    ("DELETE", "/v1/patients/me/links/{clinician_id}"): Audience.PATIENTS,
    ("GET", "/v1/patients/me/access-log"): Audience.PATIENTS,
    ("POST", "/v1/links"): Audience.CLINICIANS,
    ("GET", "/v1/patients"): Audience.CLINICIANS,
}


def audience(route: Served) -> Audience | None:
    if "{patient_id}" in route.path:
        return Audience.PATIENT_DATA
    return ACCOUNT_ROUTES.get(route.key)


def is_diary(route: Served) -> bool:
    return route.path.startswith("/v1/patients/{patient_id}/entries")


def writes(route: Served) -> bool:
    return route.method not in {"GET", "HEAD"}


class Who(enum.Enum):
    ANONYMOUS = "no_token"
    GARBAGE = "garbage_token"
    EXPIRED = "expired_token"
    FORGED = "token_signed_with_another_key"
    OWNER = "owner"
    OWNER_ME = "owner_via_me"
    OTHER_PATIENT = "other_patient"
    OTHER_PATIENT_ME = "other_patient_via_me_with_owners_ids"
    UNLINKED = "clinician_linked_to_another_patient"
    REVOKED = "revoked_clinician"
    LINKED = "linked_clinician"
    LINKED_ME = "linked_clinician_via_me"


UNAUTHENTICATED = (Who.ANONYMOUS, Who.GARBAGE, Who.EXPIRED, Who.FORGED)
CLINICIANS = (Who.UNLINKED, Who.REVOKED, Who.LINKED, Who.LINKED_ME)
VIA_ME = (Who.OWNER_ME, Who.OTHER_PATIENT_ME, Who.LINKED_ME)
SUCCESS = "2xx"


def identities(route: Served) -> tuple[Who, ...]:
    if audience(route) is Audience.PATIENT_DATA:
        return tuple(Who)
    return tuple(w for w in Who if w not in VIA_ME)  # no patient in the path


def record_param(route: Served) -> bool:
    return "{record_id}" in route.path or "{course_id}" in route.path


def expected(route: Served, who: Who) -> int | str | None:
    """The status the contract documents for this caller (SUCCESS = any 2xx); None when the
    route has no documented audience."""
    if who in UNAUTHENTICATED:
        return 401  # whatever the route, when it is not public
    kind = audience(route)
    if kind is None:
        return None
    if kind is Audience.ANY_ACCOUNT:
        return SUCCESS
    if kind is Audience.PATIENTS:
        if who in CLINICIANS:
            return 403
        if who is Who.OTHER_PATIENT and "{clinician_id}" in route.path:
            return 404  # B has no link to A's clinician
        return SUCCESS
    if kind is Audience.CLINICIANS:
        return SUCCESS if who in CLINICIANS else 403
    # Patient data.
    if who in (Who.OWNER, Who.OWNER_ME):
        return SUCCESS
    if who is Who.LINKED:
        return 403 if writes(route) and is_diary(route) else SUCCESS
    if who is Who.OTHER_PATIENT_ME:
        return other_patient_with_owners_ids(route)
    return 404  # B on A's UUID; a clinician without a link; any clinician on `me`


def other_patient_with_owners_ids(route: Served) -> int | str:
    """B on B's own `me` paths, using the ids of A's records: nothing of A is found."""
    sessions = route.path.startswith("/v1/patients/{patient_id}/sessions")
    if route.method in {"PUT", "POST"} and sessions:
        return 422  # the body's course_id is A's course, not one of B's (§4)
    if route.path.endswith("/report/chart.svg"):
        return 404  # ?course_id= is A's course
    if record_param(route) and route.method != "PUT":
        return 404
    return SUCCESS  # PUT at an id A uses makes B's own record; lists are B's own


# --- The world each row of the matrix runs in ---------------------------------------------


@dataclass
class World:
    owner: Account  # patient A
    other: Account  # patient B
    linked: Account  # clinician linked to A
    unlinked: Account  # clinician linked to B only
    revoked: Account  # clinician linked to A, then revoked by A
    entry_id: uuid.UUID
    course_id: uuid.UUID
    session_id: uuid.UUID
    secrets: tuple[str, ...]  # strings only A's data holds
    state: Callable[[], dict[str, Any]]  # A's rows, to show a request changed nothing
    share_code: str | None = None  # a fresh code of A's, for POST /v1/links
    refresh_token: str | None = None  # A's, for POST /v1/auth/revoke


def share_and_link(client: TestClient, patient: Account, clinician: Account) -> None:
    code = client.post("/v1/patients/me/share-codes", headers=patient.headers)
    assert code.status_code == 201, code.text
    linked = client.post("/v1/links", json={"code": code.json()["code"]}, headers=clinician.headers)
    assert linked.status_code == 201, linked.text


# Per table: the column naming the owner, then the columns any write would change.
STATE_COLUMNS: dict[type[Any], tuple[str, ...]] = {
    User: ("id", "display_name", "timezone", "version"),
    DiaryEntry: ("patient_id", "id", "version"),
    TreatmentCourse: ("patient_id", "id", "version"),
    SessionEvent: ("patient_id", "id", "version"),
    Tombstone: ("patient_id", "kind", "id", "version"),
    ClinicianLink: ("patient_id", "clinician_id"),
    ShareCode: ("patient_id", "code_hash", "used_by"),
    AccessLogEntry: ("patient_id", "id"),
    RefreshToken: ("user_id", "id", "used_at", "revoked_at"),
}


async def owner_state(db: Database, patient_id: uuid.UUID) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that belongs to the patient, reduced to what a write would change (one
    query: the matrix reads this twice per row)."""
    width = max(len(columns) for columns in STATE_COLUMNS.values()) - 1
    parts = []
    for model, (owner, *columns) in STATE_COLUMNS.items():
        table = table_of(model)
        values = [sa.cast(table.c[c], sa.String) for c in columns]
        values += [sa.cast(sa.null(), sa.String)] * (width - len(values))
        labelled = [v.label(f"c{i}") for i, v in enumerate(values)]
        tag = sa.literal(table.name, sa.String).label("t")
        parts.append(sa.select(tag, *labelled).where(table.c[owner] == patient_id))
    state: dict[str, list[tuple[Any, ...]]] = {table_of(m).name: [] for m in STATE_COLUMNS}
    async with db.read() as conn:
        for name, *row in (await conn.execute(sa.union_all(*parts))).all():
            state[name].append(tuple(row))
    return {name: sorted(rows, key=str) for name, rows in state.items()}


ENTRY = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 6}
COURSE = {"modality": "acupuncture", "start_date": "2026-11-02"}
SESSION = {"occurred_at": "2026-11-04T10:00:00+01:00", "points": ["LI4"], "pain_before": 6}


def build_world(client: TestClient, make_account: Callable[..., Account]) -> World:
    """A with an entry, a course and a session, a fresh share code and a refresh token; B;
    three clinicians. Every link is made and revoked through the API, as a phone and a
    clinician's tool would."""
    mark = uuid.uuid4().hex[:10]
    owner = make_account("patient", display_name=f"Owner {mark}", timezone="Europe/Berlin")
    other = make_account("patient", display_name="Other patient")
    linked = make_account("clinician", display_name="Dr. Linked")
    unlinked = make_account("clinician", display_name="Dr. Elsewhere")
    revoked = make_account("clinician", display_name="Dr. Revoked")
    entry_id, course_id, session_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base = "/v1/patients/me"
    secrets = (f"entry note {mark}", f"course {mark}", f"session note {mark}")
    for url, body in (
        (f"{base}/entries/{entry_id}", ENTRY | {"notes": secrets[0]}),
        (f"{base}/courses/{course_id}", COURSE | {"name": secrets[1]}),
        (
            f"{base}/sessions/{session_id}",
            SESSION | {"course_id": str(course_id), "notes": secrets[2]},
        ),
    ):
        created = client.put(url, json=body, headers=owner.headers)
        assert created.status_code == 201, created.text
    share_and_link(client, owner, linked)
    share_and_link(client, other, unlinked)
    share_and_link(client, owner, revoked)
    gone = client.delete(f"{base}/links/{revoked.id}", headers=owner.headers)
    assert gone.status_code == 204, gone.text
    code = client.post(f"{base}/share-codes", headers=owner.headers)
    signed_in = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": owner.email, "password": PASSWORD},
    )
    db = app_of(client).state.db
    portal = portal_of(client)
    return World(
        owner,
        other,
        linked,
        unlinked,
        revoked,
        entry_id,
        course_id,
        session_id,
        secrets=(*secrets, str(owner.id), owner.email, f"Owner {mark}"),
        state=lambda: portal.call(owner_state, db, owner.id),
        share_code=code.json()["code"],
        refresh_token=signed_in.json()["refresh_token"],
    )


async def dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.read() as conn:
        return {
            table.name: [dict(row) for row in (await conn.execute(sa.select(table))).mappings()]
            for table in metadata.sorted_tables
        }


async def restore(db: Database, rows: dict[str, list[dict[str, Any]]]) -> None:
    async with db.transaction() as conn:
        for table in metadata.sorted_tables:
            if rows[table.name]:
                await conn.execute(table.insert(), rows[table.name])


# One world per database, built through the API by the first row that needs it; every
# later row gets the same rows back in one transaction (building it takes 15 requests,
# and the matrix has hundreds of rows).
_WORLDS: dict[str, tuple[World, dict[str, list[dict[str, Any]]]]] = {}


@pytest.fixture
def world(client: TestClient, database_url: str, make_account: Callable[..., Account]) -> World:
    """A fresh copy of the world, with access tokens issued now."""
    db: Database = app_of(client).state.db
    portal = portal_of(client)
    if database_url not in _WORLDS:
        built = build_world(client, make_account)
        _WORLDS[database_url] = built, portal.call(dump, db)
        return built
    template, rows = _WORLDS[database_url]
    portal.call(restore, db, rows)
    # A row before may have erased an account of the world; restored, it is alive again
    # (ids never come back for real): so are its sessions.
    ended = app_of(client).state.ended_sessions
    app_of(client).state.ended_sessions = EndedSessions(
        int(ended.lifetime.total_seconds()), ended.check_seconds
    )
    tokens = app_of(client).state.tokens

    def fresh(account: Account) -> Account:
        return replace(account, token=tokens.issue(account.id, account.role))

    return replace(
        template,
        owner=fresh(template.owner),
        other=fresh(template.other),
        linked=fresh(template.linked),
        unlinked=fresh(template.unlinked),
        revoked=fresh(template.revoked),
    )


# --- Building a request that would be valid for the owner --------------------------------


def token_for(who: Who, world: World) -> str | None:
    now = int(time.time())
    claims = {"sub": str(world.owner.id), "role": "patient"}
    match who:
        case Who.ANONYMOUS:
            return None
        case Who.GARBAGE:
            return "not-a-token"
        case Who.EXPIRED:
            return jwt.encode(claims | {"iat": now - 3600, "exp": now - 60}, SECRET, ALGORITHM)
        case Who.FORGED:
            other_key = "another-secret-key-that-is-long-enough-0123456789"
            return jwt.encode(claims | {"iat": now, "exp": now + 600}, other_key, ALGORITHM)
        case Who.OWNER | Who.OWNER_ME:
            return world.owner.token
        case Who.OTHER_PATIENT | Who.OTHER_PATIENT_ME:
            return world.other.token
        case Who.UNLINKED:
            return world.unlinked.token
        case Who.REVOKED:
            return world.revoked.token
        case Who.LINKED | Who.LINKED_ME:
            return world.linked.token


class Unbuildable(Exception):
    pass


def fill_path(route: Served, who: Who, world: World) -> str:
    """Path parameters: patient_id → A's UUID (or `me`), ids → records A really owns."""
    collection = {
        "entries": world.entry_id,
        "courses": world.course_id,
        "sessions": world.session_id,
    }

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "patient_id":
            return "me" if who in VIA_ME else str(world.owner.id)
        if name == "record_id":
            segment = route.path[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            if segment in collection:
                return str(collection[segment])
        if name == "course_id":
            return str(world.course_id)
        if name == "clinician_id":
            return str(world.linked.id)
        raise Unbuildable(f"no value for path parameter {name!r}; teach the matrix one")

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, route.path)


def merge_patch(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": json.dumps(body),
        "headers": {"Content-Type": "application/merge-patch+json"},
    }


def request_for(route: Served, who: Who, world: World) -> dict[str, Any]:
    """URL, query and body a valid request of the owner's would carry."""
    url = fill_path(route, who, world)
    if (kept := PUBLIC.get(route.key)) and kept.url:
        url = kept.url
    method, path = route.key
    request: dict[str, Any] = {"method": method, "url": url, "headers": {}}
    kind = path.split("/{patient_id}/", 1)[-1].split("/", 1)[0].split(".", 1)[0]
    bodies: dict[str, dict[str, Any]] = {
        "entries": ENTRY | {"notes": "written by the matrix"},
        "courses": COURSE | {"name": "written by the matrix"},
        "sessions": SESSION | {"course_id": str(world.course_id)},
    }
    if "{patient_id}" in path and kind in bodies:
        if path.endswith("/entries/batch"):
            request["json"] = {"items": [bodies["entries"] | {"id": str(world.entry_id)}]}
        elif method in {"PUT", "POST"}:
            request["json"] = bodies[kind]
        elif method == "PATCH":
            request |= merge_patch({"notes": "patched by the matrix"})
        elif method == "GET" and path.endswith("/sessions"):
            request["params"] = {"course_id": str(world.course_id)}
    elif path.endswith("/report/chart.svg"):
        request["params"] = {"course_id": str(world.course_id)}
    elif route.key == ("PATCH", "/v1/me"):
        request |= merge_patch({"display_name": "Renamed by the matrix"})
    elif route.key == ("POST", "/v1/auth/revoke"):
        request["json"] = {"refresh_token": world.refresh_token or "no-such-token"}
    elif route.key == ("POST", "/v1/me/password"):
        request["json"] = {"current_password": PASSWORD, "new_password": "changed by the matrix"}
    elif route.key == ("POST", "/v1/patients/me/share-codes"):
        request["json"] = {"expires_in_hours": 24}
    elif route.key == ("POST", "/v1/links"):
        request["json"] = {"code": world.share_code or "ZZZZ-ZZZZ-ZZZZ"}
    elif route.key == ("POST", "/v1/auth/register"):
        email = f"new-{uuid.uuid4().hex[:8]}@example.org"
        request["json"] = {"email": email, "password": PASSWORD, "role": "patient"}
    elif route.key == ("POST", "/v1/auth/token"):
        credentials = {"username": world.owner.email, "password": PASSWORD}
        request["data"] = {"grant_type": "password"} | credentials
    token = token_for(who, world)
    if token is not None:
        request["headers"]["Authorization"] = f"Bearer {token}"
    return request


# --- The check -----------------------------------------------------------------------------


def check(client: TestClient, world: World, route: Served, who: Who) -> list[str]:
    """What is wrong with this route for this caller; empty when it behaves as documented."""
    where = f"{route} as {who.value}"
    want = expected(route, who)
    if want is None:
        return [f"{where}: neither public nor given an audience in the matrix"]
    if route.method == "WEBSOCKET":
        return [f"{where}: a websocket route; teach the matrix to call one"]
    try:
        request = request_for(route, who, world)
    except Unbuildable as exc:
        return [f"{where}: {exc}"]
    owners_side = who in (Who.OWNER, Who.OWNER_ME) or (
        who is Who.LINKED and audience(route) is Audience.PATIENT_DATA and want == SUCCESS
    )
    consented = (who in CLINICIANS and route.key == ("POST", "/v1/links")) or (  # A's code
        who is Who.LINKED and route.key == ("GET", "/v1/patients")  # A's linked patients
    )
    before = world.state()
    response = client.request(**request)
    got = response.status_code
    problems: list[str] = []

    if want == SUCCESS:
        if not 200 <= got < 300:
            problems.append(f"{where}: expected 2xx, got {got}: {response.text[:300]}")
    elif got != want:
        problems.append(f"{where}: expected {want}, got {got}: {response.text[:300]}")
    else:
        try:
            assert_problem(response, got)
        except AssertionError as exc:
            problems.append(f"{where}: not a problem+json {got}: {exc}")
        if got == 401 and response.headers.get("www-authenticate", "").lower() != "bearer":
            problems.append(f"{where}: 401 without `WWW-Authenticate: Bearer`")

    if not owners_side and not consented:
        sent = json.dumps(request, default=str)
        leaked = [s for s in world.secrets if s in response.text and s not in sent]
        if leaked:
            problems.append(f"{where}: the response holds the owner's data {leaked}")
        after = world.state()
        if who is Who.LINKED and route.key == ("DELETE", "/v1/me") and got == 204:
            # An erased clinician's links go with the account; the rest of A stays.
            links = before["clinician_links"]
            before["clinician_links"] = [c for c in links if uuid.UUID(c[0]) != world.linked.id]
        if after != before:
            problems.append(f"{where}: the owner's data changed ({got})")
    elif owners_side and who is Who.LINKED and 200 <= got < 300:
        logged = len(world.state()["access_log"]) - len(before["access_log"])
        if logged != 1:
            problems.append(f"{where}: {logged} access-log rows for a clinician's use, not 1")
    if route.key == ("GET", "/v1/patients") and got == 200:
        listed = [p["patient_id"] for p in response.json()["items"]]
        if (str(world.owner.id) in listed) != (who is Who.LINKED):
            problems.append(f"{where}: patient list {listed} is wrong about the owner")
    return problems


# --- The structural guard ------------------------------------------------------------------


def dependency_calls(dependant: Dependant | None) -> Iterator[Callable[..., Any]]:
    stack = list(dependant.dependencies) if dependant else []
    while stack:
        node = stack.pop()
        if node.call is not None:
            yield node.call
        stack.extend(node.dependencies)


#: The patient access dependencies, with the need each decides for.
ACCESS = {
    access.read_access: Need.READ,
    access.diary_write_access: Need.WRITE_DIARY,
    access.care_write_access: Need.WRITE_CARE,
}


def structural_problems(route: Served) -> list[str]:
    """The access dependencies the route declares, against what its audience needs."""
    calls = list(dependency_calls(route.dependant))
    kind = audience(route)
    if route.key in PUBLIC:
        return []
    problems = []
    if kind is None:
        problems.append(f"{route}: neither public nor given an audience in the matrix")
    if deps.current_caller not in calls:
        problems.append(f"{route}: does not depend on current_caller")
    if kind is Audience.PATIENTS and deps.patient_caller not in calls:
        problems.append(f"{route}: a patient-only route without patient_caller")
    if kind is Audience.CLINICIANS and deps.clinician_caller not in calls:
        problems.append(f"{route}: a clinician-only route without clinician_caller")
    requires = [c for c in calls if c in ACCESS]
    if kind is Audience.PATIENT_DATA:
        if len(requires) != 1:
            problems.append(f"{route}: {len(requires)} patient access dependencies, not 1")
        else:
            need = ACCESS[requires[0]]
            if not writes(route):
                want = Need.READ
            else:
                want = Need.WRITE_DIARY if is_diary(route) else Need.WRITE_CARE
            if need is not want:
                problems.append(f"{route}: access for {need} where the contract needs {want}")
    return problems


# --- The tests -------------------------------------------------------------------------------

ROWS = [(route, who) for route in LISTING if route.key not in PUBLIC for who in identities(route)]


@pytest.mark.parametrize(("route", "who"), ROWS, ids=[f"{r} as {w.value}" for r, w in ROWS])
def test_each_route_answers_each_caller_as_documented(
    client: TestClient, world: World, route: Served, who: Who
) -> None:
    problems = check(client, world, route, who)
    assert not problems, "\n".join(problems)


PUBLIC_ROWS = [(key, entry) for key, entry in PUBLIC.items()]


@pytest.mark.parametrize(
    ("key", "entry"), PUBLIC_ROWS, ids=[f"{m} {p}" for (m, p), _ in PUBLIC_ROWS]
)
def test_each_public_route_answers_without_a_token(
    client: TestClient, world: World, key: tuple[str, str], entry: Public
) -> None:
    """Public routes work without a token, and say nothing about the patients."""
    served = {route.key for route in served_routes(app_of(client))}
    if key not in served:
        assert entry.optional, f"{key} is allow-listed as public but the app does not serve it"
        pytest.skip(f"{key} is not served yet")
    # The owner has just used the API, so a counter or log that kept raw paths would show it.
    owners = client.get(f"/v1/patients/{world.owner.id}/entries", headers=world.owner.headers)
    assert owners.status_code == 200 and world.secrets[0] in owners.text
    request = request_for(Served(*key), Who.ANONYMOUS, world)
    response = client.request(**request)
    assert 200 <= response.status_code < 300, (key, response.status_code, response.text[:300])
    sent = json.dumps(request, default=str)
    assert [s for s in world.secrets if s in response.text and s not in sent] == []


def test_the_matrix_is_the_apps_route_table(client: TestClient) -> None:
    """The rows were collected from a freshly built app; the app under test serves the same
    routes, and every one of them is public or has an audience."""
    served = served_routes(app_of(client))
    assert {r.key for r in served} == {r.key for r in LISTING}
    unplaced = [str(r) for r in served if r.key not in PUBLIC and audience(r) is None]
    assert unplaced == []
    assert len({r.key for r in served}) == len(served)  # no route shadows another
    assert len(ROWS) == sum(len(identities(r)) for r in served if r.key not in PUBLIC)


@pytest.mark.parametrize("route", LISTING, ids=[str(r) for r in LISTING])
def test_each_route_declares_its_access_dependency(route: Served) -> None:
    assert structural_problems(route) == []


def audit(client: TestClient, world: World, *strangers: Who) -> list[str]:
    """The matrix's verdict on every route of ``client.app``: the structural guard, the
    call without a token, and calls by ``strangers`` to A on A's patient paths (there a
    correct app changes nothing, so one world serves every route)."""
    problems: list[str] = []
    for route in served_routes(app_of(client)):
        if route.key in PUBLIC:
            continue
        problems += structural_problems(route)
        problems += check(client, world, route, Who.ANONYMOUS)
        if audience(route) is Audience.PATIENT_DATA:
            for who in strangers:
                problems += check(client, world, route, who)
    return problems


def test_the_matrix_reports_a_route_left_unguarded(
    database_url: str, make_account: Callable[..., Account]
) -> None:
    """An app with extra routes: a patient's diary with no guard at all; the same behind
    sign-in only, never asking whether the caller may see this patient; a wipe of the diary
    behind sign-in only; a debug route nobody placed. Each is caught, by behaviour and by
    structure, and nothing else is."""
    app = create_app(make_settings(database_url))

    async def diary_of(db: Database, patient_id: str) -> dict[str, Any]:
        items, _ = await records.list_records(
            db, entries, uuid.UUID(patient_id), limit=10, cursor=None
        )
        return {"items": [item.model_dump(mode="json") for item in items]}

    @app.get("/v1/patients/{patient_id}/leak")
    async def unguarded_diary(patient_id: str, db: DbDep) -> dict[str, Any]:
        return await diary_of(db, patient_id)

    @app.get("/v1/patients/{patient_id}/peek")
    async def signed_in_diary(patient_id: str, db: DbDep, caller: CurrentCaller) -> dict[str, Any]:
        return await diary_of(db, patient_id)

    @app.delete("/v1/patients/{patient_id}/wipe", status_code=204)
    async def signed_in_wipe(patient_id: str, db: DbDep, caller: CurrentCaller) -> None:
        table = table_of(DiaryEntry)
        async with db.transaction() as conn:
            await conn.execute(sa.delete(table).where(table.c.patient_id == uuid.UUID(patient_id)))

    @app.get("/v1/debug/accounts")
    async def debug_accounts() -> list[str]:
        return []

    strangers = (Who.OTHER_PATIENT, Who.UNLINKED, Who.REVOKED)
    with TestClient(app, raise_server_exceptions=False) as other_client:
        world = build_world(other_client, make_account)
        problems = audit(other_client, world, *strangers)

    leak, peek = "GET /v1/patients/{patient_id}/leak", "GET /v1/patients/{patient_id}/peek"
    wipe, debug = "DELETE /v1/patients/{patient_id}/wipe", "GET /v1/debug/accounts"
    owners_data = f"the response holds the owner's data ['{world.secrets[0]}']"
    reported = [
        f"{leak}: does not depend on current_caller",
        f"{leak}: 0 patient access dependencies, not 1",
        f"{leak} as no_token: expected 401, got 200",
        f"{leak} as no_token: {owners_data}",
        f"{peek}: 0 patient access dependencies, not 1",
        *(f"{r} as {w.value}: expected 404, got 200" for r in (leak, peek) for w in strangers),
        *(f"{r} as {w.value}: {owners_data}" for r in (leak, peek) for w in strangers),
        f"{wipe}: 0 patient access dependencies, not 1",
        *(f"{wipe} as {w.value}: expected 404, got 204" for w in strangers),
        f"{wipe} as other_patient: the owner's data changed (204)",  # the first wipes it
        f"{debug}: neither public nor given an audience in the matrix",
        f"{debug}: does not depend on current_caller",
        f"{debug} as no_token: expected 401, got 200",
    ]
    assert len(problems) == len(reported), "\n".join(problems)
    for head in reported:
        assert sum(p.startswith(head) for p in problems) == 1, (head, problems)
