"""Sign-up, sign-in, rotating refresh tokens and account erasure."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.concurrency import run_in_threadpool

from app.accounts.models import RefreshToken, User
from app.accounts.schemas import MeUpdate, PasswordChange, Registration, TokenPair, UserOut
from app.core.clock import utcnow
from app.core.database import Database, table_of
from app.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.core.security import AccessTokens, Caller, Passwords, digest, new_refresh_secret
from app.core.sessions import EndedSessions, end_sessions
from app.core.settings import Settings
from app.records import changes
from app.records.service import merge_patch_of

users = table_of(User)
refresh_tokens = table_of(RefreshToken)

BAD_CREDENTIALS = "The email or password is wrong."
BAD_REFRESH = "The refresh token is invalid, expired or revoked."
#: What an erased account's still-valid access token is told (401).
ERASED = "The account no longer exists."


async def register(db: Database, passwords: Passwords, data: Registration) -> UserOut:
    now, user_id = utcnow(), uuid.uuid4()
    row = {
        "id": user_id,
        "email": data.email.lower(),
        "password_hash": await run_in_threadpool(passwords.hash, data.password),
        "role": data.role,
        "display_name": data.display_name,
        "timezone": data.timezone,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with db.transaction() as conn:
            await conn.execute(sa.insert(users).values(row))
            if data.role == "patient":
                await changes.create_counter(conn, user_id)
    except IntegrityError as exc:
        raise Conflict("An account with this email already exists.") from exc
    return UserOut.model_validate(row)


async def get_user(conn: AsyncConnection, user_id: uuid.UUID) -> dict[str, Any]:
    row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).mappings().first()
    if row is None:
        raise Unauthorized(ERASED)
    return dict(row)


async def me(db: Database, user_id: uuid.UUID) -> UserOut:
    async with db.read() as conn:
        return UserOut.model_validate(await get_user(conn, user_id))


async def update_me(db: Database, user_id: uuid.UUID, patch: dict[str, Any]) -> UserOut:
    async with db.transaction() as conn:
        row = (
            (await conn.execute(sa.select(users).where(users.c.id == user_id).with_for_update()))
            .mappings()
            .first()
        )
        if row is None:
            raise Unauthorized(ERASED)
        current = {"display_name": row["display_name"], "timezone": row["timezone"]}
        present = {k: v for k, v in current.items() if v is not None}
        merged = merge_patch_of(MeUpdate, present, patch)
        try:
            update = MeUpdate.model_validate(merged)
        except ValidationError as exc:
            raise Invalid.from_validation(exc) from exc
        values = update.model_dump()
        if values == current:
            return UserOut.model_validate(row)
        values |= {"version": row["version"] + 1, "updated_at": utcnow()}
        await conn.execute(sa.update(users).where(users.c.id == user_id).values(values))
    return UserOut.model_validate({**row, **values})


async def erase(db: Database, sessions: EndedSessions, user_id: uuid.UUID) -> None:
    """Delete the account; every record of it goes with it (foreign keys cascade), and every
    session of it ends (its access tokens are refused on every route)."""
    async with db.transaction() as conn:
        result = await conn.execute(sa.delete(users).where(users.c.id == user_id))
        if result.rowcount == 0:
            raise NotFound("The account no longer exists.")
        rows = await end_sessions(conn, user_id=user_id, now=utcnow())
    sessions.note(rows)


async def change_password(
    db: Database,
    passwords: Passwords,
    tokens: AccessTokens,
    settings: Settings,
    sessions: EndedSessions,
    caller: Caller,
    data: PasswordChange,
) -> TokenPair:
    """Set a new password after checking the current one (403 when wrong); every session of
    the account ends, this one included, and the answer is a new session's token pair."""
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(users.c.password_hash, users.c.role).where(users.c.id == caller.user_id)
            )
        ).first()
    if row is None:
        raise Unauthorized(ERASED)
    if not await run_in_threadpool(passwords.verify, row.password_hash, data.current_password):
        raise Forbidden("The current password is wrong.")
    new_hash = await run_in_threadpool(passwords.hash, data.new_password)
    now, family_id = utcnow(), uuid.uuid4()
    async with db.transaction() as conn:
        updated = await conn.execute(
            sa.update(users)
            .where(users.c.id == caller.user_id)
            .values(password_hash=new_hash, version=users.c.version + 1, updated_at=now)
        )
        if updated.rowcount == 0:
            raise Unauthorized(ERASED)
        # The sessions still alive are the families with a token not yet revoked (the
        # others ended when they were revoked), and the caller's own.
        families = await _revoke(conn, refresh_tokens.c.user_id == caller.user_id, now)
        if caller.session_id is not None:
            families.add(caller.session_id)
        ended = await end_sessions(conn, families=sorted(families), now=now)
        refresh = await _issue_refresh(conn, caller.user_id, family_id, settings)
    sessions.note(ended)
    return TokenPair(
        access_token=tokens.issue(caller.user_id, row.role, family_id),
        expires_in=tokens.ttl_seconds,
        refresh_token=refresh,
    )


async def sign_in(
    db: Database,
    passwords: Passwords,
    tokens: AccessTokens,
    settings: Settings,
    email: str,
    password: str,
) -> TokenPair:
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(users.c.id, users.c.role, users.c.password_hash).where(
                    users.c.email == email.strip().lower()
                )
            )
        ).first()
    if row is None:
        await run_in_threadpool(passwords.verify_unknown, password)
        raise Unauthorized(BAD_CREDENTIALS)
    if not await run_in_threadpool(passwords.verify, row.password_hash, password):
        raise Unauthorized(BAD_CREDENTIALS)
    family_id = uuid.uuid4()  # the session: its access tokens name it (`sid`)
    async with db.transaction() as conn:
        refresh = await _issue_refresh(conn, row.id, family_id, settings)
    return TokenPair(
        access_token=tokens.issue(row.id, row.role, family_id),
        expires_in=tokens.ttl_seconds,
        refresh_token=refresh,
    )


async def refresh(
    db: Database,
    sessions: EndedSessions,
    tokens: AccessTokens,
    settings: Settings,
    presented: str,
) -> TokenPair:
    """Rotate a refresh token.

    A used token replayed within the grace period while its successor is still unused (the
    phone lost the response) gets a new pair and the unused successor dies; any other
    replay of a used token revokes the whole family.
    """
    token_id, secret = _split(presented)
    now = utcnow()
    reuse_detected = False
    ended: list[dict[str, Any]] = []
    role = ""
    async with db.transaction() as conn:
        row = await _locked_token(conn, token_id)
        if row is None or not hmac.compare_digest(row["secret_hash"], digest(secret)):
            raise Unauthorized(BAD_REFRESH)
        if row["revoked_at"] is not None or row["expires_at"] <= now:
            raise Unauthorized(BAD_REFRESH)
        if row["used_at"] is not None:
            successor = (
                await _locked_token(conn, row["successor_id"]) if row["successor_id"] else None
            )
            grace = dt.timedelta(seconds=settings.refresh_reuse_grace_seconds)
            if (
                now - row["used_at"] <= grace
                and successor is not None
                and successor["used_at"] is None
                and successor["revoked_at"] is None
            ):
                await conn.execute(
                    sa.update(refresh_tokens)
                    .where(refresh_tokens.c.id == successor["id"])
                    .values(revoked_at=now)
                )
            else:
                await _revoke_family(conn, row["family_id"], now)
                ended = await end_sessions(conn, families=[row["family_id"]], now=now)
                reuse_detected = True
        if not reuse_detected:
            user = (
                await conn.execute(sa.select(users.c.role).where(users.c.id == row["user_id"]))
            ).first()
            if user is None:
                raise Unauthorized(BAD_REFRESH)
            role = user.role
            new_token = await _issue_refresh(conn, row["user_id"], row["family_id"], settings)
            await conn.execute(
                sa.update(refresh_tokens)
                .where(refresh_tokens.c.id == token_id)
                .values(used_at=row["used_at"] or now, successor_id=_split(new_token)[0])
            )
    if reuse_detected:  # raised after commit, so the family stays revoked
        sessions.note(ended)
        raise Unauthorized(BAD_REFRESH)
    return TokenPair(
        access_token=tokens.issue(row["user_id"], role, row["family_id"]),
        expires_in=tokens.ttl_seconds,
        refresh_token=new_token,
    )


async def revoke(db: Database, sessions: EndedSessions, user_id: uuid.UUID, presented: str) -> None:
    """Revoke the presented token's family if it is the caller's, which ends that session:
    its access tokens are refused from now on; otherwise do nothing (RFC 7009: an invalid
    token is not an error)."""
    try:
        token_id, secret = _split(presented)
    except Unauthorized:
        return
    async with db.transaction() as conn:
        row = await _locked_token(conn, token_id)
        if (
            row is not None
            and row["user_id"] == user_id
            and hmac.compare_digest(row["secret_hash"], digest(secret))
        ):
            now = utcnow()
            await _revoke_family(conn, row["family_id"], now)
            ended = await end_sessions(conn, families=[row["family_id"]], now=now)
        else:
            ended = []
    sessions.note(ended)  # after the commit


async def _issue_refresh(
    conn: AsyncConnection, user_id: uuid.UUID, family_id: uuid.UUID, settings: Settings
) -> str:
    token_id, secret, now = uuid.uuid4(), new_refresh_secret(), utcnow()
    await conn.execute(
        sa.insert(refresh_tokens).values(
            id=token_id,
            user_id=user_id,
            family_id=family_id,
            secret_hash=digest(secret),
            issued_at=now,
            expires_at=now + dt.timedelta(days=settings.refresh_token_ttl_days),
        )
    )
    return f"{token_id.hex}.{secret}"


async def _locked_token(conn: AsyncConnection, token_id: uuid.UUID) -> Any:
    query = sa.select(refresh_tokens).where(refresh_tokens.c.id == token_id).with_for_update()
    return (await conn.execute(query)).mappings().first()


async def _revoke(
    conn: AsyncConnection, which: sa.ColumnElement[bool], now: dt.datetime
) -> set[uuid.UUID]:
    """Revoke the refresh tokens ``which`` selects that are not revoked yet; answers their
    families."""
    revoked = await conn.execute(
        sa.update(refresh_tokens)
        .where(which, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(refresh_tokens.c.family_id)
    )
    return set(revoked.scalars())


async def _revoke_family(conn: AsyncConnection, family_id: uuid.UUID, now: dt.datetime) -> None:
    await _revoke(conn, refresh_tokens.c.family_id == family_id, now)


def _split(presented: str) -> tuple[uuid.UUID, str]:
    head, _, secret = presented.partition(".")
    try:
        if not secret:
            raise ValueError("no secret")
        return uuid.UUID(hex=head), secret
    except ValueError as exc:
        raise Unauthorized(BAD_REFRESH) from exc
