"""Error bodies and the non-2xx responses each route declares in the OpenAPI schema."""

from typing import Any, Literal

from pydantic import BaseModel

from app.database import Reason


class ErrorDetail(BaseModel):
    """Body of every 4xx/5xx except validation errors: one human-readable sentence."""

    detail: str


class Healthy(BaseModel):
    status: Literal["healthy"]
    service: str


class Unhealthy(BaseModel):
    status: Literal["unhealthy"]
    service: str
    reason: Reason


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorDetail, "description": description}


# Every data route needs the database and the migrated schema
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: _error("Database unreachable or schema not migrated yet; retry after Retry-After")
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No task with this id")}
# Routes that read a JSON body can also refuse it before validation
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Body could not be parsed"),
    413: _error("Body larger than the limit"),
    415: _error("Content-Type is not application/json"),
}
