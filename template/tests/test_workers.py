"""Worker processes: how many by default, and the forked workers really serving and stopping."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.inprocess,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"),
        reason="workers are forked; these tests read Linux /proc",
    ),
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
Server = tuple[subprocess.Popen[str], int]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max 100000", None),
        ("150000 100000", 2),
        ("50000 100000", 1),
        ("200000 100000\n", 2),
        ("junk", None),
    ],
)
def test_cpu_quota(tmp_path: Path, text: str, expected: int | None) -> None:
    cpu_max = tmp_path / "cpu.max"
    from app.workers import cpu_quota

    cpu_max.write_text(text)
    assert cpu_quota(cpu_max) == expected


def test_no_cgroup_file_means_no_quota(tmp_path: Path) -> None:
    from app.workers import cpu_quota

    assert cpu_quota(tmp_path / "absent") is None


def test_default_workers_follow_quota_and_cap(tmp_path: Path) -> None:
    from app.workers import MAX_DEFAULT_WORKERS, default_workers

    cpus = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000")
    assert default_workers(cpu_max) == 1
    cpu_max.write_text("max 100000")
    assert default_workers(cpu_max) == min(cpus, MAX_DEFAULT_WORKERS)
    cpu_max.write_text(f"{100000 * 64} 100000")
    assert default_workers(cpu_max) == min(cpus, MAX_DEFAULT_WORKERS)


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the parent pid is the second field after the parenthesised command name
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def health_status(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def wait_for(condition, what: str, seconds: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {seconds:.0f} s")


@pytest.fixture
def server(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`python -m app` with the given WEB_CONCURRENCY on a migrated SQLite file."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'workers.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(request.param),
    }
    # Migrated up front: SQLite has no advisory lock to keep two workers' migrations apart
    subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: health_status(port) == 200, "no 200 from /health")
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.parametrize("server", [2], indirect=True)
def test_forked_workers_serve_and_replace_a_dead_one(
    server: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = server
    wait_for(lambda: len(children_of(process.pid)) == 2, "the parent never had 2 workers")
    first = children_of(process.pid)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        now = children_of(process.pid)
        return victim not in now and len(now) == 2 and len(now - first) == 1

    wait_for(replaced, "the killed worker was not replaced")
    assert health_status(port) == 200
    assert process.poll() is None


@pytest.mark.parametrize("server", [1, 2], indirect=True, ids=["one-worker", "two-workers"])
def test_stop_signal_ends_every_worker_with_code_0(
    server: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = server
    workers = children_of(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived its parent"
    assert health_status(port) == 0


def test_workers_failing_at_start_stop_the_server(tmp_path: Path) -> None:
    code = "from app.workers import Supervisor as S; raise SystemExit(S(2, lambda ready: 1).run())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "workers keep exiting at start" in result.stderr
