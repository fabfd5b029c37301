"""/healthz (process up) and /readyz (database reachable, migrations at head)."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.core.deps import DbDep
from app.health.service import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database is reachable and migrated to the latest revision",
    responses={503: {"description": "Not ready; the body says why"}},
)
async def readyz(db: DbDep) -> Any:
    report = await readiness(db)
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)
