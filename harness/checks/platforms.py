"""A row built for another platform (arm64 under qemu here): which checks it runs, and the
multi-platform image it makes with its host-platform twin in the local registry."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from typing import TYPE_CHECKING

from harness.checks.api import crud_round_trip
from harness.checks.outcome import Figures, expect
from harness.images.recipes import ARCH
from harness.lab.container import run_container
from harness.lab.emulated import patient, run_args
from harness.machine.emulation import EMULATED, arch_of, is_emulated
from harness.machine.net import LOCAL_OPENER, free_port, registry_has

if TYPE_CHECKING:
    from harness.lab.subject import Subject
    from harness.machine.engine import Engine

# What an emulated row checks: the image itself (build, size, user, secrets, the trip
# through the registry), the API answering (health, CRUD) and the rendered files.
EMULATED_CHECKS = {f"SC-{n:02}" for n in (1, 2, 3, 4, 5, 6, 7, 9, 10, 14, 15, 17, 18)}
# Figures of time and load, or signals sent at chosen moments of start-up: qemu sets them.
TIMED = {
    "clean-stop",
    "database-outage",
    "writes-across-restart",
    "load",
    "stops-during-startup",
    "hostile-clients",
    "SC-19",
    "locked-table",
    "rolling-deploy",
}
# The rest starts more containers to check what the Dockerfile does, not the platform.
REPEATED = (
    "runs under qemu emulation, where each further container start takes {start} s:"
    " its twin {twin} runs this check on the same Dockerfile and answers"
)
# The registry's answer names every platform only when asked for a list or an index.
LIST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json,"
    "application/vnd.oci.image.index.v1+json"
)


def emulated_skip(s: Subject, check: str) -> str | None:
    """Why this check does not run on s, or None when it does."""
    if not is_emulated(s.variant.platform) or check in EMULATED_CHECKS:
        return None
    if check in TIMED:
        return f"{s.variant.name} {EMULATED}"
    start = s.figures.get("first_200_s", "tens of")
    return f"{s.variant.name} " + REPEATED.format(start=start, twin=s.variant.native_twin)


def twin_ref(s: Subject) -> str:
    """Where the host-platform twin row pushed the same project: our push_ref, untagged by arch."""
    return s.push_ref.removesuffix("-" + arch_of(s.platform))


def manifest_engine(engine: Engine) -> Engine:
    # Debian's 20.10 client keeps `docker manifest` behind this switch; newer ones ignore it.
    return dataclasses.replace(engine, env={**engine.env, "DOCKER_CLI_EXPERIMENTAL": "enabled"})


def listed_platforms(host: str, ref: str) -> list[str]:
    """The platforms the registry's manifest list (or OCI index) at ref names."""
    repo, tag = ref.removeprefix(host + "/").rsplit(":", 1)
    url = f"http://{host.replace('localhost', '127.0.0.1')}/v2/{repo}/manifests/{tag}"
    req = urllib.request.Request(url, headers={"Accept": LIST_TYPES})
    with LOCAL_OPENER.open(req, timeout=10) as resp:
        body = json.load(resp)
    return sorted(
        f"{m['platform']['os']}/{m['platform']['architecture']}" for m in body["manifests"]
    )


def pull_and_check(s: Subject, ref: str, platform: str) -> None:
    """Pull one platform of ref, prove its architecture, run it: health 200 and CRUD."""
    s.engine.docker("rmi", "--force", ref, check=False)
    s.engine.docker("pull", "--platform", platform, ref)
    arch = s.engine.docker("image", "inspect", "--format", "{{.Architecture}}", ref).stdout
    expect(arch.strip() == arch_of(platform), f"{ref} for {platform} came back as {arch.strip()}")
    name = f"tat-{s.variant.name}-multi-{arch_of(platform)}"
    port, env = free_port(), {"DATABASE_URL": s.database_url}
    extra = run_args(platform)
    c = patient(run_container(s.engine, ref, name=name, port=port, env=env, extra=extra), platform)
    try:
        c.wait_for_health_200()
        crud_round_trip(c.port, f"{ref} pulled for {platform}")
    finally:
        c.remove()
        s.engine.docker("rmi", "--force", ref, check=False)


def multi_platform(s: Subject) -> Figures:
    """Both platforms as one image: a manifest list at the twin's reference, pulled per platform."""
    host, ours, twin = s.lab.registry.host, s.push_ref, twin_ref(s)
    for ref in (twin, ours):
        expect(registry_has(host, ref), f"{ref} is not in the registry: its row's push failed")
    engine = manifest_engine(s.engine)
    engine.docker("manifest", "rm", twin, check=False)  # a list left by an earlier run
    engine.docker("manifest", "create", "--insecure", twin, twin, ours)
    engine.docker("manifest", "push", "--insecure", "--purge", twin)
    platforms = listed_platforms(host, twin)
    want = sorted({s.platform, f"linux/{ARCH}"})
    expect(platforms == want, f"the manifest list at {twin} names {platforms}, not {want}")
    for platform in want:
        pull_and_check(s, twin, platform)
    return {"multi_platform": f"{twin} ({', '.join(platforms)})"}
