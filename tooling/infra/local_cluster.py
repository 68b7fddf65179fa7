"""A private Kafka + Weaviate cluster on free loopback ports with its data in a given folder (the cluster
tests and ``ampere bench scaling``): started together, stopped together, never recorded as the stack
of ``ampere infra up``."""

from __future__ import annotations

import time
from pathlib import Path

from streams.settings import Settings
from tooling.infra.kafka import KafkaService, bootstrap_of, durability, kafka_cluster
from tooling.infra.ports import free_ports
from tooling.infra.service import Service, start_together, stop_together
from tooling.infra.weaviate import WeaviateService, weaviate_cluster


class LocalCluster:
    """``brokers`` KRaft nodes and ``weaviate_nodes`` Weaviate nodes under ``root``."""

    def __init__(self, settings: Settings, root: Path, brokers: int = 3, weaviate_nodes: int = 3) -> None:
        ports = free_ports(2 * brokers + 2 * weaviate_nodes)
        k, w = ports[: 2 * brokers], ports[2 * brokers:]
        self.kafka: list[KafkaService] = kafka_cluster(
            settings.home, root / "kafka", k[:brokers], k[brokers:], version=settings.kafka_version)
        self.weaviate: list[WeaviateService] = weaviate_cluster(
            settings.home, root / "weaviate", w[:weaviate_nodes], w[weaviate_nodes:],
            internal_ports=settings.weaviate_internal_ports, version=settings.weaviate_version,
        )
        self.start_s = 0.0

    @property
    def nodes(self) -> list[Service]:
        return [*self.kafka, *self.weaviate]

    @property
    def bootstrap(self) -> str:
        return bootstrap_of(self.kafka)

    def start(self, timeout_s: float = 180.0) -> None:
        """Install if needed, start every node at once (a cluster's nodes wait for each other), wait until
        each is ready; on failure every node is stopped."""
        for node in (self.kafka[0], self.weaviate[0]):
            node.ensure_installed()
        started = time.monotonic()
        try:
            start_together(self.nodes)
            for node in self.nodes:
                node.wait_ready(max(1.0, timeout_s - (time.monotonic() - started)))
        except BaseException:
            self.stop()
            raise
        self.start_s = time.monotonic() - started

    def stop(self) -> None:
        stop_together(self.nodes, timeout_s=15.0)

    def client_settings(self, settings: Settings, **update: object) -> Settings:
        """``settings`` pointed at this cluster (every broker, the first Weaviate node) with the
        replication its size calls for: topics at RF 3 / min ISR 2, collections at RF 3 and QUORUM."""
        factor, min_isr = durability(len(self.kafka))
        first = self.weaviate[0]
        return settings.model_copy(update={
            "kafka_bootstrap": self.bootstrap, "kafka_brokers": len(self.kafka),
            "topic_replication_factor": factor, "topic_min_insync_replicas": min_isr,
            "weaviate_url": first.http_url, "weaviate_grpc_port": first.grpc_port,
            "weaviate_nodes": len(self.weaviate), "weaviate_replication_factor": min(len(self.weaviate), 3),
            "weaviate_consistency": "QUORUM" if len(self.weaviate) > 1 else "ONE", **update,
        })
