"""Local real services (Kafka in KRaft mode, Weaviate) fetched, built, started and stopped by the project."""

from tooling.infra.kafka import KafkaService
from tooling.infra.ports import free_port, free_ports
from tooling.infra.service import Service, ServiceError
from tooling.infra.weaviate import WeaviateService

__all__ = ["KafkaService", "Service", "ServiceError", "WeaviateService", "free_port", "free_ports"]
