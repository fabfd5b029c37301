"""Who may use a patient's data: clinician links, and the log of every use by someone else."""

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.database import UTCDateTime


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
