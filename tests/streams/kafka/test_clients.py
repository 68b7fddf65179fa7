"""The Kafka client factory: security reaches every client, bare addresses are refused, the probe is bounded."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

from streams.errors import KafkaUnavailable
from streams.kafka import (
    KafkaConfig,
    async_consumer,
    async_producer,
    check_reachable,
    faust_credentials,
    kafka_config,
)
from streams.kafka.clients import first_connect_timeout, options
from streams.settings import Settings


def test_first_connect_timeout_uses_a_name_the_clients_accept() -> None:
    for cls in (KafkaAdminClient, KafkaConsumer):
        (name,) = first_connect_timeout(cls, 1000)
        assert name in cls.DEFAULT_CONFIG


def test_unreachable_broker_is_a_clear_error_within_the_timeout() -> None:
    t0 = time.time()
    with pytest.raises(KafkaUnavailable) as err:
        check_reachable(KafkaConfig("127.0.0.1:9"), timeout_s=1.0)
    assert "Unrecognized configs" not in str(err.value) and "127.0.0.1:9" in str(err.value)
    assert time.time() - t0 < 15


SASL = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="p")


def test_sasl_settings_reach_every_client() -> None:
    a = options(SASL)
    assert a["sasl_mechanism"] == "SCRAM-SHA-512" and a["sasl_plain_password"] == "p"
    assert a["security_protocol"] == "SASL_PLAINTEXT"
    cred = faust_credentials(SASL)
    assert cred.username == "u" and cred.mechanism.value == "SCRAM-SHA-512"
    assert "p" not in repr(SASL.kafka_sasl_password) and "'p'" not in kafka_config(SASL).describe()
    with pytest.raises(KafkaUnavailable, match="USERNAME"):
        options(Settings(kafka_security_protocol="SASL_SSL"))
    assert faust_credentials(Settings()) is None


def test_clients_carry_security_limits_and_durability() -> None:
    async def build() -> None:
        p = async_producer(SASL)
        c = async_consumer(SASL, group_id="g")
        assert p.client._security_protocol == "SASL_PLAINTEXT" and c._client._security_protocol == "SASL_PLAINTEXT"
        assert p.client._sasl_plain_password == "p" and c._client._sasl_plain_password == "p"
        assert p._max_request_size == kafka_config(SASL).max_request_bytes > SASL.max_message_bytes
        assert p._txn_manager is not None  # idempotent (aiokafka keeps a transaction manager for it), acks=all

    import asyncio

    asyncio.run(build())


def test_a_bare_bootstrap_string_is_refused() -> None:
    with pytest.raises(TypeError, match="Settings or a KafkaConfig"):
        options("127.0.0.1:9092")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="host:port"):
        KafkaConfig("localhost")


def test_tls_files_that_cannot_be_read_are_one_clear_error(tmp_path) -> None:
    cfg = KafkaConfig("127.0.0.1:9093", security_protocol="SSL", ssl_cafile=tmp_path / "missing.pem")
    with pytest.raises(KafkaUnavailable, match="AMPERE_KAFKA_SSL_CAFILE"):
        options(cfg)


def test_every_client_refreshes_its_view_of_the_partition_leaders_within_seconds() -> None:
    """A consumer resetting its offsets after a leader moved waits for its next metadata refresh."""
    import asyncio

    from streams.kafka.clients import METADATA_MAX_AGE_MS

    async def build() -> None:
        p, c = async_producer(SASL), async_consumer(SASL, group_id="g")
        assert p.client._metadata_max_age_ms == METADATA_MAX_AGE_MS <= 30_000
        assert c._client._metadata_max_age_ms == METADATA_MAX_AGE_MS

    asyncio.run(build())
