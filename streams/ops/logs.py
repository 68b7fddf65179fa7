"""Logging of the command line and the worker: text or one JSON object per line (``AMPERE_LOG_FORMAT``).

Python warnings raised by third-party code are captured into the log (``py.warnings``) instead of
being printed between a command's own lines: a CLI process writes them to ``$AMPERE_HOME/logs/ampere.log``,
a worker to its own log stream.
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from pathlib import Path
from typing import Any

_STD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra, "exc"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k not in _STD_ATTRS and not k.startswith("_"):
                out[k] = v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: aiokafka's group coordinator, which logs a missing coordinator at ERROR (see CoordinatorStartupFilter).
COORDINATOR_LOGGER = "aiokafka.consumer.group_coordinator"


class CoordinatorStartupFilter(logging.Filter):
    """A consumer group's coordinator is not available while a fresh broker creates its offsets topic:
    aiokafka logs that at ERROR on every retry, although it retries and succeeds. The first line (and
    one every ``interval_s`` while it lasts) becomes one WARNING that says so; the rest are INFO."""

    def __init__(self, interval_s: float = 60.0) -> None:
        super().__init__()
        self.interval_s, self._last = interval_s, None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or "CoordinatorNotAvailable" not in record.getMessage():
            return True
        now = time.monotonic()
        if self._last is None or now - self._last >= self.interval_s:
            self._last = now
            record.msg, record.args = "%s (the broker is still electing the group's coordinator, normal on a first start: retrying)", (record.getMessage(),)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            return True
        record.levelno, record.levelname = logging.INFO, "INFO"
        return logging.getLogger().isEnabledFor(logging.INFO)


def logging_config(level: str | int, fmt: str = "text", warnings_file: Path | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: root to stderr in ``fmt``; warnings to ``warnings_file``
    when given (then never to stderr), else to stderr like any other record."""
    formatter = {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    cfg: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}},
        "root": {"level": logging.getLevelName(level) if isinstance(level, int) else level.upper(), "handlers": ["stderr"]},
        "filters": {"coordinator": {"()": f"{__name__}.CoordinatorStartupFilter"}},
        "loggers": {COORDINATOR_LOGGER: {"filters": ["coordinator"]}},
    }
    if warnings_file is not None:
        cfg["handlers"]["warnings_file"] = {
            "class": "logging.FileHandler", "formatter": "default", "filename": str(warnings_file), "delay": True,
        }
        cfg["loggers"]["py.warnings"] = {"handlers": ["warnings_file"], "propagate": False, "level": "WARNING"}
    return cfg


def setup_cli_logging(home: Path, fmt: str = "text", level: str = "WARNING") -> Path:
    """Logging of a CLI process; third-party warnings go to ``home/logs/ampere.log`` only. Returns that path."""
    log_file = home / "logs" / "ampere.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logging.config.dictConfig(logging_config(level, fmt, warnings_file=log_file))
    capture_warnings()
    return log_file


def capture_warnings() -> None:
    """Route ``warnings.warn`` into the ``py.warnings`` logger (Python's default filters still apply)."""
    logging.captureWarnings(True)


class Throttled:
    """Logs a repeated condition once per ``interval_s`` with how often it happened since the last line,
    so an outage writes a handful of lines instead of one per retry (every component uses this)."""

    def __init__(self, logger: logging.Logger, interval_s: float = 30.0) -> None:
        self.logger, self.interval_s = logger, interval_s
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def __call__(self, key: str, level: int, msg: str, *args: object, now: float | None = None) -> bool:
        """Log ``msg % args`` under ``key`` unless it was logged less than ``interval_s`` ago; True when logged."""
        now = time.monotonic() if now is None else now
        self._count[key] = self._count.get(key, 0) + 1
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            return False
        n = self._count.pop(key)
        self._last[key] = now
        suffix = f" ({n} times in the last {now - last:.0f}s)" if last is not None and n > 1 else ""
        self.logger.log(level, msg + suffix, *args)
        return True

    def clear(self, key: str) -> None:
        """The condition ended: the next occurrence is logged at once."""
        self._last.pop(key, None)
        self._count.pop(key, None)
