"""Where image bytes come from: inline base64, or a URI that an allow-list permits (off by default).

Image URIs are an attack surface (local file reads, requests to internal services, slow-drip servers),
so a URI is refused unless it starts with one of ``AMPERE_IMAGE_URI_ALLOW``'s prefixes, after
normalization: ``file:`` paths are resolved (symlinks, ``..``) before the check, HTTP redirects are
followed by hand and each hop is checked again, the whole fetch has one deadline and the body is
read in chunks up to the byte limit. Failures after the policy check share one generic reason, so the
dead-letter topic cannot be used to probe which files or ports exist.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import posixpath
import time
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from streams.schemas import BadRecord
from streams.settings import Settings

log = logging.getLogger("ampere.images")

NOT_ALLOWED = "image uri not allowed (see AMPERE_IMAGE_URI_ALLOW)"
NOT_FETCHED = "image uri could not be fetched"
MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class UriPolicy:
    """The allow-list: URI prefixes (``https://host[:port]/path/`` or ``file:///folder/``)."""

    prefixes: tuple[str, ...] = ()
    max_bytes: int = 2_000_000
    deadline_s: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.prefixes)


def uri_policy(settings: Settings) -> UriPolicy:
    """The image policy the settings describe."""
    return UriPolicy(tuple(settings.image_uri_prefixes), settings.max_image_bytes, settings.image_fetch_timeout_s)


def _norm_path(path: str) -> str | None:
    """Percent-decoded, normalized absolute path; None when it tries to climb (``..``) or is odd."""
    raw = unquote(path or "/")
    if "\x00" in raw or "\\" in raw:
        return None
    if any(seg == ".." for seg in raw.split("/")):
        return None
    norm = posixpath.normpath(raw)
    return norm + ("/" if raw.endswith("/") and norm != "/" else "")


def _http_key(uri: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) of an http(s) URI, or None if it is not a plain one."""
    parts = urlsplit(uri)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return None
    path = _norm_path(parts.path)
    if path is None:
        return None
    return parts.scheme, parts.hostname.lower().rstrip("."), port, path


def _file_path(uri: str) -> str | None:
    """The real (symlink-free) local path of a ``file:`` URI or an absolute path; None otherwise."""
    if uri.startswith("file://"):
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            return None
        path = unquote(parts.path)
    elif uri.startswith("/"):
        path = uri
    else:
        return None
    if "\x00" in path:
        return None
    return os.path.realpath(path)


def _within(path: str, folder: str) -> bool:
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder + "/") or folder == "/"


def allowed(uri: str, policy: UriPolicy) -> bool:
    """True when ``uri`` falls under one of the policy's prefixes."""
    http = _http_key(uri)
    local = None if http else _file_path(uri)
    for prefix in policy.prefixes:
        if http:
            p = _http_key(prefix)
            if p and p[:3] == http[:3] and http[3].startswith(p[3]):
                return True
        elif local:
            folder = _file_path(prefix)
            if folder and _within(local, folder):
                return True
    return False


def _read_file(path: str, max_bytes: int) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadRecord(f"image larger than the limit of {max_bytes} bytes")
    return data


def _fetch_http(uri: str, policy: UriPolicy) -> bytes:
    deadline = time.monotonic() + policy.deadline_s
    # each read waits at most a quarter of the deadline, so a slow-drip server is cut off near the deadline
    timeout = httpx.Timeout(max(0.2, policy.deadline_s / 4), connect=min(policy.deadline_s, 3.0))
    headers = {"Accept-Encoding": "identity"}  # no transfer compression: the byte cap is the decoded size
    with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False, headers=headers) as client:
        url = uri
        for _ in range(MAX_REDIRECTS + 1):
            with client.stream("GET", url) as resp:
                if resp.is_redirect:
                    target = urljoin(url, resp.headers.get("location", ""))
                    if not allowed(target, policy):
                        raise BadRecord(NOT_ALLOWED)
                    url = target
                    continue
                if resp.status_code != 200:
                    raise OSError(f"HTTP {resp.status_code}")
                if resp.headers.get("content-encoding", "identity").lower() != "identity":
                    raise OSError("compressed transfer encoding refused")
                size = int(resp.headers.get("content-length") or 0)
                if size > policy.max_bytes:
                    raise BadRecord(f"image larger than the limit of {policy.max_bytes} bytes")
                chunks, total = [], 0
                for chunk in resp.iter_raw(64 * 1024):
                    total += len(chunk)
                    if total > policy.max_bytes:
                        raise BadRecord(f"image larger than the limit of {policy.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no complete image within {policy.deadline_s:g}s")
                    chunks.append(chunk)
                return b"".join(chunks)
        raise OSError("too many redirects")


def fetch_uri(uri: str, policy: UriPolicy) -> bytes:
    """Bytes behind an allow-listed URI; :class:`BadRecord` (generic reason) otherwise."""
    if not policy.enabled or not allowed(uri, policy):
        raise BadRecord(NOT_ALLOWED)
    try:
        if _http_key(uri):
            return _fetch_http(uri, policy)
        path = _file_path(uri)
        if path is None:
            raise BadRecord(NOT_ALLOWED)
        return _read_file(path, policy.max_bytes)
    except BadRecord:
        raise
    except (OSError, httpx.HTTPError, ValueError) as exc:
        log.info("image uri %s: %s: %s", uri[:200], type(exc).__name__, exc)
        raise BadRecord(NOT_FETCHED) from None


def decode_b64(image_b64: str, max_bytes: int) -> bytes:
    """Inline base64 image bytes, bounded by ``max_bytes``."""
    if len(image_b64) > (max_bytes + 2) // 3 * 4 + 4:
        raise BadRecord(f"inline image larger than the limit of {max_bytes} bytes")
    try:
        data = base64.b64decode(image_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRecord(f"image_b64 is not valid base64: {exc}") from None
    if len(data) > max_bytes:
        raise BadRecord(f"inline image larger than the limit of {max_bytes} bytes")
    return data


def load_image_bytes(image_b64: str | None, uri: str | None, policy: UriPolicy) -> bytes:
    """Raw bytes of an image from inline base64 or an allow-listed URI."""
    if image_b64:
        return decode_b64(image_b64, policy.max_bytes)
    if uri:
        return fetch_uri(uri, policy)
    raise BadRecord("keyframe has neither image_b64 nor uri")
