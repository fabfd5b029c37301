"""The changes feed (contract §5).

A change is one schema per record type, told apart by ``type``, so that the OpenAPI
document gives generated clients a ``oneOf`` with a ``discriminator`` and each variant's
``data`` its own record type.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from app.courses.schemas import CourseOut
from app.diary.schemas import EntryOut
from app.sessions.schemas import SessionOut

#: A named alias, so that the document has one ``ChangeOp`` enum the variants share.
ChangeOp = TypeAliasType("ChangeOp", Literal["upsert", "delete"])
DATA = "The record's newest state (upserts only); null for a delete."


# Each variant's `type` is a named one-value enum: openapi-generator names an inline enum
# of a property `type` after it, a reserved word in Swift (renamed, with a warning), and
# some of its releases ignore `const` alone (then every variant matches a delete).
EntryChangeType = TypeAliasType(
    "EntryChangeType", Annotated[Literal["entry"], Field(json_schema_extra={"enum": ["entry"]})]
)
SessionChangeType = TypeAliasType(
    "SessionChangeType",
    Annotated[Literal["session"], Field(json_schema_extra={"enum": ["session"]})],
)
CourseChangeType = TypeAliasType(
    "CourseChangeType",
    Annotated[Literal["course"], Field(json_schema_extra={"enum": ["course"]})],
)


class EntryChange(BaseModel):
    """A diary entry written or deleted after the cursor."""

    type: EntryChangeType
    id: uuid.UUID
    op: ChangeOp
    version: int
    data: EntryOut | None = Field(default=None, description=DATA)


class SessionChange(BaseModel):
    """A session event written or deleted after the cursor."""

    type: SessionChangeType
    id: uuid.UUID
    op: ChangeOp
    version: int
    data: SessionOut | None = Field(default=None, description=DATA)


class CourseChange(BaseModel):
    """A treatment course written or deleted after the cursor."""

    type: CourseChangeType
    id: uuid.UUID
    op: ChangeOp
    version: int
    data: CourseOut | None = Field(default=None, description=DATA)


#: Named, so that the document holds a ``Change`` component (the ``oneOf``) and generated
#: clients call the type ``Change`` rather than a name made up from the page's field.
Change = TypeAliasType(
    "Change",
    Annotated[
        EntryChange | SessionChange | CourseChange,
        Field(
            discriminator="type",
            # openapi-generator's Swift clients make a model with an `id` Identifiable; the
            # `Change` enum has no `id` of its own, so that would not compile.
            json_schema_extra={"x-swift-identifiable": False},
        ),
    ],
)


class ChangesPage(BaseModel):
    changes: list[Change]
    next_cursor: str = Field(description="Store it; pass it as `since` next time.")
    has_more: bool
