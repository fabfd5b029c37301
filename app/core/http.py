"""Conditional requests (RFC 9110): strong ETags from versions, If-Match and If-None-Match."""

from __future__ import annotations

import pydantic_core
from fastapi import Header
from fastapi.responses import Response
from pydantic import BaseModel

from app.core.errors import BadRequest


def etag(version: int) -> str:
    return f'"{version}"'


class Preconditions:
    """The parsed ``If-Match`` / ``If-None-Match`` of a request.

    ``None`` means the header was absent; ``"*"`` matches any existing record. Weak tags
    (``W/"3"``) sent back by FHIR-style clients are taken as their version.
    """

    def __init__(self, if_match: str | None, if_none_match: str | None) -> None:
        self.if_match = _parse(if_match, "If-Match")
        self.if_none_match = _parse(if_none_match, "If-None-Match")

    def match_ok(self, current: int | None) -> bool:
        """Whether a write may proceed on a record at ``current`` (None = no record)."""
        if self.if_match is not None:
            if current is None:
                return False
            if self.if_match != "*" and current not in self.if_match:
                return False
        if self.if_none_match is not None and current is not None:
            return not (self.if_none_match == "*" or current in self.if_none_match)
        return True

    def not_modified(self, current: int) -> bool:
        """For GET: the client already holds ``current``."""
        inm = self.if_none_match
        return inm is not None and (inm == "*" or current in inm)


def _parse(header: str | None, name: str) -> set[int] | str | None:
    if header is None:
        return None
    header = header.strip()
    if header == "*":
        return "*"
    versions: set[int] = set()
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if len(tag) < 2 or not (tag.startswith('"') and tag.endswith('"')):
            raise BadRequest(f'{name} must be a list of entity tags such as "3".')
        opaque = tag[1:-1]
        # Strong comparison is character by character: only the exact text of a tag we
        # issue ("3", never "03" or "+3") names a version; any other tag matches nothing.
        if len(opaque) <= 19 and opaque.isascii() and opaque.isdigit() and opaque[:1] != "0":
            versions.add(int(opaque))
    return versions


#: What ``_parse`` accepts: ``*`` or a list of (optionally weak) quoted entity tags.
ENTITY_TAGS = {"pattern": r'^(\*|(W/)?"[^",]*"( *, *(W/)?"[^",]*")*)$'}


_IF_MATCH = Header(
    default=None,
    description='Change only this version, e.g. `"3"` (`*`: any existing record); '
    "another version is `412`.",
    json_schema_extra=ENTITY_TAGS,
)


async def put_preconditions(
    if_match: str | None = _IF_MATCH,
    if_none_match: str | None = Header(
        default=None,
        description="`*`: create only (`412` when the record exists); an entity tag: "
        "replace unless the record is at that version.",
        json_schema_extra=ENTITY_TAGS,
    ),
) -> Preconditions:
    """A ``PUT``'s preconditions: ``If-Match`` and ``If-None-Match``."""
    return Preconditions(if_match, if_none_match)


async def write_preconditions(if_match: str | None = _IF_MATCH) -> Preconditions:
    """A ``PATCH``'s or ``DELETE``'s precondition: ``If-Match``."""
    return Preconditions(if_match, None)


async def read_preconditions(
    if_none_match: str | None = Header(
        default=None,
        description='The version you hold, e.g. `"3"`: `304` without a body while it is current.',
        json_schema_extra=ENTITY_TAGS,
    ),
) -> Preconditions:
    """A ``GET``'s precondition: ``If-None-Match``."""
    return Preconditions(None, if_none_match)


class ModelResponse(Response):
    """A response serialized straight from a Pydantic model the service built itself.

    FastAPI would validate a returned model against ``response_model`` again (costly for
    large documents such as summaries); the route keeps ``response_model`` for OpenAPI.
    """

    media_type = "application/json"

    def render(self, content: BaseModel) -> bytes:
        return render(content)


class JSONBytesResponse(Response):
    """A JSON body rendered earlier (e.g. kept in a ``VersionedCache``)."""

    media_type = "application/json"


def render(content: BaseModel) -> bytes:
    """A model as the JSON the API answers with (aliases, no re-validation)."""
    return content.__pydantic_serializer__.to_json(content, by_alias=True)


def render_data(content: object) -> bytes:
    """Plain data (dicts, lists, numbers, strings, dates, UUIDs) as JSON, as pydantic
    writes each of them in a model."""
    return pydantic_core.to_json(content)
