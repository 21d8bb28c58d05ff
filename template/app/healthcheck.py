"""Container health probe: `python -m app.healthcheck` exits 0 when /health answers 200.
Standard library only, so the probe starts in milliseconds and never loads the web stack."""

import os
import sys
import urllib.error
import urllib.request

from app._defaults import DEFAULT_PORT


def main() -> int:
    port = os.environ.get("PORT") or str(DEFAULT_PORT)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        print(f"healthcheck: PORT must be a number from 1 to 65535, got {port!r}", file=sys.stderr)
        return 1
    url = f"http://127.0.0.1:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=3.0) as response:  # noqa: S310 - fixed loopback URL
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:  # refused, timed out: URLError is an OSError too
        print(f"healthcheck: {url} -> {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1
    print(f"healthcheck: {url} -> {status}", file=sys.stdout if status == 200 else sys.stderr)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
