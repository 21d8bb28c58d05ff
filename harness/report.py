"""The matrix report: one row per variant, written as JSON and printed as a table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Row:
    variant: str
    base: str = ""           # "stand-in: task-api-standin/...", "real", or "skipped: why"
    size_mb: float | None = None
    budget_mb: int | None = None
    build_s: float | None = None
    first_200_s: float | None = None
    healthy_s: float | None = None
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class MatrixReport:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def row(self, variant: str) -> Row:
        return self.rows.setdefault(variant, Row(variant))

    def record(self, variant: str, criterion: str, ok: bool, figures: dict | None = None) -> None:
        row = self.row(variant)
        (row.passed if ok else row.failed).append(criterion)
        for key, value in (figures or {}).items():
            if hasattr(row, key):
                setattr(row, key, value)

    def counts(self) -> dict[str, int]:
        rows = list(self.rows.values())
        return {
            "built": sum(1 for r in rows if r.build_s is not None),
            "stand-in": sum(1 for r in rows if r.base.startswith("stand-in")),
            "skipped": sum(1 for r in rows if r.base.startswith("skipped")),
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"counts": self.counts(), "variants": [asdict(r) for r in self.rows.values()]}
        path.write_text(json.dumps(data, indent=2) + "\n")

    def table(self) -> str:
        head = ("variant", "base used", "size / budget MB", "build s", "first 200 s", "healthy s", "checks")
        lines = [head]
        for r in self.rows.values():
            size = f"{r.size_mb:.0f} / {r.budget_mb}" if r.size_mb is not None else "-"
            total = len(r.passed) + len(r.failed)
            checks = f"{len(r.passed)}/{total}" + (f" FAILED {','.join(r.failed)}" if r.failed else "")
            lines.append((r.variant, r.base, size, fmt(r.build_s), fmt(r.first_200_s), fmt(r.healthy_s),
                          checks if total else "-"))
        widths = [min(max(len(str(line[i])) for line in lines), 70) for i in range(len(head))]
        out = ["  ".join(str(c)[:w].ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
        out += [f"  {r.variant}: {r.base}" for r in self.rows.values() if len(r.base) > widths[1]]
        c = self.counts()
        out.append(f"{len(self.rows)} variants: {c['built']} built ({c['stand-in']} on stand-in bases), "
                   f"{c['skipped']} skipped")
        return "\n".join(out)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
