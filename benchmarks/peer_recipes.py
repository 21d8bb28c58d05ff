"""The recipes users pick instead of the template, as contenders (each our own Dockerfile in
benchmarks/peers/ with that recipe's shape), and the throughput floor (floor_app.py)."""

from __future__ import annotations

from benchmarks.contenders import RENDERED, RENDERED_RUN, Contender, our_workers
from benchmarks.dockerfiles import HERE
from benchmarks.runs import RunSpec

PEERS = HERE / "peers"
FLOOR = "asgi-floor"
FULL_STACK = "full-stack"
FULL_STACK_WORKERS = 4  # that template's CMD
# Every peer listens on 127.0.0.1 and a free port instead of its recipe's 0.0.0.0 / 80 / 8000
FASTAPI_RUN = ("fastapi", "run", "--host", "127.0.0.1", "--port", "{port}")


def full_stack_run(workers: int) -> RunSpec:
    return RunSpec({}, (*FASTAPI_RUN, "--workers", str(workers), "app/main.py"))


def peer_contenders() -> list[Contender]:
    ours = our_workers()
    peers = [
        Contender(
            "fastapi-docs",
            "FastAPI docs recipe (fastapi run)",
            RunSpec({}, (*FASTAPI_RUN, "app/main.py")),
            (PEERS / "fastapi-docs.Dockerfile").read_text(),
            deps_marker="pip install --no-cache-dir --upgrade --require-hashes",
            peer=True,
        ),
        Contender(
            FULL_STACK,
            f"full-stack template recipe (fastapi run --workers {FULL_STACK_WORKERS})",
            full_stack_run(FULL_STACK_WORKERS),
            (PEERS / "full-stack.Dockerfile").read_text(),
            deps_marker="uv venv /app/.venv",
            workers=FULL_STACK_WORKERS,
            peer=True,
        ),
        Contender(
            "docker-init",
            "docker init recipe (python3 -m uvicorn)",
            # its CMD is in shell form, so a shell stays PID 1 as it would there
            RunSpec(
                {},
                ("/bin/sh", "-c", "python3 -m uvicorn app.main:app --host=127.0.0.1 --port={port}"),
            ),
            (PEERS / "docker-init.Dockerfile").read_text(),
            deps_marker="python3 -m pip install --require-hashes",
            peer=True,
        ),
    ]
    if ours != FULL_STACK_WORKERS:  # process for process with the rendered image
        peers.append(
            Contender(
                f"{FULL_STACK}-{ours}w",
                f"full-stack template recipe at our worker count (--workers {ours})",
                full_stack_run(ours),
                image_of=FULL_STACK,
                workers=ours,
                peer=True,
            )
        )
    return peers


def floor_contender() -> Contender:
    """The plain ASGI app, in the rendered image, run by its gunicorn settings and workers."""
    return Contender(
        FLOOR,
        "throughput floor: plain ASGI app, one single-row statement per request",
        RunSpec(
            {**RENDERED_RUN.env, "PYTHONPATH": "/bench:/app"},
            ("--", "/opt/venv/bin/gunicorn", "-c", "/app/gunicorn.conf.py", "floor_app:app"),
            entrypoint="/usr/bin/tini",
            mounts=((str(HERE / "floor_app.py"), "/bench/floor_app.py"),),
        ),
        image_of=RENDERED,
        workers=our_workers(),
        database_of=RENDERED,
    )
