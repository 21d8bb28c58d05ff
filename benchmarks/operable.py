"""What /metrics and JSON logs cost: one built image, run with them on and with them off,
side by side (throughput and p99 of wrk's CRUD mix, resident memory once idle).

    python -m benchmarks.operable IMAGE [--rounds 3] [--seconds 8]

On: METRICS_ENABLED=true LOG_FORMAT=json (every request counted, timed and logged as JSON).
Off: METRICS_ENABLED=false LOG_FORMAT=text. Both keep the access line, which the image had
before (uvicorn's). Rounds alternate on and off so a busy machine hurts both alike; the table
gives medians. Writes docs/operable-bench.md and .json."""

from __future__ import annotations

import argparse
import json
import statistics
import time

from benchmarks.runs import memory_bytes
from harness.checks.wrk import run_crud_mix, seed_tasks
from harness.lab.container import run_container
from harness.machine.engine import ensure_engine
from harness.machine.net import free_port
from harness.machine.postgres import Postgres
from harness.matrix.variants import ROOT

MODES = {
    "on": {"METRICS_ENABLED": "true", "LOG_FORMAT": "json"},
    "off": {"METRICS_ENABLED": "false", "LOG_FORMAT": "text"},
}
WORKERS, CONNECTIONS = "2", 32


def measure(image: str, rounds: int, seconds: float) -> dict[str, dict[str, list[float]]]:
    engine = ensure_engine()
    figures: dict[str, dict[str, list[float]]] = {
        mode: {"rps": [], "p99_ms": [], "idle_rss_mb": [], "idle_pss_mb": []} for mode in MODES
    }
    with Postgres(password="operable-bench") as pg:
        for _ in range(rounds):
            for mode, env in MODES.items():
                port, name = free_port(), f"tat-operable-bench-{mode}"
                run_env = {"DATABASE_URL": pg.url, "WEB_CONCURRENCY": WORKERS, **env}
                c = run_container(engine, image, name=name, port=port, env=run_env)
                try:
                    c.wait_for_health_200()
                    time.sleep(2)  # idle: start-up done, nothing served but the probe
                    memory = memory_bytes(engine, name)
                    ids = seed_tasks(port, 100)
                    run_crud_mix(port, ids, seconds=2, connections=CONNECTIONS)  # warm-up
                    result = run_crud_mix(port, ids, seconds=seconds, connections=CONNECTIONS)
                finally:
                    c.remove()
                figures[mode]["rps"].append(round(result.rps, 1))
                figures[mode]["p99_ms"].append(result.p99_ms or 0.0)
                figures[mode]["idle_rss_mb"].append(round(memory["rss"] / 1e6, 1))
                figures[mode]["idle_pss_mb"].append(round(memory.get("pss", 0) / 1e6, 1))
    return figures


def table(figures: dict[str, dict[str, list[float]]]) -> str:
    med = {m: {k: statistics.median(v) for k, v in f.items()} for m, f in figures.items()}
    rows = ["| | on (metrics + JSON logs) | off | on / off |", "|---|---|---|---|"]
    for key, label in (
        ("rps", "throughput, requests/s"),
        ("p99_ms", "p99 latency, ms"),
        ("idle_rss_mb", "idle memory, RSS MB (all processes)"),
        ("idle_pss_mb", "idle memory, PSS MB (shared pages split)"),
    ):
        on, off = med["on"][key], med["off"][key]
        ratio = f"{on / off:.3f}" if off else "-"
        rows.append(f"| {label} | {on:g} | {off:g} | {ratio} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    figures = measure(args.image, args.rounds, args.seconds)
    text = table(figures)
    print(text)
    out = ROOT / "docs" / "operable-bench"
    out.with_suffix(".json").write_text(json.dumps(figures, indent=2) + "\n")
    out.with_suffix(".md").write_text(
        "# /metrics and JSON logs: on against off\n\n"
        f"`python -m benchmarks.operable {args.image} --rounds {args.rounds} --seconds"
        f" {args.seconds:g}`: {WORKERS} workers, wrk's CRUD mix with {CONNECTIONS} connections,"
        " medians of alternating rounds (every figure in operable-bench.json).\n\n"
        f"{text}\n"
    )


if __name__ == "__main__":
    main()
