"""The stand-in base recipes of harness/images/standins/: readable headers, a hash that
follows every change, shellcheck-clean scripts (fast tier); built, labelled and checked
images (container)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.checks.linters import find_tool
from harness.images import base_images, recipes
from harness.images.base_images import (
    LABEL_FOR,
    LABEL_RECIPE,
    OFFICIAL_BASES,
    SKIP_REASONS,
    image_labels,
    resolve_base,
)
from harness.images.recipes import RECIPE_DIR, RECIPES, read_recipe, recipe_hash
from harness.matrix.bases import matrix_bases
from harness.matrix.variants import load_variants


def test_every_official_base_has_a_recipe_or_a_reason() -> None:
    assert set(RECIPES) | set(SKIP_REASONS) == set(OFFICIAL_BASES)
    assert not set(RECIPES) & set(SKIP_REASONS)


def test_the_warmed_bases_are_the_rows_own(tmp_path: Path) -> None:
    """`tasks.py standins` builds what the rows build on: each row's base and builder once,
    a published custom base as its official source, and no retired row's base."""
    rows = {v.name: v for v in load_variants()}
    picked = [rows[name] for name in ("distroless", "custom-debian", "custom-distroless")]
    got = [(b.variant, b.ref) for b in matrix_bases(tmp_path, picked)]
    assert got == [
        ("distroless", "gcr.io/distroless/python3-debian13"),
        ("distroless", "debian:trixie-slim"),
        ("custom-debian", "python:3.14-slim-trixie"),
        ("custom-distroless", "gcr.io/distroless/python3-debian12"),
        ("custom-distroless", "debian:bookworm-slim"),
    ]
    every = matrix_bases(tmp_path / "all")
    assert {b.ref for b in every} <= set(OFFICIAL_BASES)
    assert [b.platform for b in every if b.platform] == ["linux/arm64"]


def test_recipe_headers_say_what_they_promise() -> None:
    distroless = RECIPES["gcr.io/distroless/python3-debian13"]
    assert (distroless.shell, distroless.python) == (False, "3.13")
    assert 'ENTRYPOINT ["/usr/bin/python3.13"]' in distroless.changes
    assert RECIPES["gcr.io/distroless/python3-debian12"].python == "3.11"
    assert RECIPES["python:3.14-slim-trixie"].python == "3.14"
    assert RECIPES["python:3.12-slim-trixie"].python == "3.12"
    # the continuation line of its `faithful:` is part of the note
    assert distroless.faithful.endswith("without its exact file list")
    python = RECIPES["python:3.13-slim-trixie"]
    assert (python.shell, python.python) == (True, "3.13")
    assert python.image == "task-api-standin/python:3.13-slim-trixie"
    assert RECIPES["debian:bookworm-slim"].python is None
    assert len({recipe.image for recipe in RECIPES.values()}) == len(RECIPES)


def test_recipe_hash_follows_the_script_and_the_arch(tmp_path: Path) -> None:
    script = tmp_path / "debian-trixie-slim.sh"
    shutil.copy(RECIPES["debian:trixie-slim"].script, script)
    recipe = read_recipe(script)
    before = recipe_hash(recipe)
    assert recipe_hash(recipe, arch="arm64") != before
    script.write_text(script.read_text() + "# one more line\n")
    assert recipe_hash(recipe) != before


def test_hash_follows_shared_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = RECIPES["debian:trixie-slim"]
    before = recipe_hash(recipe)
    shared = tmp_path / "common.sh"
    shared.write_text(recipes.SHARED_STEPS.read_text() + "# one more line\n")
    monkeypatch.setattr(recipes, "SHARED_STEPS", shared)
    assert recipe_hash(recipe) != before


def test_recipes_are_shellcheck_clean() -> None:
    scripts = sorted(str(path) for path in RECIPE_DIR.glob("*.sh"))
    argv = [find_tool("shellcheck"), "-x", *scripts]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.container
def test_standins_are_built_labelled_and_reused() -> None:
    from harness.machine.engine import ensure_engine

    engine = ensure_engine()
    for ref, recipe in RECIPES.items():
        base = resolve_base(engine, ref)
        if base.kind == "real":
            continue
        if isinstance(missing := base_images.recipe_inputs(ref), str):  # no CPython 3.12 here
            assert (base.kind, base.reason) == ("skipped", missing)
            continue
        assert (base.kind, base.image) == ("stand-in", recipe.image)
        labels = image_labels(engine, recipe.image) or {}
        assert labels[LABEL_FOR] == ref
        assert labels[LABEL_RECIPE] == recipe_hash(recipe)
    alpine = resolve_base(engine, "python:3.13-alpine3.22")
    assert alpine.kind == "skipped"
    assert "no apk repository" in alpine.reason


def test_a_stand_in_that_failed_in_this_run_is_not_built_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(base_images, "RUN_ID", "run-1")
    note = tmp_path / "x.failed"
    note.write_text("run-1\nabc123\nrecipe.sh failed: fix the mirror")
    with pytest.raises(base_images.BaseImageError, match="fix the mirror"):
        base_images.refuse_known_failure(note, "abc123")
    base_images.refuse_known_failure(note, "changed-recipe")  # an edited recipe is tried again
    monkeypatch.setattr(base_images, "RUN_ID", "run-2")
    base_images.refuse_known_failure(note, "abc123")  # and so is the next run


def fake_build(versions: Path, name: str, shared: bool = True) -> Path:
    build = versions / name
    minor = ".".join(name.split(".")[:2])
    (build / "bin").mkdir(parents=True)
    (build / "bin" / f"python{minor}").write_text("")
    (build / "lib").mkdir()
    if shared:
        (build / "lib" / f"libpython{minor}.so.1.0").write_text("")
    return build


def test_python_312_stand_in_takes_the_newest_shared_build(tmp_path: Path) -> None:
    fake_build(tmp_path, "3.12.1")
    newest = fake_build(tmp_path, "3.12.10")
    fake_build(tmp_path, "3.12.11", shared=False)  # a static libpython cannot be relocated
    fake_build(tmp_path, "3.12-dev")
    fake_build(tmp_path, "3.13.0")
    assert base_images.cpython_build("3.12", tmp_path) == newest
    assert base_images.cpython_build("3.11", tmp_path) is None


def test_python_312_stand_in_without_a_build_is_skipped_saying_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base_images, "PYENV_VERSIONS", tmp_path)  # no build in it
    reason = base_images.recipe_inputs("python:3.12-slim-trixie")
    assert isinstance(reason, str), reason
    assert f"no CPython 3.12 built --enable-shared is in {tmp_path}" in reason
    assert "PYTHON_CONFIGURE_OPTS=--enable-shared" in reason
    fake_build(tmp_path, "3.12.4")
    found = base_images.recipe_inputs("python:3.12-slim-trixie")
    assert isinstance(found, dict) and found["CPYTHON_PREFIX"] == str(tmp_path / "3.12.4")
    assert base_images.recipe_inputs("debian:trixie-slim") == {}
