"""Rows whose running container is another row's, bit for bit.

custom-debian builds on the python:3.14-slim stand-in pulled back from the local registry, so
its image holds exactly slim-314's base, venv and app code (but for the default port, which the
run sets anyway). The reliability checks test how a running container behaves, so on such a
row they would run the very same bits a second time: they run once, on the first of the two.
Every spec criterion still runs on every row (those check what the row itself renders).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.lab.subject import Subject
    from harness.report.matrix_report import MatrixReport

# app/_defaults.py holds the answers baked into the code (the default port); the run sets PORT
ANSWERS_MODULE = "_defaults.py"
APP_COPY = "COPY app/ /app/app/"
LAYER_MAKERS = ("ADD ", "COPY ", "RUN ", "WORKDIR ")
_keys: dict[str, str | None] = {}


def runtime_key(s: Subject) -> str | None:
    """A digest of what decides how s's container behaves, or None when it cannot be told
    apart from the layers: every layer but the app code's, the run settings of the image,
    and the app code bar its answers module."""
    runtime = s.project.path.joinpath("Dockerfile").read_text().rsplit(" AS runtime", 1)[-1]
    makers = [line for line in runtime.splitlines() if line.startswith(LAYER_MAKERS)]
    if not makers or makers[-1] != APP_COPY:
        return None  # the app's own layer is not the last one: compare nothing
    out = s.engine.docker("image", "inspect", "--format", "{{json .}}", s.image.tag).stdout
    image = json.loads(out)
    config = {k: image["Config"].get(k) for k in ("Entrypoint", "Cmd", "User", "Healthcheck")}
    config["Env"] = sorted(e for e in image["Config"].get("Env") or [] if not e.startswith("PORT="))
    digest = hashlib.sha256(json.dumps([image["RootFS"]["Layers"][:-1], config]).encode())
    app = s.project.path / "app"
    for path in sorted(p for p in app.rglob("*") if p.is_file() and p.name != ANSWERS_MODULE):
        digest.update(str(path.relative_to(app)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ran_on_same_runtime(s: Subject, check: str, report: MatrixReport) -> str | None:
    """Why check need not run on s: an earlier row of this session with the same runtime
    passed it. None when it must run here."""
    name = s.variant.name
    if name not in _keys:
        _keys[name] = runtime_key(s)
    if _keys[name] is None:
        return None
    for other, key in _keys.items():
        if other != name and key == _keys[name] and check in report.row(other).passed:
            return (
                f"{check}: {name} runs the very image contents of {other} (same base and"
                f" venv layers, same app code but for its default port), which passed it"
                " in this session"
            )
    return None
