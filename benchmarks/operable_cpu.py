"""CPU time one request costs the app, by what is on: metrics (multiprocess mode), JSON logs,
both, neither. Steadier than wrk on a busy machine: process_time counts this process only.

Runs in the rendered project's venv, from the project's folder (the app must import):
    PYTHONPATH=. VENV/bin/python PATH/TO/benchmarks/operable_cpu.py MODE
MODE is on, metrics, json or off. The request is a 404 that matches no route and reads no
database, so the figure is the per-request overhead alone; docs/operable-bench.md sets it
against what a CRUD request costs."""

import asyncio
import logging.config
import os
import sys
import tempfile
import time
from typing import Any

REQUESTS, WARM_UP = 5000, 300


def configure(mode: str) -> None:
    metrics, json_logs = mode in {"on", "metrics"}, mode in {"on", "json"}
    if metrics:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="operable-cpu-")
    os.environ.update(
        DATABASE_URL="sqlite:///:memory:",
        RUN_MIGRATIONS="false",
        METRICS_ENABLED=str(metrics).lower(),
        LOG_FORMAT="json" if json_logs else "text",
    )
    from app.logs import log_config

    config = log_config("info", os.environ["LOG_FORMAT"])
    for handler in config["handlers"].values():
        handler["stream"] = open(os.devnull, "w")  # noqa: SIM115 - open until the process ends
    logging.config.dictConfig(config)


async def per_request_us() -> float:
    from app.main import create_app

    app = create_app()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def one(path: str) -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }  # fmt: skip
        await app(scope, receive, send)

    for i in range(WARM_UP):
        await one(f"/warm/{i}")
    start = time.process_time()
    for i in range(REQUESTS):
        await one(f"/no/route/{i}")
    return (time.process_time() - start) / REQUESTS * 1e6


if __name__ == "__main__":
    configure(sys.argv[1])
    print(f"{sys.argv[1]} {asyncio.run(per_request_us()):.1f}")
