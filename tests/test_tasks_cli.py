"""Fast tier: what tasks.py itself says about the background stand-in build."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from harness.matrix.variants import ROOT, load_variants


def load_tasks() -> ModuleType:
    """tasks.py as a module: importing it neither makes nor enters .venv (only running it does)."""
    spec = importlib.util.spec_from_file_location("tasks_cli", ROOT / "tasks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_failed_background_build_is_said_at_once_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = load_tasks()
    log = tmp_path / "standins.log"
    log.write_text(
        "[harness] stand-in task-api-standin/python:3.13-slim-trixie-arm64: building ...\n"
        "FAILED python:3.13-slim-trixie arm64: python-3.13-slim-trixie.sh failed: fix the mirror\n"
        "debian:trixie-slim amd64   stand-in  task-api-standin/debian:trixie-slim ...\n"
    )
    monkeypatch.setattr(tasks, "STANDINS_LOG", log)
    tasks.say_if_failed(subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"]))
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1, said
    assert "exit code 1" in said[0] and str(log) in said[0]
    assert "FAILED python:3.13-slim-trixie arm64: python-3.13-slim-trixie.sh failed" in said[0]


def test_a_background_build_that_succeeds_says_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    load_tasks().say_if_failed(subprocess.Popen([sys.executable, "-c", "pass"]))
    assert capsys.readouterr().out == ""


def test_the_rows_lanes_cover_the_chosen_rows() -> None:
    tasks = load_tasks()
    lanes = tasks.row_lanes("")
    assert len(lanes) == tasks.ROW_LANES
    assert sorted(n for lane in lanes for n in lane) == sorted(v.name for v in load_variants())
    assert tasks.row_lanes("trixie,slim-314") == [["slim-314"], ["trixie"]]
    assert tasks.row_lanes("no-such-row") == [["no-such-row"]]  # the rows lane names it
