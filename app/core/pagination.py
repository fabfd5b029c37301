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


def decode_cursor(cursor: str, types: list[type]) -> list[Any]:
    """Parse a cursor made by :func:`encode_cursor` for sort keys of the given types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
        if not isinstance(plain, list) or len(plain) != len(types):
            raise ValueError("wrong shape")
        return [_parse(kind, value) for kind, value in zip(types, plain, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise Invalid([(["query", "cursor"], "not a cursor issued by this service")]) from exc


def _parse(kind: type, value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("cursor values are strings")
    if kind is dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime in cursor")
        return parsed
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is int:
        return int(value)
    return value
