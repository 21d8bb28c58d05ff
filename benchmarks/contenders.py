"""The images a bench run compares: the rendered one, the naive baseline, and proposals."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.dockerfiles import (
    STARTUP_BYTECODE_SCRIPT,
    VariantNotApplicable,
    naive_dockerfile,
    startup_bytecode_dockerfile,
)
from benchmarks.runs import RunSpec

RENDERED = "rendered"
NAIVE = "naive"
# The rendered image reads HOST and PORT; 127.0.0.1 only, by the machine's network rule.
RENDERED_RUN = RunSpec({"HOST": "127.0.0.1", "PORT": "{port}"})
# The naive image's own CMD, with only the address changed to 127.0.0.1 and a free port.
NAIVE_RUN = RunSpec({}, ("uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", "{port}"))


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    run: RunSpec
    dockerfile: str | None = None  # None: it runs the image of `image_of` with other settings
    deps_marker: str = ""  # text of the history entry whose layer holds the dependencies
    image_of: str | None = None
    extra_files: dict[str, Path] = field(default_factory=dict)  # context path -> source file
    proposal: str = ""  # the template change it stands for (proposals only)
    loads: bool = True  # False: serving is the same as another contender's, so no CRUD load
    workers: int = 1  # server processes answering requests, so throughput compares like for like
    peer: bool = False  # a recipe users pick instead of the template (benchmarks/peers/)
    database_of: str | None = None  # share that contender's database (it applies the migrations)

    @property
    def builds(self) -> bool:
        return self.dockerfile is not None


def main_contenders(project_dir: Path) -> list[Contender]:
    return [
        Contender(
            RENDERED,
            "rendered (template)",
            RENDERED_RUN,
            (project_dir / "Dockerfile").read_text(),
            deps_marker="/opt/venv /opt/venv",
            workers=our_workers(),
        ),
        Contender(
            NAIVE,
            "naive single-stage",
            NAIVE_RUN,
            naive_dockerfile(),
            deps_marker="pip install -r requirements.txt",
        ),
    ]


def available_cpus() -> int:
    return len(os.sched_getaffinity(0))


def our_workers() -> int:
    """The rendered image's default worker count (gunicorn.conf.py): one per CPU, at most 4."""
    return max(1, min(available_cpus(), 4))


def proposal_contenders(project_dir: Path) -> tuple[list[Contender], list[str]]:
    """Each idea for an unmet target, as a contender; and why any could not be made."""
    cpus = str(available_cpus())
    found: list[Contender] = []
    skipped: list[str] = []
    try:
        found.append(
            Contender(
                "startup-pyc",
                "rendered, bytecode only for start-up modules",
                RENDERED_RUN,
                startup_bytecode_dockerfile((project_dir / "Dockerfile").read_text()),
                deps_marker="/opt/venv /opt/venv",
                extra_files={"docker/compile_startup.py": STARTUP_BYTECODE_SCRIPT},
                loads=False,
                proposal="install without --compile-bytecode; in the app stage compile only the"
                " venv modules a start imports (benchmarks/variants/compile_startup.py)"
                " into their own layer",
            )
        )
    except VariantNotApplicable as why:
        skipped.append(f"startup-pyc: {why}")
    # the rendered image itself, started with other settings
    settings = (
        (
            "one-worker",
            "rendered, WEB_CONCURRENCY=1",
            {"WEB_CONCURRENCY": "1"},
            "one worker, as the rendered Kubernetes Deployment runs it (scale with replicas);"
            f" the default is one per CPU ({cpus} here)",
        ),
        (
            "quiet",
            "rendered, no access log",
            {"LOG_LEVEL": "warning"},
            "no per-request access log line (LOG_LEVEL=warning stands in for an"
            " ACCESS_LOG=false default)",
        ),
    )
    for key, label, env, proposal in settings:
        run = RunSpec({**RENDERED_RUN.env, **env})
        workers = int(env.get("WEB_CONCURRENCY", our_workers()))
        found.append(
            Contender(key, label, run, image_of=RENDERED, proposal=proposal, workers=workers)
        )
    return found, skipped
