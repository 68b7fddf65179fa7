"""How every Kafka client of the project connects: address, TLS, SASL and message-size limits, from the settings.

Functions that talk to Kafka take a ``KafkaTarget``: either a plain ``host:port`` bootstrap string
(local, PLAINTEXT) or the :class:`~streams.settings.Settings`, which carry security and limits.
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.errors import KafkaUnavailable
from streams.settings import Settings

KafkaTarget = str | Settings
#: Room for the record batch header and the key on top of the largest value.
BATCH_OVERHEAD_BYTES = 64 * 1024


def bootstrap_of(target: KafkaTarget) -> str:
    """The bootstrap servers of a target."""
    return target if isinstance(target, str) else target.kafka_bootstrap


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context for SSL / SASL_SSL (system CAs unless ``kafka_ssl_cafile``), else None."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    ctx = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
    if settings.kafka_ssl_certfile:
        ctx.load_cert_chain(
            str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None
        )
    return ctx


def _sasl(settings: Settings) -> dict[str, Any]:
    if not settings.kafka_security_protocol.startswith("SASL"):
        return {}
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise KafkaUnavailable(
            f"AMPERE_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs "
            "AMPERE_KAFKA_SASL_USERNAME and AMPERE_KAFKA_SASL_PASSWORD"
        )
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
    }


def client_options(target: KafkaTarget) -> dict[str, Any]:
    """Keyword arguments (bootstrap + security) that aiokafka and kafka-python clients both take under
    the same names: ``bootstrap_servers``, ``security_protocol``, ``sasl_*``, ``ssl_context``."""
    if isinstance(target, str):
        return {"bootstrap_servers": target}
    opts: dict[str, Any] = {
        "bootstrap_servers": target.kafka_bootstrap,
        "security_protocol": target.kafka_security_protocol,
        **_sasl(target),
    }
    ctx = ssl_context(target)
    if ctx is not None:
        opts["ssl_context"] = ctx
    return opts


#: aiokafka producers/consumers and kafka-python admin clients take the same options.
aiokafka_options = kafka_python_options = client_options


def producer_max_request_size(target: KafkaTarget) -> int:
    """Largest request a producer sends: the largest message plus batch overhead."""
    limit = Settings.model_fields["max_message_bytes"].default if isinstance(target, str) else target.max_message_bytes
    return limit + BATCH_OVERHEAD_BYTES


def faust_credentials(settings: Settings) -> Any:
    """``broker_credentials`` for ``faust.App`` (None = PLAINTEXT)."""
    import faust

    proto = settings.kafka_security_protocol
    if proto == "PLAINTEXT":
        return None
    ctx = ssl_context(settings)
    if proto == "SSL":
        return faust.SSLCredentials(ctx)
    sasl = _sasl(settings)
    return faust.SASLCredentials(
        username=sasl["sasl_plain_username"],
        password=sasl["sasl_plain_password"],
        mechanism=sasl["sasl_mechanism"],
        ssl_context=ctx,
    )


def first_connect_timeout(client_cls: Any, timeout_ms: int) -> dict[str, int]:
    """The kafka-python option that bounds the first connection: ``bootstrap_timeout_ms`` in 3.x,
    ``api_version_auto_timeout_ms`` in 2.x (each version refuses the other's name)."""
    name = "bootstrap_timeout_ms" if "bootstrap_timeout_ms" in client_cls.DEFAULT_CONFIG else "api_version_auto_timeout_ms"
    return {name: timeout_ms}


def check_reachable(target: KafkaTarget, timeout_s: float = 15.0) -> None:
    """Raise :class:`KafkaUnavailable` with a readable reason unless a metadata request succeeds."""
    import logging

    from kafka.admin import KafkaAdminClient

    kafka_logger = logging.getLogger("kafka")
    previous = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)
    proto = "PLAINTEXT" if isinstance(target, str) else target.kafka_security_protocol
    try:
        admin = KafkaAdminClient(
            **kafka_python_options(target), client_id="ampere-check", request_timeout_ms=int(timeout_s * 1000),
            **first_connect_timeout(KafkaAdminClient, int(timeout_s * 1000)),
        )
        try:
            if not admin.describe_cluster().get("brokers"):
                raise KafkaUnavailable(f"Kafka at {bootstrap_of(target)} answered but lists no broker")
        finally:
            admin.close()
    except KafkaUnavailable:
        raise
    except Exception as exc:
        raise KafkaUnavailable(
            f"cannot use Kafka at {bootstrap_of(target)} with security protocol {proto}: "
            f"{type(exc).__name__}: {exc} (check AMPERE_KAFKA_BOOTSTRAP, AMPERE_KAFKA_SECURITY_PROTOCOL "
            "and the SASL/TLS settings)"
        ) from exc
    finally:
        kafka_logger.setLevel(previous)
