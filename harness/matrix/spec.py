"""Read the success criteria out of a rendered containerization-spec.md."""

from __future__ import annotations

import re
from pathlib import Path

CRITERION = re.compile(r"^- \[ \] \*\*(SC-\d{2}) ([^*]+)\*\*", re.MULTILINE)


def success_criteria(project_dir: Path) -> dict[str, str]:
    """Criterion id -> its short title, in the order the spec lists them."""
    text = (project_dir / "containerization-spec.md").read_text()
    return {m.group(1): m.group(2).strip() for m in CRITERION.finditer(text)}
