"""Every table of the service, imported in one place for Alembic and the test fixtures."""

from app.access.models import AccessLogEntry, ClinicianLink
from app.accounts.models import RefreshToken, User
from app.clinicians.models import ShareCode
from app.core.database import metadata
from app.core.ratelimit import RateLimitRow
from app.core.sessions import EndedSession
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.records.models import ChangeCounter, IdempotencyKey, Tombstone
from app.sessions.models import SessionEvent

__all__ = [
    "AccessLogEntry",
    "ChangeCounter",
    "ClinicianLink",
    "DiaryEntry",
    "EndedSession",
    "IdempotencyKey",
    "RateLimitRow",
    "RefreshToken",
    "SessionEvent",
    "ShareCode",
    "Tombstone",
    "TreatmentCourse",
    "User",
    "metadata",
]
