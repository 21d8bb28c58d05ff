"""Fast tier: the machine check names what is missing, and installs only where it may."""

from __future__ import annotations

import os
import subprocess

import pytest

from harness.machine import needs as machine
from harness.matrix.variants import ROOT


def test_every_need_is_found_on_this_machine() -> None:
    """tasks.py prepared at least the fast tier before pytest, so none of its needs is missing."""
    assert machine.missing("fast") == []


def test_a_missing_program_is_reported_by_its_package() -> None:
    need = machine.Need("no-such-pkg", "proof", machine.FAST, program="no-such-program-here")
    assert not need.present()


def test_where_it_may_not_install_one_line_names_the_packages(monkeypatch) -> None:
    absent = machine.Need("no-such-pkg", "proof", machine.FAST, program="no-such-program-here")
    monkeypatch.setattr(machine, "NEEDS", (absent,))
    monkeypatch.setattr(machine, "may_install", lambda: False)
    with pytest.raises(machine.MachineError) as caught:
        machine.ensure("fast", say=lambda _: pytest.fail("must not start installing"))
    assert "no-such-pkg" in str(caught.value) and "\n" not in str(caught.value)


def test_the_baseline_is_recorded_once_as_dpkg_lists_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(machine, "BASELINE", tmp_path / "state" / "baseline-packages.txt")
    said: list[str] = []
    machine.record_baseline(said.append)
    recorded = machine.BASELINE.read_text().splitlines()
    assert recorded == machine.installed_packages() and "dpkg" in recorded
    machine.BASELINE.write_text("earlier\n")
    machine.record_baseline(said.append)
    assert machine.BASELINE.read_text() == "earlier\n" and len(said) == 1


def test_the_purge_derives_what_to_remove_from_the_baseline(tmp_path) -> None:
    """--dry-run only prints: a baseline lacking one installed package names exactly that one."""
    installed = machine.installed_packages()
    baseline = tmp_path / "baseline-packages.txt"
    baseline.write_text("".join(f"{name}\n" for name in installed if name != installed[-1]))
    script = ROOT / "scripts" / "purge-to-new.sh"
    env = {**os.environ, "TASK_API_BASELINE": str(baseline)}
    out = subprocess.run(
        ["bash", str(script), "--dry-run"], env=env, capture_output=True, text=True, check=True
    )
    assert f"1 packages installed since the baseline: {installed[-1]}\n" in out.stdout
    assert f"apt-get purge -y -qq {installed[-1]}\n" in out.stdout


def test_the_purge_refuses_without_a_baseline(tmp_path) -> None:
    env = {**os.environ, "TASK_API_BASELINE": str(tmp_path / "none.txt")}
    script = ROOT / "scripts" / "purge-to-new.sh"
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "nothing is removed" in out.stderr
