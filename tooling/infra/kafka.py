"""Apache Kafka in KRaft mode (one node, or a cluster of combined broker+controller nodes) from jars
resolved with Maven."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from tooling.infra.build import run_logged
from tooling.infra.ports import LOOPBACK, port_is_open
from tooling.infra.service import Service, ServiceError
from tooling.infra.state import load_or_create_text

POM_PATH = Path(__file__).resolve().parents[2] / "infra" / "kafka" / "pom.xml"
MAIN_CLASS = "kafka.Kafka"
TOOLS = {  # the main class behind each of Kafka's bin/kafka-*.sh scripts (Kafka 3.9)
    "consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "console-producer": "kafka.tools.ConsoleProducer",
    "topics": "org.apache.kafka.tools.TopicCommand",
    "get-offsets": "org.apache.kafka.tools.GetOffsetShell",
}


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (as `kafka-storage random-uuid`).

    Like Kafka's own ``Uuid.randomUuid``, an id starting with ``-`` is drawn again: the storage tool's
    argument parser reads ``-t -abc…`` as a missing value followed by an unknown option (1 draw in 64).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def durability(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of ``brokers``: (1, 1) alone, (3, 2) from
    three brokers up, so that one broker may be down while acks=all writes go on."""
    factor = min(max(brokers, 1), 3)
    return factor, max(1, factor - 1)


def quorum_voters(controller_ports: Sequence[int]) -> str:
    """``controller.quorum.voters`` of nodes 1..n on loopback, node i at ``controller_ports[i-1]``."""
    return ",".join(f"{node_id}@{LOOPBACK}:{port}" for node_id, port in enumerate(controller_ports, start=1))


#: The project's default largest message (AMPERE_MAX_MESSAGE_BYTES) plus record-batch overhead.
DEFAULT_MESSAGE_MAX_BYTES = 4 * 1024 * 1024 + 64 * 1024


def server_properties(
    node_id: int,
    broker_port: int,
    controller_port: int,
    log_dirs: Path,
    default_partitions: int = 1,
    *,
    message_max_bytes: int = DEFAULT_MESSAGE_MAX_BYTES,
    sasl_port: int | None = None,
    voters: str | None = None,
    brokers: int = 1,
    tls_keystore: Path | None = None,
) -> str:
    """server.properties of a KRaft broker+controller on loopback: alone, or node ``node_id`` of a
    cluster of ``brokers`` whose controllers are ``voters`` (internal topics and topic defaults then
    replicated per :func:`durability`); with ``sasl_port`` a second listener there asks for
    SCRAM-SHA-512 credentials (SASL_PLAINTEXT), over TLS (SASL_SSL) when ``tls_keystore`` names a PEM
    file with the broker's key and certificate chain (:mod:`tooling.infra.tls`)."""
    factor, min_isr = durability(brokers)
    listeners = f"PLAINTEXT://{LOOPBACK}:{broker_port},CONTROLLER://{LOOPBACK}:{controller_port}"
    advertised = f"PLAINTEXT://{LOOPBACK}:{broker_port}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    sasl: dict[str, object] = {}
    if sasl_port:
        proto = "SASL_SSL" if tls_keystore else "SASL_PLAINTEXT"
        listeners += f",{proto}://{LOOPBACK}:{sasl_port}"
        advertised += f",{proto}://{LOOPBACK}:{sasl_port}"
        protocols += f",{proto}:{proto}"
        sasl = {
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            f"listener.name.{proto.lower()}.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        }
        if tls_keystore:
            sasl |= {"ssl.keystore.type": "PEM", "ssl.keystore.location": tls_keystore}
    props = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters or f"{node_id}@{LOOPBACK}:{controller_port}",
        "listeners": listeners,
        "advertised.listeners": advertised,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": protocols,
        **sasl,
        # one size limit everywhere: broker, replication fetches, topics (see docs/PIPELINE.md "Limits")
        "message.max.bytes": message_max_bytes,
        "replica.fetch.max.bytes": message_max_bytes,
        "log.dirs": log_dirs,
        "num.partitions": default_partitions,
        "auto.create.topics.enable": "true",
        "default.replication.factor": factor,  # topics that clients create implicitly
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": factor,
        "offsets.topic.num.partitions": 8,
        "transaction.state.log.replication.factor": factor,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": factor,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
        "num.network.threads": 2,
        "num.io.threads": 2,
        "log.retention.hours": 168,
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def log4j_properties(log_file: Path) -> str:
    """Quiet log4j 1.x config: INFO+ into one size-capped file, nothing on stdout."""
    return (
        "log4j.rootLogger=INFO, file\n"
        "log4j.appender.file=org.apache.log4j.RollingFileAppender\n"
        f"log4j.appender.file.File={log_file}\n"
        "log4j.appender.file.MaxFileSize=20MB\n"
        "log4j.appender.file.MaxBackupIndex=2\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka=INFO\n"
        "log4j.logger.org.apache.kafka=INFO\n"
        "log4j.logger.state.change.logger=WARN\n"
        "log4j.logger.kafka.request.logger=WARN\n"
    )


class KafkaService(Service):
    """One local Kafka node in KRaft mode on loopback (alone, or one node of :func:`kafka_cluster`)."""

    name = "kafka"

    def __init__(
        self,
        home: Path,
        broker_port: int,
        controller_port: int,
        data_dir: Path | None = None,
        *,
        version: str = "3.9.1",
        heap: str = "512m",
        default_partitions: int = 1,
        message_max_bytes: int = DEFAULT_MESSAGE_MAX_BYTES,
        sasl_port: int | None = None,
        scram_users: dict[str, str] | None = None,
        tls_keystore: Path | None = None,
        node_id: int = 1,
        voters: str | None = None,
        brokers: int = 1,
        cluster_id: str | None = None,
        name: str = "kafka",
    ) -> None:
        home = Path(home)
        super().__init__(home, Path(data_dir) if data_dir else home / "data" / "kafka")
        self.broker_port = broker_port
        self.controller_port = controller_port
        self.version = version
        self.heap = heap
        self.default_partitions = default_partitions
        self.message_max_bytes = message_max_bytes
        self.sasl_port = sasl_port
        self.scram_users = dict(scram_users or {})
        self.tls_keystore = tls_keystore
        self.node_id = node_id
        self.voters = voters
        self.brokers = brokers
        self.cluster_id = cluster_id
        self.name = name

    # --- install --------------------------------------------------------------------------
    @property
    def install_dir(self) -> Path:
        return self.home / f"kafka-{self.version}"

    @property
    def libs_dir(self) -> Path:
        return self.install_dir / "libs"

    def is_installed(self) -> bool:
        return (self.install_dir / ".complete").exists() and any(self.libs_dir.glob("kafka_2.13-*.jar"))

    @property
    def tools_dir(self) -> Path:
        """Jars the tools need beyond an install made before they were part of it (not on the broker's path)."""
        return self.install_dir / "tools-libs"

    def tools_installed(self) -> bool:
        return any(any(d.glob("kafka-tools-[0-9]*.jar")) for d in (self.libs_dir, self.tools_dir))

    def _resolve(self, staging: Path, console: Console | None) -> None:
        for tool in ("mvn", "java"):
            if shutil.which(tool) is None:
                raise ServiceError(f"`{tool}` not found on PATH: Kafka needs a JDK (17+) and Maven")
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            "mvn", "-B", "-q", "-f", str(POM_PATH),
            f"-Dmaven.repo.local={self.home / 'm2'}",
            f"-Dkafka.version={self.version}",
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'libs'}",
        ]
        run_logged(
            cmd, self.home / "logs" / f"kafka-{self.version}-resolve.log",
            f"Resolving Apache Kafka {self.version} jars with Maven", console=console,
        )

    def ensure_installed(self, console: Console | None = None) -> None:
        """Resolve the broker's and the tools' jars with Maven into ``<home>/kafka-<version>/libs`` (once)."""
        if self.is_installed():
            return
        staging = self.install_dir.with_name(self.install_dir.name + ".partial")
        self._resolve(staging, console)
        (staging / ".complete").write_text(self.version + "\n")
        shutil.rmtree(self.install_dir, ignore_errors=True)
        staging.rename(self.install_dir)

    def ensure_tools(self, console: Console | None = None) -> None:
        """Resolve the tools' jars for an install made before they were part of it (the broker's jars stay as they are)."""
        if self.tools_installed():
            return
        staging = self.install_dir.with_name(self.install_dir.name + ".tools-partial")
        self._resolve(staging, console)
        have = {f.name for f in self.libs_dir.glob("*.jar")}
        (staging / "tools").mkdir()
        for jar in sorted((staging / "libs").glob("*.jar")):
            if jar.name not in have:
                shutil.move(jar, staging / "tools" / jar.name)
        shutil.rmtree(self.tools_dir, ignore_errors=True)
        (staging / "tools").rename(self.tools_dir)
        shutil.rmtree(staging, ignore_errors=True)

    def tool_command(self, tool: str, *args: str) -> list[str]:
        """The java command line of one of Kafka's tools (``TOOLS``), logging warnings to stderr."""
        if tool not in TOOLS:
            raise ServiceError(f"unknown Kafka tool {tool!r}; choose from {sorted(TOOLS)}")
        log4j = self.install_dir / "tools-log4j.properties"
        if not log4j.exists():
            log4j.write_text(
                "log4j.rootLogger=WARN, stderr\n"
                "log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
                "log4j.appender.stderr.Target=System.err\n"
                "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            )
        return [
            "java", "-Xmx256m", "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{log4j}",
            "-cp", f"{self.libs_dir}/*:{self.tools_dir}/*", TOOLS[tool], *args,
        ]

    # --- run ------------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        """``host:port`` of the broker listener."""
        return f"{LOOPBACK}:{self.broker_port}"

    @property
    def config_dir(self) -> Path:
        return self.data_dir / "config"

    @property
    def marker(self) -> str:
        return f"{self.config_dir / 'server.properties'}"

    def ports(self) -> dict[str, int]:
        ports = {"broker": self.broker_port, "controller": self.controller_port}
        if self.sasl_port:
            ports["sasl"] = self.sasl_port
        return ports

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            "java", f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.config_dir / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp", f"{self.libs_dir}/*", main_class, *args,
        ]

    def prepare(self) -> None:
        """Write server.properties and log4j.properties; format the storage once per data dir."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        log_dirs = self.data_dir / "kraft"
        (self.config_dir / "server.properties").write_text(
            server_properties(
                self.node_id, self.broker_port, self.controller_port, log_dirs, self.default_partitions,
                message_max_bytes=self.message_max_bytes, sasl_port=self.sasl_port, tls_keystore=self.tls_keystore,
                voters=self.voters, brokers=self.brokers,
            )
        )
        (self.config_dir / "log4j.properties").write_text(
            log4j_properties(self.data_dir / "logs" / "server.log")
        )
        if (log_dirs / "meta.properties").exists():
            return
        cmd = self._java(
            "kafka.tools.StorageTool", "format", f"--cluster-id={self.cluster_id or new_cluster_id()}",
            "-c", str(self.config_dir / "server.properties"), "--ignore-formatted",
            *[arg for user, pw in self.scram_users.items()
              for arg in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={pw}]")],
        )
        result = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=120, env=self.environment()
        )
        if result.returncode != 0:
            raise ServiceError(f"Kafka storage format failed:\n{result.stdout}\n{result.stderr}")

    def command(self) -> list[str]:
        return self._java(MAIN_CLASS, str(self.config_dir / "server.properties"))

    def probe(self) -> bool:
        """A metadata request (describe cluster) answered by this broker, naming every broker of its cluster."""
        if not port_is_open(self.broker_port):
            return False
        return broker_answers(self.bootstrap, min_brokers=self.brokers)


def kafka_cluster(
    home: Path,
    data_root: Path,
    broker_ports: Sequence[int],
    controller_ports: Sequence[int],
    **options: object,
) -> list[KafkaService]:
    """Nodes 1..n of one KRaft cluster (combined broker+controller roles) on loopback: node i listens on
    ``broker_ports[i-1]`` and ``controller_ports[i-1]``, keeps its data in ``data_root/node<i>``, and
    every node's storage is formatted with the cluster id kept in ``data_root/cluster-id``.
    ``options`` go to each :class:`KafkaService` (version, heap, sizes)."""
    if len(broker_ports) != len(controller_ports) or not broker_ports:
        raise ServiceError("a Kafka cluster needs one broker and one controller port per node")
    if len({*broker_ports, *controller_ports}) != 2 * len(broker_ports):
        raise ServiceError(f"Kafka ports clash: brokers {list(broker_ports)}, controllers {list(controller_ports)}")
    cluster_id = load_or_create_text(Path(data_root) / "cluster-id", new_cluster_id)
    voters = quorum_voters(controller_ports)
    return [
        KafkaService(
            home, broker_port, controller_port, Path(data_root) / f"node{node_id}",
            node_id=node_id, voters=voters, brokers=len(broker_ports), cluster_id=cluster_id,
            name=f"kafka-{node_id}", **options,  # type: ignore[arg-type]
        )
        for node_id, (broker_port, controller_port) in enumerate(zip(broker_ports, controller_ports, strict=True), 1)
    ]


def bootstrap_of(nodes: Sequence[KafkaService]) -> str:
    """``AMPERE_KAFKA_BOOTSTRAP`` for these nodes: every broker address, comma-separated."""
    return ",".join(node.bootstrap for node in nodes)


def broker_answers(bootstrap: str, timeout_ms: int = 5000, min_brokers: int = 1) -> bool:
    """True when the project's broker probe gets metadata from ``bootstrap`` (PLAINTEXT, a local
    node) naming at least ``min_brokers`` brokers."""
    from streams.kafka import KafkaConfig
    from streams.kafka.clients import reachable

    return reachable(KafkaConfig(bootstrap), timeout_ms / 1000, min_brokers) is None
