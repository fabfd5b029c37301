"""The peer: a tutorial-style SQLModel endpoint (sync session, commit() then refresh()).

It does the same work as the service's PUT of a new entry — check a bearer token, validate
the body, insert one row — the way the SQLModel/FastAPI tutorials teach it.
"""

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException
from sqlalchemy.engine import make_url
from sqlmodel import JSON, Column, Field, Session, SQLModel, create_engine

SECRET = os.environ["PAINDIARY_SECRET_KEY"]
url = make_url(os.environ["PAINDIARY_DATABASE_URL"])
if url.get_backend_name() == "postgresql":
    url = url.set(drivername="postgresql+psycopg")
engine = create_engine(url, pool_size=10, max_overflow=10)


class TutorialEntry(SQLModel, table=True):
    id: uuid.UUID = Field(primary_key=True)
    patient_id: uuid.UUID = Field(index=True)
    recorded_at: dt.datetime
    local_date: dt.date = Field(index=True)
    pain: int = Field(ge=0, le=10)
    sleep_hours: float | None = None
    stress: int | None = None
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    sites: list[dict] = Field(default_factory=list, sa_column=Column(JSON))


class EntryCreate(SQLModel):
    recorded_at: dt.datetime
    pain: int = Field(ge=0, le=10)
    sleep_hours: float | None = None
    stress: int | None = None
    tags: list[str] = []
    sites: list[dict] = []


SQLModel.metadata.create_all(engine)
app = FastAPI()


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def current_user(authorization: Annotated[str, Header()]) -> uuid.UUID:
    try:
        claims = jwt.decode(authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise HTTPException(401) from exc
    return uuid.UUID(claims["sub"])


@app.put("/v1/patients/me/entries/{entry_id}", status_code=201)
def put_entry(
    entry_id: uuid.UUID,
    body: EntryCreate,
    user: Annotated[uuid.UUID, Depends(current_user)],
    session: Annotated[Session, Depends(get_session)],
) -> TutorialEntry:
    entry = TutorialEntry(
        id=entry_id,
        patient_id=user,
        local_date=body.recorded_at.date(),
        **body.model_dump(),
    )
    session.add(entry)
    session.commit()
    session.refresh(entry)
    return entry
