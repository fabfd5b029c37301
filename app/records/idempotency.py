"""``Idempotency-Key`` on POST (IETF httpapi-idempotency-key-header): a retry with the same
key and request gets the first response again; the same key with another request is 422."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from fastapi import Request, Response
from sqlalchemy.exc import IntegrityError

from app.core.clock import utcnow
from app.core.database import Database, table_of
from app.core.errors import AppError, Conflict, Invalid, problem_response
from app.records.models import IdempotencyKey

keys = table_of(IdempotencyKey)
LIFETIME = dt.timedelta(hours=24)
#: A first request that has not answered in this time died with its process: take over.
ABANDONED_AFTER = dt.timedelta(seconds=60)
#: About one claim in this many also purges every user's expired keys (they hold responses,
#: which may hold health data: they must not outlive their 24 hours by much).
PURGE_EVERY = 200
REPLAYED_HEADERS = ("content-type", "location", "etag")


def parse_key(header: str | None) -> str | None:
    """The key, without the quotes of its structured-field form; None when absent."""
    if header is None:
        return None
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise Invalid([(["header", "Idempotency-Key"], "must be 1–255 printable characters")])
    return key


async def idempotent(
    db: Database,
    user_id: uuid.UUID,
    header: str | None,
    request: Request,
    produce: Callable[[], Awaitable[Response]],
) -> Response:
    key = parse_key(header)
    if key is None:
        return await produce()
    body = await request.body()
    fingerprint = hashlib.sha256(
        f"{request.method} {request.url.path}?{request.url.query}\n".encode() + body
    ).hexdigest()
    now = utcnow()
    stored = await _claim(db, user_id, key, fingerprint, now)
    if stored is not None:
        return stored
    try:
        response = await produce()
    except AppError as exc:  # a client error is the request's answer, retries get it too
        response = problem_response(
            exc.status,
            exc.detail,
            slug=exc.slug,
            errors=getattr(exc, "errors", None),
            headers=exc.headers,
        )
    except BaseException:
        await _release(db, user_id, key)  # let a retry try again
        raise
    if response.status_code >= 500:
        await _release(db, user_id, key)
        return response
    headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(keys)
            .where(keys.c.user_id == user_id, keys.c.key == key)
            .values(status_code=response.status_code, body=bytes(response.body), headers=headers)
        )
    return response


async def _claim(
    db: Database, user_id: uuid.UUID, key: str, fingerprint: str, now: dt.datetime
) -> Response | None:
    """Reserve the key for this request, or answer from its first use."""
    try:
        async with db.transaction() as conn:
            expired = keys.c.created_at < now - LIFETIME
            if secrets.randbelow(PURGE_EVERY) == 0:
                await conn.execute(sa.delete(keys).where(expired))
            else:
                await conn.execute(sa.delete(keys).where(keys.c.user_id == user_id, expired))
            row = (
                (
                    await conn.execute(
                        sa.select(keys).where(keys.c.user_id == user_id, keys.c.key == key)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                await conn.execute(
                    sa.insert(keys).values(
                        user_id=user_id, key=key, fingerprint=fingerprint, created_at=now
                    )
                )
                return None
    except IntegrityError as exc:  # a concurrent first use of the same key
        raise Conflict("A request with this Idempotency-Key is still being processed.") from exc
    if row["fingerprint"] != fingerprint:
        raise Invalid(
            [(["header", "Idempotency-Key"], "was already used with a different request")]
        )
    if row["status_code"] is None:
        if row["created_at"] >= now - ABANDONED_AFTER:
            raise Conflict("A request with this Idempotency-Key is still being processed.")
        async with db.transaction() as conn:  # its process died: this request takes over
            taken = await conn.execute(
                sa.update(keys)
                .where(
                    keys.c.user_id == user_id,
                    keys.c.key == key,
                    keys.c.status_code.is_(None),
                    keys.c.created_at == row["created_at"],
                )
                .values(created_at=now)
            )
        if taken.rowcount == 1:
            return None
        raise Conflict("A request with this Idempotency-Key is still being processed.")
    return Response(
        content=row["body"],
        status_code=row["status_code"],
        headers={**(row["headers"] or {}), "Idempotent-Replayed": "true"},
    )


async def _release(db: Database, user_id: uuid.UUID, key: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(sa.delete(keys).where(keys.c.user_id == user_id, keys.c.key == key))
