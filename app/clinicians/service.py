"""Consent rules: share codes, links, who may use a patient's data, and the access log."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from typing import Any

import sqlalchemy as sa

from app.access.service import access_log, links
from app.accounts.models import User
from app.accounts.service import ERASED
from app.clinicians.models import ShareCode
from app.clinicians.schemas import (
    AccessLogOut,
    ClinicianLinkOut,
    LinkOut,
    ShareCodeOut,
)
from app.core.clock import utcnow
from app.core.database import Database, table_of
from app.core.errors import NotFound, Unauthorized
from app.core.pagination import decode_cursor, encode_cursor
from app.core.security import digest

users = table_of(User)
share_codes = table_of(ShareCode)

#: Crockford's base32 alphabet: no I, L, O or U to misread. 12 characters = 60 bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
NO_CODE = "This share code is unknown, already used or expired."


def new_share_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(code: str) -> str:
    """Codes are read back by people: case, spaces and hyphens do not matter."""
    return re.sub(r"[\s\-]", "", code).upper()


async def create_share_code(db: Database, patient_id: uuid.UUID, hours: int) -> ShareCodeOut:
    code, now = new_share_code(), utcnow()
    expires_at = now + dt.timedelta(hours=hours)
    try:
        async with db.transaction() as conn:
            await conn.execute(
                sa.insert(share_codes).values(
                    code_hash=digest(normalise_code(code)),
                    patient_id=patient_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
    except sa.exc.IntegrityError as exc:  # the caller's account was erased after sign-in
        raise Unauthorized(ERASED) from exc
    return ShareCodeOut(code=code, expires_at=expires_at)


async def redeem(db: Database, clinician_id: uuid.UUID, code: str) -> LinkOut:
    """Link the clinician to the code's patient; the code is used up. NotFound otherwise."""
    now = utcnow()
    async with db.transaction() as conn:
        patient_id = (
            await conn.execute(
                sa.update(share_codes)
                .where(
                    share_codes.c.code_hash == digest(normalise_code(code)),
                    share_codes.c.used_at.is_(None),
                    share_codes.c.expires_at > now,
                )
                .values(used_at=now, used_by=clinician_id)
                .returning(share_codes.c.patient_id)
            )
        ).scalar_one_or_none()
        if patient_id is None:
            raise NotFound(NO_CODE)
        existing = (
            await conn.execute(
                sa.select(links.c.linked_at).where(
                    links.c.patient_id == patient_id, links.c.clinician_id == clinician_id
                )
            )
        ).scalar_one_or_none()
        linked_at = existing or now
        if existing is None:
            try:
                await conn.execute(
                    sa.insert(links).values(
                        patient_id=patient_id, clinician_id=clinician_id, linked_at=now
                    )
                )
            except sa.exc.IntegrityError as exc:  # the clinician's account was erased
                raise Unauthorized(ERASED) from exc
        name = (
            await conn.execute(sa.select(users.c.display_name).where(users.c.id == patient_id))
        ).scalar_one()
    return LinkOut(patient_id=patient_id, display_name=name, linked_at=linked_at)


async def list_links(db: Database, patient_id: uuid.UUID) -> list[ClinicianLinkOut]:
    query = (
        sa.select(links.c.clinician_id, users.c.display_name, users.c.email, links.c.linked_at)
        .join(users, users.c.id == links.c.clinician_id)
        .where(links.c.patient_id == patient_id)
        .order_by(links.c.linked_at, links.c.clinician_id)
    )
    async with db.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [ClinicianLinkOut.model_validate(dict(r)) for r in rows]


async def revoke_link(db: Database, patient_id: uuid.UUID, clinician_id: uuid.UUID) -> None:
    """Effective on the clinician's very next request: access is checked on every one."""
    async with db.transaction() as conn:
        result = await conn.execute(
            sa.delete(links).where(
                links.c.patient_id == patient_id, links.c.clinician_id == clinician_id
            )
        )
    if result.rowcount == 0:
        raise NotFound("This clinician has no access to your data.")


async def list_access_log(
    db: Database, patient_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[AccessLogOut], str | None]:
    """Newest first."""
    query = (
        sa.select(access_log, users.c.display_name.label("actor_display_name"))
        .outerjoin(users, users.c.id == access_log.c.actor_id)
        .where(access_log.c.patient_id == patient_id)
    )
    if cursor is not None:
        at, entry_id = decode_cursor(cursor, [dt.datetime, uuid.UUID])
        query = query.where(sa.tuple_(access_log.c.at, access_log.c.id) < sa.tuple_(at, entry_id))
    query = query.order_by(access_log.c.at.desc(), access_log.c.id.desc()).limit(limit + 1)
    async with db.read() as conn:
        rows: list[Any] = list((await conn.execute(query)).mappings())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["at"], rows[-1]["id"]])
    return [AccessLogOut.model_validate(dict(r)) for r in rows], next_cursor
