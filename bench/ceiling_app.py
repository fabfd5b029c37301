"""The write ceiling: the service's PUT of a new entry with no web framework at all.

A bare ASGI callable and an asyncpg pool doing what the service does for a new diary
entry — verify the bearer token, validate the body, run the one creation statement,
answer 201 with the entry — and nothing else: no routing, no middleware, no error answers
(any other request gets a bare 404 or 500). It is not a design to copy; it shows what this
machine allows a Python process that writes to PostgreSQL, beside the bare framework's
constant. PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg

from app.core.database import DriverStatement, create_engine
from app.core.http import render
from app.core.security import AccessTokens
from app.diary.schemas import EntryIn
from app.diary.service import entries
from app.records import service as records

URL = os.environ["PAINDIARY_DATABASE_URL"]
tokens = AccessTokens(os.environ["PAINDIARY_SECRET_KEY"], 900)
creation = DriverStatement(
    records.create_with_position(entries.table, entries.name), create_engine(URL).dialect
)
pool: asyncpg.Pool | None = None


async def _jsonb_codecs(connection: asyncpg.Connection) -> None:
    # As SQLAlchemy's asyncpg dialect sets them: the bind processors hand over JSON text.
    for name in ("json", "jsonb"):
        prefix = b"\x01" if name == "jsonb" else b""
        await connection.set_type_codec(
            name,
            encoder=lambda text, p=prefix: p + text.encode(),
            decoder=lambda data, n=len(prefix): json.loads(data[n:]),
            schema="pg_catalog",
            format="binary",
        )


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global pool
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            pool = await asyncpg.create_pool(URL, min_size=20, max_size=20, init=_jsonb_codecs)
            await send({"type": "lifespan.startup.complete"})
        await pool.close()  # type: ignore[union-attr]
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = dict(scope["headers"])
    if scope["method"] != "PUT" or b"authorization" not in headers:
        await _answer(send, 404, b"")
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    caller = tokens.verify(headers[b"authorization"].decode()[7:])
    record_id = uuid.UUID(scope["path"].rsplit("/", 1)[1])
    entry = EntryIn.model_validate(json.loads(body))
    now = dt.datetime.now(dt.UTC)
    values = await entries.prepare(None, caller.user_id, entry, None, now)  # type: ignore[arg-type]
    row = {**values, "patient_id": caller.user_id, "id": record_id}
    row |= {"created_at": now, "updated_at": now}
    async with pool.acquire() as connection:  # type: ignore[union-attr]
        created = await connection.fetchrow(
            creation.sql, *creation.arguments(records.creation_parameters(row))
        )
    row |= {"version": created["version"], "change_position": created["change_position"]}
    await _answer(send, 201, render(entries.public(row)))


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
