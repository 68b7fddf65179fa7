"""Summary cache: the same transcript, prompt version and engine never costs a second LLM call."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path

from engines.summarize.schema import Summary


def cache_key(text: str, prompt_version: str, engine: str, model: str = "") -> str:
    """sha256 of the normalized transcript plus what decides the answer (prompt, engine, model)."""
    normalized = " ".join(text.split())
    payload = f"{engine}\x1f{model}\x1f{prompt_version}\x1f{normalized}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class SummaryCache:
    """Thread-safe in-memory LRU, optionally backed by one JSON file per key on disk."""

    def __init__(self, max_items: int = 4096, disk_dir: str | Path | None = None) -> None:
        self.max_items = max_items
        self.disk_dir = Path(disk_dir) if disk_dir else None
        self._items: OrderedDict[str, Summary] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Summary | None:
        """The cached summary (a copy) or None."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
        if found is None and self.disk_dir is not None:
            found = self._read_disk(key)
            if found is not None:
                self._remember(key, found)
        with self._lock:
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
        return found.model_copy(deep=True)

    def put(self, key: str, summary: Summary) -> None:
        """Store a summary (memory, and disk when configured)."""
        self._remember(key, summary.model_copy(deep=True))
        if self.disk_dir is not None:
            self.disk_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.disk_dir / f"{key}.json.tmp"
            tmp.write_text(summary.model_dump_json(), encoding="utf-8")
            tmp.replace(self.disk_dir / f"{key}.json")

    def __len__(self) -> int:
        return len(self._items)

    def _remember(self, key: str, summary: Summary) -> None:
        with self._lock:
            self._items[key] = summary
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def _read_disk(self, key: str) -> Summary | None:
        path = self.disk_dir / f"{key}.json"  # type: ignore[operator]
        if not path.exists():
            return None
        try:
            return Summary.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, OSError):
            return None  # a corrupt entry is a miss, not an error
