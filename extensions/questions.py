"""The rules behind copier.yml's questions, as Jinja filters and tests.

copier.yml loads this file through copier-template-extensions (`_jinja_extensions`), so the
questions read as documentation and each rule is Python with unit tests of its own
(tests/test_extensions.py). It lives outside template/, so no project receives it.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2.ext import Extension

SLUG = re.compile(r"[a-z][a-z0-9-]{1,62}")
# one user or organisation name, as Docker Hub and GitHub accept them
NAMESPACE = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
# one path component of an image name, with the separators Docker's reference grammar allows
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
HOST_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
HOST = rf"(?P<host>{HOST_LABEL}(?:\.{HOST_LABEL})*)(?::(?P<port>[0-9]{{1,5}}))?"
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST = r"sha256:[a-f0-9]{64}"
IMAGE_REFERENCE = re.compile(
    rf"(?:{HOST}/)?{COMPONENT}(?:/{COMPONENT})*(?::(?P<tag>{TAG}))?(?:@(?P<digest>{DIGEST}))?",
)

# the base_image choices that name a moving tag, and the tag that pins their OS release
PINNED_BASES = {
    "python:3.14-slim": "python:3.14-slim-trixie",
    "python:3.13-slim": "python:3.13-slim-trixie",
    "python:3.12-slim": "python:3.12-slim-trixie",
    "python:3.14-alpine": "python:3.14-alpine3.22",
    "python:3.13-alpine": "python:3.13-alpine3.22",
}
# bases without Python of their own: the Dockerfile installs Debian's python3 with apt
APT_PYTHON_BASES = {"debian:trixie-slim", "debian:bookworm-slim"}
# distroless ships its Debian release's Python at /usr/bin, so its venv is built on that
# release: the venv's interpreter link and the wheels' ABI must match the runtime
DISTROLESS_BUILDERS = {"debian12": "debian:bookworm-slim", "debian13": "debian:trixie-slim"}
NEWEST_DISTROLESS_BUILDER = DISTROLESS_BUILDERS["debian13"]
# a repository on github.com, as GitHub spells owners (letters, digits, -) and names (also . _)
GITHUB_REPOSITORY = re.compile(
    r"https?://(?:www\.)?github\.com/(?P<repository>[A-Za-z0-9-]+/[A-Za-z0-9._-]+?)(?:\.git)?/?"
)


def slugify(name: str) -> str:
    """'My Task API!' -> 'my-task-api': lower case, runs of other characters become one '-'."""
    dashed = re.sub(r"[^a-z0-9]+", "-", str(name).strip().lower())
    return re.sub(r"^[^a-z]+|-+$", "", dashed)


def is_slug(value: Any) -> bool:
    return SLUG.fullmatch(str(value)) is not None


def is_whole_number(value: Any, low: int, high: int) -> bool:
    """Digits only (no sign, no decimals, so 80.5 and '8e3' fail), from low to high."""
    text = str(value)
    return text.isascii() and text.isdigit() and low <= int(text) <= high


def is_port_number(text: str | None) -> bool:
    return text is None or is_whole_number(text, 1, 65535)


def is_host_port(value: Any) -> bool:
    """host[:port] with DNS labels and a port from 1 to 65535; no scheme, no path."""
    match = re.fullmatch(HOST, str(value))
    return match is not None and is_port_number(match["port"])


def is_namespace(value: Any, nested: bool = False) -> bool:
    """One lower-case name (my-org), or with nested=True path segments of them (team/apis)."""
    pattern = rf"{NAMESPACE}(?:/{NAMESPACE})*" if nested else NAMESPACE
    return re.fullmatch(pattern, str(value)) is not None


def is_repository_name(value: Any) -> bool:
    return re.fullmatch(COMPONENT, str(value)) is not None


def is_image_reference(value: Any) -> bool:
    """[host[:port]/]name[/name...] with a tag, a sha256 digest or both: a pinned image."""
    match = IMAGE_REFERENCE.fullmatch(str(value))
    if match is None or not (match["tag"] or match["digest"]):
        return False
    return match["host"] is None or is_port_number(match["port"])


def is_http_url(value: Any) -> bool:
    """http(s) and no spaces or quotes: it goes into a Dockerfile LABEL as it is."""
    return re.fullmatch(r"https?://[^\s\"]+", str(value)) is not None


def image_family(base_image: str) -> str:
    """The family a base belongs to, guessed from its name: alpine, distroless or debian."""
    return next((family for family in ("alpine", "distroless") if family in base_image), "debian")


def pinned_base(base_image: str, custom_base_image: str) -> str:
    """The reference the Dockerfile builds from: the user's own, or a choice pinned to its OS."""
    if base_image == "custom":
        return custom_base_image
    return PINNED_BASES.get(base_image, base_image)


def distroless_builder(base_ref: str) -> str:
    """The Debian whose Python a distroless base ships: named in its reference (python3-debian12),
    else the newest release's."""
    release = re.search(r"debian(\d+)", base_ref)
    return DISTROLESS_BUILDERS.get(release[0] if release else "", NEWEST_DISTROLESS_BUILDER)


def builder_ref(base_ref: str, base_image: str, base_family: str, builder_image: str) -> str:
    """The build stage's image: the base itself, or for distroless a Debian with the same Python."""
    if base_family != "distroless":
        return base_ref
    return builder_image if base_image == "custom" else distroless_builder(base_ref)


def python_source(base_image: str, base_family: str) -> str:
    """Where the runtime's Python comes from: Debian's apt, a Debian builder, or the base."""
    if base_image in APT_PYTHON_BASES:
        return "apt"
    return "builder" if base_family == "distroless" else "base"


def image_ref(image_name: str, registry: str, registry_host: str, registry_namespace: str) -> str:
    """The image's full name: local only, in a custom registry, or in Docker Hub / GHCR."""
    if registry == "none":
        return image_name
    if registry == "custom":
        return "/".join(part for part in (registry_host, registry_namespace, image_name) if part)
    return f"{registry}/{registry_namespace}/{image_name}"


def github_repository(source_url: str) -> str:
    """'https://github.com/acme/api.git' -> 'acme/api'; '' when source_url is not on github.com."""
    match = GITHUB_REPOSITORY.fullmatch(str(source_url))
    return match["repository"] if match else ""


def signer_identity(repository: str) -> str:
    """The signing certificate's identity, as cosign's regular expression: the repository's
    ci.yml on main or on a version tag, so no other repository, branch or pull request."""
    workflow = f"https://github.com/{repository}/.github/workflows/ci.yml".replace(".", r"\.")
    return f"^{workflow}@refs/(heads/main|tags/v.+)$"


class QuestionRules(Extension):
    """Registers the filters and tests above under the names copier.yml uses."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.filters.update(
            slugify=slugify,
            image_family=image_family,
            pinned_base=pinned_base,
            builder_ref=builder_ref,
            distroless_builder=distroless_builder,
            python_source=python_source,
            image_ref=image_ref,
            github_repository=github_repository,
            signer_identity=signer_identity,
        )
        environment.tests.update(
            slug=is_slug,
            whole_number=is_whole_number,
            host_port=is_host_port,
            namespace=is_namespace,
            repository_name=is_repository_name,
            image_reference=is_image_reference,
            http_url=is_http_url,
        )
