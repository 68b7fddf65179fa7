"""The on-disk dataset format read by ``ampere train``, ``ampere eval``, ``ampere publish`` and the demo.

A dataset is a folder::

    DIR/
      products.jsonl     one ProductRecord per line (the catalog / gallery)
      moments.jsonl      one MomentRecord per line (live or short-video segments, ground truth product)
      images/...         image files; every path in the JSONL files is relative to DIR
      summaries/<engine>.jsonl   optional cache: {"moment_id": ..., "summary": {...Summary...}}

Moments that share a ``stream_id`` are consecutive segments of one stream; their ASR and keyframe
times are milliseconds from the start of that stream and do not overlap between segments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

Domain = Literal["live", "video"]


@dataclass(frozen=True)
class ProductRecord:
    """One catalog product."""

    product_id: str
    title: str
    description: str = ""
    category: str = ""
    brand: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    lang: str = "en"
    split: str = "train"
    group: str = ""
    """Products with the same group share a source item (variants, derived near-duplicates)."""
    derived: str = ""
    """Empty for real catalog products; otherwise how this one was derived (e.g. "recolor")."""
    price: float | None = None
    source: str = ""
    """Where the record came from (catalog source name, package and version)."""

    @property
    def text(self) -> str:
        """The product's text for the text branch: brand, title and attribute values."""
        parts = [self.brand, self.title] if self.brand and self.brand.lower() not in self.title.lower() else [self.title]
        parts += [v for k, v in self.attributes.items() if v and v.lower() not in self.title.lower()]
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class AsrChunk:
    """One recognized speech chunk."""

    start_ms: int
    end_ms: int
    text: str
    lang: str = "en"


@dataclass(frozen=True)
class Keyframe:
    """One frame as the camera saw it."""

    ts_ms: int
    path: str


@dataclass(frozen=True)
class MomentRecord:
    """A live or short-video segment showing one product (its ground truth)."""

    moment_id: str
    domain: Domain
    stream_id: str
    product_id: str
    asr: list[AsrChunk] = field(default_factory=list)
    keyframes: list[Keyframe] = field(default_factory=list)
    split: str = "train"

    @property
    def asr_text(self) -> str:
        """The raw transcript of the segment, chunks joined by spaces."""
        return " ".join(c.text for c in self.asr if c.text)


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc


def _known(cls: type, d: dict) -> dict:
    """Keep the fields the record type knows (newer or foreign files may carry more)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def _product(d: dict) -> ProductRecord:
    return ProductRecord(**_known(ProductRecord, d))


def _moment(d: dict) -> MomentRecord:
    d = _known(MomentRecord, d)
    d["asr"] = [AsrChunk(**_known(AsrChunk, c)) for c in d.get("asr", [])]
    d["keyframes"] = [Keyframe(**_known(Keyframe, k)) for k in d.get("keyframes", [])]
    return MomentRecord(**d)


@dataclass
class Dataset:
    """A loaded dataset folder."""

    root: Path
    products: list[ProductRecord]
    moments: list[MomentRecord]

    @classmethod
    def load(cls, root: str | Path) -> Dataset:
        """Read ``products.jsonl`` and ``moments.jsonl`` (the latter may be absent)."""
        root = Path(root)
        pfile = root / "products.jsonl"
        if not pfile.exists():
            raise FileNotFoundError(f"{root} is not a dataset: {pfile.name} is missing")
        products = [_product(d) for d in _read_jsonl(pfile)]
        mfile = root / "moments.jsonl"
        moments = [_moment(d) for d in _read_jsonl(mfile)] if mfile.exists() else []
        return cls(root=root, products=products, moments=moments)

    def path(self, rel: str) -> Path:
        """Absolute path of a file named relative to the dataset folder."""
        return self.root / rel

    def split(self, name: str) -> Dataset:
        """The products and moments of one split ("train", "test", ...)."""
        return Dataset(
            root=self.root,
            products=[p for p in self.products if p.split == name],
            moments=[m for m in self.moments if m.split == name],
        )

    def streams(self) -> dict[str, list[MomentRecord]]:
        """Moments grouped by stream, each list in time order."""
        out: dict[str, list[MomentRecord]] = {}
        for m in self.moments:
            out.setdefault(m.stream_id, []).append(m)
        for ms in out.values():
            ms.sort(key=lambda m: (m.asr[0].start_ms if m.asr else 0))
        return out

    def save(self) -> None:
        """Write the JSONL files back (images are written by whoever made them)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "products.jsonl").open("w", encoding="utf-8") as fh:
            for p in self.products:
                fh.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
        with (self.root / "moments.jsonl").open("w", encoding="utf-8") as fh:
            for m in self.moments:
                fh.write(json.dumps(asdict(m), ensure_ascii=False) + "\n")
