"""gunicorn.conf.py: the worker count follows the CPUs the container may use, and the
settings that keep stops short and logs in one format are what the README says."""

import os
import runpy
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.inprocess

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def load_conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    from app.config import get_settings

    monkeypatch.setenv("DATABASE_URL", "sqlite:///conf.db")
    # set, so the conf leaves it (and this process's prometheus-client) as it is
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/metrics")
    for name in (
        "HOST",
        "PORT",
        "WEB_CONCURRENCY",
        "FORWARDED_ALLOW_IPS",
        "LOG_LEVEL",
        "LOG_FORMAT",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return runpy.run_path(str(CONF))
    finally:
        get_settings.cache_clear()


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
def test_cpu_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, expected: int | None
) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(text)
    assert load_conf(monkeypatch)["cpu_quota"](cpu_max) == expected


def test_default_workers_follow_quota_and_cap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = load_conf(monkeypatch)
    default_workers, cap = conf["default_workers"], conf["MAX_DEFAULT_WORKERS"]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert conf["cpu_quota"](tmp_path / "absent") is None
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000")
    assert default_workers(cpu_max) == 1
    for text in ("max 100000", f"{100000 * 64} 100000"):
        cpu_max.write_text(text)
        assert default_workers(cpu_max) == min(cpus or 1, cap)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from app._defaults import DEFAULT_PORT

    conf = load_conf(monkeypatch)
    assert conf["bind"] == [f"0.0.0.0:{DEFAULT_PORT}"]
    assert conf["workers"] == conf["default_workers"]()
    assert conf["preload_app"] is True
    assert conf["worker_class"].CONFIG_KWARGS["server_header"] is False
    # The spec's server limits: header bounds, a connection cap, a stated keep-alive
    from app.http_limits import KEEPALIVE_S, MAX_CONNECTIONS, BoundedHttpToolsProtocol

    assert conf["worker_class"].CONFIG_KWARGS["http"] is BoundedHttpToolsProtocol
    assert conf["worker_class"].CONFIG_KWARGS["limit_concurrency"] == MAX_CONNECTIONS == 1000
    assert conf["keepalive"] == KEEPALIVE_S == 5
    # Docker sends SIGKILL 10 s after SIGTERM: draining must end well before
    assert conf["graceful_timeout"] <= 8
    assert conf["forwarded_allow_ips"] == "127.0.0.1"
    assert conf["logconfig_dict"]["loggers"]["app"]["level"] == "INFO"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"HOST": "::", "PORT": "9000", "WEB_CONCURRENCY": "3", "FORWARDED_ALLOW_IPS": "*"}
    conf = load_conf(monkeypatch, **env, LOG_LEVEL="warning")
    assert conf["bind"] == ["[::]:9000"]
    assert conf["workers"] == 3
    assert conf["forwarded_allow_ips"] == "*"
    assert conf["loglevel"] == "warning"


def test_every_setting_is_one_gunicorn_knows() -> None:
    from gunicorn.config import Config

    names = {"preload_app", "worker_class", "workers", "bind", "graceful_timeout", "loglevel"}
    names |= {"forwarded_allow_ips", "logconfig_dict", "control_socket_disable"}
    names |= {"keepalive", "child_exit", "when_ready"}
    assert names <= set(Config().settings)
    source = CONF.read_text()
    assert all(f"\n{name} = " in source or f"\ndef {name}(" in source for name in names)


def test_metrics_folder_is_made_empty_for_each_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = load_conf(monkeypatch)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    from app._defaults import SERVICE_NAME

    folder = tmp_path / f"{SERVICE_NAME}-metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"left by the last start")
    conf["metrics_dir"]()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)
    assert list(folder.iterdir()) == []
    assert folder.stat().st_mode & 0o777 == 0o700
    # a reload (SIGHUP) runs the conf again: the live workers' files stay
    (folder / "counter_456.db").write_bytes(b"live")
    conf["metrics_dir"]()
    assert (folder / "counter_456.db").exists()


def test_child_exit_drops_only_a_dead_workers_gauges(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = load_conf(monkeypatch)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    kept = ["counter_7.db", "histogram_7.db", "gauge_livesum_8.db", "gauge_all_7.db"]
    for name in [*kept, "gauge_livesum_7.db", "gauge_liveall_7.db"]:
        (tmp_path / name).write_bytes(b"")

    class DeadWorker:
        pid = 7

    conf["child_exit"](None, DeadWorker())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_log_format_json_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    text = load_conf(monkeypatch)["logconfig_dict"]["formatters"]["line"]
    assert "%(request_id)s" in text["format"]
    json_line = load_conf(monkeypatch, LOG_FORMAT="json")["logconfig_dict"]["formatters"]["line"]
    assert json_line["()"] == "pythonjsonlogger.json.JsonFormatter"
    # uvicorn's own access line is off: RequestObserver writes one with the route and the id
    assert load_conf(monkeypatch)["worker_class"].CONFIG_KWARGS["access_log"] is False
