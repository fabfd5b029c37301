"""Change positions and tombstones: what the changes feed (§5) is built from."""

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.database import UTCDateTime


class ChangeCounter(SQLModel, table=True):
    """One row per patient; every write to the patient's records takes the next position.

    The position is taken with ``UPDATE … RETURNING`` inside the writing transaction, which
    locks the row until commit: two writers of one patient commit in position order, so a
    reader who saw position *n* can never later find a committed write below *n*.
    """

    __tablename__ = "change_counters"

    patient_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    position: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))


class Tombstone(SQLModel, table=True):
    """What is left of a deleted entry, session or course: enough to tell a phone to drop it."""

    __tablename__ = "tombstones"
    __table_args__ = (sa.Index(None, "patient_id", "change_position"),)

    patient_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    kind: str = Field(sa_column=sa.Column(sa.String(16), primary_key=True))
    id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, primary_key=True))
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    change_position: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    deleted_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class IdempotencyKey(SQLModel, table=True):
    """The response to a POST sent with an ``Idempotency-Key``, replayed to its retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.Index(None, "created_at"),)

    user_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    key: str = Field(sa_column=sa.Column(sa.String(255), primary_key=True))
    #: SHA-256 of method, path, query and body: a reused key must carry the same request.
    fingerprint: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    #: Null while the first request is still being processed.
    status_code: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    body: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary))
    headers: dict[str, str] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    created_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
