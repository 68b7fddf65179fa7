"""`ampere calibrate`: a claim rule for a deployment's own catalog, with a bound on its error rate.

Labels are JSONL, one window per line (paths relative to the labels file; ``text`` or ``images`` or both)::

    {"text": "this one is the 240 gig drive", "images": ["frames/a.jpg"], "product_id": "P-17"}
    {"text": "thanks for joining, guys", "product_id": null}

``product_id`` null means no catalog product is right (a claim of that window is wrong). The catalog is
a dataset folder (``products.jsonl`` and its images), the one ``ampere eval`` reads.

Risk control (Learn then Test with fixed-sequence testing): per modality and per margin floor of
:data:`MARGINS`, top-1 floors are tested from the strictest down. The null hypothesis at a floor is
"claims here are wrong more often than ``1 - target``"; it is rejected when the exact binomial tail
P(X <= wrong | claimed, 1 - target) is at most ``delta / len(MARGINS)`` (Bonferroni over the margins),
and testing along that margin stops at the first floor not rejected. A path starts at its first floor
that claims enough windows to be rejected at all (:func:`needed_claims`: a count of claims, not of
errors, so the labels do not choose where testing starts). With probability at least
``1 - delta`` every rejected pair has an error rate of at most ``1 - target`` (for live windows
exchangeable with the labelled ones), so the pair that claims most windows is chosen; a modality
with no rejected pair never claims. Nothing is fitted to the labels but that choice.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from streams.errors import AmpereError
from streams.worker.claims import MODALITIES, ClaimFeatures, ClaimRule, ModelBinding, Thresholds

MARGINS = (0.0, 0.02, 0.05, 0.1)
"""Margin floors tried (each one a path of top-1 floors; the confidence is split between them)."""
NEVER = Thresholds(float("inf"), float("inf"))


class LabelError(AmpereError):
    """A labels file that cannot be used, with the line and the reason."""


@dataclass(frozen=True)
class Label:
    """One labelled window."""

    text: str | None
    images: tuple[Path, ...]
    product_id: str | None
    line: int


@dataclass(frozen=True)
class ModalityFit:
    """What the labels said about one modality's chosen thresholds."""

    modality: str
    thresholds: Thresholds
    windows: int
    claimed: int
    wrong: int
    in_catalog: int

    @property
    def coverage(self) -> float:
        """Share of the windows with a right catalog product that are claimed and right."""
        return (self.claimed - self.wrong) / self.in_catalog if self.in_catalog else 0.0


def load_labels(path: Path, known_products: set[str]) -> list[Label]:
    """The labelled windows of ``path``; :class:`LabelError` names the first bad line and why."""
    if not path.is_file():
        raise LabelError(f"{path}: no such labels file")
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8", errors="strict").splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{path}:{n}"
        try:
            d = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LabelError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(d, dict):
            raise LabelError(f"{where}: a line must be a JSON object with text/images and product_id")
        if "product_id" not in d:
            raise LabelError(f'{where}: "product_id" missing (a catalog product id, or null for none)')
        pid, text, images = d["product_id"], d.get("text"), d.get("images", [])
        if pid is not None and (not isinstance(pid, str) or pid not in known_products):
            raise LabelError(f"{where}: product_id {pid!r} is not in the catalog")
        if text is not None and not isinstance(text, str):
            raise LabelError(f'{where}: "text" must be a string')
        if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
            raise LabelError(f'{where}: "images" must be a list of file paths')
        paths = tuple((path.parent / i).resolve() for i in images)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise LabelError(f"{where}: image not found: {missing[0]}")
        if not (text and text.strip()) and not paths:
            raise LabelError(f"{where}: a window needs text, images or both")
        out.append(Label(text if text and text.strip() else None, paths, pid, n))
    if not out:
        raise LabelError(f"{path}: no labelled windows")
    return out


def needed_claims(target: float, delta: float) -> int:
    """Right claims of one modality needed (with none wrong) before any floor can be certified."""
    return math.ceil(math.log(delta / len(MARGINS)) / math.log(target))


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if n == 0 or k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p)
                 + (n - i) * math.log1p(-p) for i in range(k + 1)]
    top = max(log_terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in log_terms))


def fit_modality(features: list[ClaimFeatures], correct: np.ndarray, in_catalog: np.ndarray, modality: str,
                 target: float, delta: float) -> ModalityFit:
    """The certified (top-1, margin) floors of ``modality`` that claim most windows (never-claim if none)."""
    idx = [i for i, f in enumerate(features) if f.modality == modality]
    top1 = np.array([features[i].top1 for i in idx])
    margin = np.array([features[i].margin for i in idx])
    ok, in_cat = correct[idx], in_catalog[idx]
    best = ModalityFit(modality, NEVER, len(idx), 0, 0, int(in_cat.sum()))
    level, need = delta / len(MARGINS), needed_claims(target, delta)
    for m in MARGINS:
        for t1 in sorted(set(np.round(top1, 4)), reverse=True):  # strictest first: fixed-sequence testing
            claimed = (top1 >= t1) & (margin >= m)
            n, wrong = int(claimed.sum()), int((claimed & ~ok).sum())
            if n < need:
                continue  # could not be rejected even with no error: the sequence starts where it can (labels unseen)
            if binomial_cdf(wrong, n, 1.0 - target) > level:
                break  # not certified: nothing laxer on this path is tested
            if n - wrong > best.claimed - best.wrong:
                best = ModalityFit(modality, Thresholds(float(t1), m), len(idx), n, wrong, int(in_cat.sum()))
    return best


def fit_rule(features: list[ClaimFeatures], correct: np.ndarray, in_catalog: np.ndarray, target: float,
             delta: float, binding: ModelBinding, source: dict) -> tuple[ClaimRule, list[ModalityFit]]:
    """A rule of certified thresholds per modality; :class:`LabelError` when no modality has enough labels."""
    fits = [fit_modality(features, correct, in_catalog, m, target, delta) for m in MODALITIES]
    if all(f.thresholds == NEVER for f in fits):
        need = needed_claims(target, delta)
        counts = ", ".join(f"{f.modality} {f.windows}" for f in fits)
        raise LabelError(
            f"no modality can be certified at precision {target} with confidence {1 - delta:.0%}: that takes at "
            f"least {need} claimed windows of one modality with none wrong (more when some are wrong); the labels "
            f"hold {counts} windows, {int(correct.sum())} of them with the right product first. Label more windows, "
            "or ask for a lower --target / larger --delta")
    thresholds = {f.modality: f.thresholds for f in fits if f.thresholds != NEVER}
    return ClaimRule(thresholds, source=source, model=binding), fits


def report(fits: list[ModalityFit], rule: ClaimRule, target: float, delta: float) -> dict:
    """What the rule was fitted on and what it guarantees."""
    return {
        "guarantee": f"with probability >= {1 - delta:.0%}, each modality's claims are wrong at most {1 - target:.1%} of "
                     "the time (for windows like the labelled ones)",
        "target_precision": target, "delta": delta, "margins_tried": list(MARGINS),
        "modalities": [{**asdict(f), "thresholds": asdict(f.thresholds) if f.thresholds != NEVER else None,
                        "precision": (f.claimed - f.wrong) / f.claimed if f.claimed else None,
                        "coverage": round(f.coverage, 4)} for f in fits],
        "rule": json.loads(rule.to_json()),
    }


def markdown(rep: dict) -> str:
    lines = ["# Claim rule calibrated on your labels", "", rep["guarantee"] + ".", "",
             "| modality | windows | min top-1 | min margin | claimed | wrong | precision | coverage |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for m in rep["modalities"]:
        t = m["thresholds"]
        lines.append(f"| {m['modality']} | {m['windows']} | {t['min_top1'] if t else 'never'} | "
                     f"{t['min_margin'] if t else '-'} | {m['claimed']} | {m['wrong']} | "
                     f"{'-' if m['precision'] is None else format(m['precision'], '.3f')} | {m['coverage']:.3f} |")
    return "\n".join(lines) + "\n"


def plot(features: list[ClaimFeatures], correct: np.ndarray, fits: list[ModalityFit], path: Path) -> None:
    """Precision against claims as the top-1 floor goes down, per modality, with the chosen point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(fits), figsize=(4.3 * len(fits), 4), sharey=True)
    for ax, f in zip(np.atleast_1d(axes), fits):
        idx = [i for i, x in enumerate(features) if x.modality == f.modality]
        order = sorted(idx, key=lambda i: -features[i].top1)
        ok = np.cumsum([bool(correct[i]) for i in order])
        if order:
            ax.plot(np.arange(1, len(order) + 1), ok / np.arange(1, len(order) + 1), "-", label="top-1 floor only")
        if f.claimed:
            ax.plot(f.claimed, (f.claimed - f.wrong) / f.claimed, "o", markersize=9, label="chosen (certified)")
        ax.set_title(f"{f.modality} ({f.windows} windows)")
        ax.set_xlabel("windows claimed")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("claimed precision")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(labels_path: Path, catalog_dir: Path, encoder_name: str, target: float, delta: float, rule_out: Path,
        report_dir: Path | None) -> tuple[ClaimRule, dict]:
    """Encode the labelled windows and the catalog, search them as the tag agent does, fit, write."""
    from PIL import Image

    from encoders.dataset import Dataset
    from encoders.scoring import SCORING_ID
    from engines.encode import load_encoder
    from tooling.bench.calibration import Window, gallery, score
    from tooling.evaluate import _Images

    if not 0.5 <= target < 1.0 or not 0.0 < delta < 1.0:
        raise LabelError(f"--target must lie in [0.5, 1) and --delta in (0, 1); got {target} and {delta}")
    catalog = Dataset.load(catalog_dir)
    labels = load_labels(labels_path, {p.product_id for p in catalog.products})
    encoder = load_encoder(encoder_name, None)
    windows = []
    for lab in labels:
        images = []
        for p in lab.images:
            try:
                with Image.open(p) as im:
                    images.append(im.convert("RGB"))
            except OSError as exc:
                raise LabelError(f"{labels_path}:{lab.line}: cannot read image {p}: {exc}") from None
        windows.append(Window("labels", "val", lab.product_id, images, lab.text))
    scored = score(encoder, windows, catalog.products, gallery(encoder, catalog.products, _Images(catalog)))
    model_version = str(getattr(encoder, "model_version", ""))
    source = {"command": "ampere calibrate", "labels": str(labels_path), "windows": len(labels),
              "catalog": str(catalog_dir), "target_precision": target, "delta": delta, "model_version": model_version}
    rule, fits = fit_rule(scored.features, scored.correct, scored.in_catalog, target, delta,
                          ModelBinding.of(model_version, encoder_name, SCORING_ID), source)
    rule_out.parent.mkdir(parents=True, exist_ok=True)
    rule_out.write_text(rule.to_json(), encoding="utf-8")
    rep = report(fits, rule, target, delta)
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "calibrate.json").write_text(json.dumps(rep, indent=2) + "\n", encoding="utf-8")
        (report_dir / "calibrate.md").write_text(markdown(rep), encoding="utf-8")
        plot(scored.features, scored.correct, fits, report_dir / "calibrate.png")
    return rule, rep
