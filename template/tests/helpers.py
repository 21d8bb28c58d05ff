"""What the test modules share beside conftest.py's fixtures: their types, and reading an
error body."""

from collections.abc import Callable
from typing import Any

import httpx

# new_task(**fields) creates a task through the API and returns its JSON
NewTask = Callable[..., dict[str, Any]]
# unique_title(prefix) cannot clash with data already in a live deployment
UniqueTitle = Callable[[str], str]
# make_client(**environment) is a client of an app started with those settings
MakeClient = Callable[..., httpx.Client]


def error_detail(response: httpx.Response, status: int) -> Any:
    """The error body's `detail`, once the status is the expected one: never empty."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail, response.text
    return detail


def error_fields(response: httpx.Response) -> set[str]:
    """The fields a 422 names: FastAPI lists each problem with its location."""
    return {str(error["loc"][-1]) for error in error_detail(response, 422)}
