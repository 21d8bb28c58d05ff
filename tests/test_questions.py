"""The questions are the public interface: bad answers are refused with a message that
names the question and its rule, and nothing is written; good edge cases pass."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import copier
import pytest
import yaml

from harness.matrix.variants import ROOT

COPIER_YML = ROOT / "copier.yml"

BAD_ANSWERS = [
    ({"port": 0}, "port", "from 1 to 65535"),
    ({"port": 70000}, "port", "from 1 to 65535"),
    ({"port": "eighty"}, "port", "from 1 to 65535"),
    ({"port": 80.5}, "port", "whole number"),
    ({"project_name": "   "}, "project_name", "must not be empty"),
    ({"project_slug": "my api"}, "project_slug", "^[a-z][a-z0-9-]{1,62}$"),
    ({"project_slug": "MyApi"}, "project_slug", "^[a-z][a-z0-9-]{1,62}$"),
    ({"project_slug": "9lives"}, "project_slug", "start with a lower-case letter"),
    (
        {"registry": "custom", "registry_host": "https://registry.example.com"},
        "registry_host",
        "no scheme",
    ),
    (
        {"registry": "custom", "registry_host": "registry.example.com/team"},
        "registry_host",
        "no path",
    ),
    (
        {"registry": "custom", "registry_host": "registry.example.com:99999"},
        "registry_host",
        "host[:port]",
    ),
    ({"registry": "docker.io", "registry_namespace": "My-Org"}, "registry_namespace", "lower-case"),
    (
        {"registry": "ghcr.io", "registry_namespace": "team/apis"},
        "registry_namespace",
        "one lower-case",
    ),
    ({"image_name": "TaskApi"}, "image_name", "lower-case repository name"),
    ({"image_name": "task api"}, "image_name", "lower-case repository name"),
    (
        {"base_image": "custom", "custom_base_image": "not a reference"},
        "custom_base_image",
        "tag or digest",
    ),
    ({"base_image": "custom", "custom_base_image": "python"}, "custom_base_image", "tag or digest"),
    (
        {"base_image": "custom", "custom_base_image": "https://r.io/python:3.13"},
        "custom_base_image",
        "tag or digest",
    ),
    (
        {"base_image": "custom", "custom_base_image": "python@sha256:abc"},
        "custom_base_image",
        "tag or digest",
    ),
    ({"base_image": "ubuntu:24.04"}, "base_image", ""),
    ({"image_size_budget_mb": 0}, "image_size_budget_mb", "positive"),
    ({"image_size_budget_mb": "big"}, "image_size_budget_mb", "positive"),
    ({"app_uid": 0}, "app_uid", "non-root"),
    ({"installer": "poetry"}, "installer", ""),
    ({"platforms": "linux/arm64"}, "platforms", ""),
    ({"source_url": "not a url"}, "source_url", "http(s) URL"),
]

GOOD_EDGES = [
    {"port": 65535},
    {"port": 1},
    {"project_slug": "ab"},
    {
        "registry": "custom",
        "registry_host": "registry.example.com:5000",
        "registry_namespace": "team/apis",
    },
    {"registry": "custom", "registry_host": "127.0.0.1:5000"},
    {"registry": "none"},
    {
        "base_image": "custom",
        "custom_base_image": "registry.example.com:5000/team/python:3.13-slim",
    },
    {
        "base_image": "custom",
        "custom_base_image": "python@sha256:" + "a" * 64,
        "base_family": "alpine",
    },
    {
        "base_image": "custom",
        "custom_base_image": "gcr.io/distroless/python3-debian13:nonroot",
        "base_family": "distroless",
        "builder_image": "debian:trixie-slim",
    },
    {"image_name": "task_api.v2"},
    {"image_size_budget_mb": 1},
    {"platforms": "linux/amd64"},
]


def copy(tmp_path: Path, answers: dict) -> Path:
    dest = tmp_path / "project"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(
            str(ROOT),
            dest,
            data=answers,
            defaults=True,
            vcs_ref="HEAD",
            unsafe=True,
            quiet=True,
        )
    return dest


@pytest.mark.parametrize(
    ("answers", "question", "rule"),
    BAD_ANSWERS,
    ids=[f"{q}={list(a.values())[-1]!r}" for a, q, _ in BAD_ANSWERS],
)
def test_bad_answer_is_refused_and_writes_nothing(tmp_path: Path, answers, question, rule) -> None:
    with pytest.raises(ValueError) as refused:
        copy(tmp_path, answers)
    message = str(refused.value)
    assert question in message, message
    assert rule in message, message
    assert not (tmp_path / "project").exists(), "a refused copy left files behind"


def name_edge_case(answers: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in answers.items())[:60]


@pytest.mark.parametrize("answers", GOOD_EDGES, ids=name_edge_case)
def test_good_edge_case_is_accepted(tmp_path: Path, answers) -> None:
    dest = copy(tmp_path, answers)
    recorded = (dest / ".copier-answers.yml").read_text()
    for key, value in answers.items():
        assert f"{key}: {value}" in recorded or f"{key}: '{value}'" in recorded, (key, recorded)


def test_cli_refusal_names_question_and_rule(tmp_path: Path) -> None:
    """What a user sees at the command line: the rule, a non-zero exit, no directory."""
    dest = tmp_path / "cli"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "port=eighty",
            str(ROOT),
            str(dest),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "Validation error for question 'port'" in out.stderr, out.stderr
    assert "1 to 65535" in out.stderr, out.stderr
    assert not dest.exists()


def asked_questions() -> dict:
    """The questions a user sees: not the settings (_...), not the derived values (when: false)."""
    entries = yaml.safe_load(COPIER_YML.read_text())
    derived = {k for k, v in entries.items() if isinstance(v, dict) and v.get("when") is False}
    return {k: v for k, v in entries.items() if not k.startswith("_") and k not in derived}


def test_every_question_has_help() -> None:
    questions = asked_questions()
    assert len(questions) >= 11
    missing = [k for k, v in questions.items() if not str(v.get("help", "")).strip()]
    assert not missing, f"questions without help: {missing}"


def test_copier_yml_reads_like_documentation() -> None:
    """Rules live in extensions/questions.py: copier.yml keeps short lines and no regexes."""
    text = COPIER_YML.read_text()
    long = [n for n, line in enumerate(text.splitlines(), 1) if len(line) > 100]
    assert not long, f"copier.yml lines over 100 characters: {long}"
    assert "regex_" not in text, "a rule in copier.yml: move it into extensions/questions.py"
