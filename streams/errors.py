"""One rooted hierarchy of typed errors that tell the runtime what to do with a failure.

- :class:`~streams.schemas.BadRecord`: the message itself is wrong → dead-letter topic, never retried.
- :class:`TransientError`: the service is down or slow → retry with back-off and jitter until it is back.
- :class:`PermanentError`: the service is up and refuses this item → dead-letter after bounded tries.
- :class:`KafkaUnavailable`: the broker cannot be used with these settings → a clear error at start.
"""

from __future__ import annotations

from engines.errors import AmpereError, PermanentError, TransientError

__all__ = ["AmpereError", "KafkaUnavailable", "PermanentError", "TransientError"]


class KafkaUnavailable(AmpereError):
    """The broker cannot be reached or refused the connection (wrong address, credentials or TLS)."""
