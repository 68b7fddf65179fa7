"""A real cross-rendering image set: the same object drawn by two independent emoji designs.

Queries are OpenMoji colour drawings (npm ``openmoji``), the gallery Microsoft Fluent "modern"
renderings (npm ``fluentui-emoji``) of the same Unicode object, matched by the Unicode name. Only
object-like groups are kept (food, animals, objects, travel, activities), no people or flags. Both
tarballs are pinned by sha256; SVGs are rasterized with ``rsvg-convert`` (Debian ``librsvg2-bin``) on
a white background. The result is a products-only dataset folder (two images per product) for
``ampere eval --dataset DIR``, which then reports image→image retrieval, trained vs frozen backbone.

    python -m tooling.sim.renderings --out $AMPERE_HOME/data/renderings
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from encoders.dataset import Dataset, ProductRecord

PACKAGES = {
    "openmoji": ("17.0.0", "55ee7d13485dec86e9f38c1f3a645a13382d33ff97c0cd845ee824b0aef45e68"),
    "fluentui-emoji": ("1.3.0", "ec892e607e854859b812c7d827801756adc19955b0ef56d4ae8afcddd19492c5"),
}
GROUPS = ("food-drink", "animals-nature", "objects", "travel-places", "activities")
SIZE = 256


def fetch_tarball(package: str, cache: Path) -> Path:
    """``npm pack`` the pinned version into ``cache`` (once) and check its sha256."""
    version, sha = PACKAGES[package]
    path = cache / f"{package}-{version}.tgz"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", f"{package}@{version}", "--silent"], cwd=cache, check=True, capture_output=True)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != sha:
        raise RuntimeError(f"{path.name}: sha256 {actual} != pinned {sha}")
    return path


def slug(name: str) -> str:
    """Fluent's file stem of a Unicode name: ``"wrapped gift"`` -> ``"wrapped-gift"``."""
    return "".join(c if c.isalnum() else "-" for c in name.lower().replace("’", "").replace("'", "")).strip("-")


def pairs(openmoji: tarfile.TarFile, fluent_names: set[str]) -> list[tuple[str, str, str, str]]:
    """(hexcode, name, group, fluent stem) of every single-codepoint object both designs draw."""
    data = openmoji.extractfile("package/data/openmoji.csv")
    assert data is not None
    out = []
    for row in csv.DictReader(io.TextIOWrapper(data, encoding="utf-8")):
        if row["group"] not in GROUPS or row["skintone"] or "-" in row["hexcode"]:
            continue
        stem = slug(row["annotation"])
        if stem in fluent_names:
            out.append((row["hexcode"], row["annotation"], row["group"], stem))
    return out


def rasterize(svg: bytes, out: Path) -> None:
    """SVG bytes -> ``SIZE``² PNG on white."""
    res = subprocess.run(["rsvg-convert", "-w", str(SIZE), "-h", str(SIZE), "-b", "white", "-f", "png"],
                         input=svg, capture_output=True, check=True)
    out.write_bytes(res.stdout)


def build(out: Path, cache: Path) -> Dataset:
    """Write the dataset folder (products.jsonl + images/) and return it."""
    if shutil.which("rsvg-convert") is None:
        raise RuntimeError("rsvg-convert is missing: apt-get install librsvg2-bin")
    (out / "images").mkdir(parents=True, exist_ok=True)
    with tarfile.open(fetch_tarball("openmoji", cache)) as om, tarfile.open(fetch_tarball("fluentui-emoji", cache)) as fl:
        prefix = "package/icons/modern/"
        fluent = {m.name[len(prefix):-4]: m for m in fl.getmembers() if m.name.startswith(prefix) and m.name.endswith(".svg")}
        products = []
        for hexcode, name, group, stem in pairs(om, set(fluent)):
            om_svg = om.extractfile(f"package/color/svg/{hexcode}.svg")
            fl_svg = fl.extractfile(fluent[stem])
            if om_svg is None or fl_svg is None:
                continue
            a, b = f"images/{hexcode}-openmoji.png", f"images/{hexcode}-fluent.png"
            rasterize(om_svg.read(), out / a)
            rasterize(fl_svg.read(), out / b)
            products.append(ProductRecord(product_id=hexcode, title=name, category=group, images=[a, b], split="test"))
    ds = Dataset(root=out, products=products, moments=[])
    ds.save()
    return ds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None, help="Where the tarballs are kept (default: a temp folder).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ds = build(args.out, args.cache or Path(tmp))
    print(f"{len(ds.products)} objects, 2 renderings each, in {args.out}")


if __name__ == "__main__":
    main()
