"""What a check hands back: figures for the report, or CheckFailed with what it saw."""

from __future__ import annotations

from typing import Any

Figures = dict[str, Any]


class CheckFailed(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)
