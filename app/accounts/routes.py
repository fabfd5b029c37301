"""/v1/auth/* and /v1/me."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, Request, Response, status

from app.accounts import service
from app.accounts.schemas import (
    MeUpdate,
    PasswordChange,
    Registration,
    RevokeRequest,
    TokenPair,
    UserOut,
)
from app.core.deps import (
    CurrentCaller,
    DbDep,
    EndedSessionsDep,
    KnownQueryParameters,
    PasswordsDep,
    SettingsDep,
    TokensDep,
    client_address,
)
from app.core.errors import BadRequest, Forbidden, Invalid, Unauthorized, problem_responses
from app.core.ratelimit import failures_counted
from app.records.routes import merge_patch_body

router = APIRouter(prefix="/v1", tags=["accounts"], dependencies=[KnownQueryParameters])

MergePatch = Annotated[
    dict[str, Any],
    Body(
        description="JSON merge patch (RFC 7396): `null` clears a field.",
        media_type="application/merge-patch+json",
    ),
]


@router.post(
    "/auth/register",
    operation_id="auth_register",
    summary="Sign up as a patient or a clinician",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=problem_responses(409, 422, 429),
)
async def register(
    data: Registration, db: DbDep, passwords: PasswordsDep, request: Request
) -> UserOut:
    await request.app.state.sign_up_limits.hit(client_address(request))
    return await service.register(db, passwords, data)


@router.post(
    "/auth/token",
    operation_id="auth_token",
    response_model=TokenPair,
    responses=problem_responses(400, 401, 422, 429),
    summary="OAuth2 token endpoint (password and refresh_token grants)",
)
async def token(
    request: Request,
    db: DbDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    sessions: EndedSessionsDep,
    settings: SettingsDep,
    grant_type: Annotated[str, Form(description="`password` or `refresh_token`")],
    username: Annotated[str | None, Form(max_length=320, description="The email")] = None,
    password: Annotated[str | None, Form(max_length=1024)] = None,
    refresh_token: Annotated[str | None, Form(max_length=512)] = None,
    scope: Annotated[str, Form(max_length=200)] = "",
) -> TokenPair:
    await request.app.state.sign_in_limits.hit(client_address(request))
    if grant_type == "password":
        if not username or not password:
            raise Invalid([(["body", "username"], "username and password are required")])
        account = f"account:{username.strip().lower()}"  # known or not: the same answers
        async with failures_counted(request.app.state.failed_sign_ins, [account], Unauthorized):
            return await service.sign_in(db, passwords, tokens, settings, username, password)
    if grant_type == "refresh_token":
        if not refresh_token:
            raise Invalid([(["body", "refresh_token"], "refresh_token is required")])
        return await service.refresh(db, sessions, tokens, settings, refresh_token)
    raise BadRequest("grant_type must be `password` or `refresh_token`.")


@router.post(
    "/auth/revoke",
    operation_id="auth_revoke",
    summary="Sign this device out: its refresh token's family ends",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 422),
)
async def revoke(
    data: RevokeRequest, caller: CurrentCaller, db: DbDep, sessions: EndedSessionsDep
) -> Response:
    await service.revoke(db, sessions, caller.user_id, data.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/password",
    operation_id="me_password",
    summary="Change your password: every other session ends; a new token pair for this one",
    response_model=TokenPair,
    responses=problem_responses(401, 403, 422, 429),
)
async def change_password(
    data: PasswordChange,
    caller: CurrentCaller,
    request: Request,
    db: DbDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    settings: SettingsDep,
    sessions: EndedSessionsDep,
) -> TokenPair:
    # A stolen access token must not make a way to guess the password: changes are limited
    # per account as sign-ins are per address, and wrong current passwords as failed
    # sign-ins are (10 in 15 minutes, by default).
    state = request.app.state
    key = f"password:{caller.user_id}"
    await state.sign_in_limits.hit(key)
    async with failures_counted(state.failed_sign_ins, [key], Forbidden):
        return await service.change_password(
            db, passwords, tokens, settings, sessions, caller, data
        )


@router.get(
    "/me",
    operation_id="me_get",
    summary="Your account",
    response_model=UserOut,
    responses=problem_responses(401),
)
async def read_me(caller: CurrentCaller, db: DbDep) -> UserOut:
    return await service.me(db, caller.user_id)


@router.patch(
    "/me",
    operation_id="me_patch",
    summary="Change your display name or time zone (JSON merge patch)",
    response_model=UserOut,
    responses=problem_responses(401, 422),
    openapi_extra=merge_patch_body(MeUpdate),
)
async def update_me(patch: MergePatch, caller: CurrentCaller, db: DbDep) -> UserOut:
    return await service.update_me(db, caller.user_id, patch)


@router.delete(
    "/me",
    operation_id="me_delete",
    summary="Erase your account and every record of it",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401),
)
async def erase_me(caller: CurrentCaller, db: DbDep, sessions: EndedSessionsDep) -> Response:
    await service.erase(db, sessions, caller.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
