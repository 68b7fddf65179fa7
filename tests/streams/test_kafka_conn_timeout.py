"""The reachability check works with the installed kafka-python (whose timeout option names differ by version)."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

from streams.errors import KafkaUnavailable
from streams.kafka_conn import check_reachable, first_connect_timeout


def test_first_connect_timeout_uses_a_name_the_clients_accept() -> None:
    for cls in (KafkaAdminClient, KafkaConsumer):
        (name,) = first_connect_timeout(cls, 1000)
        assert name in cls.DEFAULT_CONFIG


def test_unreachable_broker_is_a_clear_error_within_the_timeout() -> None:
    t0 = time.time()
    with pytest.raises(KafkaUnavailable) as err:
        check_reachable("127.0.0.1:9", timeout_s=1.0)
    assert "Unrecognized configs" not in str(err.value) and "127.0.0.1:9" in str(err.value)
    assert time.time() - t0 < 15
