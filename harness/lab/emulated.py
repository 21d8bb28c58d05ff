"""A container run for another platform (arm64 under qemu here): its flags and its waits."""

from __future__ import annotations

from harness.lab.container import Container, Response
from harness.machine.emulation import is_emulated

# Under qemu on 2 busy cores the arm64 app took over 60 s to its first 200 (about 2 s natively),
# and the image's python health probe overran its 5 s timeout every time: waits stretch, the
# probe gets time and runs less often. These flags follow run_container's: the last one counts.
QEMU_PATIENCE = 6.0
QEMU_RUN_ARGS = ("--health-interval", "5s", "--health-timeout", "60s")


class EmulatedContainer(Container):
    """A container under qemu: the same waits, QEMU_PATIENCE times as long."""

    def wait_for_health_200(self, timeout: float = 60.0) -> float:
        return super().wait_for_health_200(timeout * QEMU_PATIENCE)

    def wait_for_health_status(self, status: int, timeout: float = 60.0) -> Response:
        return super().wait_for_health_status(status, timeout * QEMU_PATIENCE)

    def wait_for_docker_health(self, want: str = "healthy", timeout: float = 60.0) -> float:
        return super().wait_for_docker_health(want, timeout * QEMU_PATIENCE)


def run_args(platform: str | None) -> tuple[str, ...]:
    """docker run flags for a platform: none for the host's own."""
    if not platform:
        return ()
    return ("--platform", platform, *(QEMU_RUN_ARGS if is_emulated(platform) else ()))


def patient(c: Container, platform: str | None) -> Container:
    """The container, given qemu's time when its platform is emulated."""
    if not is_emulated(platform):
        return c
    return EmulatedContainer(c.engine, c.name, c.port, c.started)
