"""Fast tier: every base_image and registry choice renders a complete, clean project."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.checks.criteria import CHECKS, OPTIONAL_CRITERIA
from harness.matrix.spec import success_criteria
from harness.matrix.variants import ROOT, load_variants

QUESTIONS = yaml.safe_load((ROOT / "copier.yml").read_text())
BASE_IMAGES = list(QUESTIONS["base_image"]["choices"].values())
REGISTRIES = list(QUESTIONS["registry"]["choices"].values())
CUSTOM = {"custom_base_image": "registry.example.com/platform/python:3.13-slim-trixie"}
# docker and GitHub expressions are legitimate rendered text; any other {{ or {% is not
FOREIGN_TEMPLATES = re.compile(r"\$\{\{.*?\}\}|\{\{-?\s*(?:\.|json\s)[^{}]*\}\}")
RENDERS = (
    [({"base_image": b, **(CUSTOM if b == "custom" else {})}, f"base={b}") for b in BASE_IMAGES]
    + [
        (
            {
                "registry": r,
                **({"registry_host": "registry.example.com:5000"} if r == "custom" else {}),
            },
            f"registry={r}",
        )
        for r in REGISTRIES
    ]
    + [
        ({k: v for k, v in var.answers.items() if "{registry}" not in str(v)}, f"matrix={var.name}")
        for var in load_variants()
    ]
)


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(
            f"{name} is not installed: run `python3 tasks.py test`, which installs the dev tools"
        )
    return found


# One render per answer set, shared by the module's checks (they only read it): a render
# takes about a second, and there are 8 checks per answer set.
@pytest.fixture(scope="module", params=[a for a, _ in RENDERS], ids=[i for _, i in RENDERS])
def project(request: pytest.FixtureRequest, copie_session) -> Path:
    result = copie_session.copy(extra_answers=request.param)
    assert result.exit_code == 0, result.exception
    return result.project_dir


def test_no_unrendered_jinja(project: Path) -> None:
    leftovers = [
        str(f.relative_to(project))
        for f in project.rglob("*")
        if f.is_file()
        and re.search(
            r"\{\{|\{%|\.jinja$", FOREIGN_TEMPLATES.sub("", f.read_text(errors="ignore")) + f.name
        )
    ]
    assert not leftovers, f"unrendered Jinja in {leftovers}"


def test_python_passes_ruff(project: Path) -> None:
    out = subprocess.run(
        [tool("ruff"), "check", "--no-cache", "."], cwd=project, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_python_is_ruff_formatted(project: Path) -> None:
    """A fresh render is already in `ruff format`'s shape: a user's first format changes nothing."""
    out = subprocess.run(
        [tool("ruff"), "format", "--check", "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_passes_hadolint(project: Path) -> None:
    out = subprocess.run(
        [tool("hadolint"), "Dockerfile"], cwd=project, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_avoids_the_chapters_defects(project: Path) -> None:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    text = (project / "Dockerfile").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE), (
        "a syntax line makes BuildKit pull a frontend"
    )
    stages = re.findall(r"^FROM \S+ AS (\w+)", code, re.MULTILINE)
    assert stages[-1] == "runtime" and "builder" in stages, (
        f"expected build stages, then the runtime stage last: {stages}"
    )
    assert not re.search(r"wget|curl", code), "the health check must not need wget or curl"
    assert "adduser" not in code and "useradd" not in code, (
        "no user creation: a numeric UID needs none"
    )
    assert "chown -R" not in code, "a chown layer duplicates every file"
    assert "site-packages" not in code and "COPY --from=builder /usr/local" not in code
    assert re.search(rf"^USER {answers['app_uid']}:0$", code, re.MULTILINE), (
        "USER must be the numeric UID"
    )
    assert re.search(
        r'^HEALTHCHECK .*\n\s+CMD \["/opt/venv/bin/python", "-m", "app.healthcheck"\]',
        code,
        re.MULTILINE,
    )
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/opt/venv/bin/python", "-m", "app"]' in code, (
        "exec form, tini as PID 1"
    )
    assert f"PORT={answers['port']}" in code and f"EXPOSE {answers['port']}" in code
    assert "DATABASE_URL" not in code, "DATABASE_URL belongs to run time only"
    assert "--mount=type=secret,id=ca" in code and "--mount=type=cache" in code
    base_line = re.search(r"^ARG BASE_IMAGE=(\S+)$", code, re.MULTILINE).group(1)
    assert re.search(r"(trixie|bookworm|alpine3\.\d+|debian\d+|@sha256:)", base_line), (
        f"base {base_line} is not pinned to an OS release"
    )
    for label in ("source", "version", "revision", "created"):
        assert f"org.opencontainers.image.{label}=" in code


def test_dockerignore_keeps_secrets_and_clutter_out(project: Path) -> None:
    patterns = [
        p
        for p in (project / ".dockerignore").read_text().splitlines()
        if p and not p.startswith("#")
    ]

    def excluded(path: str) -> bool:  # docker's rule: the last matching pattern wins
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pat = pattern.lstrip("!").rstrip("/")
            hit = (
                fnmatch.fnmatch(path, pat)
                or fnmatch.fnmatch(path, pat + "/*")
                or (
                    pat.startswith("**/")
                    and (fnmatch.fnmatch(path, pat[3:]) or fnmatch.fnmatch(path, pat))
                )
            )
            if hit:
                verdict = not negate
        return verdict

    for path in (
        ".env",
        ".env.production",
        ".git/config",
        ".venv/bin/python",
        "tests/test_x.py",
        "app/__pycache__/main.cpython-313.pyc",
        "app/.env",
        ".pytest_cache/v",
        "notes.db",
    ):
        assert excluded(path), f"{path} would reach the build context"
    for path in ("app/main.py", "requirements.txt", "docker/with-build-secrets.sh"):
        assert not excluded(path), f"{path} is needed by the build but excluded"


def test_spec_lists_every_checked_criterion_with_its_command(project: Path) -> None:
    criteria = success_criteria(project)
    assert set(criteria) <= set(CHECKS), f"criteria without a check: {set(criteria) - set(CHECKS)}"
    unconditional = [c for c in CHECKS if c not in OPTIONAL_CRITERIA]
    assert [c for c in criteria if c in unconditional] == unconditional, (
        "every unconditional check needs its criterion"
    )
    spec = (project / "containerization-spec.md").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    for criterion in criteria:  # each criterion is followed by a command block
        block = spec.split(f"**{criterion} ", 1)[1].split("- [ ]", 1)[0]
        assert "```bash" in block, f"{criterion} has no command that proves it"
    assert (
        f"localhost:{answers['port']}" in spec and f"{answers['image_size_budget_mb']} MB" in spec
    )
    assert "## Non-goals" in spec and "## Intent" in spec


def test_readme_commands_carry_image_reference_and_port(project: Path) -> None:
    readme = (project / "README.md").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    image = {"none": answers["image_name"], "custom": f"{answers.get('registry_host')}/"}.get(
        answers["registry"], f"{answers['registry']}/{answers.get('registry_namespace')}/"
    )
    assert "docker build" in readme and f"-t {image}" in readme
    assert f"-p {answers['port']}:{answers['port']}" in readme
    if answers["registry"] == "none":
        assert "docker save" in readme and "docker load" in readme
    else:
        assert f"docker push {image}" in readme and f"docker pull {image}" in readme
    assert "--secret id=ca" in readme and "--secret id=index_url" in readme


def test_renovate_follows_the_base_and_never_merges_a_python_minor(project: Path) -> None:
    """The base ARGs are what Renovate reads (digest pins); a new Python minor or Debian release
    of the base is a pull request of its own that waits for a person."""
    import json

    config = json.loads((project / "renovate.json").read_text())
    assert config["dockerfile"]["pinDigests"] is True
    held = [
        rule
        for rule in config["packageRules"]
        if rule.get("matchDatasources") == ["docker"]
        and {"major", "minor"} <= set(rule.get("matchUpdateTypes", []))
    ]
    assert held and all(rule["automerge"] is False for rule in held), config["packageRules"]
    dockerfile = (project / "Dockerfile").read_text()
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.M)
    assert base and re.search(r":|@sha256:|distroless/python3-debian\d+$", base[1]), base
