"""Client mistakes get a 4xx with a body that says what was wrong, never a 500."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

NewTask = Callable[..., dict[str, Any]]

LONG_TITLE = "x" * 201


def _error_fields(response: httpx.Response) -> set[str]:
    # FastAPI's 422 body lists each problem with its location
    return {str(error["loc"][-1]) for error in response.json()["detail"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": LONG_TITLE}, "title"),
        ({"title": 123}, "title"),
        ({"title": None}, "title"),
        ({}, "title"),
        ({"title": "ok", "description": "d" * 2001}, "description"),
        ({"title": "ok", "status": "archived"}, "status"),
        ({"title": "ok", "status": 1}, "status"),
        ({"title": "ok", "owner": "me"}, "owner"),
        ({"title": "bad\u0000byte"}, "title"),
        ({"title": "ok", "description": "nul\u0000here"}, "description"),
    ],
)
def test_create_rejects(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = client.post("/tasks", json=body)
    assert response.status_code == 422, response.text
    assert field in _error_fields(response)


def test_title_at_the_limit_is_accepted(
    client: httpx.Client, unique_title: Callable[[str], str]
) -> None:
    title = unique_title("edge").ljust(200, "x")
    response = client.post("/tasks", json={"title": title})
    assert response.status_code == 201
    assert response.json()["title"] == title


def test_lone_surrogate_is_rejected(client: httpx.Client) -> None:
    # Valid JSON, but not encodable as UTF-8, so it could never be stored
    raw = b'{"title": "broken \\ud800 text"}'
    response = client.post("/tasks", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_malformed_json(client: httpx.Client) -> None:
    response = client.post(
        "/tasks", content=b'{"title": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "detail" in response.json()


def test_body_must_be_an_object(client: httpx.Client) -> None:
    assert client.post("/tasks", json=["title"]).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"title": None},
        {"status": None},
        {"title": "  "},
        {"title": LONG_TITLE},
        {"status": "archived"},
        {"id": 5},
        {"created_at": "2020-01-01T00:00:00Z"},
    ],
)
def test_patch_rejects(client: httpx.Client, new_task: NewTask, body: dict[str, Any]) -> None:
    task = new_task()
    response = client.patch(f"/tasks/{task['id']}", json=body)
    assert response.status_code == 422, response.text
    assert client.get(f"/tasks/{task['id']}").json() == task


@pytest.mark.parametrize(
    "params",
    [
        {"limit": -1},
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": 10**30},
        {"status": "archived"},
    ],
)
def test_list_rejects_bad_query(client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get("/tasks", params=params)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


@pytest.mark.parametrize("task_id", ["0", "-1", "abc", "1.5", str(10**30), "99999999999"])
def test_bad_ids(client: httpx.Client, task_id: str) -> None:
    assert client.get(f"/tasks/{task_id}").status_code == 422
    assert client.patch(f"/tasks/{task_id}", json={"status": "done"}).status_code == 422
    assert client.delete(f"/tasks/{task_id}").status_code == 422
