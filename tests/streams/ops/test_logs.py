"""Repeated conditions are logged once per interval with a count."""

from __future__ import annotations

import logging

from streams.ops.logs import Throttled


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


def test_a_missing_group_coordinator_on_a_first_start_is_one_warning_not_errors(capsys) -> None:
    """aiokafka logged GroupCoordinatorNotAvailableError at ERROR on every retry of a first start."""
    import logging.config

    from aiokafka.errors import GroupCoordinatorNotAvailableError

    from streams.ops.logs import COORDINATOR_LOGGER, logging_config

    logging.config.dictConfig(logging_config("WARNING"))
    log = logging.getLogger(COORDINATOR_LOGGER)
    try:
        for _ in range(5):
            log.error("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())
        log.error("Heartbeat failed: %r", RuntimeError("something else"))
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 2, lines
        assert " WARNING " in lines[0] and "GroupCoordinatorNotAvailableError" in lines[0] and "first start" in lines[0]
        assert " ERROR " in lines[1] and "something else" in lines[1]
    finally:
        log.filters.clear()
