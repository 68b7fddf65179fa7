"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium):
a real worker indexes a replayed stream on real Kafka and Weaviate, and its tags appear on the page."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from engines.store.weaviate_store import WeaviateStore, connect
from streams.admin import ensure_topics
from streams.kafka import KafkaConfig
from streams.publish import merge_streams, product_message, replay, send_all, stream_messages
from streams.settings import Settings
from streams.topics import TopicNames
from tests.streams.mini_dataset import PRODUCTS, make_mini_dataset
from tooling.consume import spawn_worker
from tooling.dashboard.launch import spawn_dashboard, stop, wait_http
from tooling.demo import settings_env
from tooling.infra import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CARDS_JS = """
return [...document.querySelectorAll('.window-card[data-stream="live-0"]')].map((c) => ({
  products: [...c.querySelectorAll('.tag-product')].map((p) => ({
    title: p.querySelector('.title').textContent, score: p.querySelector('.score').textContent,
    img: p.querySelector('img').getAttribute('src') || ''})),
  kf_width: (c.querySelector('img.kf') || {naturalWidth: 0}).naturalWidth,
  sentence: c.querySelector('.sentence').textContent}));
"""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and CHROMEDRIVER, "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def test_tags_of_a_replayed_stream_appear_live_in_the_browser(kafka_bootstrap, weaviate_server, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    tag = uuid.uuid4().hex[:8]
    ep = weaviate_server.endpoint
    metrics_port, dash_port = free_ports(2)
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, weaviate_url=ep.http_url, weaviate_grpc_port=ep.grpc_port,
        topic_prefix=f"d{tag}", collection_prefix=f"D{tag}", summarizer="extractive", encoder_engine="onnx",
        window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=3_000, topic_partitions=2,
        metrics_port=metrics_port,
    )
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data")
    ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap), topics.all(), settings.topic_partitions)
    store = WeaviateStore(connect(ep.http_url, ep.grpc_port), settings.collection_prefix)
    store.ensure_collections()
    env = settings_env(settings)
    worker = spawn_worker(env, tmp_path / "worker.log")
    dash = spawn_dashboard(env, tmp_path / "dashboard.log", dash_port)
    url = f"http://127.0.0.1:{dash_port}/"
    browser = None
    t_start = time.time()
    try:
        asyncio.run(send_all(KafkaConfig(kafka_bootstrap), [product_message(ds, p, topics) for p in ds.products]))
        wait_http(f"http://127.0.0.1:{dash_port}/healthz", 60, dash)
        browser = _browser()
        browser.get(url)
        WebDriverWait(browser, 30).until(lambda b: "on" in b.find_element(By.ID, "conn").get_attribute("class"))
        while store.count("product") < len(ds.products):
            assert time.time() - t_start < 180 and worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
        t_replay = time.time()
        asyncio.run(replay(KafkaConfig(kafka_bootstrap), merge_streams([stream_messages(ds, "live-0", ds.streams()["live-0"], topics)]), speed=0))

        def cards() -> list[dict]:
            # one atomic read: the page re-renders as updates arrive, so elements found earlier go stale
            return browser.execute_script(CARDS_JS)

        def tagged(_) -> list[dict] | bool:
            now = cards()
            done = len(now) >= 2 and all(c["products"] and c["kf_width"] > 0 for c in now)
            return now if done else False

        seen = WebDriverWait(browser, 90, poll_frequency=0.25).until(tagged)
        seen_s = time.time() - t_replay
        titles = {t for _, t, *_ in PRODUCTS}
        for card in seen:
            rows = card["products"]
            assert 1 <= len(rows) <= 3
            assert rows[0]["title"] in titles and float(rows[0]["score"]) > 0
            assert rows[0]["img"].startswith("data:image/jpeg")  # catalog photo
        sentences = [c["sentence"] for c in seen]
        assert any(t not in ("", "…") for t in sentences), sentences  # a window may have an empty summary
        assert browser.find_element(By.ID, "st-q").text != "–"

        box = browser.find_element(By.ID, "q-text")
        box.send_keys("blue canvas running shoe")
        browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
        WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#res-products .hit"))
        assert len(browser.find_elements(By.CSS_SELECTOR, "#res-moments .hit")) >= 1
        shot = Path(os.environ.get("AMPERE_DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"tags on the page {seen_s:.1f}s after the replay started; screenshot {shot}")
    finally:
        if browser is not None:
            browser.quit()
        stop(dash)
        stop(worker)
    assert worker.returncode is not None
    store.drop()
    store.close()
