"""Request ids, the access line and /metrics: what a team running the service reads.
Counting across gunicorn workers (and a killed one) is proven on the built image by the
template's SC-20; here the app's own parts, in process."""

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from helpers import MakeClient
from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, tuple[tuple[str, str], ...]]


def scrape(client: httpx.Client) -> dict[Series, float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(resp.text)
        for sample in family.samples
    }


def count(samples: dict[Series, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered(make_client: MakeClient, migrated_app: object, database_url: str) -> httpx.Client:
    """The in-process app with metrics on, whatever the `metrics` answer chose."""
    return make_client(DATABASE_URL=database_url, RUN_MIGRATIONS="false", METRICS_ENABLED="true")


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record the app logs, with the request id the real handlers would give it."""
    from app.logs import RequestIdFilter

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    kept: list[logging.LogRecord] = []
    handler = Keep(logging.DEBUG)
    handler.addFilter(RequestIdFilter())
    app_logger = logging.getLogger("app")
    level = app_logger.level
    app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)
    yield kept
    app_logger.removeHandler(handler)
    app_logger.setLevel(level)


def test_a_valid_request_id_is_echoed(client: httpx.Client) -> None:
    for given in ("my-id-1", "4bf92f3577b34da6a3ce929d0e0e4736", "trace/span;o=1", "a" * 128):
        assert (
            client.get("/health", headers={"X-Request-ID": given}).headers["x-request-id"] == given
        )


@pytest.mark.parametrize(
    "given", ["a" * 129, "two words", 'quote"d', "new\\nline", "é", "z" * 10_000, ""]
)
def test_any_other_request_id_is_replaced(client: httpx.Client, given: str) -> None:
    resp = client.get("/tasks/1", headers={b"X-Request-ID": given.encode("utf-8")})
    echoed = resp.headers["x-request-id"]
    assert echoed != given and len(echoed) == 32 and int(echoed, 16) >= 0


def test_every_answer_has_its_own_id(client: httpx.Client) -> None:
    ids = {client.get(path).headers["x-request-id"] for path in ("/health", "/nope", "/tasks/0")}
    assert len(ids) == 3


@pytest.mark.inprocess
def test_one_access_line_per_request_with_route_and_id(
    client: httpx.Client, records: list[logging.LogRecord]
) -> None:
    client.get("/tasks/12345", headers={"X-Request-ID": "access-1"})
    client.get("/a/made/up/path", headers={"X-Request-ID": "access-2"})
    lines = [r for r in records if r.name == "app.access"]
    assert [(r.request_id, r.route, r.status, r.method) for r in lines] == [  # type: ignore[attr-defined]
        ("access-1", "/tasks/{task_id}", 404, "GET"),
        ("access-2", "unmatched", 404, "GET"),
    ]
    assert all(isinstance(r.duration_ms, float) for r in lines)  # type: ignore[attr-defined]


@pytest.mark.inprocess
def test_lines_written_during_a_request_carry_its_id(
    make_client: MakeClient, records: list[logging.LogRecord]
) -> None:
    client = make_client(DATABASE_URL="postgresql://u:pw@127.0.0.1:1/db", RUN_MIGRATIONS="false")
    client.get("/health", headers={"X-Request-ID": "probe-7"})
    # /health's probe runs on a thread of its own: the id goes there with it
    health = [r for r in records if r.name == "app.health"]
    assert health and all(r.request_id == "probe-7" for r in health)  # type: ignore[attr-defined]
    outside = logging.LogRecord("app", logging.INFO, __file__, 1, "outside", None, None)
    from app.logs import RequestIdFilter

    RequestIdFilter().filter(outside)
    assert outside.request_id == "-"  # type: ignore[attr-defined]


def test_json_lines_stay_one_object_each() -> None:
    from pythonjsonlogger.json import JsonFormatter

    from app.logs import REQUEST_ID, RequestIdFilter, log_config

    spec = dict(log_config("info", "json")["formatters"]["line"])
    assert spec.pop("()") == "pythonjsonlogger.json.JsonFormatter"
    formatter = JsonFormatter(**spec)
    token = REQUEST_ID.set("json-1")
    hostile = 'a "quoted"\nsecond line\r\x00 \ud800 end'
    record = logging.LogRecord("app.x", logging.WARNING, __file__, 1, "%s", (hostile,), None)
    record.route = "/tasks/{task_id}"
    RequestIdFilter().filter(record)
    REQUEST_ID.reset(token)
    line = formatter.format(record)
    assert "\n" not in line and "\r" not in line
    parsed = json.loads(line)
    assert parsed["message"] == hostile and parsed["request_id"] == "json-1"
    assert parsed["level"] == "WARNING" and parsed["logger"] == "app.x"
    assert parsed["route"] == "/tasks/{task_id}" and "timestamp" in parsed


@pytest.mark.inprocess
def test_metrics_count_by_route_template(metered: httpx.Client) -> None:
    client = metered
    before = scrape(client)
    for task_id in range(1, 6):
        client.get(f"/tasks/{task_id}")
    client.head("/health")
    after = scrape(client)
    labels = {"method": "GET", "route": "/tasks/{task_id}", "status": "404"}
    assert (
        count(after, "http_requests_total", **labels)
        - count(before, "http_requests_total", **labels)
        == 5
    )
    head = {"method": "HEAD", "route": "/health", "status": "200"}
    assert count(after, "http_requests_total", **head) > count(
        before, "http_requests_total", **head
    )
    timed = {"method": "GET", "route": "/tasks/{task_id}"}
    assert count(after, "http_request_duration_seconds_count", **timed) >= 5
    assert count(after, "http_requests_in_flight") == 1  # this scrape
    assert count(after, "app_build_info", service=client.get("/health").json()["service"],
                 version="0.1.0") == 1  # fmt: skip
    assert any(name == "db_pool_connections_max" for name, _ in after)


@pytest.mark.inprocess
def test_made_up_paths_and_ids_add_no_series(metered: httpx.Client) -> None:
    client = metered
    client.get("/tasks/1")
    client.get("/bogus/0")
    before = scrape(client)
    for i in range(1000):
        client.get(f"/tasks/{100_000 + i}")
    for i in range(200):
        client.get(f"/bogus/{i}/{'x' * i}")
    after = scrape(client)
    new = {series for series in after if series[0].startswith("http_")} - set(before)
    assert not new
    values = [value for _, labels in after for _, value in labels]
    assert not [value for value in values if "bogus" in value or "/tasks/1" in value]


@pytest.mark.inprocess
def test_database_errors_are_counted_by_reason(make_client: MakeClient) -> None:
    client = make_client(
        DATABASE_URL="postgresql://u:pw@127.0.0.1:1/db",
        RUN_MIGRATIONS="false",
        METRICS_ENABLED="true",
    )
    before = count(scrape(client), "db_errors_total", reason="database_unreachable")
    client.get("/health")
    client.get("/tasks")
    after = count(scrape(client), "db_errors_total", reason="database_unreachable")
    assert after - before == 2


@pytest.mark.inprocess
def test_metrics_can_be_switched_off(make_client: MakeClient, database_url: str) -> None:
    client = make_client(DATABASE_URL=database_url, METRICS_ENABLED="false")
    resp = client.get("/metrics")
    assert resp.status_code == 404 and resp.json() == {"detail": "Not Found"}
    # ids and access lines stay: they are not metrics
    assert (
        client.get("/health", headers={"X-Request-ID": "off-1"}).headers["x-request-id"] == "off-1"
    )
