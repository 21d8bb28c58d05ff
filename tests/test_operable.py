"""Fast tier: the pieces SC-20, SC-21 and the on/off bench read figures with."""

from __future__ import annotations

import pytest

from benchmarks.operable import table
from harness.checks.metrics import parse_samples, value
from harness.checks.outcome import CheckFailed

SCRAPE = """# HELP http_requests_total Requests answered
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/tasks/{task_id}",status="200"} 100.0
http_requests_total{method="GET",route="a \\"quoted\\" one",status="404"} 2.0
http_requests_in_flight 1.0
process_resident_memory_bytes{pid="7"} 8.1563648e+07
"""


def test_samples_are_read_by_name_and_labels() -> None:
    samples = parse_samples(SCRAPE)
    assert value(samples, "http_requests_total", method="GET", route="/tasks/{task_id}",
                 status="200") == 100  # fmt: skip
    assert value(samples, "http_requests_in_flight") == 1
    assert value(samples, "process_resident_memory_bytes", pid="7") == 81563648
    assert value(samples, "http_requests_total", method="POST") == 0  # absent: 0
    assert len(samples) == 4


def test_a_line_that_is_no_sample_fails_the_check() -> None:
    with pytest.raises(CheckFailed, match="not a sample"):
        parse_samples("http_requests_total{broken 1\n")


def test_the_bench_table_gives_medians_and_ratios() -> None:
    figures = {
        "on": {"rps": [90.0, 100.0, 300.0], "p99_ms": [10.0], "idle_rss_mb": [50.0],
               "idle_pss_mb": [0.0]},
        "off": {"rps": [100.0, 80.0, 120.0], "p99_ms": [8.0], "idle_rss_mb": [40.0],
                "idle_pss_mb": [0.0]},
    }  # fmt: skip
    rows = table(figures).splitlines()
    assert "| throughput, requests/s | 100 | 100 | 1.000 |" in rows
    assert "| p99 latency, ms | 10 | 8 | 1.250 |" in rows
    assert rows[-1].endswith("| 0 | 0 | - |")
