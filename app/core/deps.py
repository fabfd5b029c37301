"""Dependencies shared by every route: the app's database, settings and services, and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.core.cache import RenderedBodies
from app.core.database import Database
from app.core.errors import Forbidden, Unauthorized
from app.core.security import AccessTokens, Caller, Passwords
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
        return tokens.verify(token)


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
