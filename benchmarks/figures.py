"""What the bench reports for each image, and the results it keeps."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.stats import Series


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    short: str = ""  # the chart's label; by default the label up to its parenthesis
    higher_is_better: bool = False
    from_build: bool = False  # measured on a build of the contender's own Dockerfile

    def __post_init__(self) -> None:
        if not self.short:
            object.__setattr__(self, "short", self.label.split(" (")[0])


def built(key: str, label: str, unit: str, short: str = "") -> Figure:
    """A figure measured on a build of the contender's own Dockerfile."""
    return Figure(key, label, unit, short, from_build=True)


FIGURES: tuple[Figure, ...] = (
    built("image_mb", "Image size", "MB"),
    built("deps_mb", "Installed dependencies (site-packages)", "MB"),
    built("overhead_mb", "Overhead over the floor (image - base - deps)", "MB"),
    built("cold_build_s", "Cold build (no cache)", "s"),
    built("code_rebuild_s", "Rebuild after a one-line code change", "s", "Rebuild, code change"),
    built("deps_rebuild_s", "Rebuild after a dependency change", "s", "Rebuild, dependency change"),
    Figure("start_s", "`docker run` to first 200 on /health", "s", "Start to first 200"),
    Figure("idle_rss_mb", "Idle memory, RSS (summed over the container's processes)", "MB"),
    Figure("idle_pss_mb", "Idle memory, PSS (pages shared between processes counted once)", "MB"),
    Figure("rps", "CRUD throughput", "req/s", higher_is_better=True),
    Figure("p50_ms", "CRUD latency p50", "ms"),
    Figure("p99_ms", "CRUD latency p99", "ms"),
)
FIGURE_BY_KEY = {f.key: f for f in FIGURES}


@dataclass
class ContenderResult:
    key: str
    label: str
    proposal: str = ""
    image_of: str | None = None
    series: dict[str, Series] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.series.setdefault(key, Series(FIGURE_BY_KEY[key].unit)).add(value)

    def median(self, key: str) -> float | None:
        series = self.series.get(key)
        return series.median if series else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "proposal": self.proposal,
            "image_of": self.image_of,
            "figures": {k: s.as_dict() for k, s in self.series.items()},
            "facts": self.facts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContenderResult:
        series = {k: Series(f["unit"], list(f["samples"])) for k, f in data["figures"].items()}
        return cls(
            data["key"], data["label"], data["proposal"], data["image_of"], series, data["facts"]
        )


@dataclass
class VariantResult:
    variant: str
    base: dict[str, Any]
    contenders: list[ContenderResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def contender(self, key: str) -> ContenderResult:
        return next(c for c in self.contenders if c.key == key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "base": self.base,
            "notes": self.notes,
            "wall_seconds": self.wall_seconds,
            "contenders": [c.as_dict() for c in self.contenders],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantResult:
        return cls(
            data["variant"],
            data["base"],
            [ContenderResult.from_dict(c) for c in data["contenders"]],
            data["notes"],
            data["wall_seconds"],
        )


@dataclass(frozen=True)
class BenchSettings:
    runs: int = 5  # repetitions of every figure, alternating the images A/B/A/B
    load_seconds: float = 15.0
    warmup_seconds: float = 2.0  # unmeasured wrk run before each load, so pools are filled
    connections: int = 32
    idle_seconds: float = 2.0  # settle time between the first 200 and the memory reading
    proposals: bool = False
    starts_per_run: int = 3  # starts are cheap and the noisiest figure on a shared machine

    @property
    def start_runs(self) -> int:
        return self.runs * self.starts_per_run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
