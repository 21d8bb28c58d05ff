"""Fast tier: the optional deployment pieces (CI workflow, compose.yaml, Kubernetes
manifests) render exactly when chosen, for every registry kind; each passes its offline
linters and agrees with the Dockerfile and the answers. No Docker needed."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.checks import linters
from harness.checks.deployment import kubernetes as deployment_kubernetes
from harness.checks.deployment import pieces as deployment
from harness.checks.deployment import supply as deployment_supply
from harness.checks.deployment import updates as deployment_updates
from harness.checks.deployment import workflow as deployment_workflow
from harness.checks.deployment.pieces import PIECE_OF, PIECES, Piece
from harness.checks.deployment.workflow import WORKFLOW
from harness.machine.net import LOCAL_OPENER, free_port
from harness.matrix.render import Project, render_project
from harness.matrix.spec import success_criteria
from harness.matrix.variants import ROOT

# each registry kind with its own port and UID, so agreement is never agreement by default
REGISTRY_ANSWERS = {
    "docker.io": {"registry": "docker.io", "port": 8000, "app_uid": 10001},
    "ghcr.io": {
        "registry": "ghcr.io",
        "port": 9000,
        "app_uid": 20001,
        "registry_namespace": "acme",
        "platforms": "linux/amd64",
    },
    "custom": {
        "registry": "custom",
        "registry_host": "registry.example.com:5000",
        "registry_namespace": "team/apis",
        # a self-hosted forge: the signer's repository cannot be derived, the docs must say so
        "source_url": "https://git.example.com/team/apis/task-api",
        "port": 18080,
        "app_uid": 4242,
    },
    "none": {"registry": "none", "port": 65535, "app_uid": 1},
}
CASES = [
    {"ci": ci, "compose": compose, "kubernetes": k8s, **REGISTRY_ANSWERS[registry]}
    for ci, compose, k8s, registry in itertools.product(
        ["github", "none"], [True, False], [True, False], REGISTRY_ANSWERS
    )
]
CASES += [
    {
        "ci": "none",
        "compose": False,
        "kubernetes": True,
        "kubernetes_hpa": False,
        **REGISTRY_ANSWERS[r],
    }
    for r in ("docker.io", "none")
]


def case_id(case: dict[str, Any]) -> str:
    hpa = "" if case.get("kubernetes_hpa", True) else "-nohpa"
    return (
        f"ci={case['ci']}-compose={'yes' if case['compose'] else 'no'}-"
        f"k8s={'yes' if case['kubernetes'] else 'no'}{hpa}-{case['registry']}"
    )


def cases_with(piece: Piece | None = None) -> list[Any]:
    chosen = [c for c in CASES if piece is None or piece.chosen(c)]
    return [pytest.param(c, id=case_id(c)) for c in chosen]


_renders: dict[str, Project] = {}
_lint_results: dict[tuple[str, str], list[str]] = {}


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One render per case, shared by every test of that case."""
    case = request.param
    key = case_id(case)
    if key not in _renders:
        _renders[key] = render_project(case, tmp_path_factory.mktemp("deploy") / "project")
    return _renders[key]


def lint_once(kind: str, files: list[Path], lint: Callable[[], list[str]]) -> list[str]:
    """Identical files give identical findings: lint each distinct content once."""
    digest = hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files)).hexdigest()
    if (kind, digest) not in _lint_results:
        _lint_results[(kind, digest)] = lint()
    return _lint_results[(kind, digest)]


@pytest.mark.parametrize("project", cases_with(), indirect=True)
def test_pieces_render_exactly_when_chosen(project: Project) -> None:
    criteria = success_criteria(project.path)
    for piece in PIECES:
        chosen = piece.chosen(project.answers)
        for path in piece.paths:
            assert (project.path / path).exists() == chosen, (
                f"{path} exists={not chosen} with {piece.question}"
            )
        assert (piece.criterion in criteria) == chosen, f"{piece.criterion} in spec={not chosen}"
    if not any(p.chosen(project.answers) for p in PIECES):
        leftovers = [
            p for p in (".github", "compose.yaml", "deploy") if (project.path / p).exists()
        ]
        assert not leftovers, f"everything off, yet rendered {leftovers}"


@pytest.mark.parametrize("project", cases_with(), indirect=True)
def test_readme_says_how_to_use_each_chosen_piece(project: Project) -> None:
    readme = (project.path / "README.md").read_text()
    a = project.answers
    assert ("docker compose up --build" in readme) == a["compose"]
    assert ("kubectl apply -k deploy/kubernetes" in readme) == a["kubernetes"]
    assert ("secret generic" in readme) == a["kubernetes"], (
        "the README must say how to create the Secret"
    )
    names_secrets = "REGISTRY_USERNAME" in readme and "REGISTRY_PASSWORD" in readme
    assert names_secrets == (a["ci"] == "github" and a["registry"] in ("docker.io", "custom"))
    assert ("`packages: write`" in readme) == (a["ci"] == "github" and a["registry"] == "ghcr.io")
    pushes_all = f"docker buildx build --platform {a['platforms']}"
    assert (pushes_all in readme) == (a["registry"] != "none"), "the push must build every platform"
    multi = a["registry"] != "none" and "," in a["platforms"]
    assert ("only be pushed, not loaded" in readme) == multi, "say why multi-platform means --push"
    assert "renovate.json" in readme and (project.path / deployment_updates.RENOVATE).exists()
    spec = (project.path / "containerization-spec.md").read_text()
    for doc, text in (("README.md", readme), ("containerization-spec.md", spec)):
        words = " ".join(text.split())
        assert "no authentication" in words and "gateway that authenticates" in words, (
            f"{doc} must say the API has no authentication and must sit behind a gateway"
        )
    if a["compose"]:
        assert "POSTGRES_PASSWORD=" in (project.path / ".env.example").read_text()


# ------------------------------------------------------------------------- CI workflow
@pytest.mark.parametrize("project", cases_with(PIECE_OF["SC-14"]), indirect=True)
def test_workflow_passes_schema_actionlint_and_zizmor(project: Project) -> None:
    path = project.path / WORKFLOW
    problems = lint_once("workflow", [path], lambda: deployment.lint_workflow(project.path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("project", cases_with(PIECE_OF["SC-14"]), indirect=True)
def test_workflow_pushes_where_the_answers_say(project: Project) -> None:
    problems = deployment_workflow.workflow_disagreements(project.path, project.answers)
    assert not problems, "\n".join(problems)
    secrets = {
        "docker.io": "REGISTRY_PASSWORD",
        "custom": "REGISTRY_PASSWORD",
        "ghcr.io": "GITHUB_TOKEN",
    }
    text = (project.path / WORKFLOW).read_text()
    assert ("secrets." in text) == (project.answers["registry"] != "none")
    if project.answers["registry"] != "none":
        assert f"secrets.{secrets[project.answers['registry']]}" in text


@pytest.mark.parametrize("project", cases_with(PIECE_OF["SC-17"]), indirect=True)
def test_workflow_smoke_tests_scans_and_signs(project: Project) -> None:
    problems = deployment.piece_problems(PIECE_OF["SC-17"], project.path, project.answers)
    assert not problems, "\n".join(problems)
    # the container tier runs the workflow's smoke script on every row's image
    script = project.path / deployment_supply.SMOKE_SCRIPT
    assert os.access(script, os.X_OK), f"{script} is not executable"
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr


Mistake = Callable[[dict[str, Any]], None]  # changes a workflow's jobs in place


def planted(project: Project, change: Mistake) -> list[str]:
    """The supply-chain problems of the project's workflow after `change` to its jobs."""
    flow = yaml.safe_load((project.path / WORKFLOW).read_text())
    change(flow["jobs"])
    jobs = flow["jobs"]
    steps = [(name, i, s) for name, job in jobs.items() for i, s in enumerate(job["steps"])]
    return deployment_supply.workflow_supply_problems(jobs, steps, project.answers)


def step_where(job: dict[str, Any], needle: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if needle in json.dumps(s))


def push_without_needs(jobs: dict[str, Any]) -> None:
    jobs["push"].pop("needs")


def drop_smoke_test(jobs: dict[str, Any]) -> None:
    jobs["image"]["steps"].remove(step_where(jobs["image"], "scripts/smoke.sh"))


def smoke_test_amd64_only(jobs: dict[str, Any]) -> None:
    smoke = step_where(jobs["image"], "scripts/smoke.sh")
    smoke["run"] = smoke["run"].replace('scripts/smoke.sh "$ARM64" linux/arm64', "")


def scan_amd64_only(jobs: dict[str, Any]) -> None:
    jobs["image"]["steps"].remove(step_where(jobs["image"], "Scan linux/arm64 (fails"))


def scan_never_fails(jobs: dict[str, Any]) -> None:
    step_where(jobs["image"], "CRITICAL")["with"]["exit-code"] = 0


def push_job_builds_again(jobs: dict[str, Any]) -> None:
    build = step_where(jobs["image"], "docker/build-push-action")
    again = {**build, "with": {**build["with"], "tags": "docker.io/my-org/task-api:latest"}}
    jobs["push"]["steps"].insert(3, again)


def build_straight_to_the_registry(jobs: dict[str, Any]) -> None:
    step_where(jobs["image"], "docker/build-push-action")["with"]["tags"] = "docker.io/my-org/x:ci"


def hand_on_before_the_scans(jobs: dict[str, Any]) -> None:
    steps = jobs["image"]["steps"]
    save, upload = step_where(jobs["image"], "oci-archive:"), step_where(jobs["image"], "upload-")
    for step in (upload, save):
        steps.remove(step)
        steps.insert(steps.index(step_where(jobs["image"], "scripts/smoke.sh")), step)


def push_reencodes(jobs: dict[str, Any]) -> None:
    push = step_where(jobs["push"], "docker://")
    push["run"] = push["run"].replace(" --preserve-digests", "")


def push_unchecked(jobs: dict[str, Any]) -> None:
    jobs["push"]["steps"].remove(step_where(jobs["push"], "sha256sum"))


def sign_by_tag(jobs: dict[str, Any]) -> None:
    step_where(jobs["push"], "cosign sign")["run"] = 'cosign sign --yes "docker.io/my-org/x:latest"'


def id_token_on_image_job(jobs: dict[str, Any]) -> None:
    jobs["image"]["permissions"]["id-token"] = "write"


def pull_request_writes_main_cache(jobs: dict[str, Any]) -> None:
    scope = "${{ github.event_name == 'pull_request' && 'type=gha,scope=image-main' || '' }}"
    step_where(jobs["image"], "docker/build-push-action")["with"]["cache-to"] = scope


def release_reads_pull_request_cache(jobs: dict[str, Any]) -> None:
    build = step_where(jobs["image"], "docker/build-push-action")
    build["with"]["cache-from"] += "type=gha,scope=image-pr-1\n"


MISTAKES: dict[Mistake, str] = {  # a planted mistake -> what the check must say about it
    push_without_needs: "no job takes the tested image",
    drop_smoke_test: "no smoke test",
    smoke_test_amd64_only: "linux/arm64 is not smoke-tested",
    scan_amd64_only: "linux/arm64 is not scanned",
    scan_never_fails: "linux/amd64 is not scanned",
    push_job_builds_again: "built exactly once",
    build_straight_to_the_registry: "job's own registry",
    hand_on_before_the_scans: "handed on before every smoke test and scan",
    push_reencodes: "copy the saved image whole",
    push_unchecked: "check the saved image against needs.image.outputs.digest",
    sign_by_tag: "the signature must name the tested digest",
    id_token_on_image_job: "id-token: write belongs to the signing job only",
    pull_request_writes_main_cache: "not its own",
    release_reads_pull_request_cache: "reads a pull request's cache",
}


@pytest.fixture(scope="module")
def docker_io_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The default render (docker.io, linux/amd64 and linux/arm64, a github.com source)."""
    answers = {"ci": "github", **REGISTRY_ANSWERS["docker.io"]}
    return render_project(answers, tmp_path_factory.mktemp("planted") / "project")


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda f: f.__name__)
def test_supply_chain_check_finds_planted_mistakes(
    mistake: Mistake, docker_io_project: Project
) -> None:
    assert not planted(docker_io_project, lambda jobs: None), "the unchanged copy must pass"
    problems = planted(docker_io_project, mistake)
    assert any(MISTAKES[mistake] in p for p in problems), f"went unnoticed: {problems}"


@pytest.mark.parametrize(
    "identity",
    [
        r"^https://github\.com/.+/\.github/workflows/ci\.yml@refs/",  # what the spec once said
        r"^https://github\.com/my-org/task-api/\.github/workflows/ci\.yml@refs/",
        r"^https://github\.com/my-org/task-api/\.github/workflows/ci\.yml@refs/heads/.+$",
        r"https://github\.com/my-org/task-api/\.github/workflows/ci\.yml@refs/heads/main",
    ],
)
def test_signature_check_finds_a_loose_identity(
    identity: str, docker_io_project: Project, tmp_path: Path
) -> None:
    """A verify command that would accept another repository, branch or pull request."""
    pinned = pinned_identity(docker_io_project)
    for doc in deployment_supply.DOCS:
        text = (docker_io_project.path / doc).read_text()
        assert pinned in text, f"{doc} does not pin {pinned}"
        (tmp_path / doc).write_text(text.replace(pinned, identity))
    assert not deployment_supply.identity_problems(
        docker_io_project.path, docker_io_project.answers
    )
    problems = deployment_supply.identity_problems(tmp_path, docker_io_project.answers)
    assert len([p for p in problems if " accepts " in p]) >= 2, problems


def pinned_identity(project: Project) -> str:
    repository = project.answers["source_url"].removeprefix("https://github.com/")
    workflow = f"https://github.com/{repository}/.github/workflows/ci.yml".replace(".", r"\.")
    return f"^{workflow}@refs/(heads/main|tags/v.+)$"


# ------------------------------------------------------------------ updates (Renovate)
@pytest.mark.parametrize("project", cases_with(), indirect=True)
def test_renovate_config_passes_its_schema_and_covers_every_pin(project: Project) -> None:
    path = project.path / deployment_updates.RENOVATE
    problems = lint_once("renovate", [path], lambda: deployment_updates.lint_updates(project.path))
    problems += deployment_updates.updates_disagreements(project.path, project.answers)
    assert not problems, "\n".join(problems)
    managers = json.loads(path.read_text())["enabledManagers"]
    assert ("github-actions" in managers) == (project.answers["ci"] == "github")


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_renovate_config_follows_the_installer(tmp_path: Path, installer: str) -> None:
    """The uv release is a pin only where the Dockerfile installs uv."""
    project = render_project({"installer": installer}, tmp_path / "project")
    assert not deployment_updates.updates_disagreements(project.path, project.answers)
    config = json.loads((project.path / deployment_updates.RENOVATE).read_text())
    assert ("customManagers" in config) == (installer == "uv")


def test_renovate_checks_find_planted_mistakes(tmp_path: Path) -> None:
    project = render_project({"ci": "github"}, tmp_path / "project")
    path = project.path / deployment_updates.RENOVATE
    config = json.loads(path.read_text())
    config["copier"]["ignoreScripts"] = True
    config["lockFileMaintenance"]["enabled"] = "weekly"
    config["packageRules"] = config["packageRules"][:1]  # moved action tags proposed again
    path.write_text(json.dumps(config))
    assert deployment_updates.lint_updates(project.path), "the schema accepted enabled: 'weekly'"
    problems = deployment_updates.updates_disagreements(project.path, project.answers)
    assert any("ignoreScripts" in p for p in problems), problems
    assert any("release tag moved" in p for p in problems), problems


# ------------------------------------------------------------------------- compose.yaml
@pytest.mark.parametrize("project", cases_with(PIECE_OF["SC-15"]), indirect=True)
def test_compose_matches_the_compose_spec(project: Project) -> None:
    path = project.path / deployment.COMPOSE
    problems = lint_once("compose", [path], lambda: deployment.lint_compose(project.path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("project", cases_with(PIECE_OF["SC-15"]), indirect=True)
def test_compose_agrees_with_the_image_and_answers(project: Project) -> None:
    problems = deployment.compose_disagreements(project.path, project.answers)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("ports", "found"),
    [
        (["${PORT:-8000}:8000"], "on every interface by default"),
        (["0.0.0.0:8000:8000"], "on 0.0.0.0 by default"),
        (["${BIND_ADDRESS:-0.0.0.0}:${PORT:-8000}:8000"], "on 0.0.0.0 by default"),
        ([{"target": 8000, "published": 8000}], "on every interface by default"),
        ([{"target": 8000, "published": 8000, "host_ip": "127.0.0.1"}], None),
    ],
)
def test_compose_check_finds_a_published_port_open_to_every_interface(
    ports: list[Any], found: str | None, docker_io_project: Project, tmp_path: Path
) -> None:
    project = Project(tmp_path / "project", docker_io_project.answers)
    shutil.copytree(docker_io_project.path, project.path)
    path = project.path / deployment.COMPOSE
    spec = yaml.safe_load(path.read_text())
    assert not deployment.compose_disagreements(project.path, project.answers)
    spec["services"]["app"]["ports"] = ports
    path.write_text(yaml.safe_dump(spec))
    problems = deployment.compose_disagreements(project.path, project.answers)
    if found is None:
        assert not problems, problems
    else:
        assert any(found in p and "127.0.0.1" in p for p in problems), problems


# ---------------------------------------------------------------- Kubernetes manifests
@pytest.mark.parametrize("project", cases_with(PIECE_OF["SC-16"]), indirect=True)
def test_kubernetes_manifests_pass_strict_validation(project: Project) -> None:
    files = sorted((project.path / deployment.KUBERNETES).glob("*.yaml"))
    problems = lint_once(
        "kubernetes", files, lambda: deployment_kubernetes.lint_kubernetes(project.path)
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("project", cases_with(PIECE_OF["SC-16"]), indirect=True)
def test_deployment_agrees_with_the_image_and_answers(project: Project) -> None:
    problems = deployment_kubernetes.kubernetes_disagreements(project.path, project.answers)
    assert not problems, "\n".join(problems)


# --------------------------------------------------- the linters can say no, offline
def test_linters_find_planted_mistakes(tmp_path: Path) -> None:
    workflow = tmp_path / "ci.yml"
    workflow.write_text(
        "on: push\npermissions: write-all\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
        "      - run: echo ${{ github.nope }}\n"
    )
    assert linters.zizmor_problems(workflow), (
        "zizmor accepted an unpinned, over-privileged, injectable workflow"
    )
    assert linters.actionlint_problems(workflow), (
        "actionlint accepted an undefined context property"
    )
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.sha }}\n"
        "      - run: cd $HOME/x\n"
    )
    (found,) = deployment.run_script_problems(workflow)
    assert "a step 1" in found and "SC2164" in found, found
    workflow.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert linters.json_schema_problems(workflow, "vendor.github-workflows"), (
        "the schema accepted `stepz`"
    )
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  app:\n    image: x\n    helthcheck: {}\n")
    assert linters.json_schema_problems(compose, "vendor.compose-spec"), (
        "the compose schema accepted `helthcheck`"
    )
    manifest = tmp_path / "service.yaml"
    manifest.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  prots: []\n")
    assert linters.kubernetes_problems([manifest]), "strict validation accepted `prots`"


# ------------------------------- a real run: the declared probes against the real app
Served = tuple[Project, Path, dict[str, str]]  # the project, its venv's python, the app's env


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The rendered app with every piece, serving on loopback from SQLite in the project's venv."""
    from harness.matrix.project_env import project_python

    answers = {"ci": "github", "compose": True, "kubernetes": True, "port": free_port()}
    project = render_project(answers, tmp_path_factory.mktemp("served") / "project")
    python = project_python()
    # as in a container: no proxy, no test settings, only what the manifests give
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEST_", "DATABASE_URL", "PORT", "HOST"))
        and not k.lower().endswith("_proxy")
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{project.path / 'served.db'}",
        "PORT": str(project.port),
        "HOST": "127.0.0.1",
    }
    server = subprocess.Popen(
        [str(python), "-m", "app"],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", project.port)) == 0:
                break
        time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"the app did not start: {server.communicate()[0][-2000:]}")
    yield project, python, env
    server.terminate()
    server.wait(timeout=20)


def run_probe(command: list[str], python: Path, project: Project, env: dict[str, str]) -> int:
    """Run a probe command as declared, with the image's venv python swapped for the host's."""
    argv = [str(python) if part == "/opt/venv/bin/python" else part for part in command]
    return subprocess.run(
        argv, cwd=project.path, env=env, capture_output=True, timeout=30
    ).returncode


def test_compose_healthcheck_runs_against_the_real_app(served: Served) -> None:
    project, python, env = served
    test = yaml.safe_load((project.path / deployment.COMPOSE).read_text())["services"]["app"][
        "healthcheck"
    ]["test"]
    assert test[0] == "CMD"
    assert run_probe(test[1:], python, project, env) == 0, (
        "the compose probe fails on a healthy app"
    )
    other = {**env, "PORT": str(free_port(exclude={project.port}))}
    assert run_probe(test[1:], python, project, other) != 0, (
        "the compose probe passes with nothing listening"
    )


def test_kubernetes_probes_answer_on_the_real_app(served: Served) -> None:
    project, _, _ = served
    deploy = yaml.safe_load((project.path / deployment.KUBERNETES / "deployment.yaml").read_text())
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        spec = container[probe]
        action = spec.get("httpGet") or spec["tcpSocket"]
        port = named.get(action["port"], action["port"])
        assert port == project.port, (
            f"{probe} targets port {port}, the app listens on {project.port}"
        )
        if "httpGet" in spec:
            with LOCAL_OPENER.open(f"http://127.0.0.1:{port}{action['path']}", timeout=5) as resp:
                assert resp.status == 200, f"{probe} GET {action['path']} answered {resp.status}"
        else:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass


def test_tools_are_pinned_in_requirements() -> None:
    pinned = (ROOT / "requirements-dev.txt").read_text()
    for name in ("check-jsonschema==", "zizmor==", "kubernetes-validate=="):
        assert name in pinned, f"{name} is not pinned in requirements-dev.txt"
    assert linters.RENOVATE_NPM.count("@") == 1 and linters.RENOVATE_NPM[-1].isdigit()
