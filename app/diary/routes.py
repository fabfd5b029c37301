"""/v1/patients/{patient_id}/entries (contract §2)."""

from fastapi import APIRouter

from app.core.deps import Need
from app.core.record_routes import add_record_routes
from app.diary.schemas import EntryIn, EntryOut
from app.diary.service import entries

router = APIRouter(tags=["diary"])

add_record_routes(
    router,
    collection="entries",
    kind=entries,
    body_schema=EntryIn,
    out_schema=EntryOut,
    write_need=Need.WRITE_DIARY,
)
