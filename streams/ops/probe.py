"""``python -m streams.ops.probe live|ready``: exit 0 when the worker's ``/livez`` or ``/readyz`` answers 200.

The container health checks call this (the slim image has neither curl nor wget); the port and host
come from the same settings as the worker's (``AMPERE_METRICS_PORT``, ``AMPERE_METRICS_HOST``).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from streams.settings import Settings

PATHS = {"live": "/livez", "ready": "/readyz"}


def probe_url(settings: Settings, what: str) -> str:
    """URL of the worker's ``live`` or ``ready`` endpoint as seen from the worker's own host."""
    host = "127.0.0.1" if settings.metrics_host in ("0.0.0.0", "::", "") else settings.metrics_host
    return f"http://{host}:{settings.metrics_port}{PATHS[what]}"


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else "ready"
    if what not in PATHS:
        print(f"usage: python -m streams.ops.probe {'|'.join(PATHS)}", file=sys.stderr)
        return 2
    url = probe_url(Settings(), what)
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return 0 if r.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"{url}: HTTP {exc.code} {exc.read()[:500].decode(errors='replace')}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
