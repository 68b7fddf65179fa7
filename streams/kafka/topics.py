"""Topic names, all under one configurable prefix."""

from __future__ import annotations

from dataclasses import dataclass

EVENTS = "stream.events"


def is_events_topic(topic: str) -> bool:
    """True for the broadcaster events topic of any prefix."""
    return topic.endswith("." + EVENTS)


@dataclass(frozen=True)
class TopicNames:
    """Every topic the pipeline reads or writes."""

    prefix: str = "ampere"

    def _t(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    @property
    def asr(self) -> str:
        return self._t("asr.chunks")

    @property
    def keyframes(self) -> str:
        return self._t("keyframes")

    @property
    def events(self) -> str:
        return self._t(EVENTS)

    @property
    def products(self) -> str:
        return self._t("products")

    @property
    def windows(self) -> str:
        return self._t("windows")

    @property
    def summaries(self) -> str:
        return self._t("summaries")

    @property
    def embeddings(self) -> str:
        return self._t("embeddings")

    @property
    def tags(self) -> str:
        return self._t("tags")

    @property
    def segments(self) -> str:
        return self._t("segments")

    @property
    def dlq(self) -> str:
        return self._t("dlq")

    def inputs(self) -> list[str]:
        """Topics written by broadcasters and the catalog."""
        return [self.asr, self.keyframes, self.events, self.products]

    def all(self) -> list[str]:
        """Every topic, inputs, internal and outputs."""
        return [*self.inputs(), self.windows, self.summaries, self.embeddings, self.tags, self.segments, self.dlq]


def agents_group(prefix: str, role: str = "all") -> str:
    """Consumer group (and Faust app id) of the agents: the refine role reads in a group of its own."""
    return f"{prefix}-refine" if role == "refine" else f"{prefix}-worker"


def window_group(prefix: str) -> str:
    """Consumer group of the window stage (apart from the Faust agents' group)."""
    return f"{prefix}-window"


def changelog_topic(topics: TopicNames) -> str:
    """Compacted topic holding every stream's window state, partitioned like the inputs."""
    return f"{topics.prefix}.window-state"
