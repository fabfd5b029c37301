"""Treatment courses."""

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.database import UTCDateTime


class TreatmentCourse(SQLModel, table=True):
    """A course of treatment (typically 8–12 needling sessions) whose effect is summarised."""

    __tablename__ = "treatment_courses"
    __table_args__ = (
        sa.Index(None, "patient_id", "start_date"),
        sa.Index(None, "patient_id", "change_position"),
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
    )

    patient_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, primary_key=True))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    condition: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    modality: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    start_date: dt.date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    end_date: dt.date | None = Field(default=None, sa_column=sa.Column(sa.Date))
    planned_sessions: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    practitioner: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    pattern: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    notes: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    created_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    change_position: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
