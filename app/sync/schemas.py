"""The changes feed (contract §5)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.courses.schemas import CourseOut
from app.diary.schemas import EntryOut
from app.sessions.schemas import SessionOut

RecordType = Literal["entry", "session", "course"]


class Change(BaseModel):
    type: RecordType
    id: uuid.UUID
    op: Literal["upsert", "delete"]
    version: int
    data: EntryOut | SessionOut | CourseOut | None = Field(
        default=None, description="The record's newest state (upserts only)."
    )


class ChangesPage(BaseModel):
    changes: list[Change]
    next_cursor: str = Field(description="Store it; pass it as `since` next time.")
    has_more: bool
