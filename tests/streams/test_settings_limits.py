"""The size limits fit together, and Kafka clients get the security settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.admin import topic_configs
from streams.errors import KafkaUnavailable
from streams.kafka_conn import (
    aiokafka_options,
    faust_credentials,
    kafka_python_options,
    producer_max_request_size,
)
from streams.settings import Settings


def test_an_inline_image_at_the_limit_fits_in_a_message() -> None:
    s = Settings()
    assert (s.max_image_bytes + 2) // 3 * 4 < s.max_message_bytes
    assert producer_max_request_size(s) > s.max_message_bytes
    assert int(topic_configs(s)["max.message.bytes"]) > s.max_message_bytes
    with pytest.raises(ValidationError, match="cannot carry an inline image"):
        Settings(max_image_bytes=3_500_000, max_message_bytes=4_000_000)


def test_sasl_settings_reach_every_client() -> None:
    s = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="p")
    a = aiokafka_options(s)
    assert a["sasl_mechanism"] == "SCRAM-SHA-512" and a["sasl_plain_password"] == "p"
    assert kafka_python_options(s)["security_protocol"] == "SASL_PLAINTEXT"
    cred = faust_credentials(s)
    assert cred.username == "u" and cred.mechanism.value == "SCRAM-SHA-512"
    assert "p" not in repr(s.kafka_sasl_password)
    with pytest.raises(KafkaUnavailable, match="USERNAME"):
        aiokafka_options(Settings(kafka_security_protocol="SASL_SSL"))
    assert faust_credentials(Settings()) is None


def test_image_uri_allow_list_is_comma_separated() -> None:
    s = Settings(image_uri_allow=" https://cdn.example.com/f/ , file:///srv/frames/ ,")
    assert s.image_uri_prefixes == ["https://cdn.example.com/f/", "file:///srv/frames/"]
    assert Settings().image_uri_prefixes == []
