"""Typed errors shared by every layer: they tell the runtime whether to retry or to dead-letter.

- :class:`TransientError`: the service is down or slow → retry with back-off and jitter until it is back.
- :class:`PermanentError`: the service is up and refuses this item → dead-letter after bounded tries.
"""

from __future__ import annotations


class AmpereError(Exception):
    """Root of every error Ampere Stream raises on purpose."""


class TransientError(AmpereError):
    """A failure expected to go away by itself (connection refused, timeout, 5xx, throttled)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(AmpereError):
    """A failure that retrying will not fix; ``reason`` goes to the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
