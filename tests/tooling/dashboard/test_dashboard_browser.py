"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium):
a real worker indexes replayed streams on real Kafka and Weaviate, and the page shows them live, after
a restart of the dashboard, at phone width, and when the server is gone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from encoders.dataset import MomentRecord
from engines.store.weaviate_store import WeaviateStore, connect
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.sdk.publish import merge_streams, product_message, replay, send_all, stream_messages
from tests.streams.mini_dataset import PRODUCTS, make_mini_dataset
from tooling.consume import spawn_worker
from tooling.dashboard.launch import spawn_dashboard, stop, wait_http
from tooling.demo import settings_env
from tooling.infra import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EPOCH_MS = 1_796_200_740_000  # the contract's recommended clock: milliseconds since the Unix epoch
EPOCH_STREAM = "shop-42"
CARDS_JS = """
return [...document.querySelectorAll('.window-card[data-stream="' + arguments[0] + '"]')].map((c) => {
  const t = c.querySelector('.time');
  return {
    products: [...c.querySelectorAll('.tag-product')].map((p) => ({
      title: p.querySelector('.title').textContent, score: p.querySelector('.score').textContent,
      img_width: (p.querySelector('img') || {naturalWidth: 0}).naturalWidth})),
    kf_width: (c.querySelector('img.kf') || {naturalWidth: 0}).naturalWidth,
    settled: [...c.querySelectorAll('img')].every((i) => i.complete),
    time: t ? t.textContent : '', time_lines: t ? Math.round(t.getBoundingClientRect().height
      / parseFloat(getComputedStyle(t).lineHeight)) : 0,
    sentence: c.querySelector('.sentence').textContent};
});
"""
SEGMENTS_JS = """
return [...document.querySelectorAll('section.stream[data-stream="' + arguments[0] + '"] .timeline .segment')].map((g) => ({
  id: g.dataset.segment, claimed: g.classList.contains('claimed'), label: g.textContent.trim()}));
"""
ORDER_JS = "return [...document.querySelectorAll('section.stream')].map((s) => s.dataset.stream);"
HITS_JS = """
return [...document.querySelectorAll(arguments[0] + ' .hit')].map((h) => ({
  label: h.textContent, img_width: (h.querySelector('img') || {naturalWidth: 0}).naturalWidth}));
"""
LOADED_JS = "return [...document.querySelectorAll('#search-results img')].every((i) => i.complete);"
FITS_JS = """
const b = document.querySelector('#search-form button').getBoundingClientRect();
return {scroll: document.scrollingElement.scrollWidth, inner: innerWidth, button_right: b.right};
"""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WALL = re.compile(r"^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d–\d\d:\d\d:\d\d$")  # wall-clock span
CLOCK = re.compile(r"^\d+:\d\d–\d+:\d\d$")  # m:ss span of a stream's own clock


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and CHROMEDRIVER, "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def _on_epoch_clock(moments: list[MomentRecord], offset_ms: int) -> list[MomentRecord]:
    """The same moments with every time shifted onto the epoch-ms clock."""
    return [
        replace(m, asr=[replace(c, start_ms=c.start_ms + offset_ms, end_ms=c.end_ms + offset_ms) for c in m.asr],
                keyframes=[replace(k, ts_ms=k.ts_ms + offset_ms) for k in m.keyframes])
        for m in moments
    ]


def _settled(read, quiet_s: float = 2.0, timeout_s: float = 30.0):
    """What ``read()`` returns once it has not changed for ``quiet_s``."""
    last, since, t0 = read(), time.time(), time.time()
    while time.time() - since < quiet_s and time.time() - t0 < timeout_s:
        time.sleep(0.25)
        now = read()
        if now != last:
            last, since = now, time.time()
    return last


def _card_problems(stream_id: str, cards: list[dict], clock: re.Pattern) -> list[str]:
    """What is wrong with the cards of one tagged stream (every window of the mini dataset has keyframes)."""
    titles = {t for _, t, *_ in PRODUCTS}
    out = []
    for c in cards:
        rows = c["products"]
        if not (1 <= len(rows) <= 3 and rows[0]["title"] in titles and float(rows[0]["score"]) > 0):
            out.append(f"{stream_id}: tag rows {rows}")
        if any(r["img_width"] == 0 for r in rows):
            out.append(f"{stream_id}: a catalog photo did not load: {rows}")
        if c["kf_width"] == 0:
            out.append(f"{stream_id}: blank keyframe thumbnail")
        if c["sentence"] in ("", "…"):
            out.append(f"{stream_id}: no summary or transcript shown ({c['sentence']!r})")
        if not clock.match(c["time"]) or c["time_lines"] != 1:
            out.append(f"{stream_id}: time {c['time']!r} on {c['time_lines']} line(s)")
    return out


def test_replayed_streams_appear_live_and_after_a_restart_in_the_browser(isolated_settings, tmp_path) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    metrics_port, dash_port, dash_port2 = free_ports(3)
    settings = isolated_settings(
        window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=3_000, topic_partitions=2,
        metrics_port=metrics_port,
    )
    topics = TopicNames(settings.topic_prefix)
    kafka = settings.kafka
    ds = make_mini_dataset(tmp_path / "data")
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = WeaviateStore(connect(settings.weaviate_url, settings.weaviate_grpc_port), settings.collection_prefix)
    store.ensure_collections()
    env = settings_env(settings)
    worker = spawn_worker(env, tmp_path / "worker.log")
    dash = spawn_dashboard(env, tmp_path / "dashboard.log", dash_port)
    browser = None
    problems: list[str] = []  # one browser session checks everything, then reports every problem at once
    t_start = time.time()
    try:
        asyncio.run(send_all(kafka, [product_message(ds, p, topics) for p in ds.products]))
        wait_http(f"http://127.0.0.1:{dash_port}/healthz", 60, dash)
        browser = _browser()
        browser.get(f"http://127.0.0.1:{dash_port}/")
        WebDriverWait(browser, 30).until(lambda b: "on" in b.find_element(By.ID, "conn").get_attribute("class"))
        while store.count("product") < len(ds.products):
            assert time.time() - t_start < 180 and worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)

        def cards(stream_id: str) -> list[dict]:
            # one atomic read: the page re-renders as updates arrive, so elements found earlier go stale
            return browser.execute_script(CARDS_JS, stream_id)

        def tagged(stream_id: str):
            def done(_) -> list[dict] | bool:
                now = cards(stream_id)
                # every picture settled (loaded or failed): a card re-rendered by a late update loads its
                # catalog photos afresh, and one read mid-load would look like a broken picture
                return now if len(now) >= 2 and all(c["products"] and c["kf_width"] > 0 and c["settled"]
                                                    for c in now) else False
            return done

        # a stream on its own clock (from 0) and a short video, then a stream on the epoch-ms clock
        t_replay = time.time()
        streams = ds.streams()
        asyncio.run(replay(kafka, merge_streams([stream_messages(ds, "live-0", streams["live-0"], topics),
                                                 stream_messages(ds, "video-0", streams["video-0"], topics)]), speed=0))
        live0 = WebDriverWait(browser, 90, poll_frequency=0.25).until(tagged("live-0"))
        seen_s = time.time() - t_replay
        with contextlib.suppress(TimeoutException):  # the segment agent follows the tags
            WebDriverWait(browser, 30, poll_frequency=0.25).until(lambda b: b.execute_script(SEGMENTS_JS, "live-0"))
        timeline = _settled(lambda: browser.execute_script(SEGMENTS_JS, "live-0"))
        titles = {t for _, t, *_ in PRODUCTS}
        if not timeline or any(g["label"] not in titles | {"not identified"} or g["claimed"] != (g["label"] in titles)
                               for g in timeline):
            problems.append(f"live-0's segment timeline: {timeline}")
        shop = _on_epoch_clock(streams["live-1"], EPOCH_MS)
        asyncio.run(replay(kafka, merge_streams([stream_messages(ds, "live-1", shop, topics, rename=EPOCH_STREAM)]), speed=0))
        shop_cards = WebDriverWait(browser, 90, poll_frequency=0.25).until(tagged(EPOCH_STREAM))
        problems += _card_problems("live-0", live0, CLOCK) + _card_problems(EPOCH_STREAM, shop_cards, WALL)
        with contextlib.suppress(TimeoutException):
            WebDriverWait(browser, 20, poll_frequency=0.5).until(lambda b: cards("video-0"))
        video = cards("video-0")
        if not video or video[0]["kf_width"] == 0:
            problems.append(f"the short video is not shown with its keyframe: {video}")
        tags_before, t_before = _settled(lambda: (browser.find_element(By.ID, "st-tags").text,
                                                  browser.find_element(By.ID, "st-t").text))
        state = httpx.get(f"http://127.0.0.1:{dash_port}/api/state", timeout=10).content
        if b"data:image" in state:
            problems.append(f"/api/state inlines images ({len(state)} bytes)")

        # a restart: the history replay must give the same view, newest stream first (a stream's last
        # activity can be an idle close after the epoch-clock stream's tags: the live order is the truth)
        live_order = _settled(lambda: browser.execute_script(ORDER_JS))
        stop(dash)
        dash = spawn_dashboard(env, tmp_path / "dashboard2.log", dash_port2)
        wait_http(f"http://127.0.0.1:{dash_port2}/healthz", 60, dash)
        t_restart = time.time()
        browser.get(f"http://127.0.0.1:{dash_port2}/")
        WebDriverWait(browser, 30, poll_frequency=0.25).until(lambda b: len(cards("live-0")) >= 2)
        tags_after, t_after = _settled(lambda: (browser.find_element(By.ID, "st-tags").text,
                                                browser.find_element(By.ID, "st-t").text))
        restart_s = time.time() - t_restart
        order = browser.execute_script(ORDER_JS)
        after = _settled(lambda: browser.execute_script(SEGMENTS_JS, "live-0"))
        if {g["id"] for g in after} != {g["id"] for g in timeline}:
            problems.append(f"after a restart live-0's timeline is {after}; live it was {timeline}")
        if not order or order != live_order:
            problems.append(f"after a restart the streams are ordered {order}; live they were {live_order}")
        if (tags_after, t_after) != (tags_before, t_before) or "–" in t_before:
            problems.append(f"tags, close → tagged: {tags_before}, {t_before!r} before a restart; {tags_after}, {t_after!r} after")

        box = browser.find_element(By.ID, "q-text")
        box.send_keys("blue canvas running shoe")
        browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
        WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#res-products .hit"))
        with contextlib.suppress(TimeoutException):  # the pictures load after the results are shown
            WebDriverWait(browser, 10, poll_frequency=0.25).until(lambda b: b.execute_script(LOADED_JS))
        products, moments = browser.execute_script(HITS_JS, "#res-products"), browser.execute_script(HITS_JS, "#res-moments")
        if not moments:
            problems.append("no live moment found")
        for h in products + moments:
            if h["img_width"] == 0:
                problems.append(f"search hit without its picture: {h['label']!r}")
            if re.search(r"\d{6,}s:", h["label"]):
                problems.append(f"raw clock value in a search hit: {h['label']!r}")
        shot = Path(os.environ.get("AMPERE_DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000

        severe = [e["message"] for e in browser.get_log("browser")  # the restart broke the first event stream
                  if e["level"] == "SEVERE" and "/api/events" not in e["message"]]
        problems += [f"console: {m}" for m in severe]
        browser.set_window_size(390, 844)
        fits = browser.execute_script(FITS_JS)
        if fits["scroll"] > fits["inner"] or fits["button_right"] > fits["inner"]:
            problems.append(f"at 390 px wide: {fits}")

        # the server goes away: a search says so and can be tried again
        stop(dash)
        box.clear()
        box.send_keys("red mug")
        browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
        try:
            WebDriverWait(browser, 10).until(
                lambda b: "searching" not in b.find_element(By.ID, "search-results").text
                and b.find_element(By.CSS_SELECTOR, "#search-form button").is_enabled())
            if "fail" not in browser.find_element(By.ID, "search-results").text.lower():
                problems.append("a failed search shows no error")
        except TimeoutException:
            problems.append("a search without a server stays on 'searching …'")
        print(f"tags on the page {seen_s:.1f}s after the replay started; view back {restart_s:.1f}s after a "
              f"restart; /api/state {len(state)} bytes; whole test {time.time() - t_start:.1f}s; screenshot {shot}")
    finally:
        if browser is not None:
            browser.quit()
        stop(dash)
        stop(worker)
    assert worker.returncode is not None
    store.drop()
    store.close()
    assert not problems, "\n".join(problems)
