"""The typed Kafka section of the settings: where the brokers are, how to authenticate, how big a message may be."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from streams.errors import KafkaUnavailable
from streams.settings import Settings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
#: Room for the record batch header and the key on top of the largest value.
BATCH_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class KafkaConfig:
    """Everything a Kafka client of the project needs; build it with :func:`kafka_config` from the settings."""

    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    max_message_bytes: int = Settings.model_fields["max_message_bytes"].default
    session_timeout_ms: int = Settings.model_fields["kafka_session_timeout_ms"].default

    def __post_init__(self) -> None:
        if not self.bootstrap or not all(":" in a for a in self.bootstrap.split(",")):
            raise ValueError(f"Kafka bootstrap must be host:port[,host:port...], got {self.bootstrap!r}")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def max_request_bytes(self) -> int:
        """Largest request a producer sends: the largest message plus batch overhead."""
        return self.max_message_bytes + BATCH_OVERHEAD_BYTES

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context for SSL / SASL_SSL (system CAs unless ``ssl_cafile``), else None."""
        if not self.tls:
            return None
        try:
            ctx = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
            if self.ssl_certfile:
                ctx.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaUnavailable(
                f"cannot load the Kafka TLS files (AMPERE_KAFKA_SSL_CAFILE / _CERTFILE / _KEYFILE): {exc}"
            ) from exc
        return ctx

    def sasl_options(self) -> dict[str, str]:
        """``sasl_*`` options (empty unless SASL); a clear error when the credentials are missing."""
        if not self.sasl:
            return {}
        if not self.sasl_username or self.sasl_password is None:
            raise KafkaUnavailable(
                f"AMPERE_KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs "
                "AMPERE_KAFKA_SASL_USERNAME and AMPERE_KAFKA_SASL_PASSWORD"
            )
        return {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password,
        }

    def describe(self) -> str:
        """Where and how, for error messages (never the password)."""
        return f"Kafka at {self.bootstrap} with security protocol {self.security_protocol}"


def kafka_config(settings: Settings) -> KafkaConfig:
    """The Kafka section of ``settings``."""
    return KafkaConfig(
        bootstrap=settings.kafka_bootstrap,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None,
        ssl_cafile=settings.kafka_ssl_cafile,
        ssl_certfile=settings.kafka_ssl_certfile,
        ssl_keyfile=settings.kafka_ssl_keyfile,
        max_message_bytes=settings.max_message_bytes,
        session_timeout_ms=settings.kafka_session_timeout_ms,
    )


KafkaSource = Settings | KafkaConfig  # what every client builder takes


def as_config(source: KafkaSource) -> KafkaConfig:
    """The KafkaConfig of settings or of a KafkaConfig; anything else (a bare address) is refused."""
    if isinstance(source, KafkaConfig):
        return source
    if isinstance(source, Settings):
        return kafka_config(source)
    raise TypeError(f"Kafka clients take Settings or a KafkaConfig, not {type(source).__name__}")
