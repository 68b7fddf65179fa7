"""The size limits fit together, and Kafka clients get the security settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.kafka import kafka_config
from streams.kafka.admin import topic_configs
from streams.settings import Settings


def test_an_inline_image_at_the_limit_fits_in_a_message() -> None:
    s = Settings()
    assert (s.max_image_bytes + 2) // 3 * 4 < s.max_message_bytes
    assert kafka_config(s).max_request_bytes > s.max_message_bytes
    assert int(topic_configs(s)["max.message.bytes"]) > s.max_message_bytes
    with pytest.raises(ValidationError, match="cannot carry an inline image"):
        Settings(max_image_bytes=3_500_000, max_message_bytes=4_000_000)


def test_image_uri_allow_list_is_comma_separated() -> None:
    s = Settings(image_uri_allow=" https://cdn.example.com/f/ , file:///srv/frames/ ,")
    assert s.image_uri_prefixes == ["https://cdn.example.com/f/", "file:///srv/frames/"]
    assert Settings().image_uri_prefixes == []
