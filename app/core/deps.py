"""Dependencies shared by every route: the database, the caller, and patient access."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer

from app.core.cache import VersionedCache
from app.core.database import Database
from app.core.errors import Forbidden, NotFound, Unauthorized
from app.core.security import AccessTokens, Caller, Passwords
from app.core.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_tokens(request: Request) -> AccessTokens:
    tokens: AccessTokens = request.app.state.tokens
    return tokens


async def get_summary_cache(request: Request) -> VersionedCache:
    cache: VersionedCache = request.app.state.summaries
    return cache


DbDep = Annotated[Database, Depends(get_db)]
SummaryCacheDep = Annotated[VersionedCache, Depends(get_summary_cache)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
TokensDep = Annotated[AccessTokens, Depends(get_tokens)]


async def current_caller(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller:
    # The verifier is read from the app directly: one dependency less on every request.
    if not token:
        raise Unauthorized("Sign in: send `Authorization: Bearer <access_token>`.")
    tokens: AccessTokens = request.app.state.tokens
    return tokens.verify(token)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def patient_caller(caller: CurrentCaller) -> Caller:
    if caller.role != "patient":
        raise Forbidden("Only a patient account can do this.")
    return caller


CurrentPatient = Annotated[Caller, Depends(patient_caller)]


async def clinician_caller(caller: CurrentCaller) -> Caller:
    if caller.role != "clinician":
        raise Forbidden("Only a clinician account can do this.")
    return caller


CurrentClinician = Annotated[Caller, Depends(clinician_caller)]


class Need(enum.Enum):
    """What a route does with a patient's data."""

    READ = "read"
    WRITE_DIARY = "write_diary"  # diary entries: the patient alone
    WRITE_CARE = "write_care"  # courses and sessions: the patient and linked clinicians


@dataclass(frozen=True, slots=True)
class PatientScope:
    """A patient whose data the caller may use as the route needs."""

    patient_id: uuid.UUID
    caller: Caller
    db: Database

    @property
    def is_self(self) -> bool:
        return self.caller.user_id == self.patient_id


PATIENT_ID_PATTERN = (
    r"^(me|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$"
)
PatientIdPath = Annotated[
    str,
    Path(
        description="The patient's id (UUID), or `me` for the caller's own record.",
        pattern=PATIENT_ID_PATTERN,
        examples=["me"],
    ),
]


async def resolve_patient(
    db: Database, caller: Caller, patient_id: str, need: Need, method: str, path: str
) -> PatientScope:
    """The one access decision for patient-scoped paths.

    The patient may do everything with their own data. A linked clinician reads it and
    writes courses and sessions (each use is written to the patient's access log); a linked
    clinician who tries to write diary entries gets 403. Anyone else gets 404, so a
    patient's existence is never revealed.
    """
    from app.clinicians import service as clinicians

    if patient_id == "me":
        if caller.role != "patient":
            raise NotFound("Only patient accounts have a patient record (`me`).")
        return PatientScope(caller.user_id, caller, db)
    try:
        target = uuid.UUID(patient_id)
    except ValueError as exc:
        raise NotFound("No such patient.") from exc
    if caller.role == "patient":
        if caller.user_id == target:
            return PatientScope(target, caller, db)
        raise NotFound("No such patient.")
    if need is Need.WRITE_DIARY:
        if await clinicians.is_linked(db, caller.user_id, target):
            raise Forbidden("Diary entries are written by the patient alone.")
        raise NotFound("No such patient.")
    if await clinicians.record_access(db, caller.user_id, target, method, path):
        return PatientScope(target, caller, db)
    raise NotFound("No such patient.")


async def patient_access(
    request: Request, caller: Caller, patient_id: str, need: Need
) -> PatientScope:
    """What :func:`require` does once the caller and the path are valid: count a write
    against the caller's limit, then decide access."""
    if need is not Need.READ:
        request.app.state.write_limits.hit(str(caller.user_id))
    db: Database = request.app.state.db
    # Only a clinician's use is logged, with its path: a patient's request need not build
    # the URL (3 % of a diary entry PUT's CPU, bench/README.md).
    path = request.url.path if caller.role != "patient" else ""
    return await resolve_patient(db, caller, patient_id, need, request.method, path)


def require(need: Need) -> object:
    async def dependency(
        caller: CurrentCaller, patient_id: PatientIdPath, request: Request
    ) -> PatientScope:
        return await patient_access(request, caller, patient_id, need)

    return Depends(dependency)


ReadAccess = Annotated[PatientScope, require(Need.READ)]
DiaryWriteAccess = Annotated[PatientScope, require(Need.WRITE_DIARY)]
CareWriteAccess = Annotated[PatientScope, require(Need.WRITE_CARE)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
