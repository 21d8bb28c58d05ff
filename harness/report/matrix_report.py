"""The matrix report: one row per variant, written as JSON and printed as a table."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    variant: str
    base: str = ""  # "stand-in: task-api-standin/...", "real", or "skipped: why"
    size_mb: float | None = None
    budget_mb: int | None = None
    build_s: float | None = None
    first_200_s: float | None = None
    healthy_s: float | None = None
    platform: str | None = None  # "linux/arm64": what the build check built for
    extra: dict[str, Any] = field(default_factory=dict)  # reliability figures, by name
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class MatrixReport:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def row(self, variant: str) -> Row:
        return self.rows.setdefault(variant, Row(variant))

    def record(
        self, variant: str, criterion: str, ok: bool, figures: dict[str, Any] | None = None
    ) -> None:
        row = self.row(variant)
        (row.passed if ok else row.failed).append(criterion)
        for key, value in (figures or {}).items():
            if key in Row.__dataclass_fields__:
                setattr(row, key, value)
            else:
                row.extra[key] = value

    def run(self, subject: Any, name: str, check: Callable[[Any], dict[str, Any]]) -> None:
        """Run one check on a subject, recording its verdict and figures."""
        try:
            figures = check(subject)
        except BaseException:
            self.record(subject.variant.name, name, ok=False)
            subject.remove_containers()  # a failed check must not leave the next one a taken port
            raise
        self.record(subject.variant.name, name, ok=True, figures=figures)

    def counts(self) -> dict[str, int]:
        rows = list(self.rows.values())
        return {
            "built": sum(1 for r in rows if r.build_s is not None),
            "stand-in": sum(1 for r in rows if r.base.startswith("stand-in")),
            "skipped": sum(1 for r in rows if r.base.startswith("skipped")),
        }

    @classmethod
    def read(cls, paths: Sequence[Path]) -> MatrixReport:
        """The rows of several reports (one per rows lane) as one report, in their order."""
        report = cls()
        for path in paths:
            if path.exists():
                for data in json.loads(path.read_text())["variants"]:
                    report.rows[data["variant"]] = Row(**data)
        return report

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"counts": self.counts(), "variants": [asdict(r) for r in self.rows.values()]}
        path.write_text(json.dumps(data, indent=2) + "\n")

    def table(self) -> str:
        head = (
            "variant",
            "base used",
            "size / budget MB",
            "build s",
            "first 200 s",
            "healthy s",
            "checks",
        )
        rows = []
        for r in self.rows.values():
            size = f"{r.size_mb:.0f} / {r.budget_mb}" if r.size_mb is not None else "-"
            total = len(r.passed) + len(r.failed)
            checks = f"{len(r.passed)}/{total}" + (
                f" FAILED {','.join(r.failed)}" if r.failed else ""
            )
            rows.append(
                (
                    r.variant,
                    r.base,
                    size,
                    fmt(r.build_s),
                    fmt(r.first_200_s),
                    fmt(r.healthy_s),
                    checks if total else "-",
                )
            )
        out = columns(head, rows)
        out += [f"  {r.variant}: {r.base}" for r in self.rows.values() if len(r.base) > 70]
        c = self.counts()
        out.append(
            f"{len(self.rows)} variants: {c['built']} built ({c['stand-in']} on stand-in bases), "
            f"{c['skipped']} skipped"
        )
        out += self.build_times_by_platform()
        out += self.user_path_lines()
        built = [r for r in self.rows.values() if r.extra]
        if built:
            out += ["", "reliability figures (a column per check)"]
            out += columns(
                ("variant", *RELIABILITY_COLUMNS),
                [
                    (r.variant, *(str(r.extra.get(k, "-")) for k in RELIABILITY_COLUMNS))
                    for r in built
                ],
            )
        return "\n".join(out)

    def user_path_lines(self) -> list[str]:
        """The Compose version used, and the rolling deploy's figures (issue 22)."""
        lines = []
        compose = sorted(
            {str(r.extra["compose"]) for r in self.rows.values() if "compose" in r.extra}
        )
        if compose:
            lines.append(f"docker compose up --wait with Compose {', '.join(compose)}")
        for r in self.rows.values():
            if "rollout_requests" in r.extra:
                x = r.extra
                lines.append(
                    f"rolling deploy on {r.variant} ({x['rollouts']}): {x['rollout_requests']}"
                    f" requests, {x['rollout_errors']} failed, slowest {x['rollout_slowest_ms']}"
                    f" ms, {x['rollout_acked']} acknowledged, {x['rollout_lost']} lost,"
                    f" {x['rollout_s']} s per rollout; {x.get('burst', '-')}"
                )
        return ["", *lines] if lines else []

    def build_times_by_platform(self) -> list[str]:
        """Each other-platform row's build time beside its twin's (slim-314-arm64, slim-314)."""
        lines = []
        for r in self.rows.values():
            arch = (r.platform or "").rpartition("/")[2]
            twin = self.rows.get(r.variant.removesuffix(f"-{arch}"))
            if twin is None or twin is r or r.build_s is None:
                continue
            vs = "" if twin.build_s is None else f"{twin.build_s:.1f} s ({twin.platform})"
            ratio = f", {r.build_s / twin.build_s:.1f}x" if twin.build_s else ""
            lines.append(
                f"build time {r.platform} vs host: {r.variant} {r.build_s:.1f} s, "
                f"{twin.variant} {vs or 'not built'}{ratio}"
            )
        return ["", *lines] if lines else []


# figure names the reliability checks return, in the order the table shows them
RELIABILITY_COLUMNS = (
    "hardened",
    "stop_s",
    "exit_code",
    "recovery_s",
    "acked",
    "lost",
    "fuzz_requests",
    "rps",
    "p50_ms",
    "p99_ms",
    "bad_config",
)


def columns(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = [head, *rows]
    widths = [min(max(len(str(line[i])) for line in lines), 70) for i in range(len(head))]
    return [
        "  ".join(str(c)[:w].ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
