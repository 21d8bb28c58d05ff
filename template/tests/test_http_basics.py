"""HTTP basics every client may rely on: HEAD wherever GET works (RFC 9110 9.1), no redirect
built from the Host header, and headers that keep answers out of caches and sniffers."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest


def get_paths(new_task: Callable[..., dict[str, Any]]) -> list[str]:
    return ["/health", "/tasks", "/tasks?limit=1", f"/tasks/{new_task()['id']}"]


def test_head_answers_like_get_without_a_body(
    client: httpx.Client, new_task: Callable[..., dict[str, Any]]
) -> None:
    for path in get_paths(new_task):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, (path, head.status_code)
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-length"] == got.headers["content-length"], path


def test_head_of_a_missing_task_is_404(client: httpx.Client) -> None:
    response = client.head("/tasks/2147483647")
    assert response.status_code == 404 and response.content == b""


def test_methods_other_than_head_are_still_refused(client: httpx.Client) -> None:
    response = client.put("/tasks")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize("path", ["/tasks/", "/health/", "/tasks/1/"])
def test_no_redirect_is_built_from_the_host_header(client: httpx.Client, path: str) -> None:
    response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert "location" not in response.headers, response.headers
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/health", None),
        ("GET", "/tasks", None),
        ("POST", "/tasks", {"title": ""}),  # a 422
        ("GET", "/tasks/2147483647", None),  # a 404
        ("DELETE", "/tasks", None),  # a 405
        ("GET", "/openapi.json", None),
    ],
)
def test_every_answer_is_uncacheable_and_unsniffable(
    client: httpx.Client, method: str, path: str, body: dict[str, str] | None
) -> None:
    response = client.request(method, path, json=body)
    assert response.headers["cache-control"] == "no-store", (method, path)
    assert response.headers["x-content-type-options"] == "nosniff", (method, path)


def test_declared_too_large_body_keeps_its_json_413_and_gets_the_headers(
    client: httpx.Client,
) -> None:
    body = b'{"title": "' + b"x" * 70_000 + b'"}'
    response = client.post("/tasks", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "larger than" in response.json()["detail"]
    assert response.headers["cache-control"] == "no-store"
