"""GET /health: is the database answering and the schema migrated?"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app._defaults import SERVICE_NAME
from app.database import describe_db_error, get_engine
from app.migrate import SCHEMA_NOT_READY, schema_ready
from app.responses import Healthy, Unhealthy

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Healthy,
    operation_id="health",
    responses={503: {"model": Unhealthy, "description": "Database unreachable or not migrated"}},
)
def health(request: Request) -> JSONResponse:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            reason = None if schema_ready(request.app, connection) else SCHEMA_NOT_READY
    except SQLAlchemyError as exc:
        reason = f"database unreachable: {describe_db_error(exc)}"
    if reason is None:
        return JSONResponse({"status": "healthy", "service": SERVICE_NAME})
    return JSONResponse({"status": "unhealthy", "service": SERVICE_NAME, "reason": reason}, 503)
