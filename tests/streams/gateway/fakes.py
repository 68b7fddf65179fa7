"""Test doubles of the gateway tests: an in-memory publisher and small images."""

from __future__ import annotations

import io
import struct
import threading
import zlib

from PIL import Image

from streams.gateway.publisher import Ack, PublishError


class MemoryPublisher:
    """Records what would be sent; ``fail`` makes every publish fail like an unreachable broker.

    ``threads`` holds the thread of each publish call: the gateway's event loop thread.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.threads: list[int] = []
        self.fail = False
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def publish(self, topic: str, key: bytes, value: bytes) -> Ack:
        self.threads.append(threading.get_ident())
        if self.fail:
            raise PublishError("broker did not acknowledge: KafkaTimeoutError")
        self.sent.append((topic, key, value))
        return Ack(topic, 0, len(self.sent) - 1)


def png(side: int = 16, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(side: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((side, side), 64).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    data = bytearray(png(side=1))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)
