"""Running foreign-architecture images here: qemu-user-static registered with the kernel's
binfmt_misc, with the F flag so the emulator works inside containers and builds."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import TypeGuard

from harness.machine.engine import EngineError
from harness.machine.needs import MachineError, apt_install, may_install

BINFMT = Path("/proc/sys/fs/binfmt_misc")
# Debian's qemu-user-static ships one systemd-binfmt line per emulator here.
BINFMT_CONFS = Path("/usr/lib/binfmt.d")
QEMU_NAMES = {"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
EMULATED = "runs under qemu emulation: load and timing checks measure the emulator, not the image"


class EmulationError(EngineError):
    """A foreign architecture cannot be run here; the message says what to do."""


def arch_of(platform_: str) -> str:
    """The architecture of an OCI platform string: linux/arm64 -> arm64."""
    return platform_.split("/")[1]


def is_emulated(platform_: str | None) -> TypeGuard[str]:
    return platform_ is not None and arch_of(platform_) != HOST_ARCH


def registration(arch: str) -> dict[str, str]:
    """What binfmt_misc says of the arch's emulator: {} when it is not registered."""
    entry = BINFMT / QEMU_NAMES[arch]
    if not entry.exists():
        return {}
    state, *lines = entry.read_text().splitlines()
    # "flags: POF", "interpreter /usr/libexec/...": a key, maybe a colon, then its value
    pairs = (line.split(" ", 1) for line in lines if " " in line)
    return {"state": state, **{key.rstrip(":"): value for key, value in pairs}}


def usable(found: dict[str, str]) -> bool:
    return found.get("state") == "enabled" and "F" in found.get("flags", "")


def mount_binfmt() -> None:
    if (BINFMT / "register").exists():
        return
    argv = ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EmulationError(
            "Emulating another architecture needs the binfmt_misc filesystem, and"
            f" `{' '.join(argv)}`"
            f" failed ({result.stderr.strip()}): mount it as root on the host, then run again."
        )


def install_qemu(name: str) -> Path:
    conf = BINFMT_CONFS / f"{name}.conf"
    if not conf.exists() and may_install():
        try:
            apt_install(["qemu-user-static"], lambda _: None)
        except MachineError as exc:
            raise EmulationError(str(exc)) from None
    if not conf.exists():
        raise EmulationError(
            f"{name} is not installed: install qemu-user-static (Debian: `sudo apt-get install"
            " qemu-user-static`), then run again."
        )
    return conf


def ensure_emulation(platform_: str) -> str:
    """Make images of platform_ runnable here; returns how (one line for the log)."""
    arch = arch_of(platform_)
    if not is_emulated(platform_):
        return f"{platform_} is this machine's own platform"
    if arch not in QEMU_NAMES:
        raise EmulationError(f"No emulator is known for {platform_}: use linux/amd64 or arm64.")
    name = QEMU_NAMES[arch]
    if usable(registration(arch)):
        return f"{platform_} runs under {name}, already registered with the F flag"
    if os.geteuid() != 0:
        raise EmulationError(
            f"{platform_} needs {name} registered in binfmt_misc with the F flag, and only root"
            " can do that: run `sudo update-binfmts --enable` (qemu-user-static) and run again."
        )
    conf = install_qemu(name)
    mount_binfmt()
    if not registration(arch):
        (BINFMT / "register").write_text(conf.read_text().strip())
    found = registration(arch)
    if not usable(found):
        raise EmulationError(
            f"{name} is registered as {found or 'nothing'}, not enabled with the F flag: remove"
            f" it (`echo -1 > {BINFMT / name}`) and run again."
        )
    return f"{platform_} runs under {name}, registered now from {conf}"
