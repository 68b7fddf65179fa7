"""Where image bytes come from: inline base64, or a URI that an allow-list permits (off by default).

Image URIs are an attack surface (local file reads, requests to internal services, slow-drip servers),
so a URI is refused unless it falls under one of ``AMPERE_IMAGE_URI_ALLOW``'s prefixes (matched by
path segment) after normalization: ``file:`` paths are resolved (symlinks, ``..``) before the check,
only regular files are read, HTTP redirects are followed by hand and each hop is checked again, one
wall-clock deadline cuts the whole fetch (connect, headers, body, file read) and the body is read up
to the byte limit. Failures after the policy check share one generic reason, so the dead-letter topic
cannot be used to probe which files or ports exist. :func:`prefetch` fetches many URIs concurrently; :class:`Prefetcher` keeps fetches in flight across the
window stage's batches, bounded overall and per host.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import logging
import os
import posixpath
import stat
import threading
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from streams.schemas import BadImage, BadRecord, SchemaMismatch, TooLarge, UriNotAllowed
from streams.settings import Settings

log = logging.getLogger("ampere.images")

NOT_ALLOWED = "image uri not allowed (see AMPERE_IMAGE_URI_ALLOW)"
NOT_FETCHED = "image uri could not be fetched"
MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BACKSTOP_S = 1.0  # extra wait past the deadline before the caller stops waiting on its own
T = TypeVar("T")


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
    """True when ``path`` is ``folder`` or lies under it, segment by segment (``/a`` holds ``/a/b``, not ``/ab``)."""
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder + "/") or folder == "/"


def allowed(uri: str, policy: UriPolicy) -> bool:
    """True when ``uri`` falls under one of the policy's prefixes."""
    http = _http_key(uri)
    local = None if http else _file_path(uri)
    for prefix in policy.prefixes:
        if http:
            p = _http_key(prefix)
            if p and p[:3] == http[:3] and _within(http[3], p[3]):
                return True
        elif local:
            folder = _file_path(prefix)
            if folder and _within(local, folder):
                return True
    return False


def _read_file(path: str, max_bytes: int) -> bytes:
    """Bytes of a regular file; anything else (FIFO, device, socket, folder) is refused unopened or
    right after a non-blocking open, so a read can never wait for a writer."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError("not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise TooLarge(f"image larger than the limit of {max_bytes} bytes")
    return data


async def _fetch_http(uri: str, policy: UriPolicy) -> bytes:
    """The body behind an http(s) URI; the caller bounds the whole exchange with the deadline."""
    headers = {"Accept-Encoding": "identity"}  # no transfer compression: the byte cap is the decoded size
    timeout = httpx.Timeout(policy.deadline_s)
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False, headers=headers) as client:
        url = uri
        for _ in range(MAX_REDIRECTS + 1):
            async with client.stream("GET", url) as resp:
                if resp.is_redirect:
                    target = urljoin(url, resp.headers.get("location", ""))
                    if not allowed(target, policy):
                        raise UriNotAllowed(NOT_ALLOWED)
                    url = target
                    continue
                if resp.status_code != 200:
                    raise OSError(f"HTTP {resp.status_code}")
                if resp.headers.get("content-encoding", "identity").lower() != "identity":
                    raise OSError("compressed transfer encoding refused")
                size = int(resp.headers.get("content-length") or 0)
                if size > policy.max_bytes:
                    raise TooLarge(f"image larger than the limit of {policy.max_bytes} bytes")
                chunks, total = [], 0
                async for chunk in resp.aiter_raw():
                    total += len(chunk)
                    if total > policy.max_bytes:
                        raise TooLarge(f"image larger than the limit of {policy.max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        raise OSError("too many redirects")


async def _fetch(uri: str, policy: UriPolicy) -> bytes:
    """Bytes behind an allow-listed URI, cut at the policy deadline (connect, headers, body, file read)."""
    if not policy.enabled or not allowed(uri, policy):
        raise UriNotAllowed(NOT_ALLOWED)
    try:
        async with asyncio.timeout(policy.deadline_s):
            if _http_key(uri):
                return await _fetch_http(uri, policy)
            path = _file_path(uri)
            if path is None:
                raise UriNotAllowed(NOT_ALLOWED)
            return await asyncio.to_thread(_read_file, path, policy.max_bytes)
    except BadRecord:
        raise
    except TimeoutError:
        log.info("image uri %s: no complete image within %gs", uri[:200], policy.deadline_s)
    except (OSError, httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ValueError) as exc:
        log.info("image uri %s: %s: %s", uri[:200], type(exc).__name__, exc)
    raise BadImage(NOT_FETCHED)


_loop_lock = threading.Lock()
_loop_state: tuple[int, asyncio.AbstractEventLoop, threading.Thread] | None = None


def _fetch_loop() -> asyncio.AbstractEventLoop:
    """The event loop (own daemon thread, one per process) every fetch runs on."""
    global _loop_state
    with _loop_lock:
        state = _loop_state
        if state is None or state[0] != os.getpid() or not state[2].is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="ampere-image-fetch", daemon=True)
            thread.start()
            state = _loop_state = (os.getpid(), loop, thread)
        return state[1]


def _run(coro: Coroutine[Any, Any, T], wait_s: float) -> T:
    """Run ``coro`` on the fetch loop and wait at most ``wait_s`` for it (a backstop: the coroutines
    cut themselves at their deadline); on the backstop the coroutine is cancelled."""
    fut = asyncio.run_coroutine_threadsafe(coro, _fetch_loop())
    try:
        return fut.result(timeout=wait_s)
    except concurrent.futures.TimeoutError:
        fut.cancel()
        raise BadImage(NOT_FETCHED) from None


def fetch_uri(uri: str, policy: UriPolicy) -> bytes:
    """Bytes behind an allow-listed URI within ``policy.deadline_s`` of wall time; :class:`BadRecord`
    (generic reason) otherwise."""
    if not policy.enabled or not allowed(uri, policy):
        raise UriNotAllowed(NOT_ALLOWED)
    return _run(_fetch(uri, policy), policy.deadline_s + _BACKSTOP_S)


async def _prefetch(uris: list[str], policy: UriPolicy, max_concurrent: int) -> dict[str, bytes | BadRecord]:
    gate = asyncio.Semaphore(max_concurrent)

    async def one(uri: str) -> tuple[str, bytes | BadRecord]:
        async with gate:
            try:
                return uri, await _fetch(uri, policy)
            except BadRecord as exc:
                return uri, exc
            except Exception as exc:  # noqa: BLE001 - one odd URI must not sink the others
                log.warning("image uri %s: %s: %s", uri[:200], type(exc).__name__, exc)
                return uri, BadImage(NOT_FETCHED)

    return dict(await asyncio.gather(*(one(u) for u in uris)))


def prefetch(uris: Iterable[str], policy: UriPolicy, max_concurrent: int = 8) -> dict[str, bytes | BadRecord]:
    """Fetch the distinct ``uris`` concurrently (at most ``max_concurrent`` at a time), each cut at
    ``policy.deadline_s``: ``{uri: bytes or the BadRecord it failed with}``, ready for
    :func:`load_image_bytes`. Takes at most ``ceil(len(distinct) / max_concurrent)`` deadlines."""
    distinct = list(dict.fromkeys(u for u in uris if u))
    if not distinct:
        return {}
    max_concurrent = max(1, max_concurrent)
    waves = -(-len(distinct) // max_concurrent)
    try:
        return _run(_prefetch(distinct, policy, max_concurrent), waves * policy.deadline_s + _BACKSTOP_S)
    except BadRecord as exc:
        return dict.fromkeys(distinct, exc)


def _host_of(uri: str) -> str:
    """What one slow server shares: ``scheme://host:port`` of an http(s) URI, ``file`` for a local path."""
    http = _http_key(uri)
    return f"{http[0]}://{http[1]}:{http[2]}" if http else "file"


class Prefetcher:
    """Image fetches started ahead of the window stage and kept across its batches.

    :meth:`start` schedules the URIs not already in flight: at most ``max_concurrent`` at a time and at
    most ``per_host`` of them on one host, so a slow host holds only its own share of the slots; each
    fetch is cut at the policy deadline. :meth:`wait` blocks until some URIs are all done or a timeout,
    :meth:`done` says whether they are, :meth:`take` hands their results over (``{uri: bytes or the
    BadRecord it failed with}``) and forgets them. The stage applies a partition only once its URIs are
    done, so a slow host delays its own streams, never another partition's.
    """

    def __init__(self, policy: UriPolicy, max_concurrent: int = 8, per_host: int | None = None,
                 max_kept: int = 4096) -> None:
        self.policy = policy
        self.max_concurrent = max(1, max_concurrent)
        self.per_host = max(1, per_host if per_host is not None else self.max_concurrent // 2)
        self.max_kept = max_kept
        self._futs: dict[str, concurrent.futures.Future] = {}
        self._gates: dict[str, asyncio.Semaphore] = {}  # created and used on the fetch loop only
        self._lock = threading.Lock()

    def start(self, uris: Iterable[str]) -> None:
        """Start fetching every URI that has no fetch in flight or result waiting."""
        loop = None
        with self._lock:
            for uri in dict.fromkeys(u for u in uris if u):
                if uri not in self._futs:
                    loop = loop or _fetch_loop()
                    self._futs[uri] = asyncio.run_coroutine_threadsafe(self._one(uri), loop)
            self._trim()

    def _trim(self) -> None:
        """Forget the oldest finished results past ``max_kept`` (those of partitions this stage lost)."""
        extra = len(self._futs) - self.max_kept
        for uri in [u for u, f in self._futs.items() if f.done()][: max(0, extra)]:
            del self._futs[uri]

    async def _one(self, uri: str) -> bytes | BadRecord:
        host = _host_of(uri)
        gate = self._gates.setdefault("", asyncio.Semaphore(self.max_concurrent))
        host_gate = self._gates.setdefault(host, asyncio.Semaphore(self.per_host))
        async with host_gate, gate:
            try:
                return await _fetch(uri, self.policy)
            except BadRecord as exc:
                return exc
            except Exception as exc:  # noqa: BLE001 - one odd URI must not sink the others
                log.warning("image uri %s: %s: %s", uri[:200], type(exc).__name__, exc)
                return BadImage(NOT_FETCHED)

    def _pending(self, uris: Iterable[str]) -> list[concurrent.futures.Future]:
        with self._lock:
            return [f for u in uris if (f := self._futs.get(u)) is not None and not f.done()]

    def done(self, uris: Iterable[str]) -> bool:
        """True when every one of ``uris`` that was started has its result."""
        return not self._pending(uris)

    def wait(self, uris: Iterable[str], timeout_s: float, first: bool = False) -> bool:
        """Block until every one of ``uris`` is done (with ``first``: one more of them is) or
        ``timeout_s`` passed; True when all are done."""
        uris = list(uris)
        pending = self._pending(uris)
        if pending:
            how = concurrent.futures.FIRST_COMPLETED if first else concurrent.futures.ALL_COMPLETED
            concurrent.futures.wait(pending, timeout=max(0.0, timeout_s), return_when=how)
        return not self._pending(uris)

    def take(self, uris: Iterable[str]) -> dict[str, bytes | BadRecord]:
        """The results of the finished ``uris``, forgotten here (a cancelled fetch reads as failed)."""
        out: dict[str, bytes | BadRecord] = {}
        with self._lock:
            for uri in dict.fromkeys(uris):
                fut = self._futs.get(uri)
                if fut is None or not fut.done():
                    continue
                del self._futs[uri]
                out[uri] = BadImage(NOT_FETCHED) if fut.cancelled() else fut.result()
        return out


def decode_b64(image_b64: str, max_bytes: int) -> bytes:
    """Inline base64 image bytes, bounded by ``max_bytes``."""
    if len(image_b64) > (max_bytes + 2) // 3 * 4 + 4:
        raise TooLarge(f"inline image larger than the limit of {max_bytes} bytes")
    try:
        data = base64.b64decode(image_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadImage(f"image_b64 is not valid base64: {exc}") from None
    if len(data) > max_bytes:
        raise TooLarge(f"inline image larger than the limit of {max_bytes} bytes")
    return data


def load_image_bytes(
    image_b64: str | None,
    uri: str | None,
    policy: UriPolicy,
    prefetched: Mapping[str, bytes | BadRecord] | None = None,
) -> bytes:
    """Raw bytes of an image from inline base64 or an allow-listed URI (taken from ``prefetched``,
    :func:`prefetch`'s result, when it holds the URI; fetched now otherwise)."""
    if image_b64:
        return decode_b64(image_b64, policy.max_bytes)
    if uri:
        hit = prefetched.get(uri) if prefetched else None
        if isinstance(hit, BadRecord):
            raise type(hit)(hit.reason)
        if hit is not None and allowed(uri, policy):
            return hit
        return fetch_uri(uri, policy)
    raise SchemaMismatch("keyframe has neither image_b64 nor uri")
