"""Where the gateway sends validated messages: the broker, with every send acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError


class PublishError(RuntimeError):
    """The broker did not acknowledge a message (the client may retry)."""


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
    """An idempotent aiokafka producer (``acks=all``); ``publish`` waits for the broker's ack."""

    def __init__(self, bootstrap: str, max_request_bytes: int, timeout_s: float = 15.0) -> None:
        self._options = {
            "bootstrap_servers": bootstrap,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 2,
            "max_request_size": max_request_bytes,
            "request_timeout_ms": int(timeout_s * 1000),
        }
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(**self._options)  # made here: it binds to the running loop
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, topic: str, key: bytes, value: bytes) -> Ack:
        if self._producer is None:
            raise PublishError("the publisher is not started")
        try:
            md = await self._producer.send_and_wait(topic, value, key=key)
        except KafkaError as exc:
            raise PublishError(f"broker did not acknowledge: {type(exc).__name__}: {exc}") from exc
        return Ack(md.topic, md.partition, md.offset)
