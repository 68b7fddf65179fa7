"""Summaries of a dataset's moments: compute them, store them in ``DIR/summaries/<engine>.jsonl``, score them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from encoders.dataset import Dataset, MomentRecord
from engines.summarize.base import Summarizer
from engines.summarize.quality import Truth, inject_hostile, leak_rate, score
from engines.summarize.schema import Summary, SummaryRequest
from streams.settings import Settings, get_settings
from streams.worker.wiring import build_summarizer_from, summarizer_fingerprint

Progress = Callable[[int], None]


def moment_request(moment: MomentRecord, text: str | None = None) -> SummaryRequest:
    """What the summarizer sees of one moment (its transcript and spoken language)."""
    lang = moment.asr[0].lang if moment.asr else None
    return SummaryRequest(window_id=moment.moment_id, text=moment.asr_text if text is None else text, lang=lang)


def summaries_path(root: Path, engine: str, settings: Settings | None = None) -> Path:
    """``DIR/summaries/<engine>-<fingerprint>.jsonl``: one file per engine, model and prompt version
    (``streams.worker.wiring.summarizer_fingerprint``), so a model or prompt change never reuses old summaries."""
    return Path(root) / "summaries" / f"{engine}-{summarizer_fingerprint(settings or get_settings(), engine)}.jsonl"


def load_or_summarize(
    dataset: Dataset, moments: Sequence[MomentRecord], engine: str, batch_size: int = 8, progress=None
) -> dict[str, Summary]:
    """The summary of every moment by ``engine`` as the settings configure it, from the cache file
    (computed and appended when missing)."""
    path = summaries_path(dataset.root, engine)
    cached = read_summaries(path)
    todo = [m for m in moments if m.moment_id not in cached]
    if todo:
        summarizer = build_summarizer_from(get_settings(), engine)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            for i in range(0, len(todo), batch_size):
                batch = todo[i : i + batch_size]
                for m, s in zip(batch, summarizer.summarize([moment_request(m) for m in batch])):
                    cached[m.moment_id] = s
                    fh.write(json.dumps({"moment_id": m.moment_id, "summary": s.model_dump(mode="json")},
                                        ensure_ascii=False) + "\n")
                fh.flush()
                if progress:
                    progress(f"summarize ({engine})", min(i + batch_size, len(todo)), len(todo))
    return {m.moment_id: cached[m.moment_id] for m in moments}


def read_summaries(path: Path) -> dict[str, Summary]:
    """``moment_id -> Summary`` from a summaries file (missing file = empty)."""
    out: dict[str, Summary] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out[row["moment_id"]] = Summary.model_validate(row["summary"])
    return out


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start: start + size]


def summarize_moments(
    summarizer: Summarizer,
    requests: Sequence[SummaryRequest],
    batch_size: int = 8,
    progress: Progress | None = None,
) -> list[Summary]:
    """Summaries of ``requests`` in order, batch by batch."""
    out: list[Summary] = []
    for batch in _batches(requests, batch_size):
        out.extend(summarizer.summarize(batch))
        if progress:
            progress(len(batch))
    return out


def summarize_dataset(
    dataset: Dataset,
    summarizer: Summarizer,
    engine: str,
    *,
    limit: int | None = None,
    batch_size: int = 8,
    force: bool = False,
    progress: Progress | None = None,
) -> tuple[Path, int]:
    """Write ``summaries/<engine>.jsonl`` for the dataset's moments; reuse rows already there unless ``force``.

    Returns the file and how many summaries were computed now.
    """
    path = summaries_path(dataset.root, engine)
    known = {} if force else read_summaries(path)
    moments = dataset.moments[:limit] if limit else dataset.moments
    todo = [m for m in moments if m.moment_id not in known]
    fresh = summarize_moments(summarizer, [moment_request(m) for m in todo], batch_size, progress)
    known.update({m.moment_id: s for m, s in zip(todo, fresh, strict=True)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for moment_id, summary in known.items():
            fh.write(json.dumps({"moment_id": moment_id, "summary": summary.model_dump(mode="json")},
                                ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path, len(todo)


def truths(dataset: Dataset, moments: Sequence[MomentRecord]) -> list[Truth]:
    """The product truth of each moment."""
    products = {p.product_id: p for p in dataset.products}
    out = []
    for m in moments:
        p = products.get(m.product_id)
        out.append(Truth(p.title, p.brand, dict(p.attributes)) if p else Truth(""))
    return out


def evaluate_summarizer(
    dataset: Dataset,
    summarizer: Summarizer,
    *,
    limit: int | None = None,
    hostile: bool = True,
    seed: int = 0,
    batch_size: int = 8,
    progress: Progress | None = None,
) -> dict[str, dict]:
    """Quality on the dataset's moments, clean and (optionally) with one hostile line injected in each."""
    moments = [m for m in dataset.moments if m.asr_text.strip()]
    if limit:
        moments = moments[:limit]
    truth = truths(dataset, moments)
    clean = summarize_moments(summarizer, [moment_request(m) for m in moments], batch_size, progress)
    result = {"clean": score(clean, truth)}
    if hostile:
        rng = random.Random(seed)
        injected = [inject_hostile(m.asr_text, rng) for m in moments]
        requests = [moment_request(m, text) for m, (text, _) in zip(moments, injected, strict=True)]
        attacked = summarize_moments(summarizer, requests, batch_size, progress)
        result["hostile"] = {**score(attacked, truth), "leak_rate": leak_rate(attacked, [k for _, k in injected])}
    return result
