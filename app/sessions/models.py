"""Session events: one treatment session (needling, electroacupuncture…)."""

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.database import JSONList, UTCDateTime


class SessionEvent(SQLModel, table=True):
    __tablename__ = "session_events"
    __table_args__ = (
        # The composite key makes "one of this patient's courses" a database rule too.
        sa.ForeignKeyConstraint(
            ["patient_id", "course_id"],
            ["treatment_courses.patient_id", "treatment_courses.id"],
        ),
        sa.Index(None, "patient_id", "occurred_at"),
        sa.Index(None, "patient_id", "course_id"),
        sa.Index(None, "patient_id", "change_position"),
    )

    patient_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, primary_key=True))
    course_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))
    occurred_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    occurred_offset_minutes: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    local_date: dt.date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    modality: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    points: list[str] = Field(sa_column=sa.Column(JSONList, nullable=False))
    electro_frequency_hz: float | None = Field(default=None, sa_column=sa.Column(sa.Float))
    duration_minutes: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    pain_before: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    pain_after: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    adverse_events: list[str] = Field(sa_column=sa.Column(JSONList, nullable=False))
    practitioner: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    notes: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    created_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    change_position: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
