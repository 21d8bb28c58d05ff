"""Compile bytecode for just the venv modules a start of the app imports.

Runs in a stage of its own, after the builder: python compile_startup.py VENV OUT. It imports what
`python -m app serve` imports before and while serving (the app, uvicorn's loop, HTTP
parser and lifespan, the database driver and dialect, alembic's runtime), then writes a
.pyc for every one of those modules that lives in VENV, under OUT + its usual path.
Everything else in the venv stays source: smaller, and compiled only if ever imported.
The .pyc files are hash-checked: the venv reaches the runtime stage through its own
COPY, whose cache ignores mtimes, so timestamp-checked files could all be stale there.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import py_compile
import sys

# Imported by uvicorn.run(), the migrations and the first requests, not by `import app.main`.
AT_START = (
    "app.__main__",
    "app.migrate",
    "gunicorn.app.base",
    "gunicorn.arbiter",
    "gunicorn.glogging",
    "gunicorn.workers.base",
    "uvicorn_worker",
    "uvicorn.server",
    "uvicorn.loops.auto",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
    "uvicorn.middleware.proxy_headers",
    "uvloop",
    "httptools",
    "psycopg",
    "psycopg_binary",
    "sqlalchemy.dialects.postgresql.psycopg",
    "alembic.command",
    "alembic.config",
    "alembic.runtime.environment",
    "alembic.runtime.migration",
    "alembic.script",
    "alembic.operations",
    "alembic.ddl.postgresql",
    "fastapi.encoders",
    "fastapi.responses",
)


def import_start_modules() -> None:
    import app.main  # noqa: F401  (the app and everything it imports at import time)

    for name in AT_START:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # an optional piece this project does not use


def compile_into(venv: str, out: str) -> int:
    count = 0
    root = os.path.realpath(venv) + os.sep
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None) or ""
        if not source.endswith(".py") or not os.path.realpath(source).startswith(root):
            continue
        target = out + importlib.util.cache_from_source(source)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        py_compile.compile(
            source,
            cfile=target,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
        count += 1
    return count


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the app package sits in the working directory
    import_start_modules()
    print(f"compiled {compile_into(sys.argv[1], sys.argv[2])} modules imported at start")
