"""The throughput floor: a plain ASGI app (no FastAPI, no ORM, no validation) that answers the
CRUD mix with one single-row statement per request on the same table, served by the same
gunicorn settings as the rendered app. What is left of its speed is the server and PostgreSQL."""

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row

COLUMNS = "id, title, status"
SQL = {
    "POST": "INSERT INTO task (title, status, created_at, updated_at)"
    f" VALUES (%s, 'pending', now(), now()) RETURNING {COLUMNS}",
    "LIST": f"SELECT {COLUMNS} FROM task ORDER BY id LIMIT 1",
    "GET": f"SELECT {COLUMNS} FROM task WHERE id = %s",
    "PATCH": "UPDATE task SET status = 'in_progress', updated_at = now()"
    f" WHERE id = %s RETURNING {COLUMNS}",
}
POOL_SIZE = 20  # the rendered app's DB_POOL_SIZE default, per worker


class Pool:
    """Connections opened on demand up to POOL_SIZE, then reused."""

    def __init__(self) -> None:
        self.idle: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
        self.opened = 0

    async def take(self) -> psycopg.AsyncConnection:
        if self.idle.empty() and self.opened < POOL_SIZE:
            self.opened += 1
            url = os.environ["DATABASE_URL"]
            return await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)
        return await self.idle.get()

    async def one_row(self, sql: str, params: tuple[object, ...]) -> dict[str, object] | None:
        connection = await self.take()
        try:
            cursor = await connection.execute(sql, params)
            row: dict[str, object] | None = await cursor.fetchone()
            return row
        finally:
            self.idle.put_nowait(connection)


pool = Pool()


async def answer(method: str, path: str, body: bytes) -> tuple[int, object]:
    if path == "/health":
        return 200, {"status": "ok"}
    parts = path.strip("/").split("/")
    if parts[0] != "tasks":
        return 404, {"detail": "not found"}
    if len(parts) == 1 and method == "POST":
        row = await pool.one_row(SQL["POST"], (json.loads(body)["title"],))
        return 201, row
    if len(parts) == 1 and method == "GET":
        row = await pool.one_row(SQL["LIST"], ())
        return 200, [row] if row else []
    kind = {"GET": "GET", "PATCH": "PATCH"}.get(method)
    if len(parts) != 2 or not parts[1].isdigit() or kind is None:
        return 405, {"detail": "not allowed"}
    row = await pool.one_row(SQL[kind], (int(parts[1]),))
    return (200, row) if row else (404, {"detail": "none"})


Message = dict[str, Any]  # an ASGI event: JSON-like, its keys depend on its "type"


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    status, payload = await answer(scope["method"], scope["path"], body)
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
