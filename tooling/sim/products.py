"""Turn catalog items into the dataset's product gallery: real variants, derived near-duplicates, split.

- Every real variant that differs by a visible or spoken option (screen size, RAM, storage, colour ...)
  becomes its own product sharing the item's photo; shoe sizes stay one product (a size range).
- Derived near-duplicates (marked in ``ProductRecord.derived``): a ``recolor`` sibling for each item
  without real variants (photo washed with another colour, colour attribute and title changed), and
  for about half of them a ``size`` sibling (same photo, slightly reframed, a different size in the
  title and attributes), like catalogs that reuse one photo for every size.
- Split by group (all products of one item together), so test products are never seen in training.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from encoders.dataset import ProductRecord
from tooling.sim.catalog import CatalogItem
from tooling.sim.colors import COLOR_WORDS, TINTS, tint

PRODUCT_IMAGE_PX = 384
SPLIT_SALT = "ampere-split-v1"
_SIZE_WORDS = [("compact", "Compact"), ("large", "Large"), ("mini", "Mini"), ("xl", "XL")]


@dataclass(frozen=True)
class GalleryConfig:
    """How the gallery is derived from the catalog."""

    test_fraction: float = 0.3
    recolor: bool = True
    size_variants: bool = True


def _digest(*parts: str) -> int:
    return int(hashlib.sha256(":".join(parts).encode()).hexdigest()[:12], 16)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def open_photo(src: Path, max_px: int = 2 * PRODUCT_IMAGE_PX) -> Image.Image:
    """An RGB photo decoded at a reduced size (JPEG draft mode) when it is large."""
    with Image.open(src) as img:
        img.draft("RGB", (max_px, max_px))
        return img.convert("RGB")


def resize_photo(img: Image.Image, dst: Path, max_px: int = PRODUCT_IMAGE_PX) -> None:
    """Write a JPEG copy whose longer side is at most ``max_px``."""
    im = img.copy()
    im.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    dst.parent.mkdir(parents=True, exist_ok=True)
    im.save(dst, "JPEG", quality=88, optimize=True)


def _without_color_words(title: str) -> str:
    words = [w for w in title.split() if w.lower() not in COLOR_WORDS]
    return " ".join(words) or title


def _base_attributes(item: CatalogItem) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for key, values in item.facets.items():
        if key == "size" or not values:
            continue
        attrs[key.replace(" ", "_")] = " and ".join(values)
    sizes = [v.options["size"] for v in item.variants if _is_size_range(item)]
    if sizes:
        attrs["size"] = f"{sizes[0].lower()} to {sizes[-1].split()[-1]}" if len(sizes) > 1 else sizes[0]
    return attrs


def _is_size_range(item: CatalogItem) -> bool:
    """True for garment/shoe sizes ("Size 40" ...): one product, not one per size."""
    return bool(item.variants) and all(
        set(v.options) == {"size"} and v.options["size"].lower().startswith("size") for v in item.variants
    )


def _option_variants(item: CatalogItem) -> list:
    """Real variants worth a product each (screen size, RAM, storage, colour ...), not a size range."""
    opts = [v for v in item.variants if v.options]
    return opts if len(opts) > 1 and not _is_size_range(item) else []


def build_gallery(
    items: list[CatalogItem], photos_dir: Path, out_dir: Path, source_label: str, config: GalleryConfig = GalleryConfig()
) -> list[ProductRecord]:
    """Products (real, real variants, derived) with resized photos written under ``out_dir/images``."""
    products: list[ProductRecord] = []
    for item in items:
        group = item.slug
        category = " > ".join(item.categories)
        photo_rel = f"images/products/{group}.jpg"
        photo = open_photo(photos_dir / item.images[0])
        resize_photo(photo, out_dir / photo_rel)
        base_attrs = _base_attributes(item)
        common = {"description": item.description, "category": category, "brand": item.brand, "group": group,
                  "source": source_label}
        variants = _option_variants(item)
        if variants:
            for v in variants:
                opts = {k.replace(" ", "_").lower(): val for k, val in v.options.items()}
                label = " ".join(v.options.values())
                products.append(ProductRecord(
                    product_id=f"{group}--{_slug(label)}", title=f"{item.name} {label}",
                    attributes=base_attrs | opts, images=[photo_rel], price=v.price, **common,
                ))
            continue
        price = item.variants[0].price if item.variants else None
        products.append(ProductRecord(
            product_id=group, title=item.name, attributes=base_attrs, images=[photo_rel], price=price, **common
        ))
        if config.recolor:
            names = sorted(TINTS)
            color = names[_digest("tint", group) % len(names)]
            rel = f"images/products/{group}--{color}.jpg"
            resize_photo(tint(photo, TINTS[color]), out_dir / rel)
            products.append(ProductRecord(
                product_id=f"{group}--{color}", title=f"{color.title()} {_without_color_words(item.name)}",
                attributes=base_attrs | {"color": color}, images=[rel], price=price, derived="recolor", **common,
            ))
        if config.size_variants and _digest("size", group) % 2 == 0 and "size" not in base_attrs:
            word, label = _SIZE_WORDS[_digest("sizeword", group) % len(_SIZE_WORDS)]
            rel = f"images/products/{group}--{word}.jpg"
            w, h = photo.size
            resize_photo(photo.crop((int(w * 0.03), int(h * 0.03), int(w * 0.97), int(h * 0.97))), out_dir / rel)
            products.append(ProductRecord(
                product_id=f"{group}--{word}", title=f"{label} {item.name}",
                attributes=base_attrs | {"size": word}, images=[rel],
                price=round(price * 1.3, 2) if price and word in ("large", "xl") else price,
                derived="size", **common,
            ))
    return assign_split(products, config.test_fraction)


def assign_split(products: list[ProductRecord], test_fraction: float) -> list[ProductRecord]:
    """Deterministic split by group: groups ordered by a salted hash, the first fraction is "test"."""
    groups = sorted({p.group or p.product_id for p in products}, key=lambda g: _digest(SPLIT_SALT, g))
    n_test = round(len(groups) * test_fraction)
    test = set(groups[:n_test])
    out = []
    for p in products:
        split = "test" if (p.group or p.product_id) in test else "train"
        out.append(ProductRecord(**{**p.__dict__, "split": split}))
    return out
