"""GET /health: can this replica serve? 200, or 503 with a stable reason code; the detail
goes to the log, since any caller can read the body."""

import asyncio
import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app._defaults import SERVICE_NAME
from app.database import Reason, describe_db_error, get_health_engine, reason_code
from app.metrics import count_db_error
from app.migrate import schema_state
from app.responses import Healthy, Unhealthy

router = APIRouter(tags=["health"])
logger = logging.getLogger("app.health")
# Threads of its own (as many as its pool has connections): the data requests may hold every
# thread of the shared pool, waiting on a locked table, and /health must answer meanwhile
_PROBE_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")


def probe(app: FastAPI) -> Reason | None:
    """None when the database answers on /health's own pool and the schema serves."""
    try:
        with get_health_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            reason = schema_state(app, connection)
    except SQLAlchemyError as exc:
        reason = reason_code(exc)
        count_db_error(reason)
        logger.warning("health: %s: %s", reason, describe_db_error(exc))
        return reason
    if reason is not None:
        logger.warning("health: %s", reason)
    return reason


@router.get(
    "/health",
    response_model=Healthy,
    operation_id="health",
    responses={503: {"model": Unhealthy, "description": "Not ready; `reason` says why"}},
)
async def health(request: Request) -> JSONResponse:
    loop = asyncio.get_running_loop()
    # in the request's context, so the probe's log lines carry its id
    context = contextvars.copy_context()
    reason = await loop.run_in_executor(_PROBE_THREADS, context.run, probe, request.app)
    if reason is None:
        return JSONResponse({"status": "healthy", "service": SERVICE_NAME})
    return JSONResponse({"status": "unhealthy", "service": SERVICE_NAME, "reason": reason}, 503)
