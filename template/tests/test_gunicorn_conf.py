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
    for name in ("HOST", "PORT", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS", "LOG_LEVEL"):
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
    names |= {"forwarded_allow_ips", "accesslog", "logconfig_dict", "control_socket_disable"}
    names |= {"keepalive"}
    assert names <= set(Config().settings)
    source = CONF.read_text()
    assert all(f"\n{name} = " in source for name in names)
