"""The one Kafka plumbing: every client of the project is built here from the typed Kafka settings.

``config`` holds :class:`KafkaConfig` (address, security, limits); ``clients`` builds aiokafka and
kafka-python clients and Faust's credentials from it and checks that a broker can be used; ``lag``
reads a consumer group's lag. Nothing else in the project names a bootstrap string or a security option.
"""

from streams.kafka.clients import (
    admin_client,
    async_consumer,
    async_producer,
    check_reachable,
    faust_credentials,
    sync_consumer,
)
from streams.kafka.config import KafkaConfig, KafkaSource, kafka_config
from streams.kafka.lag import group_lag, group_lag_async

__all__ = [
    "KafkaConfig",
    "KafkaSource",
    "admin_client",
    "async_consumer",
    "async_producer",
    "check_reachable",
    "faust_credentials",
    "group_lag",
    "group_lag_async",
    "kafka_config",
    "sync_consumer",
]
