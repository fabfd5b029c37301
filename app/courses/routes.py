"""/v1/patients/{patient_id}/courses (contract §3)."""

from fastapi import APIRouter

from app.core.deps import Need
from app.core.record_routes import add_record_routes
from app.courses.schemas import CourseIn, CourseOut
from app.courses.service import courses

router = APIRouter(tags=["courses"])

add_record_routes(
    router,
    collection="courses",
    kind=courses,
    body_schema=CourseIn,
    out_schema=CourseOut,
    write_need=Need.WRITE_CARE,
)
