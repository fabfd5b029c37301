"""Keyset pagination with opaque cursors: ``{"items": [...], "next_cursor": str | null}``."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from app.core.errors import Invalid

T = TypeVar("T")

LimitParam = Annotated[int, Query(ge=1, le=500, description="Page size (1–500).")]
CursorParam = Annotated[
    str | None,
    Query(max_length=512, description="Opaque cursor from a previous page's `next_cursor`."),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.date) else str(v) for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: list[type], name: str = "cursor") -> list[Any]:
    """Parse a cursor made by :func:`encode_cursor` for sort keys of the given types.

    A cursor is opaque but not trusted: only values this service could have issued pass
    (``Invalid`` on query parameter ``name`` otherwise), so nothing odd reaches SQL.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
        if not isinstance(plain, list) or len(plain) != len(types):
            raise ValueError("wrong shape")
        return [_parse(kind, value) for kind, value in zip(types, plain, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError) as exc:
        raise Invalid([(["query", name], "not a cursor issued by this service")]) from exc


#: Every date or time a cursor can hold lies within what the service stores.
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def _parse(kind: type, value: Any) -> Any:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("cursor values are short strings")
    if kind is dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime in cursor")
        if not EARLIEST <= parsed.astimezone(dt.UTC) < LATEST:
            raise ValueError("a time no record has")
        return parsed
    if kind is dt.date:
        date = dt.date.fromisoformat(value)
        if not EARLIEST.date() <= date < LATEST.date():
            raise ValueError("a date no record has")
        return date
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is int:
        number = int(value)
        if not 0 <= number < 2**63:
            raise ValueError("beyond a position")
        return number
    if not value.isprintable():
        raise ValueError("no control characters in cursors")
    return value
