"""A tiny on-disk catalog (three items, procedurally drawn photos) in the layout `catalog fetch` writes."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tooling.sim.catalog import CatalogItem, CatalogVariant

ITEMS = [
    CatalogItem(
        slug="laptop", name="Laptop", description="A thin laptop with a bright screen. It runs all day on one charge.",
        categories=["Electronics", "Computers"], brand="Apple", facets={}, images=["laptop.jpg"],
        variants=[CatalogVariant("L13", {"screen size": "13 inch"}, 1299.0), CatalogVariant("L15", {"screen size": "15 inch"}, 1399.0)],
        source="vendure",
    ),
    CatalogItem(
        slug="football", name="Football", description="A match ball with high contrast graphics for visibility. Machine stitched.",
        categories=["Sports & Outdoor", "Equipment"], brand="Nike", facets={}, images=["football.jpg"],
        variants=[CatalogVariant("F1", {}, 57.07)], source="vendure",
    ),
    CatalogItem(
        slug="running-shoe", name="Running Shoe", description="Light running shoe with a responsive foam sole for long runs.",
        categories=["Sports & Outdoor", "Footwear"], brand="Adidas", facets={"color": ["blue"]}, images=["shoe.jpg"],
        variants=[CatalogVariant("S40", {"size": "Size 40"}, 99.0), CatalogVariant("S42", {"size": "Size 42"}, 99.0)],
        source="vendure",
    ),
]


def _photo(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (480, 360), tuple(int(c) for c in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.integers(0, 400, 2)
        draw.ellipse([int(x), int(y), int(x) + 80, int(y) + 60], fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return img


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AMPERE_HOME whose vendure catalog holds three items."""
    home = tmp_path_factory.mktemp("home")
    cat = home / "catalog" / "vendure"
    (cat / "images").mkdir(parents=True)
    with (cat / "catalog.jsonl").open("w") as fh:
        for i, item in enumerate(ITEMS):
            fh.write(json.dumps(asdict(item)) + "\n")
            _photo(i).save(cat / "images" / item.images[0], "JPEG")
    return home
