"""Local real services (Kafka in KRaft mode, Weaviate) fetched, built, started and stopped by the project."""

from streams.infra.kafka import KafkaService
from streams.infra.ports import free_port, free_ports
from streams.infra.service import Service, ServiceError
from streams.infra.weaviate import WeaviateService

__all__ = ["KafkaService", "Service", "ServiceError", "WeaviateService", "free_port", "free_ports"]
