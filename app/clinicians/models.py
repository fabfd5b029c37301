"""Share codes: how a patient gives a clinician access (the links themselves are in
:mod:`app.access.models`)."""

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
