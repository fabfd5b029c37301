"""Request and response bodies for accounts and tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)
from typing_extensions import TypeAliasType

from app.core.fields import drop_server_fields

#: The IANA zone names of the tzdata package: the same list on every host (the host's own
#: zoneinfo folder also holds files such as "localtime" or "posix/…" that are not zones).
_ZONES = frozenset(resources.files("tzdata").joinpath("zones").read_text().split())


def _iana(name: str) -> str:
    if name not in _ZONES:
        raise ValueError("not an IANA time zone name, e.g. 'Europe/Berlin'")
    return name


TimeZoneName = Annotated[
    str, Field(max_length=64, examples=["Europe/Berlin"]), AfterValidator(_iana)
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# A named alias: OpenAPI lists it once, as a component clients turn into a type.
Role = TypeAliasType("Role", Literal["patient", "clinician"])
ACCOUNT_SERVER_FIELDS = frozenset({"id"})


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _ignore_server_fields(cls, data: Any) -> Any:
        return drop_server_fields(data, derived=ACCOUNT_SERVER_FIELDS)

    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=10, max_length=1024)
    role: Role
    display_name: DisplayName | None = None
    timezone: TimeZoneName = "UTC"


class MeUpdate(BaseModel):
    """The writable fields of ``/v1/me`` after a merge patch has been applied."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _ignore_server_fields(cls, data: Any) -> Any:
        # A client may send back what it read; email and role stay refused (not changeable).
        return drop_server_fields(data, derived=ACCOUNT_SERVER_FIELDS)

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


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=10, max_length=1024)


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=512)
