"""Every table of the service, imported in one place for Alembic and the test fixtures."""

from app.accounts.models import RefreshToken, User
from app.clinicians.models import AccessLogEntry, ClinicianLink, ShareCode
from app.core.database import metadata
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.sessions.models import SessionEvent
from app.sync.models import ChangeCounter, IdempotencyKey, Tombstone

__all__ = [
    "AccessLogEntry",
    "ChangeCounter",
    "ClinicianLink",
    "DiaryEntry",
    "IdempotencyKey",
    "RefreshToken",
    "SessionEvent",
    "ShareCode",
    "Tombstone",
    "TreatmentCourse",
    "User",
    "metadata",
]
