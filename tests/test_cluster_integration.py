"""The production shape on loopback, faulted one node at a time: 3 KRaft brokers and 3 Weaviate nodes
started by the project's launchers in a temp folder.

Kafka: a topic created by the project at RF 3 / min ISR 2, an idempotent acks=all producer, the
partition leader SIGKILLed mid-stream; producing and consuming go on and every message arrives.
Weaviate: collections created by the store at replication factor 3, objects written at QUORUM, one node
SIGKILLed; QUORUM writes and reads go on. Each killed node is restarted on its data and rejoins.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from engines.store.weaviate_store import StoredObject, WeaviateStore, connect
from streams.admin import ensure_topics
from streams.settings import Settings
from tooling.infra.kafka import KafkaService, bootstrap_of, kafka_cluster
from tooling.infra.ports import free_ports
from tooling.infra.service import Service, start_together, stop_together
from tooling.infra.weaviate import WeaviateService, weaviate_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

NODES = 3
READY_S = 180.0
BEFORE, DURING = 200, 200  # messages sent before the leader dies, and after
OBJECTS = 60  # per phase
DIMS = {"fused": 16, "visual": 16, "text": 16}


class Cluster:
    """Three Kafka nodes and three Weaviate nodes, with the seconds each phase took."""

    def __init__(self, kafka: list[KafkaService], weaviate: list[WeaviateService]) -> None:
        self.kafka = kafka
        self.weaviate = weaviate
        self.timings: dict[str, float] = {}

    @property
    def bootstrap(self) -> str:
        return bootstrap_of(self.kafka)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Both clusters on free loopback ports, started together; stopped at the end whatever happens."""
    settings = Settings()
    root = tmp_path_factory.mktemp("cluster")
    ports = free_ports(4 * NODES)
    kafka = kafka_cluster(settings.home, root / "kafka", ports[0:3], ports[3:6], version=settings.kafka_version)
    weaviate = weaviate_cluster(
        settings.home, root / "weaviate", ports[6:9], ports[9:12],
        internal_ports=settings.weaviate_internal_ports, version=settings.weaviate_version,
    )
    nodes: list[Service] = [*kafka, *weaviate]
    for node in (kafka[0], weaviate[0]):
        node.ensure_installed()
    result = Cluster(kafka, weaviate)
    started = time.monotonic()
    try:
        start_together(nodes)
        for node in nodes:
            node.wait_ready(max(1.0, READY_S - (time.monotonic() - started)))
        result.timings["start_s"] = time.monotonic() - started
        result.timings |= {f"rss_mib_{node.name}": rss_mib(node.pid) for node in nodes}
        yield result
    finally:
        stop_together(nodes, timeout_s=15.0)
        print("\ncluster timings:", {k: round(v, 1) for k, v in result.timings.items()})


def rss_mib(pid: int | None) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sigkill(node: Service) -> None:
    """Kill a node without warning; it stays known to the test for its restart."""
    assert node.pid is not None
    os.kill(node.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while node.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not node.is_running()


def restart(node: Service, cluster: Cluster, label: str) -> None:
    """Start a killed node again on its data and wait until its cluster sees it."""
    started = time.monotonic()
    node.start()
    node.wait_ready(READY_S)
    cluster.timings[label] = time.monotonic() - started


# --- Kafka ----------------------------------------------------------------------------------------


def partition_of(admin: KafkaAdminClient, topic: str, timeout_s: float = 30.0) -> dict:
    """The description of a one-partition topic's partition (leader_id, replica_nodes, isr_nodes), once
    the metadata has it (a topic just created may show no partition yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        (described,) = admin.describe_topics([topic])
        if described["partitions"] or time.monotonic() > deadline:
            (partition,) = described["partitions"]
            return partition
        time.sleep(0.2)


async def produce(producer: AIOKafkaProducer, topic: str, values: range, deadline_s: float = 90.0) -> int:
    """Send each value and wait for acks=all; a send that fails (leader gone) is sent again until the
    deadline. Returns how many sends were retried."""
    retried = 0
    for value in values:
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                await producer.send_and_wait(topic, str(value).encode(), key=b"k")
                break
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                retried += 1
                await asyncio.sleep(0.2)
    return retried


async def consume(bootstrap: str, topic: str, want: int, timeout_s: float) -> list[int]:
    """Read the partition from the start until ``want`` distinct values arrived or the time is up."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    seen: list[int] = []
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout_s
        while len(set(seen)) < want and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            seen += [int(record.value) for records in batches.values() for record in records]
    finally:
        await consumer.stop()
    return seen


async def kafka_failover(cluster: Cluster, topic: str) -> tuple[list[int], int, float]:
    producer = AIOKafkaProducer(
        bootstrap_servers=cluster.bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=15_000,
        retry_backoff_ms=200,
    )
    await producer.start()
    try:
        consuming = asyncio.create_task(consume(cluster.bootstrap, topic, BEFORE + DURING, 150.0))
        await produce(producer, topic, range(BEFORE))
        admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap, client_id="ampere-tests")
        try:
            leader = partition_of(admin, topic)["leader_id"]
        finally:
            admin.close()
        victim = next(node for node in cluster.kafka if node.node_id == leader)
        killed = time.monotonic()
        sigkill(victim)
        retried = await produce(producer, topic, range(BEFORE, BEFORE + DURING))
        failover_s = time.monotonic() - killed
        seen = await consuming
    finally:
        await producer.stop()
    return seen, retried, failover_s


def test_kafka_keeps_every_message_when_the_partition_leader_is_killed(cluster: Cluster) -> None:
    settings = Settings(
        kafka_bootstrap=cluster.bootstrap, topic_replication_factor=3, topic_min_insync_replicas=2,
    )
    topic = f"ampere.test.cluster.{uuid.uuid4().hex[:8]}"
    assert ensure_topics(settings, [topic], partitions=1) == [topic]
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap, client_id="ampere-tests")
    try:
        assert len(partition_of(admin, topic)["replica_nodes"]) == 3
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        assert configs["topic"][topic]["min.insync.replicas"]["value"] == "2"
    finally:
        admin.close()

    started = time.monotonic()
    seen, retried, failover_s = asyncio.run(kafka_failover(cluster, topic))
    cluster.timings |= {"kafka_failover_s": failover_s, "kafka_phase_s": time.monotonic() - started,
                        "kafka_sends_retried": retried}
    assert set(seen) == set(range(BEFORE + DURING)), "messages lost"
    cluster.timings["kafka_duplicates"] = len(seen) - len(set(seen))

    victim = next(node for node in cluster.kafka if not node.is_running())
    restart(victim, cluster, "kafka_restart_s")
    assert all(node.is_running() for node in cluster.kafka)


# --- Weaviate -------------------------------------------------------------------------------------


def moments(phase: str, rng: np.random.Generator) -> list[StoredObject]:
    """OBJECTS live moments of stream ``phase`` with random unit vectors."""
    objects = []
    for i in range(OBJECTS):
        vectors = {}
        for name, dims in DIMS.items():
            vector = rng.standard_normal(dims).astype(np.float32)
            vectors[name] = (vector / np.linalg.norm(vector)).tolist()
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cluster-test/{phase}/{i}"))
        props = {"stream_id": phase, "window_id": f"{phase}-{i}", "sentence": f"moment {i}", "revision": 1}
        objects.append(StoredObject("live", object_id, props, vectors))
    return objects


def test_weaviate_quorum_writes_and_reads_survive_a_killed_node(cluster: Cluster) -> None:
    first = cluster.weaviate[0]
    store = WeaviateStore(
        connect(first.http_url, first.grpc_port), prefix=f"Cluster{uuid.uuid4().hex[:8]}",
        replication_factor=3, consistency="QUORUM",
    )
    rng = np.random.default_rng(7)
    try:
        store.ensure_collections()
        config = store.client.collections.get(store.name("live")).config.get()
        assert config.replication_config.factor == 3
        before = moments("before", rng)
        store.upsert(before)

        victim = cluster.weaviate[-1]
        started = time.monotonic()
        sigkill(victim)
        during = moments("during", rng)
        store.upsert(during)  # QUORUM: 2 of 3 replicas answer
        revisions = store.revisions("live", [o.object_id for o in before + during])
        assert len(revisions) == 2 * OBJECTS
        hits = store.near_vector("live", during[0].vectors["fused"], limit=1)
        assert hits and hits[0].object_id == during[0].object_id
        cluster.timings["weaviate_degraded_s"] = time.monotonic() - started

        restart(victim, cluster, "weaviate_restart_s")
        assert store.count("live") == 2 * OBJECTS
    finally:
        store.drop()
        store.close()
