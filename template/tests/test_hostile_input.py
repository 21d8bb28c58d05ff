"""Hostile or odd requests: each gets a 4xx that says what was wrong, never a 500.

Valid but unusual text (emoji, RTL, combining marks, SQL-looking strings) is stored verbatim.
"""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import NewTask, error_detail, error_fields

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x" * 10_000}, "title"),
        ({"title": 5}, "title"),
        ({"title": True}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": {"text": "a"}}, "title"),
        ({"title": "ok", "status": 3}, "status"),
        ({"title": "ok", "status": "deleted"}, "status"),
        ({"title": "ok", "status": "DONE"}, "status"),
        ({"title": "ok", "description": []}, "description"),
        ({"title": "ok", "description": 7}, "description"),
        ({"title": "ok", "id": 1}, "id"),
        ({"title": "ok", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"title": "\u2003\u3000\t"}, "title"),
    ],
)
def test_create_rejects_bad_fields(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert field in error_fields(client.post("/tasks", json=body))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"title": "nul \\u0000 inside"}', "title"),
        (b'{"title": "ok", "description": "nul \\u0000 inside"}', "description"),
        (b'{"title": "lone \\ud800 surrogate"}', "title"),
        (b'{"title": "lone \\udfff low surrogate"}', "title"),
        (b'{"title": "ok", "description": "lone \\udc00"}', "description"),
    ],
)
def test_nul_and_lone_surrogates_are_422(client: httpx.Client, raw: bytes, field: str) -> None:
    response = client.post("/tasks", content=raw, headers=JSON)
    assert field in error_fields(response)
    message = " ".join(error["msg"] for error in response.json()["detail"])
    assert "NUL" in message or "unicode" in message.lower()


def test_patch_rejects_nul_and_surrogates(client: httpx.Client, new_task: NewTask) -> None:
    task = new_task()
    for raw in (b'{"title": "a\\u0000b"}', b'{"description": "\\ud83d"}'):
        response = client.patch(f"/tasks/{task['id']}", content=raw, headers=JSON)
        error_detail(response, 422)
    assert client.get(f"/tasks/{task['id']}").json() == task


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"title": ', 422),  # truncated JSON
        (b"title=hello", 422),  # form data sent as JSON
        (b'{"title": "a",}', 422),  # trailing comma
        (b'["title", "a"]', 422),  # a list, not an object
        (b'"just a string"', 422),
        (b"null", 422),
        (b"42", 422),
        (b"", 422),  # empty body
        (b'{"title": NaN}', 422),  # Python's parser accepts NaN; the 422 must still render
        (b'{"title": 1e999}', 422),
        (b'{"title": "ok", "\\ud800": 1}', 422),  # surrogate in a key
        (b'{"title": "\xff\xc0"}', 400),  # not UTF-8
        (b'{"title": ' + b"9" * 5000 + b"}", 400),  # more digits than Python will parse
        # nesting that blows the parser's fixed depth up to Python 3.13 (400); 3.14's parser
        # checks the C stack instead, reaches the end and finds the array unterminated (422)
        (b"[" * 20_000, (400, 422)),
    ],
)
def test_unparseable_or_wrong_shape_body(
    client: httpx.Client, raw: bytes, status: int | tuple[int, ...]
) -> None:
    response = client.post("/tasks", content=raw, headers=JSON)
    if isinstance(status, tuple):
        status = response.status_code if response.status_code in status else status[0]
    detail = error_detail(response, status)
    if status == 400:
        assert "request body" in detail


# app.tasks.MAX_BODY_BYTES, written out: the live mode never imports the app
BODY_LIMIT = 64 * 1024
# The deepest nesting a body within the limit can carry: every depth up to it gets a 4xx
NESTING_DEPTHS = [100, 500, 999, 1000, 1200, 5000, 20_000, "limit"]
# 4xx bodies stay small whatever was sent: the echo of the input is bounded
ECHO_LIMIT = 32 * 1024


def _nested(field: str, depth: int | str, shape: str) -> bytes:
    head = b'{"title": "ok", "' + field.encode() + b'": ' if field != "title" else b'{"title": '
    open_, close = (b"[", b"]") if shape == "list" else (b'{"k": ', b"}")
    deepest = (BODY_LIMIT - len(head) - 2) // (len(open_) + len(close))
    levels = deepest if depth == "limit" else min(int(depth), deepest)
    body = head + open_ * levels + b"0" + close * levels + b"}"
    assert len(body) <= BODY_LIMIT
    return body


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
@pytest.mark.parametrize("field", ["title", "description", "status", "unknown"])
@pytest.mark.parametrize("shape", ["list", "object"])
def test_deep_nesting_is_4xx_with_a_bounded_body(
    client: httpx.Client, new_task: NewTask, depth: int | str, field: str, shape: str
) -> None:
    raw = _nested(field, depth, shape)
    task = new_task()
    for method, path in (("POST", "/tasks"), ("PATCH", f"/tasks/{task['id']}")):
        response = client.request(method, path, content=raw, headers=JSON)
        assert response.status_code in (400, 422), (method, depth, response.text[:300])
        assert len(response.content) <= ECHO_LIMIT, (method, depth, len(response.content))
        assert response.json()["detail"]
    assert client.get(f"/tasks/{task['id']}").json() == task


@pytest.mark.inprocess
def test_body_limit_matches_the_app() -> None:
    from app.tasks import MAX_BODY_BYTES

    assert BODY_LIMIT == MAX_BODY_BYTES


def test_many_wide_errors_are_bounded(client: httpx.Client) -> None:
    # Thousands of unknown keys, each long: the 422 lists a bounded number of them
    keys = {f"k{i}" + "x" * 40: [["y" * 60] * 3] for i in range(250)}
    raw = json.dumps({"title": "ok", **keys}).encode()
    assert len(raw) <= BODY_LIMIT
    response = client.post("/tasks", content=raw, headers=JSON)
    assert response.status_code == 422
    assert 0 < len(response.json()["detail"]) and len(response.content) <= ECHO_LIMIT


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "application/xml"},
        {},  # a body with no Content-Type at all
    ],
)
def test_wrong_content_type_is_415(
    client: httpx.Client, new_task: NewTask, headers: dict[str, str]
) -> None:
    raw = b'{"title": "looks like JSON"}'
    detail = error_detail(client.post("/tasks", content=raw, headers=headers), 415)
    assert "application/json" in detail
    task = new_task()
    error_detail(client.patch(f"/tasks/{task['id']}", content=raw, headers=headers), 415)


def test_json_with_charset_and_suffix_is_accepted(client: httpx.Client) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post(
            "/tasks", content=b'{"title": "typed"}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 201, response.text


def _big_body() -> Iterator[bytes]:
    yield b'{"title": "big", "description": "'
    yield from (b"d" * 10_000 for _ in range(20))
    yield b'"}'


def test_oversized_body_is_413(client: httpx.Client, new_task: NewTask) -> None:
    task = new_task()
    for path, method in (("/tasks", "POST"), (f"/tasks/{task['id']}", "PATCH")):
        # With a Content-Length, and streamed in chunks without one
        for content in (b"".join(_big_body()), _big_body()):
            response = client.request(method, path, content=content, headers=JSON)
            assert "larger than" in error_detail(response, 413)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": -5},
        {"offset": -1},
        {"limit": 10**6},
        {"limit": 10**30},
        {"offset": 10**30},
        {"limit": "1; DROP TABLE task"},
        {"status": "null"},
        {"status": ""},
    ],
)
def test_list_rejects_hostile_query(client: httpx.Client, params: dict[str, Any]) -> None:
    fields = error_fields(client.get("/tasks", params=params))
    assert fields & set(params)


@pytest.mark.parametrize(
    "task_id", [str(10**30), "99999999999", "0", "-1", "abc", "1.5", "1e3", "%00", "NaN"]
)
def test_hostile_ids_are_422(client: httpx.Client, task_id: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        body = {"status": "done"} if method == "PATCH" else None
        response = client.request(method, f"/tasks/{task_id}", json=body)
        assert "task_id" in error_fields(response)


@pytest.mark.parametrize(
    "title",
    [
        "Launch 🚀 with the team 👩‍👩‍👧‍👦",  # emoji, including a ZWJ sequence
        "مرحبا بالعالم",  # Arabic, right-to-left
        "שלום עולם ‏mixed ltr",  # Hebrew with a right-to-left mark
        "e\u0301 cafe\u0301 Z\u0351\u0352\u0353algo",  # combining marks, not normalised away
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 中文 and 한국어",  # astral-plane letters and CJK
        "🙂" * 200,  # 200 characters but 800 bytes: the limit counts characters
    ],
)
def test_unicode_titles_round_trip_exactly(client: httpx.Client, title: str) -> None:
    created = client.post("/tasks", json={"title": title, "description": title})
    assert created.status_code == 201, created.text
    assert created.json()["title"] == title
    assert created.json()["description"] == title
    fetched = client.get(f"/tasks/{created.json()['id']}").json()
    assert fetched["title"] == title and fetched["description"] == title


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE task; --",
        "Robert'); DELETE FROM task WHERE ('1'='1",
        '" OR 1=1 --',
        "100% _match_ \\ backslash",
        "$1 $$ ?::text",
    ],
)
def test_sql_looking_text_is_stored_verbatim(client: httpx.Client, text: str) -> None:
    created = client.post("/tasks", json={"title": text, "description": text})
    assert created.status_code == 201, created.text
    task = created.json()
    assert (task["title"], task["description"]) == (text, text)
    assert client.get(f"/tasks/{task['id']}").json() == task
    # The table is still there and still answers
    assert client.get("/tasks", params={"limit": 1}).status_code == 200


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/tasks", "PUT", {"GET", "POST"}),
        ("/tasks", "OPTIONS", {"GET", "POST"}),
        ("/tasks/1", "POST", {"GET", "PATCH", "DELETE"}),
        ("/tasks/1", "OPTIONS", {"GET", "PATCH", "DELETE"}),
        ("/health", "DELETE", {"GET"}),
    ],
)
def test_405_lists_every_allowed_method(
    client: httpx.Client, path: str, method: str, allowed: set[str]
) -> None:
    response = client.request(method, path)
    assert error_detail(response, 405) == "Method Not Allowed"
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


def test_unknown_path_is_404_json(client: httpx.Client) -> None:
    assert error_detail(client.get("/no/such/route"), 404) == "Not Found"


def test_repeated_query_parameter_is_refused(client: httpx.Client) -> None:
    # FastAPI would silently keep the last value; an ambiguous request gets a 422 instead
    response = client.get("/tasks", params=[("limit", "5"), ("limit", "50")])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]
