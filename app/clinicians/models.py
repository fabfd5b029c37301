"""Consent: share codes, clinician links, and the log of who used a patient's data."""

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.database import UTCDateTime


class ShareCode(SQLModel, table=True):
    """A single-use, expiring code a patient gives a clinician; only its SHA-256 is kept."""

    __tablename__ = "share_codes"

    code_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    patient_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    used_at: dt.datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    used_by: uuid.UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))


class ClinicianLink(SQLModel, table=True):
    """A clinician's access to a patient's data; deleting the row revokes it at once."""

    __tablename__ = "clinician_links"

    patient_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    clinician_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )
    linked_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class AccessLogEntry(SQLModel, table=True):
    """One read or write of a patient's data by someone other than the patient.

    ``actor_id`` has no foreign key: the patient keeps the record after the actor's
    account is gone.
    """

    __tablename__ = "access_log"
    __table_args__ = (sa.Index(None, "patient_id", "at"),)

    patient_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, primary_key=True))
    actor_id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, nullable=False))
    actor_role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    method: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    path: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))
