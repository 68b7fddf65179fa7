"""Builders of every Kafka client from a :class:`~streams.kafka.config.KafkaConfig` (or the settings).

aiokafka and kafka-python take bootstrap, security, SASL and TLS options under the same names, so one
:func:`options` serves both; producers are idempotent with ``acks=all`` and sized to the message limit.
"""

from __future__ import annotations

import logging
from typing import Any

from streams.errors import KafkaUnavailable
from streams.kafka.config import KafkaConfig, KafkaSource, as_config

#: How old the cluster metadata (who leads which partition) of every client may get. aiokafka retries an
#: offset reset (``seek_to_beginning``, a partition without a committed offset) against the leader it
#: knows without asking for new metadata, so after a leader moved such a consumer waited for its next
#: periodic refresh: 5 minutes by default (a worker that joined after a broker restart restored nothing).
METADATA_MAX_AGE_MS = 10_000


def options(source: KafkaSource) -> dict[str, Any]:
    """Keyword arguments (bootstrap + security) for aiokafka and kafka-python clients alike."""
    cfg = as_config(source)
    opts: dict[str, Any] = {
        "bootstrap_servers": cfg.bootstrap,
        "security_protocol": cfg.security_protocol,
        **cfg.sasl_options(),
    }
    ctx = cfg.ssl_context()
    if ctx is not None:
        opts["ssl_context"] = ctx
    return opts


def async_producer(source: KafkaSource, **overrides: Any):
    """An aiokafka producer: ``acks=all``, idempotent, requests up to the message limit (not started)."""
    from aiokafka import AIOKafkaProducer

    cfg = as_config(source)
    kw = {"acks": "all", "enable_idempotence": True, "max_request_size": cfg.max_request_bytes,
          "metadata_max_age_ms": METADATA_MAX_AGE_MS, **overrides}
    return AIOKafkaProducer(**options(cfg), **kw)


def async_consumer(source: KafkaSource, *topics: str, **overrides: Any):
    """An aiokafka consumer that fetches records up to the message limit (not started)."""
    from aiokafka import AIOKafkaConsumer

    cfg = as_config(source)
    kw = {
        "enable_auto_commit": False,
        "max_partition_fetch_bytes": cfg.max_request_bytes,
        "session_timeout_ms": cfg.session_timeout_ms,
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
        **overrides,
    }
    return AIOKafkaConsumer(*topics, **options(cfg), **kw)


def sync_consumer(source: KafkaSource, timeout_ms: int | None = None, **overrides: Any):
    """A kafka-python consumer (for threads outside the event loop: probes, lag); ``timeout_ms`` bounds
    the first connection and each request."""
    from kafka import KafkaConsumer

    kw: dict[str, Any] = {"enable_auto_commit": False, **overrides}
    if timeout_ms is not None:
        kw.update(request_timeout_ms=timeout_ms, **first_connect_timeout(KafkaConsumer, timeout_ms))
    return KafkaConsumer(**options(source), **kw)


def admin_client(source: KafkaSource, timeout_ms: int | None = None, **overrides: Any):
    """A kafka-python admin client; ``timeout_ms`` bounds the first connection and each request."""
    from kafka.admin import KafkaAdminClient

    kw: dict[str, Any] = {"client_id": "ampere-admin", **overrides}
    if timeout_ms is not None:
        kw.update(request_timeout_ms=timeout_ms, **first_connect_timeout(KafkaAdminClient, timeout_ms))
    return KafkaAdminClient(**options(source), **kw)


def faust_credentials(source: KafkaSource) -> Any:
    """``broker_credentials`` for ``faust.App`` (None = PLAINTEXT)."""
    import faust

    cfg = as_config(source)
    if cfg.security_protocol == "PLAINTEXT":
        return None
    ctx = cfg.ssl_context()
    if cfg.security_protocol == "SSL":
        return faust.SSLCredentials(ctx)
    sasl = cfg.sasl_options()
    return faust.SASLCredentials(
        username=sasl["sasl_plain_username"],
        password=sasl["sasl_plain_password"],
        mechanism=sasl["sasl_mechanism"],
        ssl_context=ctx,
    )


def faust_transport(app: Any) -> Any:
    """Faust's Kafka transport for ``app`` whose producer is idempotent with ``acks=all`` like every other
    producer here (faust-streaming passes ``enable_idempotence`` to aiokafka only inside transactions,
    so a send retried after a leader change could be written twice)."""
    from faust.transport.drivers import aiokafka as driver

    class IdempotentProducer(driver.Producer):
        def _settings_extra(self) -> dict[str, Any]:
            return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    class Transport(driver.Transport):
        Producer = IdempotentProducer

    return Transport(app.conf.broker_consumer, app)


def first_connect_timeout(client_cls: Any, timeout_ms: int) -> dict[str, int]:
    """The kafka-python option that bounds the first connection: ``bootstrap_timeout_ms`` in 3.x,
    ``api_version_auto_timeout_ms`` in 2.x (each version refuses the other's name)."""
    name = "bootstrap_timeout_ms" if "bootstrap_timeout_ms" in client_cls.DEFAULT_CONFIG else "api_version_auto_timeout_ms"
    return {name: timeout_ms}


def check_reachable(source: KafkaSource, timeout_s: float = 15.0, min_brokers: int = 1) -> None:
    """The one broker probe: raise :class:`KafkaUnavailable` with a one-line reason unless a metadata
    request succeeds with these settings (address, security protocol, credentials, CA) and names at
    least ``min_brokers`` brokers."""
    cfg = as_config(source)
    kafka_logger = logging.getLogger("kafka")
    previous = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)
    try:
        admin = admin_client(cfg, timeout_ms=int(timeout_s * 1000), client_id="ampere-check")
        try:
            brokers = len(admin.describe_cluster().get("brokers") or [])
            if brokers < max(min_brokers, 1):
                raise KafkaUnavailable(f"{cfg.describe()} answered but lists {brokers} of {min_brokers} brokers")
        finally:
            admin.close()
    except KafkaUnavailable:
        raise
    except Exception as exc:
        raise KafkaUnavailable(
            f"cannot use {cfg.describe()}: {type(exc).__name__}: {exc} (check AMPERE_KAFKA_BOOTSTRAP, "
            "AMPERE_KAFKA_SECURITY_PROTOCOL and the SASL/TLS settings)"
        ) from exc
    finally:
        kafka_logger.setLevel(previous)


def topic_partitions(source: KafkaSource, topic: str, timeout_s: float = 10.0) -> set[int]:
    """The partitions of ``topic`` from fresh metadata (empty when it does not exist); public APIs only."""
    consumer = sync_consumer(source, timeout_ms=int(timeout_s * 1000))
    try:
        return set(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()


def reachable(source: KafkaSource, timeout_s: float = 3.0, min_brokers: int = 1) -> str | None:
    """None when the broker can be used, else the one-line reason (for health checks)."""
    try:
        check_reachable(source, timeout_s, min_brokers)
    except KafkaUnavailable as exc:
        return str(exc)
    return None


__all__ = [
    "KafkaConfig", "admin_client", "async_consumer", "async_producer", "check_reachable", "faust_credentials",
    "first_connect_timeout", "options", "reachable", "sync_consumer", "topic_partitions",
]
