"""Fast tier: the machine check names what is missing, and installs only where it may."""

from __future__ import annotations

import pytest

from harness import machine


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
