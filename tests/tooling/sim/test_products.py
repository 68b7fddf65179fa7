from pathlib import Path

from tooling.sim.catalog import load_catalog
from tooling.sim.products import GalleryConfig, assign_split, build_gallery


def test_gallery_groups_variants_and_near_duplicates(tiny_home: Path, tmp_path: Path):
    items = load_catalog(tiny_home)
    products = build_gallery(items, tiny_home / "catalog/vendure/images", tmp_path, "test", GalleryConfig(test_fraction=0.34))
    by_group: dict[str, list] = {}
    for p in products:
        by_group.setdefault(p.group, []).append(p)
    assert len(by_group["laptop"]) == 2 and all(not p.derived for p in by_group["laptop"])
    # one shared photo for the real variants, its own photo for a recolored sibling
    assert by_group["laptop"][0].images == by_group["laptop"][1].images
    recolor = [p for p in products if p.derived == "recolor"]
    assert recolor and all(p.attributes["color"].lower() in p.title.lower() for p in recolor)
    assert all(p.images[0] != by_group[p.group][0].images[0] for p in recolor)
    # a group never straddles the split
    assert all(len({p.split for p in g}) == 1 for g in by_group.values())
    assert {p.split for p in products} == {"train", "test"}


def test_split_is_deterministic_and_sized(tiny_home: Path, tmp_path: Path):
    items = load_catalog(tiny_home)
    products = build_gallery(items, tiny_home / "catalog/vendure/images", tmp_path, "test")
    again = assign_split(products, 0.3)
    assert [p.split for p in again] == [p.split for p in products]
