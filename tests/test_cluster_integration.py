"""The production shape on loopback, faulted one node at a time: 3 KRaft brokers and 3 Weaviate nodes
started by the project's launchers in a temp folder.

Kafka: a topic created by the project at RF 3 / min ISR 2, an idempotent acks=all producer, the
partition leader SIGKILLed mid-stream; producing and consuming go on and every message arrives.
Weaviate: collections created by the store at replication factor 3, objects written at QUORUM, one node
SIGKILLed; QUORUM writes and reads go on. Each killed node is restarted on its data and rejoins.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from engines.errors import TransientError
from engines.retry import retry_until_done
from engines.store.weaviate_store import StoredObject, WeaviateStore, connect
from streams.kafka import admin_client
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames, window_group
from streams.sdk.publish import replay, stream_messages
from streams.settings import Settings
from streams.worker.wiring import build_store_from
from tests.cluster_harness import (
    Gateway,
    Phases,
    Sent,
    broadcast,
    busiest_leader,
    latency_by_phase,
    write_chaos_results,
)
from tests.streams.harsh_scenario import harsh_scenario, unexpected_dead_letters
from tests.streams.mini_dataset import make_mini_dataset
from tests.streams.test_faults_integration import (
    Workers,
    _committed_lag,
    _tally,
    _wait_closed,
    _wait_committed,
    _wait_members,
)
from tests.streams.test_pipeline_integration import timeline_windows
from tooling.demo import Subscriber, settings_env
from tooling.infra.kafka import KafkaService, bootstrap_of
from tooling.infra.local_cluster import LocalCluster
from tooling.infra.ports import free_ports
from tooling.infra.service import Service, start_together, stop_together
from tooling.infra.weaviate import WeaviateService

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
    local = LocalCluster(Settings(), tmp_path_factory.mktemp("cluster"), brokers=NODES, weaviate_nodes=NODES)
    result = Cluster(local.kafka, local.weaviate)
    local.start(READY_S)
    try:
        result.timings["start_s"] = local.start_s
        result.timings |= {f"rss_mib_{node.name}": rss_mib(node.pid) for node in local.nodes}
        yield result
    finally:
        local.stop()
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
    victim = cluster.weaviate[-1]
    try:
        store.ensure_collections()
        config = store.client.collections.get(store.name("live")).config.get()
        assert config.replication_config.factor == 3
        before = moments("before", rng)
        store.upsert(before)

        started = time.monotonic()
        sigkill(victim)
        during = moments("during", rng)
        # QUORUM: 2 of 3 replicas answer; a write in flight to the dying replica is an outage, retried
        asyncio.run(retry_until_done(lambda: asyncio.to_thread(store.upsert, during),
                                     retry_on=(TransientError,), max_tries=30))
        revisions = store.revisions("live", [o.object_id for o in before + during])
        assert len(revisions) == 2 * OBJECTS
        hits = store.near_vector("live", during[0].vectors["fused"], limit=1)
        assert hits and hits[0].object_id == during[0].object_id
        cluster.timings["weaviate_degraded_s"] = time.monotonic() - started

        restart(victim, cluster, "weaviate_restart_s")
        assert store.count("live") == 2 * OBJECTS
    finally:
        if not victim.is_running():  # a failure above must not leave the next test a 2-node cluster
            restart(victim, cluster, "weaviate_restart_s")
        store.drop()
        store.close()


# --- the whole pipeline under faults --------------------------------------------------------------

CHAOS_MIN_STREAMS, CHAOS_MAX_STREAMS = 20, 40
CHAOS_STAGGER_S = 5.0  # a new broadcaster every 5 s until every fault is done (20 at least)
CHAOS_SPEED = 1.5  # each sample stream (28 s) replayed in about 19 s: 4 to 5 streams live at once
STEADY_S, DWELL_S = 10.0, 8.0  # traffic before the first fault; the least time each phase lasts
CHAOS_WORKERS = 3
JOIN_S = 300.0  # a worker loads its models before it joins: minutes on a loaded 2-core machine


def chaos_settings(cluster: Cluster) -> Settings:
    tag = uuid.uuid4().hex[:8]
    first = cluster.weaviate[0]
    return Settings(
        kafka_bootstrap=cluster.bootstrap, kafka_brokers=NODES, topic_replication_factor=3, topic_min_insync_replicas=2,
        weaviate_url=first.http_url, weaviate_grpc_port=first.grpc_port, weaviate_nodes=NODES,
        weaviate_replication_factor=3, weaviate_consistency="QUORUM",
        topic_prefix=f"c{tag}", collection_prefix=f"C{tag}", summarizer="extractive", encoder_engine="onnx",
        window_ms=10_000, hop_ms=10_000, grace_ms=1_000, topic_partitions=6, kafka_session_timeout_ms=6_000,
        metrics_port=0,
    )


def input_partitions(settings: Settings, topics: TopicNames) -> list[dict]:
    admin = admin_client(settings, client_id="ampere-tests")
    try:
        return [p for t in admin.describe_topics([topics.asr, topics.keyframes, topics.events]) for p in t["partitions"]]
    finally:
        admin.close()


@pytest.mark.timeout(1500)
def test_pipeline_on_the_cluster_loses_duplicates_and_misplaces_no_window_under_faults(
    cluster: Cluster, tmp_path: Path,
) -> None:
    """3 brokers, 3 Weaviate nodes, 3 workers and the gateway; broadcasters send through the gateway over
    HTTP at a steady rate while, one at a time with recovery in between, the broker leading the most
    input partitions is SIGKILLed and restarted, a Weaviate node is SIGKILLed and restarted, a worker
    is SIGKILLed, a replacement joins and a worker is restarted. Every window of the no-fault result is
    in Weaviate exactly once with its boundaries, every embedding is on the topic, no dead letter,
    both groups committed everything."""
    assert all(node.is_running() for node in [*cluster.kafka, *cluster.weaviate])
    started = time.time()
    settings = chaos_settings(cluster)
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data", seed=13)
    sources = sorted(sid for sid, moments in ds.streams().items() if moments[0].domain == "live")
    sids = [f"chaos-{i}" for i in range(CHAOS_MAX_STREAMS)]
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = build_store_from(settings)
    store.ensure_collections()
    workers = Workers(settings, tmp_path)
    for _ in range(CHAOS_WORKERS):
        workers.spawn()
    gateway = Gateway(settings_env(settings), free_ports(1)[0], tmp_path / "gateway.log")
    sent, phases, steps = Sent(), Phases(), {}
    faults_done = asyncio.Event()
    window_grp = window_group(settings.topic_prefix)

    async def broadcasters() -> None:
        tasks = []
        async with httpx.AsyncClient(timeout=10) as client:
            for i, sid in enumerate(sids):
                if i >= CHAOS_MIN_STREAMS and faults_done.is_set():
                    break
                src = sources[i % len(sources)]
                messages = stream_messages(ds, src, ds.streams()[src], topics, rename=sid)
                sent.streams[sid] = messages
                tasks.append(asyncio.create_task(
                    broadcast(client, gateway.url, sid, messages, topics, sent, speed=CHAOS_SPEED)))
                await asyncio.sleep(CHAOS_STAGGER_S)
            await asyncio.gather(*tasks)

    async def flowing(sub: Subscriber, since: float, what: str, timeout_s: float = 240.0) -> None:
        """Until a window closed after ``since`` is indexed, and at least DWELL_S passed."""
        while not any(e.get("closed_at", 0) > since for e in sub.report.embeddings) or time.time() - since < DWELL_S:
            assert workers.alive(), workers.logs()
            assert time.time() - since < timeout_s, f"no window indexed {timeout_s:.0f}s after {what}"
            await asyncio.sleep(0.5)
        steps[what] = round(time.time() - phases.marks[0][1], 1)

    async def step(name: str, action) -> None:
        phases.mark(name)
        since = time.time()
        await action()
        await flowing(sub, since, name)

    async def kill_broker() -> None:
        node_id, led = busiest_leader(await asyncio.to_thread(input_partitions, settings, topics))
        steps["broker_led_partitions"] = led
        await asyncio.to_thread(sigkill, next(n for n in cluster.kafka if n.node_id == node_id))

    async def restart_dead(nodes: list) -> None:
        (victim,) = [n for n in nodes if not n.is_running()]
        await asyncio.to_thread(victim.start)
        await asyncio.to_thread(victim.wait_ready, READY_S)

    async def kill_worker() -> None:
        workers.kill(workers.procs[0])
        await _wait_members(settings, window_grp, CHAOS_WORKERS - 1, timeout_s=JOIN_S)

    async def join_worker() -> None:
        workers.spawn()
        await _wait_members(settings, window_grp, CHAOS_WORKERS, timeout_s=JOIN_S)

    async def restart_worker() -> None:
        (first, *_) = [p for p in workers.procs if p.poll() is None]
        first.send_signal(signal.SIGTERM)
        await asyncio.to_thread(first.wait, 60)
        workers.spawn()
        await _wait_members(settings, window_grp, CHAOS_WORKERS, timeout_s=JOIN_S)

    sub: Subscriber

    async def run() -> None:
        nonlocal sub
        sub = Subscriber(settings, topics, streams=sids)
        await sub.start()
        await asyncio.to_thread(gateway.wait_ready)
        await _wait_members(settings, window_grp, CHAOS_WORKERS, timeout_s=JOIN_S)
        phases.mark("steady")
        sending = asyncio.create_task(broadcasters())
        await asyncio.sleep(STEADY_S)
        await step("broker_killed", kill_broker)
        await step("broker_restarted", lambda: restart_dead(cluster.kafka))
        await step("weaviate_killed", lambda: asyncio.to_thread(sigkill, cluster.weaviate[-1]))
        await step("weaviate_restarted", lambda: restart_dead(cluster.weaviate))
        await step("worker_killed", kill_worker)
        await step("worker_joined", join_worker)
        await step("worker_restarted", restart_worker)
        phases.mark("after")
        faults_done.set()
        await sending
        steps["sent"] = round(time.time() - phases.marks[0][1], 1)
        await sub.wait_done(settle_s=8, timeout_s=300, alive=workers.alive)
        steps["done"] = round(time.time() - phases.marks[0][1], 1)
        await sub.stop()

    try:
        asyncio.run(run())
        lag = asyncio.run(_committed_lag(settings))
    finally:
        gateway.stop()
        workers.stop()
    expected = timeline_windows([(m.ts_ms, m) for msgs in sent.streams.values() for m in msgs], settings)
    embedded = {(e["stream_id"], *e["window"]) for e in sub.report.embeddings}
    counts = {
        "streams": len(sent.streams),
        **_tally(store, expected),
        "embedded": len(embedded & expected),
        "embeddings_missing": len(expected - embedded),
        "dead_letters": len(sub.report.dlq),
        "committed_lag": lag,
        "gateway_requests": sent.accepted,
        "gateway_retries": sent.retried,
    }
    result = {
        "shape": f"{NODES} KRaft brokers (RF 3, min ISR 2), {NODES} Weaviate nodes (RF 3, QUORUM), "
                 f"{CHAOS_WORKERS} workers, 1 gateway, {settings.topic_partitions} partitions",
        "command": "pytest -m slow tests/test_cluster_integration.py -k faults",
        "counts": counts, "phases": latency_by_phase(sub.report.embeddings, phases), "steps_s": steps,
        "runtime_s": round(time.time() - started, 1),
    }
    print("CHAOS-RESULT " + json.dumps(result))
    if os.environ.get("AMPERE_CHAOS_RESULTS"):
        write_chaos_results(result, Path(os.environ["AMPERE_CHAOS_RESULTS"]))
    store.drop()
    store.close()
    assert counts["streams"] >= CHAOS_MIN_STREAMS
    assert (counts["lost"], counts["duplicated"], counts["wrong"]) == (0, 0, 0), counts
    assert counts["embeddings_missing"] == 0, counts
    assert counts["dead_letters"] == 0, [d.get("reason") for d in sub.report.dlq]
    assert lag == 0, counts


# --- the harsh scenario on the cluster ------------------------------------------------------------

HARSH_STREAMS = 6  # one worker, six streams: every shape of harsh_scenario, interleaved twice
HARSH_REPLAY_S = 40.0


async def harsh_fault(fault: str, cluster: Cluster, workers: Workers, settings: Settings, sub: Subscriber,
                      expected: set, rest: list, speed: float, row: dict) -> None:
    """Send the second half of the timeline and inject ``fault`` meanwhile (or after it)."""
    if fault == "none":
        await replay(settings, rest, speed=speed)
    elif fault == "worker_sigterm_while_weaviate_stopped":
        # the producers go on while the nodes stop: a pause in sending as long as the stop (seconds under
        # load) is a quiet stream, idle-closed for real, which the no-idle reference does not expect
        sending = asyncio.create_task(replay(settings, rest, speed=speed))
        await asyncio.to_thread(stop_together, cluster.weaviate)
        try:
            await sending
            await _wait_closed(sub, expected, timeout_s=120)
            await asyncio.sleep(3)  # summarized; the index stage waits for the store
            t0 = time.time()
            (worker,) = workers.procs
            worker.send_signal(signal.SIGTERM)
            row["exit_code"] = await asyncio.to_thread(worker.wait, 90)
            row["exit_s"] = round(time.time() - t0, 1)
        finally:
            await asyncio.to_thread(start_together, cluster.weaviate)
            for node in cluster.weaviate:
                await asyncio.to_thread(node.wait_ready, READY_S)
        workers.spawn()
    elif fault == "leader_broker_sigkill":
        sending = asyncio.create_task(replay(settings, rest, speed=speed))
        node_id, _ = busiest_leader(await asyncio.to_thread(input_partitions, settings, TopicNames(settings.topic_prefix)))
        await asyncio.to_thread(sigkill, next(n for n in cluster.kafka if n.node_id == node_id))
        await sending
        await restart_dead_node(cluster.kafka)
    elif fault == "weaviate_node_sigkill":
        sending = asyncio.create_task(replay(settings, rest, speed=speed))
        await asyncio.to_thread(sigkill, cluster.weaviate[-1])
        await sending
        await restart_dead_node(cluster.weaviate)
    elif fault == "worker_sigkill":
        sending = asyncio.create_task(replay(settings, rest, speed=speed))
        await asyncio.sleep(2)
        workers.kill(workers.procs[0])
        workers.spawn()
        await sending
    else:
        raise ValueError(fault)


async def restart_dead_node(nodes: list) -> None:
    (victim,) = [n for n in nodes if not n.is_running()]
    await asyncio.to_thread(victim.start)
    await asyncio.to_thread(victim.wait_ready, READY_S)


HARSH_FAULTS = ["none", "worker_sigterm_while_weaviate_stopped", "leader_broker_sigkill", "weaviate_node_sigkill",
                "worker_sigkill"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("fault", HARSH_FAULTS)
def test_harsh_scenario_on_the_cluster_loses_no_window_and_dead_letters_only_bad_inputs(
    fault: str, cluster: Cluster, tmp_path: Path,
) -> None:
    """One worker on 3 brokers and 3 Weaviate nodes, six streams of ``harsh_scenario`` (switches at uneven
    times, ASR-first and keyframes-first producers, a camera that is off so the state budget closes
    windows, keyframes near the image size limit, contract-breaking inputs); the fault is injected
    half-way. Against the offline reference: 0 lost, duplicated or wrong; the only dead letters are the
    bad inputs (by SHA-256); both groups committed everything."""
    assert all(node.is_running() for node in [*cluster.kafka, *cluster.weaviate])
    t_start = time.time()
    # every stream ends with an end event; an idle close would only be a stall of this test's own producer
    settings = chaos_settings(cluster).model_copy(update={"window_max_open": 4, "idle_close_ms": 8_000})
    topics = TopicNames(settings.topic_prefix)
    sc = harsh_scenario(make_mini_dataset(tmp_path / "data", seed=13), topics, HARSH_STREAMS,
                        max_image_bytes=settings.max_image_bytes, prefix=f"harsh-{fault}")
    expected = timeline_windows(sc.good, settings)
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = build_store_from(settings)
    store.ensure_collections()
    workers = Workers(settings, tmp_path)
    workers.spawn()
    timeline = sc.timeline
    speed = timeline[-1][0] / 1000 / HARSH_REPLAY_S
    half = len(timeline) // 2
    rest = [(t - timeline[half][0], m) for t, m in timeline[half:]]
    row: dict = {}

    async def run() -> Subscriber:
        sub = Subscriber(settings, topics)
        await sub.start()
        await _wait_members(settings, window_group(settings.topic_prefix), 1, timeout_s=JOIN_S)
        await replay(settings, timeline[:half], speed=speed)
        await harsh_fault(fault, cluster, workers, settings, sub, expected, rest, speed, row)
        await _wait_committed(sub, settings, settle_s=8, timeout_s=300, alive=workers.alive)
        await sub.stop()
        return sub

    try:
        sub = asyncio.run(run())
        lag = asyncio.run(_committed_lag(settings))
    finally:
        workers.stop()
    unexpected = unexpected_dead_letters(sub.report.dlq, [m.value for _, m in sc.bad])
    row = {
        "scenario": "harsh", "fault": fault, "shape": f"{NODES} brokers, {NODES} Weaviate nodes, 1 worker",
        **_tally(store, expected), "dead_letters": len(sub.report.dlq), "dead_letters_expected": len(sc.bad),
        "unexpected_dead_letters": unexpected, "committed_lag": lag, **row,
        "runtime_s": round(time.time() - t_start, 1),
    }
    print("HARSH-RESULT " + json.dumps(row))
    store.drop()
    store.close()
    assert (row["lost"], row["duplicated"], row["wrong"]) == (0, 0, 0), row
    assert not unexpected, row
    assert lag == 0, row
