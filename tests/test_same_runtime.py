"""Which rows' reliability checks may stand for another's: only a bit-identical runtime."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.report import same_runtime
from harness.report.matrix_report import MatrixReport

DOCKERFILE = """FROM base AS builder
RUN make-venv
FROM ${BASE_IMAGE} AS runtime
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY gunicorn.conf.py /app/
COPY app/ /app/app/
USER 10001:0
"""


def fake_row(tmp: Path, name: str, *, layers=("base", "venv"), port=8000, main="app = 1\n"):
    project = tmp / name
    (project / "app").mkdir(parents=True)
    (project / "Dockerfile").write_text(DOCKERFILE)
    (project / "app" / "main.py").write_text(main)
    (project / "app" / "_defaults.py").write_text(f"DEFAULT_PORT = {port}\n")
    image = {
        "RootFS": {"Layers": [*layers, f"app-layer-{name}"]},
        "Config": {"Env": [f"PORT={port}", "PYTHONUNBUFFERED=1"], "User": "10001:0"},
    }
    docker = lambda *args: SimpleNamespace(stdout=json.dumps(image))  # noqa: E731
    return SimpleNamespace(
        variant=SimpleNamespace(name=name),
        project=SimpleNamespace(path=project),
        engine=SimpleNamespace(docker=docker),
        image=SimpleNamespace(tag=name),
    )


@pytest.fixture(autouse=True)
def fresh_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(same_runtime, "_keys", {})


def passed(report: MatrixReport, row: str, check: str) -> MatrixReport:
    report.row(row).passed.append(check)
    return report


def test_a_row_with_the_same_runtime_skips_what_the_first_passed(tmp_path: Path) -> None:
    report = MatrixReport()
    first, twin = fake_row(tmp_path, "slim"), fake_row(tmp_path, "custom", port=8080)
    assert same_runtime.ran_on_same_runtime(first, "load", report) is None
    assert same_runtime.ran_on_same_runtime(twin, "load", report) is None  # not passed yet
    why = same_runtime.ran_on_same_runtime(twin, "load", passed(report, "slim", "load"))
    assert why and "custom runs the very image contents of slim" in why
    assert same_runtime.ran_on_same_runtime(twin, "clean-stop", report) is None


@pytest.mark.parametrize(
    "change",
    [{"layers": ("base", "other venv")}, {"main": "app = 2\n"}, {"layers": ("other base", "venv")}],
    ids=["venv layer", "app code", "base layer"],
)
def test_any_other_difference_runs_the_check_again(tmp_path: Path, change: dict) -> None:
    report = passed(MatrixReport(), "slim", "load")
    same_runtime.ran_on_same_runtime(fake_row(tmp_path, "slim"), "load", report)
    assert (
        same_runtime.ran_on_same_runtime(fake_row(tmp_path, "b", **change), "load", report) is None
    )


def test_nothing_is_compared_when_the_app_layer_is_not_the_last(tmp_path: Path) -> None:
    report = passed(MatrixReport(), "slim", "load")
    rows = [fake_row(tmp_path, "slim"), fake_row(tmp_path, "custom")]
    for row in rows:
        path = row.project.path / "Dockerfile"
        path.write_text(path.read_text().replace("USER 10001:0", "RUN chmod -R g=u /app"))
        same_runtime.ran_on_same_runtime(row, "load", report)
    assert same_runtime.ran_on_same_runtime(rows[1], "load", report) is None
