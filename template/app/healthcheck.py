"""Container health probe: `python -m app.healthcheck` exits 0 when /health answers 200.

Standard library only, so the probe starts in milliseconds and never loads the web stack.
"""

import os
import sys
import urllib.error
import urllib.request

from app._defaults import DEFAULT_PORT

TIMEOUT_SECONDS = 3.0


def probe(port: int, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    url = f"http://127.0.0.1:{port}/health"
    try:
        # Fixed http URL on loopback, so the scheme audit does not apply
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status == 200, f"{url} -> {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url} -> {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url} -> {getattr(exc, 'reason', exc)}"


def main() -> int:
    raw_port = os.environ.get("PORT") or str(DEFAULT_PORT)
    if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
        print(
            f"healthcheck: PORT must be a number from 1 to 65535, got {raw_port!r}", file=sys.stderr
        )
        return 1
    healthy, summary = probe(int(raw_port))
    print(f"healthcheck: {summary}", file=sys.stderr if not healthy else sys.stdout)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
