from __future__ import annotations

import json

import numpy as np
import pytest

from streams.kafka import KafkaConfig
from streams.sdk.subscribe import Dedup, decode, follow


def test_decode_reads_vector_revision_and_key() -> None:
    raw = json.dumps({"object_id": "o1", "revision": 2, "vector": [0.6, 0.8]}).encode()
    u = decode("t", 1, 7, b"s-1", raw)
    assert (u.topic, u.partition, u.offset, u.key, u.object_id, u.revision) == ("t", 1, 7, "s-1", "o1", 2)
    assert u.vector.dtype == np.float32 and np.allclose(u.vector, [0.6, 0.8])
    assert not u.undecodable


def test_a_segment_is_identified_by_its_segment_id_and_an_id_of_the_wrong_type_by_nothing() -> None:
    u = decode("ampere.segments", 0, 1, b"s", json.dumps({"segment_id": "g1", "revision": 3}).encode())
    assert (u.object_id, u.revision) == ("g1", 3)
    assert decode("t", 0, 2, None, json.dumps({"segment_id": 5}).encode()).object_id is None


@pytest.mark.parametrize("rev", [None, 0, -3, "2", True, 1.5])
def test_missing_or_invalid_revision_counts_as_one(rev) -> None:
    body = {"object_id": "o"} if rev is None else {"object_id": "o", "revision": rev}
    assert decode("t", 0, 0, None, json.dumps(body).encode()).revision == 1


def test_undecodable_values_are_kept_raw_not_dropped() -> None:
    u = decode("t", 0, 3, None, b"\xffnot json")
    assert u.undecodable and u.object_id is None and u.vector is None
    assert decode("t", 0, 4, None, None).undecodable
    assert decode("t", 0, 5, None, b"[1, 2]").undecodable


def test_dedup_by_object_id_and_revision() -> None:
    d = Dedup()
    assert d.fresh("a", 1)
    assert not d.fresh("a", 1)  # the same revision again (a replay)
    assert d.fresh("a", 2)  # a refinement
    assert not d.fresh("a", 1)  # an older revision arriving late
    assert d.fresh("b", 1)
    assert d.fresh(None, 1) and d.fresh(None, 1)  # records without an id (dead letters) always pass


def test_dedup_memory_is_bounded() -> None:
    d = Dedup(max_ids=2)
    for oid in "abc":
        d.fresh(oid, 1)
    assert d.fresh("a", 1)  # forgotten, least recently seen


def test_resuming_needs_a_group() -> None:
    with pytest.raises(ValueError, match="consumer group"):
        follow("t", KafkaConfig("127.0.0.1:1"), start="committed")
