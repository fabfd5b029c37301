"""Dependencies shared by every route: the app's database, settings and services, and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.core.cache import RenderedBodies
from app.core.database import Database
from app.core.errors import Forbidden, Invalid, Unauthorized
from app.core.security import AccessTokens, Caller, Passwords
from app.core.sessions import EndedSessions
from app.core.settings import Settings
from app.core.workers import HeavyWork


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


async def get_summary_cache(request: Request) -> RenderedBodies:
    cache: RenderedBodies = request.app.state.summaries
    return cache


DbDep = Annotated[Database, Depends(get_db)]


async def get_heavy_work(request: Request) -> HeavyWork:
    heavy: HeavyWork = request.app.state.heavy_work
    return heavy


async def get_ended_sessions(request: Request) -> EndedSessions:
    ended: EndedSessions = request.app.state.ended_sessions
    return ended


EndedSessionsDep = Annotated[EndedSessions, Depends(get_ended_sessions)]
SummaryCacheDep = Annotated[RenderedBodies, Depends(get_summary_cache)]
HeavyWorkDep = Annotated[HeavyWork, Depends(get_heavy_work)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
TokensDep = Annotated[AccessTokens, Depends(get_tokens)]


class BearerCaller(OAuth2PasswordBearer):
    """The caller, from the request's ``Authorization: Bearer <access token>`` (401 without a
    token that verifies); documented in OpenAPI as the OAuth2 password flow."""

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Sign in: send `Authorization: Bearer <access_token>`.")
        tokens: AccessTokens = request.app.state.tokens
        caller = tokens.verify(token)
        ended: EndedSessions = request.app.state.ended_sessions
        await ended.refresh(request.app.state.db)
        if ended.has_ended(caller):
            raise Unauthorized("This session has ended; sign in again.")
        return caller


current_caller = BearerCaller(
    tokenUrl="/v1/auth/token", scheme_name="OAuth2PasswordBearer", auto_error=False
)

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


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def known_query_parameters(request: Request) -> None:
    """A query parameter the operation does not declare is ``422``, as an unknown body field
    is: a typo (``?limt=5``) must not be silently dropped. Every ``/v1`` router has it."""
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    names: frozenset[str] | None = getattr(route, "query_names", None)
    if names is None:
        declared = get_flat_params(route.dependant)
        names = frozenset(p.alias for p in declared if isinstance(p.field_info, params.Query))
        route.query_names = names  # type: ignore[attr-defined]
    unknown = [name for name in request.query_params if name not in names]
    if unknown:
        raise Invalid([(["query", name], "unknown query parameter") for name in unknown])


#: Give it to a router (``APIRouter(dependencies=[KnownQueryParameters])``).
KnownQueryParameters = Depends(known_query_parameters)
