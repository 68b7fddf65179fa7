"""Kubernetes NetworkPolicy semantics, enough to ask whether a flow between two pods of one namespace (or
from another namespace) is allowed: a pod that a policy of a direction selects is isolated in that
direction and admits only what some such policy's rules allow; a flow needs the egress of its source and
the ingress of its destination."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pod:
    labels: dict[str, str]
    namespace: str = "ampere"
    namespace_labels: dict[str, str] = field(default_factory=dict)

    @property
    def ns_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


def matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions with In / NotIn / Exists / DoesNotExist)."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        ok = {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


def _peer_matches(peer: dict, policy_ns: str, other: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # pods are not addressed by IP here
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    in_ns = matches(ns_sel, other.ns_labels) if ns_sel is not None else other.namespace == policy_ns
    return in_ns and (pod_sel is None or matches(pod_sel, other.labels))


def _port_matches(ports: list[dict] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(int(p.get("port", port)) <= port <= int(p.get("endPort", p.get("port", port)))
               and p.get("protocol", "TCP") == protocol for p in ports)


def _admits(policies: list[dict], pod: Pod, direction: str, other: Pod, port: int, protocol: str) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [p for p in policies if p["metadata"].get("namespace", "ampere") == pod.namespace
                 and matches(p["spec"]["podSelector"] or {}, pod.labels)
                 and direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not selecting:
        return True
    for p in selecting:
        for rule in p["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(peer, pod.namespace, other) for peer in peers)) and \
                    _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def allowed(policies: list[dict], src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
    """True when ``src`` may open ``port`` on ``dst`` under ``policies``."""
    return _admits(policies, src, "Egress", dst, port, protocol) and _admits(policies, dst, "Ingress", src, port, protocol)
