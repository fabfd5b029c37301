"""/healthz (process up) and /readyz (database reachable, migrations at head)."""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from typing_extensions import TypeAliasType

from app.core.deps import DbDep
from app.health.service import readiness

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


# Named aliases: OpenAPI lists each once, as a component clients turn into a type.
ReadinessStatus = TypeAliasType("ReadinessStatus", Literal["ok", "unavailable"])
DatabaseState = TypeAliasType("DatabaseState", Literal["reachable", "unreachable"])


class Readiness(BaseModel):
    """Whether this process can serve the API; the keys present depend on what failed."""

    status: ReadinessStatus
    database: DatabaseState
    migration: str | None = None
    expected_migration: str | None = None
    error: str | None = None


@router.get("/healthz", operation_id="healthz", summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The database is reachable and migrated to the latest revision",
    response_model=Readiness,
    response_model_exclude_unset=True,
    responses={503: {"model": Readiness, "description": "Not ready; the body says why"}},
)
async def readyz(db: DbDep) -> JSONResponse:
    report = await readiness(db)
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)
