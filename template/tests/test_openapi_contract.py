"""The OpenAPI schema states the real rules, so schema-valid means accepted (and vice versa)."""

import re
from typing import Any

import httpx
import pytest

BODY_ROUTES = [("/tasks", "post"), ("/tasks/{task_id}", "patch")]
ITEM_ROUTES = [("/tasks/{task_id}", method) for method in ("get", "patch", "delete")]


@pytest.fixture
def schema(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    component: dict[str, Any] = schema["components"]["schemas"][name]
    return component


def test_every_error_status_is_declared_with_a_body(schema: dict[str, Any]) -> None:
    operations = schema["paths"]
    for path, method in [("/tasks", "get"), *BODY_ROUTES, *ITEM_ROUTES]:
        assert "503" in operations[path][method]["responses"], (path, method)
    for path, method in ITEM_ROUTES:
        assert "404" in operations[path][method]["responses"], (path, method)
    for path, method in BODY_ROUTES:
        assert {"400", "413", "415", "422"} <= set(operations[path][method]["responses"])
    health = operations["/health"]["get"]["responses"]
    assert {"200", "503"} <= set(health)
    for response in health.values():
        assert response["content"]["application/json"]["schema"]


def test_patch_fields_are_optional_but_not_nullable(schema: dict[str, Any]) -> None:
    properties = _component(schema, "TaskUpdate")["properties"]
    for name in ("title", "status"):
        assert "anyOf" not in properties[name] and "default" not in properties[name]
        assert properties[name].get("type") != "null"
    # An explicit null description clears it, so that one is nullable
    assert {"type": "null"} in properties["description"]["anyOf"]


def test_title_rules_are_in_the_schema(schema: dict[str, Any]) -> None:
    title = _component(schema, "TaskCreate")["properties"]["title"]
    assert title["minLength"] == 1 and title["maxLength"] == 200 and title["pattern"]


@pytest.mark.inprocess
def test_title_pattern_agrees_with_the_validator() -> None:
    from pydantic import ValidationError

    from app.models import TITLE_PATTERN, WHITESPACE, TaskCreate

    assert set(WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}
    samples = [*WHITESPACE, "a", " a ", "\ufeff", "\u200b", "\x00", "a\x00", "\x1c\x1fz", ""]
    samples += [space * 3 for space in WHITESPACE]
    for title in samples:
        try:
            TaskCreate(title=title)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == bool(re.search(TITLE_PATTERN, title)), repr(title)
