"""Diary entries."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.database import JSONList, UTCDateTime


def _score(name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{name} BETWEEN 0 AND 10", name=f"{name}_range")


class DiaryEntry(SQLModel, table=True):
    """One diary entry. Several a day are normal; the day they belong to is ``local_date``."""

    __tablename__ = "diary_entries"
    __table_args__ = (
        sa.Index(None, "patient_id", "local_date"),
        sa.Index(None, "patient_id", "change_position"),
        _score("pain"),
        _score("pain_worst"),
    )

    patient_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, primary_key=True))
    #: The instant, in UTC; ``recorded_offset_minutes`` is the offset it was sent with.
    recorded_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    recorded_offset_minutes: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    local_date: dt.date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    pain: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    pain_worst: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    sites: list[dict[str, Any]] = Field(sa_column=sa.Column(JSONList, nullable=False))
    sleep_hours: float | None = Field(default=None, sa_column=sa.Column(sa.Float))
    sleep_quality: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    stress: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    mood: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    activity_interference: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    enjoyment_interference: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    medications: list[dict[str, Any]] = Field(sa_column=sa.Column(JSONList, nullable=False))
    tags: list[str] = Field(sa_column=sa.Column(JSONList, nullable=False))
    notes: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    backfilled: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    created_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    change_position: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
