"""Fast tier: the arm64 row of the matrix, what it runs under emulation, how binfmt_misc is
read, and the report's build times by platform."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.checks.criteria import CHECKS
from harness.checks.platforms import emulated_skip
from harness.checks.reliability import RELIABILITY
from harness.machine import emulation
from harness.matrix.variants import load_variants
from harness.report.matrix_report import MatrixReport


def test_the_arm64_row_is_its_twin_built_for_arm64() -> None:
    variants = {v.name: v for v in load_variants()}
    arm64 = variants["slim-314-arm64"]
    assert arm64.platform == "linux/arm64" and arm64.native_twin == "slim-314"
    twin = variants[arm64.native_twin]
    assert twin.platform is None
    # the same project but for the size budget (arm64's Debian binaries are larger)
    assert {**twin.answers, "image_size_budget_mb": "230"} == arm64.answers


def test_an_emulated_row_skips_what_times_qemu_or_repeats_its_twin_and_says_so() -> None:
    variants = load_variants()
    arm64 = SimpleNamespace(variant=next(v for v in variants if v.platform), figures={})
    host = SimpleNamespace(variant=next(v for v in variants if not v.platform), figures={})
    ran = {c for c in [*CHECKS, *RELIABILITY] if emulated_skip(arm64, c) is None}
    assert {"SC-01", "SC-03", "SC-04", "SC-05", "SC-06", "SC-09", "SC-10"} <= ran
    assert not set(RELIABILITY) & ran
    assert "measure the emulator, not the image" in emulated_skip(arm64, "load")
    arm64.figures["first_200_s"] = 12.5
    assert "takes 12.5 s: its twin slim-314 runs this check" in emulated_skip(arm64, "SC-11")
    assert all(emulated_skip(host, c) is None for c in [*CHECKS, *RELIABILITY])


def write_entry(folder: Path, flags: str, state: str = "enabled") -> None:
    lines = [state, "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P", f"flags: {flags}"]
    (folder / "qemu-aarch64").write_text("\n".join([*lines, "offset 0"]) + "\n")


def test_only_an_enabled_registration_with_the_f_flag_is_usable(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(emulation, "BINFMT", tmp_path)
    assert emulation.registration("arm64") == {}
    write_entry(tmp_path, "PO")
    assert emulation.registration("arm64")["flags"] == "PO"
    assert not emulation.usable(emulation.registration("arm64"))
    write_entry(tmp_path, "POF", state="disabled")
    assert not emulation.usable(emulation.registration("arm64"))
    write_entry(tmp_path, "POF")
    assert emulation.usable(emulation.registration("arm64"))
    assert "already registered" in emulation.ensure_emulation("linux/arm64")


def test_without_root_one_sentence_says_what_to_do(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(emulation, "BINFMT", tmp_path)  # nothing registered
    monkeypatch.setattr(emulation.os, "geteuid", lambda: 1000)
    with pytest.raises(emulation.EmulationError) as caught:
        emulation.ensure_emulation("linux/arm64")
    assert "only root" in str(caught.value) and "\n" not in str(caught.value)
    assert "own platform" in emulation.ensure_emulation(f"linux/{emulation.HOST_ARCH}")


def test_the_report_shows_the_arm64_build_time_beside_amd64s() -> None:
    report = MatrixReport()
    report.record("slim-314", "SC-01", True, {"build_s": 40.0, "platform": "linux/amd64"})
    report.record("slim-314-arm64", "SC-01", True, {"build_s": 100.0, "platform": "linux/arm64"})
    line = report.table().splitlines()[-1]
    assert "slim-314-arm64 100.0 s" in line and "slim-314 40.0 s (linux/amd64), 2.5x" in line
