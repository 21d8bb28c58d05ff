"""The rows lanes of `tasks.py test` (harness/matrix/lanes.py): rows that would meet on one
Docker engine never run side by side, and the lanes' reports print as one matrix."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from harness.matrix.lanes import RenderedRow, image_name, rendered_rows, split_rows
from harness.matrix.variants import load_variants
from harness.report.matrix_report import MatrixReport, Row


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[RenderedRow]:
    return rendered_rows(load_variants(), Path(tmp_path_factory.mktemp("lanes")))


def test_rows_side_by_side_share_no_port_and_no_image(rows: list[RenderedRow]) -> None:
    by_name = {r.variant.name: r for r in rows}
    lanes = split_rows(rows, 2, lambda _: 1.0)
    assert sorted(itertools.chain(*lanes)) == sorted(by_name)
    assert len(lanes) == 2
    for one, other in itertools.combinations(lanes, 2):
        for a, b in itertools.product((by_name[n] for n in one), (by_name[n] for n in other)):
            assert a.project.port != b.project.port, (a.variant.name, b.variant.name)
            assert image_name(a.project.image_tag) != image_name(b.project.image_tag)
    lane_of = {name: n for n, lane in enumerate(lanes) for name in lane}
    # the emulated row's multi-platform image needs its twin's push in the same registry;
    # custom-debian skips the reliability checks slim-314 passed in the same session
    assert lane_of["slim-314-arm64"] == lane_of["slim-314"] == lane_of["custom-debian"]
    assert all(lane == sorted(lane, key=list(by_name).index) for lane in lanes)


def test_groups_go_to_the_lightest_lane(rows: list[RenderedRow]) -> None:
    one = split_rows(rows, 1, lambda _: 1.0)
    assert one == [[r.variant.name for r in rows]]
    weights = {"slim-314": 5.0}  # the heaviest group first, then the others beside it
    lanes = split_rows(rows, 2, lambda r: weights.get(r.variant.name, 0.0))
    assert "slim-314" in lanes[0] and "trixie" in lanes[1]


def test_image_names_are_compared_as_docker_stores_them() -> None:
    assert image_name("docker.io/acme/task-api:0.1.0") == "acme/task-api:0.1.0"
    assert image_name("docker.io/library/task-api:0.1.0") == "task-api:0.1.0"
    assert image_name("ghcr.io/acme/task-api:0.1.0") == "ghcr.io/acme/task-api:0.1.0"


def test_lanes_reports_read_as_one(tmp_path: Path) -> None:
    for n, names in enumerate((["a", "b"], ["c"])):
        part = MatrixReport()
        for name in names:
            part.record(name, "SC-01", ok=name != "b", figures={"size_mb": 1.0})
        part.write(tmp_path / f"lane{n}.json")
    merged = MatrixReport.read([tmp_path / "lane0.json", tmp_path / "lane1.json", tmp_path / "x"])
    assert list(merged.rows) == ["a", "b", "c"]
    assert merged.rows["b"] == Row("b", size_mb=1.0, failed=["SC-01"])
    assert "c" in merged.table()
