"""Where the gateway sends validated messages: the broker, with every send acknowledged within a bound."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from aiokafka.errors import KafkaError

from streams.kafka import KafkaSource, async_producer
from streams.kafka.config import as_config
from streams.ops.logs import Throttled

log = logging.getLogger("ampere.gateway")


class PublishError(RuntimeError):
    """The broker did not acknowledge a message in time (the client may retry: replays are idempotent)."""


@dataclass(frozen=True)
class Ack:
    """Where the broker stored a message."""

    topic: str
    partition: int
    offset: int


class Publisher(Protocol):
    """Sends one message and returns once it is acknowledged."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, key: bytes, value: bytes) -> Ack: ...


class KafkaPublisher:
    """The project's idempotent producer (``acks=all``, security from the settings); ``publish`` waits
    for the broker's ack at most ``timeout_s``, so a request never hangs while the broker is away.

    A message whose ack did not come in time may still be stored once the broker returns; the answer
    is then a 503 and the client's retry a duplicate, which the window stage recognizes (ASR ``seq``,
    keyframe time, event time) and skips.
    """

    def __init__(self, kafka: KafkaSource, max_request_bytes: int, timeout_s: float = 3.0) -> None:
        self.kafka = as_config(kafka)  # a bare address is refused here, before the server starts
        self.max_request_bytes, self.timeout_s = max_request_bytes, timeout_s
        self._producer = None
        self._throttled = Throttled(log)

    async def start(self) -> None:
        # made here: it binds to the running loop; the first connection may wait for the broker
        self._producer = async_producer(self.kafka, linger_ms=2, max_request_size=self.max_request_bytes,
                                        request_timeout_ms=max(1000, int(self.timeout_s * 1000)))
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, topic: str, key: bytes, value: bytes) -> Ack:
        if self._producer is None:
            raise PublishError("the publisher is not started")
        try:
            md = await asyncio.wait_for(self._producer.send_and_wait(topic, value, key=key), self.timeout_s)
        except (TimeoutError, KafkaError) as exc:
            why = "no ack" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            self._throttled("publish", logging.WARNING, "broker did not acknowledge within %.1fs: %s",
                            self.timeout_s, why)
            raise PublishError(f"broker did not acknowledge within {self.timeout_s:g}s ({why})") from exc
        self._throttled.clear("publish")
        return Ack(md.topic, md.partition, md.offset)
