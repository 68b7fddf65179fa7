"""Repeated conditions are logged once per interval with a count."""

from __future__ import annotations

import logging

from streams.logs import Throttled


def test_an_outage_logs_once_per_interval_with_the_count(caplog) -> None:
    log = logging.getLogger("ampere.test.throttled")
    t = Throttled(log, interval_s=10.0)
    with caplog.at_level(logging.WARNING, logger=log.name):
        logged = [t("send", logging.WARNING, "send failed: %s", "down", now=float(i)) for i in range(25)]
    assert logged.count(True) == 3 and logged[0] and logged[10] and logged[20]
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "send failed: down" and lines[1].endswith("(10 times in the last 10s)")
    t.clear("send")
    assert t("send", logging.WARNING, "send failed: %s", "again", now=21.0)  # the next outage: at once
