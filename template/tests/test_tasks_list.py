"""GET /tasks: a plain JSON list, ordered by id, paginated and filterable by status.

A live deployment may already hold tasks, so these tests only reason about tasks they created.
"""

from typing import Any

import httpx
from helpers import NewTask


def _all_pages(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    while True:
        page = client.get("/tasks", params={**params, "limit": 100, "offset": len(tasks)})
        assert page.status_code == 200, page.text
        tasks.extend(page.json())
        if len(page.json()) < 100:
            return tasks


def test_list_is_a_plain_list(client: httpx.Client, new_task: NewTask) -> None:
    new_task()
    response = client.get("/tasks")
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert 1 <= len(body) <= 20


def test_list_is_ordered_by_id_and_contains_new_tasks(
    client: httpx.Client, new_task: NewTask
) -> None:
    created = [new_task()["id"] for _ in range(3)]
    ids = [task["id"] for task in _all_pages(client)]
    assert ids == sorted(ids)
    assert set(created) <= set(ids)


def test_limit_and_offset(client: httpx.Client, new_task: NewTask) -> None:
    for _ in range(3):
        new_task()
    everything = [task["id"] for task in _all_pages(client)]
    first = client.get("/tasks", params={"limit": 2, "offset": 0}).json()
    second = client.get("/tasks", params={"limit": 2, "offset": 2}).json()
    assert [task["id"] for task in first] == everything[:2]
    assert [task["id"] for task in second] == everything[2:4]
    beyond = client.get("/tasks", params={"offset": len(everything) + 1000})
    assert beyond.status_code == 200
    assert beyond.json() == []


def test_status_filter(client: httpx.Client, new_task: NewTask) -> None:
    pending = new_task()
    done = new_task(status="done")
    moved = new_task()
    client.patch(f"/tasks/{moved['id']}", json={"status": "done"})

    done_tasks = _all_pages(client, status="done")
    assert all(task["status"] == "done" for task in done_tasks)
    done_ids = {task["id"] for task in done_tasks}
    assert {done["id"], moved["id"]} <= done_ids
    assert pending["id"] not in done_ids
