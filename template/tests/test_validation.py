"""Client mistakes get a 4xx with a body that says what was wrong, never a 500."""

from typing import Any

import httpx
import pytest
from helpers import NewTask, UniqueTitle, error_fields

LONG_TITLE = "x" * 201


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
    ],
)
def test_create_rejects(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = client.post("/tasks", json=body)
    assert response.status_code == 422, response.text
    assert field in error_fields(response)


def test_title_at_the_limit_is_accepted(client: httpx.Client, unique_title: UniqueTitle) -> None:
    title = unique_title("edge").ljust(200, "x")
    response = client.post("/tasks", json={"title": title})
    assert response.status_code == 201
    assert response.json()["title"] == title


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
        {"status": "archived"},
    ],
)
def test_list_rejects_bad_query(client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get("/tasks", params=params)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()
