"""Fast tier: `copier update` brings template fixes to existing projects and keeps their edits.

Each test works on a template history of its own, made in a temporary directory from this
repo's working tree with real git tags (v0.1.0, v0.2.0), so no network and no real tags;
one history has no tags at all, as a checkout of this repo's main branch has none.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import copier
import pytest
import yaml

from harness.matrix.update import UpdateRefused, find_conflicts, preview_update
from harness.matrix.variants import ROOT

sys.path.insert(0, str(ROOT / "migrations"))
from rename_answers import parse_release, rename_answers  # noqa: E402  (a script, not a package)
from retired_bases import RETIRED, retire_bases  # noqa: E402  (a script, not a package)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Update Tests",
    "GIT_AUTHOR_EMAIL": "update-tests@example.invalid",
    "GIT_COMMITTER_NAME": "Update Tests",
    "GIT_COMMITTER_EMAIL": "update-tests@example.invalid",
}
# what a copy of the template repo needs
TEMPLATE_PARTS = ["copier.yml", "template", "migrations", "extensions"]
COPIER_OPTIONS = {"defaults": True, "unsafe": True, "quiet": True}
COMMIT_LINE = re.compile(r"^_commit: .*\n", flags=re.MULTILINE)
FIX = "Fixed in v0.2.0."
VARIANTS = [
    {"base_image": "debian:trixie-slim", "port": "18080", "registry": "ghcr.io"},
    {"base_image": "gcr.io/distroless/python3-debian13", "registry": "none"},
    {
        "registry": "custom",
        "registry_host": "registry.example.com:5000",
        "registry_namespace": "team/apis",
        "port": "65535",
    },
]


def git(cwd: Path, *args: str) -> str:
    # identity and signing from here, so a fresh CI machine's empty git config is enough
    out = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stderr}"
    return out.stdout


def copy_template_tree(dest: Path) -> None:
    """The template as it is in the working tree, uncommitted files included."""
    tracked_and_new = ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--"]
    listed = git(ROOT, *tracked_and_new, *TEMPLATE_PARTS)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(source.read_bytes())


def commit_and_tag(repo: Path, tag: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", f"release {tag}")
    git(repo, "tag", tag)


def edit_line(path: Path, is_the_line: Callable[[str], bool], change: Callable[[str], str]) -> None:
    """Change the first line that matches; fail loudly if the template no longer has one."""
    lines = path.read_text().split("\n")
    index = next((i for i, line in enumerate(lines) if is_the_line(line)), None)
    assert index is not None, f"{path.name}: the line this test edits is gone; pick another"
    lines[index] = change(lines[index])
    path.write_text("\n".join(lines))


def fix_the_template(repo: Path) -> None:
    """Stands for a release's fixes: one changed line in the Dockerfile, the app and the README."""
    edit_line(
        repo / "template/Dockerfile.jinja",
        lambda line: line.startswith("# "),
        lambda line: f"{line} {FIX}",
    )
    edit_line(
        repo / "template/app/main.py",
        lambda line: line.startswith('"""'),
        lambda line: line.replace('"""', f'"""{FIX} ', 1),
    )
    edit_line(
        repo / "template/README.md.jinja",
        lambda line: line.startswith("The OpenAPI documentation"),
        lambda line: f"{line} {FIX}",
    )


def name_budget_the_old_way(repo: Path) -> None:
    """Stands for an old release that called image_size_budget_mb size_budget_mb."""
    for path in [repo / "copier.yml", *(repo / "template").rglob("*")]:
        if path.is_file() and "image_size_budget_mb" in (text := path.read_text(errors="ignore")):
            path.write_text(re.sub(r"\bimage_size_budget_mb\b", "size_budget_mb", text))


def declare_the_rename(repo: Path) -> None:
    with (repo / "migrations/renamed-questions.txt").open("a") as table:
        table.write("0.2.0 size_budget_mb image_size_budget_mb\n")


def make_history(
    repo: Path,
    old_release: Callable[[Path], None],
    new_release: Callable[[Path], None],
) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "--quiet")
    copy_template_tree(repo)
    old_release(repo)
    commit_and_tag(repo, "v0.1.0")
    copy_template_tree(repo)  # the new release starts from the working tree again
    new_release(repo)
    commit_and_tag(repo, "v0.2.0")
    return repo


@pytest.fixture(scope="module")
def fixed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v0.1.0 is the working tree; v0.2.0 adds fix_the_template."""
    return make_history(
        tmp_path_factory.mktemp("fixed-template"),
        lambda repo: None,
        fix_the_template,
    )


@pytest.fixture(scope="module")
def renamed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v0.1.0 names the size budget question the old way; v0.2.0 renames it, with its table line."""
    return make_history(
        tmp_path_factory.mktemp("renamed-template"),
        name_budget_the_old_way,
        declare_the_rename,
    )


def render(template: Path, dest: Path, answers: dict, vcs_ref: str | None) -> Path:
    copier.run_copy(str(template), dest, data=answers, vcs_ref=vcs_ref, **COPIER_OPTIONS)
    return dest


def render_and_commit(
    template: Path,
    dest: Path,
    answers: dict,
    vcs_ref: str | None = "v0.1.0",
) -> Path:
    render(template, dest, answers, vcs_ref)
    git(dest, "init", "--quiet")
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "-m", "project from the template")
    return dest


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", message)


def update(project: Path, vcs_ref: str | None = None) -> None:
    copier.run_update(project, vcs_ref=vcs_ref, overwrite=True, **COPIER_OPTIONS)


def read_tree(project: Path) -> dict[str, str]:
    """Every file but .git, with the answers file's `_commit` left out."""
    files = {
        str(p.relative_to(project)): p.read_text(errors="replace")
        for p in sorted(project.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(project).parts
    }
    files[".copier-answers.yml"] = COMMIT_LINE.sub("", files[".copier-answers.yml"])
    return files


def check_leftovers(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/check_update_leftovers.py"],
        cwd=project,
        capture_output=True,
        text=True,
    )


def answers_of(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


# ------------------------------------------------------------------- the five cases


@pytest.mark.parametrize(
    "answers",
    VARIANTS,
    ids=["debian-ghcr", "distroless-none", "custom-registry"],
)
def test_update_equals_a_fresh_render_of_the_new_release(
    tmp_path: Path,
    fixed_template: Path,
    answers: dict,
) -> None:
    project = render_and_commit(fixed_template, tmp_path / "project", answers)
    update(project)  # no vcs_ref: the newest release tag
    assert answers_of(project)["_commit"] == "v0.2.0"
    fresh = render(fixed_template, tmp_path / "fresh", answers, "v0.2.0")
    assert read_tree(project) == read_tree(fresh)
    assert FIX in (project / "Dockerfile").read_text()


def make_user_edits(project: Path) -> None:
    """A new endpoint, and edits to main.py, the README and the Dockerfile away from the fix."""
    (project / "app/reminders.py").write_text(
        '"""Reminders: the team\'s own endpoint."""\n\nfrom fastapi import APIRouter\n\n'
        'router = APIRouter()\n\n\n@router.get("/reminders")\ndef list_reminders() -> list[str]:\n'
        '    return ["water the plants"]\n'
    )
    main = project / "app/main.py"
    main.write_text(
        main.read_text()
        .replace("from app import health, tasks", "from app import health, reminders, tasks")
        .replace(
            "    app.include_router(tasks.router)\n",
            "    app.include_router(tasks.router)\n    app.include_router(reminders.router)\n",
        )
    )
    readme = project / "README.md"
    readme.write_text(
        readme.read_text().replace("## Build\n", "## On call\n\nPage #team-apis.\n\n## Build\n", 1),
    )
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + 'LABEL com.example.team="apis"\n')


def test_update_keeps_user_edits_and_brings_fixes(tmp_path: Path, fixed_template: Path) -> None:
    project = render_and_commit(fixed_template, tmp_path / "project", VARIANTS[0])
    make_user_edits(project)
    edited = read_tree(project)
    commit_all(project, "our own endpoint and notes")
    update(project)

    # the expected result: the new release, with the very same user edits on top
    expected = render(fixed_template, tmp_path / "expected", VARIANTS[0], "v0.2.0")
    make_user_edits(expected)
    assert read_tree(project) == read_tree(expected)
    assert (project / "app/reminders.py").read_text() == edited["app/reminders.py"]
    for name in ("Dockerfile", "app/main.py", "README.md"):
        assert FIX in (project / name).read_text(), f"the template fix did not reach {name}"
    assert find_conflicts(project) == []
    assert check_leftovers(project).returncode == 0


def test_untagged_template_updates_from_commit_to_commit(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """No tag anywhere: the copy records a commit, and the update goes from it to HEAD."""
    template = tmp_path / "template"
    template.mkdir()
    git(template, "init", "--quiet")
    copy_template_tree(template)
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", "the template as it was")
    older = git(template, "rev-parse", "--short", "HEAD").strip()

    project = render_and_commit(template, tmp_path / "project", VARIANTS[0], vcs_ref=None)
    assert "No git tags found in template; using HEAD as ref" in capfd.readouterr().err
    assert answers_of(project)["_commit"] == older
    make_user_edits(project)
    commit_all(project, "our own endpoint and notes")

    fix_the_template(template)
    commit_all(template, "a fix, published on main without a tag")
    newer = git(template, "rev-parse", "--short", "HEAD").strip()
    update(project)  # no vcs_ref and no tags: Copier takes HEAD

    answers = answers_of(project)
    assert answers["_commit"] == newer
    kept = {key: answers[key] for key in VARIANTS[0]}
    assert kept == VARIANTS[0], "the update lost the user's answers"
    expected = render(template, tmp_path / "expected", VARIANTS[0], newer)
    make_user_edits(expected)
    assert read_tree(project) == read_tree(expected)
    for name in ("Dockerfile", "app/main.py", "README.md"):
        assert FIX in (project / name).read_text(), f"the template's change did not reach {name}"
    assert find_conflicts(project) == [] and check_leftovers(project).returncode == 0


def test_conflicting_edit_is_reported_and_blocks_until_resolved(
    tmp_path: Path,
    fixed_template: Path,
) -> None:
    project = render_and_commit(fixed_template, tmp_path / "project", VARIANTS[1])
    ours = "# Our API image: ask #team-apis before changing it."
    edit_line(project / "Dockerfile", lambda line: line.startswith("# "), lambda line: ours)
    commit_all(project, "our Dockerfile header")

    preview = preview_update(project)  # first the dry run: it sees the conflict, changes nothing
    assert (preview.from_version, preview.to_version) == ("v0.1.0", "v0.2.0")
    assert preview.conflicts == ["Dockerfile"]
    assert {"M Dockerfile", "M app/main.py", "M README.md", "M .copier-answers.yml"} <= set(
        preview.changed_files,
    )
    assert FIX in preview.diff
    assert git(project, "status", "--porcelain") == ""
    assert answers_of(project)["_commit"] == "v0.1.0"

    # copier exits 0 even so: its report is the file left unmerged in git's index
    done = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    assert done.returncode == 0, done.stderr
    assert "UU Dockerfile" in git(project, "status", "--porcelain").splitlines()
    text = (project / "Dockerfile").read_text()
    assert "<<<<<<< before updating" in text and ours in text and FIX in text
    failed = check_leftovers(project)
    assert failed.returncode == 1 and "Dockerfile:1: conflict marker <<<<<<<" in failed.stdout

    # resolve by taking the template's line; the check passes and the commit goes through
    resolved = re.sub(
        r"<<<<<<< before updating\n.*?=======\n(.*?)>>>>>>> after updating\n",
        r"\1",
        text,
        flags=re.DOTALL,
    )
    (project / "Dockerfile").write_text(resolved)
    assert check_leftovers(project).returncode == 0
    commit_all(project, "update to v0.2.0")
    assert git(project, "status", "--porcelain") == ""


def test_renamed_question_keeps_the_old_answer(tmp_path: Path, renamed_template: Path) -> None:
    project = render_and_commit(renamed_template, tmp_path / "project", {"size_budget_mb": "345"})
    assert answers_of(project)["size_budget_mb"] == "345"

    # migrations are code from the template: without --trust Copier stops with exit code 4
    untrusted = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--defaults"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    assert untrusted.returncode == 4 and "migrations" in untrusted.stderr, untrusted.stderr
    assert git(project, "status", "--porcelain") == ""

    update(project, "v0.2.0")
    answers = answers_of(project)
    assert answers["image_size_budget_mb"] == "345" and "size_budget_mb" not in answers
    assert "at most 345 MB" in (project / "containerization-spec.md").read_text()
    fresh = render(renamed_template, tmp_path / "fresh", {"image_size_budget_mb": "345"}, "v0.2.0")
    assert read_tree(project) == read_tree(fresh)


def test_dirty_project_is_refused_and_left_as_it_was(tmp_path: Path, fixed_template: Path) -> None:
    project = render_and_commit(fixed_template, tmp_path / "project", VARIANTS[2])
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nwork in progress\n")
    before, status = read_tree(project), git(project, "status", "--porcelain")

    with pytest.raises(copier.errors.UserMessageError, match="Destination repository is dirty"):
        update(project)
    with pytest.raises(UpdateRefused, match="uncommitted changes"):
        preview_update(project)
    assert read_tree(project) == before and git(project, "status", "--porcelain") == status


# --------------------------------------------------------- the parts, on their own


def test_rename_table_applies_only_to_older_projects() -> None:
    answers = "_commit: v0.1.0\nsize_mb: '345'\nport: '8000'\n"
    renames = [
        (parse_release("0.2.0"), "size_mb", "budget_mb"),
        (parse_release("0.3.0"), "budget_mb", "image_budget_mb"),
    ]
    renamed = "_commit: v0.1.0\nimage_budget_mb: '345'\nport: '8000'\n"
    assert rename_answers(answers, renames, parse_release("0.1.0"))[0] == renamed
    assert rename_answers(answers, renames, parse_release("0.2.0.post3.dev0+g1a2b3c"))[0] == answers
    assert parse_release("v1.12.3") == (1, 12, 3) and parse_release("main") is None


def test_leftover_check_tells_markdown_from_conflicts(tmp_path: Path) -> None:
    render(ROOT, tmp_path / "project", {}, "HEAD")
    project = tmp_path / "project"
    (project / "NOTES.md").write_text(
        "Title\n=======\n\ntext\n",
    )  # a setext heading, not a conflict
    assert check_leftovers(project).returncode == 0, check_leftovers(project).stdout
    (project / "app/config.py.rej").write_text("@@ -1 +1 @@\n")
    failed = check_leftovers(project)
    assert failed.returncode == 1 and "app/config.py.rej: rejected change" in failed.stdout


# The last commit of main before this release's changes: projects made from it must update
# to the working tree with no conflict. Move it forward when a release lands.
PREVIOUS_RELEASE = "16650d4"


# main just before the bases of 2026 (python:3.14-slim default, distroless debian13): every
# base_image answer it offered must update to today's template.
BEFORE_THE_2026_BASES = "8c08967"


def migrated(answers: dict) -> dict:
    """The answers as migrations/retired_bases.py leaves them: a retired base made custom."""
    retired = RETIRED.get(answers.get("base_image", ""))
    return {**answers, "base_image": "custom", **retired} if retired else answers


def require_commit(commit: str) -> None:
    if subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT).returncode:
        pytest.skip(f"commit {commit} is not in this clone (shallow?): fetch main's history")


def update_from_previous_release(
    tmp_path: Path, answers: dict, commit: str = PREVIOUS_RELEASE, fresh: bool = True
) -> tuple[Path, Path]:
    """A project made from an earlier main commit, updated to today's template; and a fresh
    render of today's template with the same answers (migrated as the update migrates them)."""
    require_commit(commit)
    template = tmp_path / "template"
    template.mkdir()
    git(template, "init", "--quiet")
    archive = subprocess.run(
        ["git", "archive", commit, "--", *TEMPLATE_PARTS],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(template)], input=archive.stdout, check=True)
    commit_all(template, f"main at {commit}")
    project = render_and_commit(template, tmp_path / "project", answers, vcs_ref=None)

    for name in filter(None, git(template, "ls-files", "-z").split("\0")):
        (template / name).unlink()
    copy_template_tree(template)
    commit_all(template, "main today")
    update(project)

    assert find_conflicts(project) == [] and check_leftovers(project).returncode == 0
    if not fresh:
        return project, project
    head = git(template, "rev-parse", "--short", "HEAD").strip()
    return project, render(template, tmp_path / "fresh", migrated(answers), head)


def test_project_from_the_previous_release_updates_cleanly(tmp_path: Path) -> None:
    """An unedited project from the previous main commit updates to today's template with no
    conflict and ends exactly as a fresh render of today's template with the same answers."""
    project, fresh = update_from_previous_release(tmp_path, VARIANTS[0])
    assert read_tree(project) == read_tree(fresh)
    assert not (project / "app/workers.py").exists(), "files the template dropped must go"


def test_update_brings_verified_tls(tmp_path: Path) -> None:
    """A project with Compose and Kubernetes from before verified TLS gets it by an update: the
    image trusts its system CAs, every example URL verifies the server, the pods mount a CA."""
    # that commit's distroless was Debian 12's: the update makes it a custom base of that image
    answers = {**VARIANTS[1], "compose": True, "kubernetes": True}
    answers["base_image"] = "gcr.io/distroless/python3-debian12"
    project, fresh = update_from_previous_release(tmp_path, answers)
    assert read_tree(project) == read_tree(fresh)
    assert (
        "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" in (project / "Dockerfile").read_text()
    )
    verify = "sslmode=verify-full&sslrootcert=system"
    for example in ("README.md", ".env.example", "deploy/kubernetes/secret.example.yaml"):
        text = (project / example).read_text()
        assert verify in text and "sslmode=require'" not in text, f"{example}: {text[:400]}"
    deployment = (project / "deploy/kubernetes/deployment.yaml").read_text()
    assert "/etc/task-api" in deployment and "task-api-database-ca" in deployment


def test_update_brings_metrics_and_request_ids(tmp_path: Path) -> None:
    """A project from before /metrics gets it by an update, with no conflict: the new question
    takes its default (on), the pods get scrape annotations and JSON logs, compose says how to
    scrape, and the lock gains prometheus-client."""
    answers = {**VARIANTS[0], "compose": True, "kubernetes": True}
    project, fresh = update_from_previous_release(tmp_path, answers)
    assert read_tree(project) == read_tree(fresh)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["metrics"] is True
    assert "METRICS = True" in (project / "app/_defaults.py").read_text()
    assert (project / "app/metrics.py").exists() and (project / "app/logs.py").exists()
    assert "prometheus-client==" in (project / "requirements.txt").read_text()
    deployment = (project / "deploy/kubernetes/deployment.yaml").read_text()
    assert 'prometheus.io/scrape: "true"' in deployment and "value: json" in deployment
    compose = (project / "compose.yaml").read_text()
    assert "LOG_FORMAT" in compose and "/metrics" in compose


def old_base_choices() -> list[str]:
    """The base_image choices main offered before the bases of 2026 (its copier.yml's own)."""
    shown = subprocess.run(
        ["git", "show", f"{BEFORE_THE_2026_BASES}:copier.yml"], cwd=ROOT, capture_output=True
    )
    if shown.returncode:  # no such commit here: the test using them skips saying so
        return ["(main's history is not in this clone)"]
    return list(yaml.safe_load(shown.stdout)["base_image"]["choices"].values())


def base_lines(project: Path) -> list[str]:
    return base_lines_of((project / "Dockerfile").read_text())


def base_lines_of(dockerfile: str) -> list[str]:
    """The Dockerfile's base image ARGs, a retired choice's implied :latest spelled out."""
    lines = dockerfile.splitlines()
    found = [line for line in lines if re.match(r"ARG (BASE|BUILDER)_IMAGE=", line)]
    return [re.sub(r"(python3-debian12)$", r"\1:latest", line) for line in found]


@pytest.mark.parametrize("base_image", old_base_choices())
def test_every_old_base_answer_updates_to_the_same_base(tmp_path: Path, base_image: str) -> None:
    """A project on each base main offered updates with no conflict and still builds from the
    very same image (and builder); a retired choice's ends exactly as a fresh render of its
    migrated answers (the other choices' answers do not change: the test above covers them)."""
    answers = {"base_image": base_image}
    if base_image == "custom":
        answers |= {"custom_base_image": "registry.example.com/py:3.13", "base_family": "debian"}
    retired = base_image in RETIRED
    project, fresh = update_from_previous_release(
        tmp_path, answers, BEFORE_THE_2026_BASES, fresh=retired
    )
    before = git(project, "show", "HEAD:Dockerfile")  # the render of main, as committed
    assert base_lines(project) == base_lines_of(before), "the update moved it to another base"
    kept = answers_of(project)
    assert {key: kept[key] for key in migrated(answers)} == migrated(answers)
    if retired:
        assert read_tree(project) == read_tree(fresh)


def test_retired_base_becomes_custom_with_the_same_image() -> None:
    text = "_commit: v0.1.0\nbase_image: 'gcr.io/distroless/python3-debian12'\nport: '8000'\n"
    done, notes = retire_bases(text)
    assert yaml.safe_load(done) == {
        "_commit": "v0.1.0",
        "base_image": "custom",
        "custom_base_image": "gcr.io/distroless/python3-debian12:latest",
        "base_family": "distroless",
        "builder_image": "debian:bookworm-slim",
        "port": "8000",
    }
    assert "python3-debian13" in notes[0]
    # a project on a current choice, or already moved, is left exactly as it is
    for kept in ("base_image: python:3.13-slim\n", done):
        assert retire_bases(kept) == (kept, [])
