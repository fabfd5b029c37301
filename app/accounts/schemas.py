"""Request and response bodies for accounts and tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

_ZONES = frozenset(available_timezones())


def _iana(name: str) -> str:
    if name not in _ZONES:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA time zone name, e.g. 'Europe/Berlin'") from exc
    return name


TimeZoneName = Annotated[
    str, Field(max_length=64, examples=["Europe/Berlin"]), AfterValidator(_iana)
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Role = Literal["patient", "clinician"]


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=10, max_length=1024)
    role: Role
    display_name: DisplayName | None = None
    timezone: TimeZoneName = "UTC"


class MeUpdate(BaseModel):
    """The writable fields of ``/v1/me`` after a merge patch has been applied."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    timezone: TimeZoneName


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    display_name: str | None
    timezone: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=512)
