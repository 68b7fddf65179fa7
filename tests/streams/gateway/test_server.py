"""The gateway's HTTP and WebSocket contract, with an in-memory publisher in place of the broker."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from fastapi.testclient import TestClient

from streams.gateway.limits import RateLimiter
from streams.gateway.server import create_gateway
from streams.kafka.topics import TopicNames
from streams.schemas import KeyframeRecord, parse_record
from streams.settings import Settings
from tests.streams.gateway.fakes import MemoryPublisher, png

KEY = "s3cret"
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def gw():
    settings = Settings(topic_prefix="g", ingest_api_key=KEY, ingest_rate_per_s=1000, ingest_burst=1000,
                        max_image_bytes=50_000, max_text_chars=100)
    pub = MemoryPublisher()
    clock = {"t": 0.0}
    with TestClient(create_gateway(settings, pub, clock=lambda: clock["t"])) as client:
        yield client, pub, TopicNames("g"), clock
    assert pub.started and pub.stopped


def test_events_asr_and_keyframes_are_published_keyed_by_stream(gw) -> None:
    client, pub, topics, _ = gw
    r = client.post("/v1/streams/s-1/events", json={"ts_ms": 1000, "type": "start"}, headers=AUTH)
    assert r.status_code == 202 and r.json() == {"topic": topics.events, "partition": 0, "offset": 0}
    r = client.post("/v1/streams/s-1/asr", json={"seq": 0, "start_ms": 1000, "end_ms": 2000, "text": "a red mug"}, headers=AUTH)
    assert r.status_code == 202, r.text
    r = client.post("/v1/streams/s-1/keyframes", data={"ts_ms": "1500"}, files={"image": ("f.png", png(), "image/png")}, headers=AUTH)
    assert r.status_code == 202, r.text
    b64 = base64.b64encode(png(color=(1, 2, 3))).decode()
    r = client.post("/v1/streams/s-1/keyframes", json={"ts_ms": 1600, "image_b64": b64},
                    headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 202, r.text
    assert [t for t, _, _ in pub.sent] == [topics.events, topics.asr, topics.keyframes, topics.keyframes]
    assert {k for _, k, _ in pub.sent} == {b"s-1"}
    assert all(json.loads(v)["stream_id"] == "s-1" for _, _, v in pub.sent)
    frame = parse_record(pub.sent[2][2], KeyframeRecord)
    assert base64.b64decode(frame.image_b64) == png() and frame.ts_ms == 1500


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("events", {"ts_ms": 1, "type": "idle_check"}, 422, "type: must be one of"),
        ("events", {"ts_ms": -1, "type": "start"}, 422, "ts_ms"),
        ("events", {"stream_id": "other", "ts_ms": 1, "type": "end"}, 400, "differs"),
        ("asr", {"seq": 0, "start_ms": 5, "end_ms": 1, "text": "x"}, 422, "end_ms is before"),
        ("asr", {"seq": 0, "start_ms": 0, "end_ms": 1, "text": "x" * 101}, 413, "limit of 100"),
        ("asr", {"seq": 0, "start_ms": 0, "end_ms": 1}, 422, "text"),
        ("asr", [1, 2], 422, "JSON object"),
        ("keyframes", {"ts_ms": 1, "image_b64": base64.b64encode(b"GIF89a....").decode()}, 415, "JPEG or PNG"),
        ("keyframes", {"ts_ms": 1, "image_b64": "***"}, 422, "base64"),
        ("keyframes", {"ts_ms": 1, "uri": "file:///etc/passwd"}, 422, "uri"),
        ("keyframes", {"ts_ms": 1, "image_b64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 100).decode()}, 415, "undecodable"),
    ],
)
def test_bad_requests_get_clear_4xx_and_publish_nothing(gw, path, body, status, words) -> None:
    client, pub, _, _ = gw
    r = client.post(f"/v1/streams/s-1/{path}", json=body, headers=AUTH)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert pub.sent == []


def test_not_json_and_oversized_bodies(gw) -> None:
    client, pub, _, _ = gw
    r = client.post("/v1/streams/s-1/asr", content=b"{nope", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    big = png(side=400)  # noise-free PNG is small: pad the upload instead
    r = client.post("/v1/streams/s-1/keyframes", data={"ts_ms": "1"},
                    files={"image": ("f.png", big + b"\0" * 80_000, "image/png")}, headers=AUTH)
    assert r.status_code == 413, r.text
    assert pub.sent == []


def test_api_key_required(gw) -> None:
    client, pub, _, _ = gw
    body = {"ts_ms": 1, "type": "start"}
    assert client.post("/v1/streams/s/events", json=body).status_code == 401
    assert client.post("/v1/streams/s/events", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert pub.sent == []


def test_per_stream_rate_limit_with_retry_after(gw) -> None:
    client, pub, _, clock = gw
    client.app.state.gateway.limiter = RateLimiter(rate_per_s=1.0, burst=2)
    body = {"ts_ms": 1, "type": "product_switch"}
    codes = [client.post("/v1/streams/a/events", json=body, headers=AUTH).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    r = client.post("/v1/streams/a/events", json=body, headers=AUTH)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert client.post("/v1/streams/b/events", json=body, headers=AUTH).status_code == 202  # other stream
    clock["t"] = 1.0
    assert client.post("/v1/streams/a/events", json=body, headers=AUTH).status_code == 202
    assert len(pub.sent) == 4


def test_broker_down_is_503_not_a_silent_accept(gw) -> None:
    client, pub, _, _ = gw
    pub.fail = True
    r = client.post("/v1/streams/s/events", json={"ts_ms": 1, "type": "start"}, headers=AUTH)
    assert r.status_code == 503 and "acknowledge" in r.json()["error"]


def test_websocket_acks_each_message_and_reports_errors_in_band(gw) -> None:
    client, pub, topics, _ = gw
    with client.websocket_connect("/v1/streams/w-1/ws", headers=AUTH) as ws:
        ws.send_json({"kind": "event", "ts_ms": 0, "type": "start", "ref": 1})
        assert ws.receive_json() == {"ok": True, "status": 202, "topic": topics.events, "partition": 0, "offset": 0, "ref": 1}
        ws.send_json({"kind": "asr", "seq": 0, "start_ms": 0, "end_ms": 900, "text": "hello", "ref": 2})
        assert ws.receive_json()["ok"] is True
        ws.send_json({"kind": "keyframe", "ts_ms": 10, "image_b64": base64.b64encode(png()).decode(), "ref": 3})
        assert ws.receive_json()["ok"] is True
        ws.send_json({"kind": "event", "ts_ms": 5, "type": "idle_check", "ref": 4})
        bad = ws.receive_json()
        assert bad["ok"] is False and bad["status"] == 422 and bad["ref"] == 4
        ws.send_text("not json")
        assert ws.receive_json()["status"] == 400
        ws.send_json({"kind": "video", "ref": 5})
        assert "kind" in ws.receive_json()["error"]
    assert [t for t, _, _ in pub.sent] == [topics.events, topics.asr, topics.keyframes]
    assert {k for _, k, _ in pub.sent} == {b"w-1"}


def test_kafka_publisher_can_be_built_before_the_event_loop_runs() -> None:
    """The CLI builds it before uvicorn starts the loop; the producer itself is made in ``start``."""
    from streams.gateway.publisher import KafkaPublisher
    from streams.settings import Settings

    KafkaPublisher(Settings(kafka_bootstrap="127.0.0.1:1"), max_request_bytes=1024)


def test_kafka_publisher_takes_the_settings_not_a_bare_address() -> None:
    """The gateway once built its producer from the bootstrap string alone and sent PLAINTEXT although
    the settings said SASL_PLAINTEXT."""
    from streams.errors import KafkaUnavailable
    from streams.gateway.publisher import KafkaPublisher
    from streams.settings import Settings

    with pytest.raises(TypeError, match="Settings or a KafkaConfig"):
        KafkaPublisher("127.0.0.1:1", max_request_bytes=1024)  # type: ignore[arg-type]
    pub = KafkaPublisher(Settings(kafka_security_protocol="SASL_PLAINTEXT"), max_request_bytes=1024)
    with pytest.raises(KafkaUnavailable, match="AMPERE_KAFKA_SASL_USERNAME"):
        asyncio.run(pub.start())


def test_websocket_needs_the_key(gw) -> None:
    client, _, _, _ = gw
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect("/v1/streams/w/ws") as ws:
        ws.receive_json()
    assert exc.value.code == 1008
    with client.websocket_connect(f"/v1/streams/w/ws?api_key={KEY}") as ws:
        ws.send_json({"kind": "event", "ts_ms": 0, "type": "start"})
        assert ws.receive_json()["ok"] is True


def test_a_lineup_is_published_over_http_and_websocket_and_a_bad_one_refused(gw) -> None:
    client, pub, _, _ = gw
    body = {"ts_ms": 5, "type": "lineup", "product_ids": ["p-1", "p-2"]}
    assert client.post("/v1/streams/s/events", json=body, headers=AUTH).status_code == 202
    with client.websocket_connect("/v1/streams/s/ws", headers=AUTH) as ws:
        ws.send_json({"kind": "event", "ts_ms": 9, "type": "lineup", "product_ids": [], "ref": 1})
        assert ws.receive_json()["ok"] is True
        ws.send_json({"kind": "event", "ts_ms": 9, "type": "lineup", "ref": 2})  # no product_ids
        bad = ws.receive_json()
        assert bad["ok"] is False and "product_ids" in bad["error"]
    r = client.post("/v1/streams/s/events", json={**body, "product_ids": [f"p-{i}" for i in range(500)]}, headers=AUTH)
    assert r.status_code == 422 and "product_ids" in r.json()["error"]
    sent = [json.loads(value) for _, _, value in pub.sent]
    assert [(e["type"], e["product_ids"]) for e in sent] == [("lineup", ["p-1", "p-2"]), ("lineup", [])]


def test_metrics_count_what_the_gateway_answered() -> None:
    """The gateway served no /metrics: nothing could alert on refused or slow broadcaster records."""
    from prometheus_client.parser import text_string_to_metric_families

    settings = Settings(topic_prefix="g", ingest_api_key=KEY, ingest_rate_per_s=1000, ingest_burst=1000)

    def samples(client) -> dict:
        r = client.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(r.text) for s in fam.samples}

    def moved(after: dict, before: dict, name: str, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    with TestClient(create_gateway(settings, MemoryPublisher())) as client:
        before = samples(client)
        assert client.post("/v1/streams/m/asr", json={"seq": 0, "start_ms": 0, "end_ms": 1, "text": "hi"},
                           headers=AUTH).status_code == 202
        assert client.post("/v1/streams/m/events", json={"ts_ms": 1, "type": "idle_check"}, headers=AUTH).status_code == 422
        assert client.post("/v1/streams/m/events", json={"ts_ms": 1, "type": "start"}).status_code == 401
        with client.websocket_connect("/v1/streams/m/ws", headers=AUTH) as ws:
            ws.send_json({"kind": "event", "ts_ms": 0, "type": "start"})
            assert ws.receive_json()["ok"] is True
            assert samples(client)[("ampere_gateway_websockets", ())] >= 1
        after = samples(client)
    assert moved(after, before, "ampere_gateway_requests_total", kind="asr", status="202") == 1
    assert moved(after, before, "ampere_gateway_requests_total", kind="events", status="422") == 1
    assert moved(after, before, "ampere_gateway_requests_total", kind="events", status="401") == 1
    assert moved(after, before, "ampere_gateway_requests_total", kind="ws", status="202") == 1
    assert moved(after, before, "ampere_gateway_publish_seconds_count") == 2



def test_during_a_rotation_the_gateway_takes_either_key_and_nothing_else() -> None:
    """Both keys are accepted while broadcasters switch (HTTP and WebSocket), no other; then only the new one."""
    body = {"ts_ms": 1, "type": "start"}

    def statuses(settings: Settings, keys: list[str | None]) -> list[int]:
        with TestClient(create_gateway(settings, MemoryPublisher())) as client:
            return [client.post("/v1/streams/s/events", json=body, headers={"X-API-Key": k} if k else {}).status_code
                    for k in keys]

    keys = ["old-key", "new-key", None, "old", "new-key ", "x" * 10_000]
    rotating = Settings(topic_prefix="g", ingest_api_key="old-key", ingest_api_key_next="new-key")
    assert statuses(rotating, keys) == [202, 202, 401, 401, 401, 401]
    with TestClient(create_gateway(rotating, MemoryPublisher())) as client, \
            client.websocket_connect("/v1/streams/s/ws?api_key=new-key") as ws:
        ws.send_json({"kind": "event", "ts_ms": 2, "type": "start"})
        assert ws.receive_json()["ok"] is True
    done = Settings(topic_prefix="g", ingest_api_key="new-key")  # the rotation finished
    assert statuses(done, ["old-key", "new-key"]) == [401, 202]
    with pytest.raises(ValueError, match="API_KEY_NEXT"):
        Settings(ingest_api_key_next="new-key")
