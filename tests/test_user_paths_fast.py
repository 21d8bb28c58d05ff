"""Fast tier: the pieces of the user-path checks that need no Docker — the README's command
as parsed, the rollout plan as read from the rendered Deployment, haproxy's configuration,
and the machine check's plugin needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from harness.checks.db_standin import OFFICIAL, STANDIN_DIR, recipe_digest
from harness.checks.linters import find_tool
from harness.checks.outcome import CheckFailed
from harness.checks.readme_run import readme_run_command, substitute_database_url
from harness.checks.rollout_plan import count, read_plan
from harness.checks.rollout_proxy import config
from harness.machine import needs
from harness.matrix.render import Project, render_project
from harness.matrix.variants import load_variants


@pytest.fixture(scope="module")
def kube_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The first matrix row that renders the Kubernetes manifests, as the rollout picks."""
    variant = next(v for v in load_variants() if v.answers.get("kubernetes") and not v.platform)
    return render_project(variant.answers_for("localhost:5000"), tmp_path_factory.mktemp("k"))


def test_readme_command_is_the_printed_one_with_only_the_url_replaced(kube_project: Project):
    argv = readme_run_command((kube_project.path / "README.md").read_text())
    assert argv[:2] == ["docker", "run"] and argv[-1] == kube_project.image_tag
    port = kube_project.port
    assert f"{port}:{port}" in argv
    replaced = substitute_database_url(argv, "postgresql://u:p@10.0.0.9:5432/d")
    assert [w for w in replaced if w not in argv] == [
        "DATABASE_URL=postgresql://u:p@10.0.0.9:5432/d"
    ]
    assert len(replaced) == len(argv)


def test_readme_without_a_database_url_is_refused():
    with pytest.raises(CheckFailed, match="DATABASE_URL"):
        substitute_database_url(["docker", "run", "-p", "1:1", "img"], "postgresql://x")


def test_rollout_plan_is_what_the_manifest_says(kube_project: Project):
    plan = read_plan(kube_project.path)
    manifest = yaml.safe_load((kube_project.path / "deploy/kubernetes/deployment.yaml").read_text())
    pod = manifest["spec"]["template"]["spec"]
    api = pod["containers"][0]
    rolling = manifest["spec"]["strategy"]["rollingUpdate"]
    assert (
        plan.max_surge == rolling["maxSurge"] and plan.max_unavailable == rolling["maxUnavailable"]
    )
    assert plan.grace_s == pod["terminationGracePeriodSeconds"]
    assert plan.pre_stop_s == api["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert plan.readiness.path == api["readinessProbe"]["httpGet"]["path"]
    assert plan.readiness.period_s == api["readinessProbe"]["periodSeconds"]
    assert plan.init_args == (("migrate",),) and plan.args == ("serve",)
    assert plan.replicas >= 2 and plan.env["RUN_MIGRATIONS"] == "false"
    assert "--read-only" in plan.flags and "--cap-drop" in plan.flags


def test_percent_surge_rounds_up_and_unavailability_down():
    assert count("25%", 2, round_up=True) == 1 and count("25%", 2, round_up=False) == 0
    assert count(1, 10, round_up=True) == 1


def test_haproxy_accepts_its_configuration(kube_project: Project, tmp_path: Path):
    readiness = read_plan(kube_project.path).readiness
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(config(18080, [18081, 18082], readiness, tmp_path / "admin.sock"))
    haproxy = needs.shutil.which("haproxy", path="/usr/sbin:/usr/bin")
    if haproxy is None:
        pytest.skip("haproxy is not installed (the container tier's machine check installs it)")
    out = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"inter {readiness.period_s:g}s fall {readiness.failures}" in cfg.read_text()


def test_plugins_are_container_needs_found_in_the_plugin_folders():
    assert not needs.missing_plugins("fast")
    assert {p.package for p in needs.PLUGINS} == {"docker-compose", "docker-buildx"}
    assert needs.PLUGIN_DIRS[0] == "/usr/libexec/docker/cli-plugins"
    assert needs.debian_mirror().startswith("http")


def test_standin_entrypoint_and_rendered_smoke_script_are_shellcheck_clean(kube_project: Project):
    scripts = [str(STANDIN_DIR / "entrypoint.sh"), str(kube_project.path / "scripts/smoke.sh")]
    out = subprocess.run([find_tool("shellcheck"), *scripts], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_postgres_standin_is_labelled_and_keeps_the_official_data_directory():
    dockerfile = (STANDIN_DIR / "Dockerfile").read_text()
    assert f'stand-in-for="{OFFICIAL}"' in dockerfile
    assert "PGDATA=/var/lib/postgresql/data" in dockerfile
    assert "VOLUME /var/lib/postgresql/data" in dockerfile
    entrypoint = (STANDIN_DIR / "entrypoint.sh").read_text()
    assert all(v in entrypoint for v in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"))
    # the digest that decides a rebuild follows every file of the recipe
    assert len(recipe_digest()) == 12
