"""What the throwaway services on 127.0.0.1 share: start on enter, clean up on exit."""

from __future__ import annotations

from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 30.0


class ServiceError(RuntimeError):
    """A test service could not be started or used; the message says what to do."""


class Service:
    """Context-manager plumbing shared by the services: start on enter, clean up on exit."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop()
