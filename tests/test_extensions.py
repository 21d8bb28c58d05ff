"""Fast tier: the rules behind copier.yml's questions (extensions/questions.py), on their own.

tests/test_questions.py proves copier.yml wires them to the right questions and messages;
these pin each rule's edges without rendering anything.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable

import pytest
from jinja2.sandbox import SandboxedEnvironment

from harness.matrix.variants import ROOT

# loaded by path, as copier-template-extensions loads it: extensions/ is not a package
_spec = importlib.util.spec_from_file_location("questions", ROOT / "extensions" / "questions.py")
questions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(questions)

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Task API", "task-api"),
        ("  My Task-API!! v2 ", "my-task-api-v2"),
        ("9 Lives", "lives"),  # a slug starts with a letter
        ("__init__", "init"),
        ("Ünïcode", "n-code"),  # only ASCII letters survive
    ],
)
def test_slugify_makes_a_valid_slug(name: str, slug: str) -> None:
    assert questions.slugify(name) == slug
    assert questions.is_slug(slug)


# One-argument rules: the answers each must accept (True) or refuse (False)
RULE_CASES = {
    questions.is_slug: [
        ("ab", True),
        ("a" * 63, True),
        ("a", False),
        ("a" * 64, False),
        ("9lives", False),
        ("my api", False),
        ("MyApi", False),
    ],
    questions.is_host_port: [
        ("registry.example.com", True),
        ("registry.example.com:5000", True),
        ("127.0.0.1:5000", True),
        ("localhost:65535", True),
        ("localhost:65536", False),
        ("localhost:0", False),
        ("https://registry.example.com", False),
        ("registry.example.com/team", False),
        ("-registry.example.com", False),
        ("a" * 64 + ".example.com", False),  # a DNS label is at most 63 characters
        ("registry..example.com", False),
    ],
    questions.is_repository_name: [
        ("task-api", True),
        ("task_api.v2", True),
        ("a__b", True),
        ("a---b", True),
        ("a___b", False),
        ("TaskApi", False),
        ("task api", False),
        ("task-", False),
    ],
    questions.is_image_reference: [
        ("python:3.13-slim", True),
        ("registry.example.com:5000/team/python:3.13-slim", True),
        ("gcr.io/distroless/python3-debian13:nonroot", True),
        (f"python@{DIGEST}", True),
        (f"python:3.13@{DIGEST}", True),
        ("python", False),  # a base must be pinned: a tag, a digest or both
        ("team/python", False),
        ("not a reference", False),
        ("https://r.io/python:3.13", False),
        ("python@sha256:abc", False),
        ("Python:3.13", False),
        ("registry.example.com:99999/python:3.13", False),
    ],
    questions.is_http_url: [
        ("https://github.com/my-org/task-api", True),
        ("http://git.example.com/a", True),
        ("ftp://example.com/a", False),
        ("https://example.com/a b", False),
        ('https://example.com/"a', False),
        ("not a url", False),
    ],
}


@pytest.mark.parametrize(
    ("rule", "value", "ok"),
    [(rule, value, ok) for rule, cases in RULE_CASES.items() for value, ok in cases],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_one_argument_rule(rule: Callable[[str], bool], value: str, ok: bool) -> None:
    assert rule(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1", True),
        (65535, True),
        ("8000", True),
        ("0", False),
        ("65536", False),
        ("80.5", False),
        (80.5, False),
        ("-1", False),
        (" 80", False),
        ("8e3", False),
        ("eighty", False),
        ("٣", False),
    ],
)
def test_whole_number_rule(value: object, ok: bool) -> None:
    assert questions.is_whole_number(value, 1, 65535) is ok


@pytest.mark.parametrize(
    ("value", "nested", "ok"),
    [
        ("my-org", False, True),
        ("my.org_2", False, True),
        ("team/apis", False, False),
        ("team/apis", True, True),
        ("My-Org", False, False),
        ("-org", True, False),
        ("team//apis", True, False),
    ],
)
def test_namespace_rule(value: str, nested: bool, ok: bool) -> None:
    assert questions.is_namespace(value, nested) is ok


@pytest.mark.parametrize(
    ("base_image", "family", "pinned", "python"),
    [
        ("python:3.14-slim", "debian", "python:3.14-slim-trixie", "base"),
        ("python:3.12-slim", "debian", "python:3.12-slim-trixie", "base"),
        ("python:3.14-alpine", "alpine", "python:3.14-alpine3.22", "base"),
        ("debian:bookworm-slim", "debian", "debian:bookworm-slim", "apt"),
        (
            "gcr.io/distroless/python3-debian13",
            "distroless",
            "gcr.io/distroless/python3-debian13",
            "builder",
        ),
    ],
)
def test_derived_values_of_each_kind_of_base(
    base_image: str,
    family: str,
    pinned: str,
    python: str,
) -> None:
    assert questions.image_family(base_image) == family
    assert questions.pinned_base(base_image, "ignored:1") == pinned
    assert questions.python_source(base_image, family) == python
    builder = questions.builder_ref(pinned, base_image, family, "ignored:1")
    assert builder == ("debian:trixie-slim" if family == "distroless" else pinned)


@pytest.mark.parametrize(
    ("base_ref", "builder"),
    [
        ("gcr.io/distroless/python3-debian13", "debian:trixie-slim"),
        ("gcr.io/distroless/python3-debian12:nonroot", "debian:bookworm-slim"),
        ("registry.example.com/platform/distroless-python3:debian12", "debian:bookworm-slim"),
        # a name that says no release: the newest distroless, Debian 13
        ("registry.example.com/platform/python-distroless:1.4", "debian:trixie-slim"),
    ],
)
def test_distroless_builder_follows_the_debian_release(base_ref: str, builder: str) -> None:
    assert questions.distroless_builder(base_ref) == builder


def test_custom_base_uses_the_users_images() -> None:
    assert questions.pinned_base("custom", "r.example.com/py:3.13") == "r.example.com/py:3.13"
    ref = questions.builder_ref(
        "r.example.com/py:3.13",
        "custom",
        "distroless",
        "debian:trixie-slim",
    )
    assert ref == "debian:trixie-slim"
    own = questions.builder_ref("r.example.com/py:3.13", "custom", "alpine", "debian:trixie-slim")
    assert own == "r.example.com/py:3.13"


@pytest.mark.parametrize(
    ("registry", "host", "namespace", "ref"),
    [
        ("none", "ignored", "ignored", "task-api"),
        ("docker.io", "ignored", "my-org", "docker.io/my-org/task-api"),
        ("custom", "r.example.com:5000", "team/apis", "r.example.com:5000/team/apis/task-api"),
        ("custom", "r.example.com", "", "r.example.com/task-api"),
    ],
)
def test_image_ref_of_each_registry_kind(
    registry: str,
    host: str,
    namespace: str,
    ref: str,
) -> None:
    assert questions.image_ref("task-api", registry, host, namespace) == ref


@pytest.mark.parametrize(
    ("source_url", "repository"),
    [
        ("https://github.com/acme/task-api", "acme/task-api"),
        ("https://github.com/Acme-Corp/my.api.git", "Acme-Corp/my.api"),
        ("https://www.github.com/acme/api/", "acme/api"),
        ("https://github.com/acme", ""),  # an owner, not a repository
        ("https://github.com/acme/api/tree/main", ""),  # a page inside one
        ("https://github.com.evil.example/acme/api", ""),
        ("https://gitlab.example.com/team/api", ""),
    ],
)
def test_github_repository_of_source_url(source_url: str, repository: str) -> None:
    assert questions.github_repository(source_url) == repository


def test_signer_identity_pins_the_repository_workflow_and_refs() -> None:
    identity = re.compile(questions.signer_identity("acme/my.api"))
    workflow = "https://github.com/acme/my.api/.github/workflows/ci.yml@refs/"
    for ref in ("heads/main", "tags/v1.2.3"):
        assert identity.search(workflow + ref), ref
    for other in (
        workflow + "pull/7/merge",
        workflow + "heads/main-feature",
        workflow + "heads/feature",
        workflow.replace("acme/my.api", "acme/myxapi") + "heads/main",
        workflow.replace("acme/my.api", "evil/my.api") + "heads/main",
        workflow.replace("ci.yml", "release.yml") + "heads/main",
    ):
        assert not identity.search(other), other


def test_extension_registers_the_names_copier_yml_uses() -> None:
    env = SandboxedEnvironment(extensions=[questions.QuestionRules])
    expected = {
        "'My API' | slugify": "my-api",
        "'x' | image_family": "debian",
        "'python:3.13-slim' | pinned_base('')": "python:3.13-slim-trixie",
        "'b:1' | builder_ref('x', 'debian', '')": "b:1",
        "'x' | python_source('distroless')": "builder",
        "'x' | image_ref('none', '', '')": "x",
        "'https://github.com/a/b' | github_repository": "a/b",
        "'a/b' | signer_identity": questions.signer_identity("a/b"),
        "'ab' is slug": "True",
        "'80' is whole_number(1, 65535)": "True",
        "'x:0' is host_port": "False",
        "'a/b' is namespace(nested=true)": "True",
        "'a/b' is namespace": "False",
        "'a' is repository_name": "True",
        "'p:1' is image_reference": "True",
        "'https://x' is http_url": "True",
    }
    for expression, value in expected.items():
        assert env.from_string(f"{{{{ {expression} }}}}").render() == value, expression
