"""Accounts and refresh tokens."""

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.database import UTCDateTime


class User(SQLModel, table=True):
    """A patient or a clinician. A patient's id is the ``patient_id`` of their records."""

    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("role IN ('patient', 'clinician')", name="role"),)

    id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, primary_key=True))
    #: Stored lower-cased, so sign-in is case-insensitive.
    email: str = Field(sa_column=sa.Column(sa.String(320), nullable=False, unique=True))
    password_hash: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    display_name: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    timezone: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    created_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class RefreshToken(SQLModel, table=True):
    """One link of a rotating refresh-token family; only the secret's SHA-256 is kept."""

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, primary_key=True))
    user_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    family_id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, nullable=False, index=True))
    secret_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    issued_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    used_at: dt.datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    successor_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))
