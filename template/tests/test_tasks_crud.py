"""Create, read, update and delete a task through the API."""

from datetime import datetime

import httpx
from helpers import NewTask, UniqueTitle


def test_create_returns_the_task(client: httpx.Client, unique_title: UniqueTitle) -> None:
    title = unique_title("Test containerized API")
    response = client.post("/tasks", json={"title": title, "description": "from the tests"})
    assert response.status_code == 201
    task = response.json()
    assert task["id"] > 0
    assert task["title"] == title
    assert task["description"] == "from the tests"
    assert task["status"] == "pending"
    created = datetime.fromisoformat(task["created_at"])
    offset = created.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert task["updated_at"] == task["created_at"]


def test_title_is_stripped(client: httpx.Client, unique_title: UniqueTitle) -> None:
    title = unique_title("padded")
    response = client.post("/tasks", json={"title": f"  {title}  "})
    assert response.status_code == 201
    assert response.json()["title"] == title


def test_round_trip(client: httpx.Client, new_task: NewTask) -> None:
    task = new_task(status="in_progress")
    fetched = client.get(f"/tasks/{task['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == task


def test_patch_changes_only_sent_fields(client: httpx.Client, new_task: NewTask) -> None:
    task = new_task(description="keep me")
    response = client.patch(f"/tasks/{task['id']}", json={"status": "done"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["status"] == "done"
    assert updated["title"] == task["title"]
    assert updated["description"] == "keep me"
    assert updated["created_at"] == task["created_at"]
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
        task["updated_at"]
    )
    assert client.get(f"/tasks/{task['id']}").json() == updated


def test_patch_title_and_clear_description(
    client: httpx.Client,
    new_task: NewTask,
    unique_title: UniqueTitle,
) -> None:
    task = new_task(description="to be removed")
    title = unique_title("renamed")
    response = client.patch(f"/tasks/{task['id']}", json={"title": title, "description": None})
    assert response.status_code == 200
    assert response.json()["title"] == title
    assert response.json()["description"] is None


def test_delete_then_gone(client: httpx.Client, new_task: NewTask) -> None:
    task = new_task()
    response = client.delete(f"/tasks/{task['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/tasks/{task['id']}").status_code == 404
    assert client.delete(f"/tasks/{task['id']}").status_code == 404


def test_missing_task_is_404_with_message(client: httpx.Client, new_task: NewTask) -> None:
    task = new_task()
    client.delete(f"/tasks/{task['id']}")
    missing = task["id"]
    for response in (
        client.get(f"/tasks/{missing}"),
        client.patch(f"/tasks/{missing}", json={"status": "done"}),
        client.delete(f"/tasks/{missing}"),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": f"Task {missing} not found"}
