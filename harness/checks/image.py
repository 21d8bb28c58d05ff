"""Checks of the built image itself: build, lint, size, user, secrets, and the trip
through a registry (or an archive) and back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checks.api import crud_round_trip
from harness.checks.outcome import Figures, expect
from harness.images.secrets import scan_stream
from harness.machine.net import registry_has

if TYPE_CHECKING:
    from harness.lab.subject import Subject


BASE_LABEL = "org.opencontainers.image.base.name"


def builds(s: Subject) -> Figures:
    expect(s.image.size_bytes > 0, f"{s.image.tag} has no size after the build")
    inspect = ("image", "inspect", "--format", f'{{{{index .Config.Labels "{BASE_LABEL}"}}}}')
    label = s.engine.docker(*inspect, s.image.tag).stdout.strip()
    # the build was given BASE_IMAGE: the label must name that base, not the default
    expect(label == s.base.usable, f"{BASE_LABEL} is {label!r}, built FROM {s.base.usable!r}")
    return {"build_s": round(s.image.build_seconds, 1), "platform": s.platform}


def lint(s: Subject) -> Figures:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    out = subprocess.run(
        [hadolint, "Dockerfile"], cwd=s.project.path, capture_output=True, text=True
    )
    expect(out.returncode == 0, f"hadolint found problems:\n{out.stdout}{out.stderr}")
    return {}


def size(s: Subject) -> Figures:
    budget = int(s.project.answers["image_size_budget_mb"]) * 1_000_000
    mb = s.image.size_bytes / 1_000_000
    expect(
        s.image.size_bytes <= budget,
        f"{s.image.tag} is {mb:.1f} MB, over its budget of {budget // 1_000_000} MB",
    )
    return {"size_mb": round(mb, 1), "budget_mb": budget // 1_000_000}


def non_root(s: Subject) -> Figures:
    uid = int(s.project.answers["app_uid"])
    user = s.engine.docker(
        "image", "inspect", "--format", "{{.Config.User}}", s.image.tag
    ).stdout.strip()
    expect(user == f"{uid}:0", f"the image's USER is {user!r}, expected the numeric {uid}:0")
    c = s.main_container()
    status = c.exec("python", "-c", "print(open('/proc/1/status').read())")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    expect(
        bool(uids) and all(u == str(uid) for u in uids),
        f"PID 1 runs with UIDs {uids}, expected {uid}",
    )
    return {"uid": uid}


def no_secrets(s: Subject) -> Figures:
    c = s.main_container()  # so its logs can be searched too
    history = s.engine.docker(
        "history", "--no-trunc", "--format", "{{.CreatedBy}}", s.image.tag
    ).stdout
    config = s.engine.docker("image", "inspect", s.image.tag).stdout
    logs = c.logs()
    proc = subprocess.Popen(
        s.engine.argv("save", s.image.tag), stdout=subprocess.PIPE, env=s.engine.environ()
    )
    # the project's own slug is in the app code: proof the scan sees what is there
    wanted = {**s.sentinels, "control": s.project.answers["project_slug"] + '"'}
    assert proc.stdout is not None  # stdout=PIPE above
    found, scanned = scan_stream(proc.stdout, wanted.values())
    proc.wait()
    expect(proc.returncode == 0, "docker save failed")
    expect(
        wanted["control"] in found,
        "the layer scan did not see the app's own code: it cannot be trusted",
    )
    leaks = [f"{name} in the image layers" for name, value in s.sentinels.items() if value in found]
    for place, text in (
        ("docker history", history),
        ("the image config and labels", config),
        ("the container's logs", logs),
    ):
        leaks += [f"{name} in {place}" for name, value in s.sentinels.items() if value in text]
    expect(not leaks, "secrets leaked: " + "; ".join(leaks))
    return {"scanned_mb": round(scanned / 1e6, 1), "sentinels": len(s.sentinels)}


def push(s: Subject) -> Figures:
    s.remove_containers()  # a running container would keep the image from being removed
    if s.project.answers["registry"] == "none":
        s.save_archive()
        return {"archive_mb": round(s.archive.stat().st_size / 1e6, 1)}
    s.engine.docker("tag", s.image.tag, s.push_ref)
    s.engine.docker("push", s.push_ref)
    expect(
        registry_has(s.lab.registry.host, s.push_ref),
        f"{s.push_ref} is not in the registry after the push",
    )
    return {"pushed": s.push_ref}


def pull_and_run(s: Subject) -> Figures:
    s.remove_containers()
    s.engine.docker(
        "rmi",
        "--force",
        s.image.tag,
        *([s.push_ref] if s.push_ref != s.image.tag else []),
        check=False,
    )
    gone = s.engine.docker("image", "inspect", s.image.id, check=False).returncode != 0
    expect(gone, f"{s.image.tag} could not be removed before the pull")
    if s.project.answers["registry"] == "none":
        s.engine.docker("load", "-i", str(s.archive))
    else:
        s.engine.docker("pull", *s.platform_args, s.push_ref)
        s.engine.docker("tag", s.push_ref, s.image.tag)
    now = s.engine.docker("image", "inspect", "--format", "{{.Id}}", s.image.tag).stdout.strip()
    expect(now == s.image.id, f"the image came back as {now}, not {s.image.id}")
    c = s.start_container("pulled")
    c.wait_for_health_200()
    crud_round_trip(c.port, "the pulled image")
    c.remove()
    return {}
