"""Summary faithfulness per engine, before and after the gate (``engines.summarize.faithfulness``).

English windows: a fixed hashed subset of the dataset's test-split moments (truth: the product).
Chinese windows: the short pitches below, written for this measurement (truth: the product named).
For an LLM engine the raw replies are parsed without the gate ("raw"), gated as before the kind
checks ("gated": support and script) and gated with them ("gated + kinds"), all on the same replies.
Per field (colour, size, material; price counted) precision and recall go to ``field-kinds.*``.
Writes JSON + markdown into ``bench/results/``::

    python -m tooling.bench.faithfulness --engines extractive,llamacpp --english 12
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from encoders.dataset import Dataset
from engines.summarize import build_summarizer
from engines.summarize.extractive import request_language
from engines.summarize.faithfulness import ground, measure
from engines.summarize.output import InvalidOutput, parse_llm_output
from engines.summarize.quality import Truth, score, tokens
from engines.summarize.schema import Summary, SummaryRequest
from streams.settings import get_settings
from streams.worker.wiring import build_summarizer_from
from tooling.evaluate import subset
from tooling.summaries import truths

ZH_WINDOWS = (
    ("家人们看过来 这款电动牙刷 声波震动 三种模式 充一次电用三十天 颜色是白色和粉色 今天九十九元包邮",
     Truth("电动牙刷", "", {"颜色": "白色和粉色"})),
    ("好 下一个链接 纯棉短袖T恤 男女同款 有黑色白色灰色 尺码从S到XXL 两件八十", Truth("纯棉短袖T恤", "", {"颜色": "黑色白色灰色"})),
    ("宝子们 这个不粘锅 二十八厘米 麦饭石涂层 燃气电磁炉都能用 原价两百 今天一百二", Truth("不粘锅", "", {"尺寸": "二十八厘米"})),
    ("来 看这个蓝牙耳机 降噪的 续航八小时 送充电仓 颜色黑色 拍下立减三十", Truth("蓝牙耳机", "", {"颜色": "黑色"})),
    ("这款保湿面霜 五十毫升 敏感肌也能用 无香精 买一送一 只有今天", Truth("保湿面霜", "", {"容量": "五十毫升"})),
    ("大家看这个双肩包 防水面料 可以放十五寸电脑 颜色有藏青和卡其 一百五十九", Truth("双肩包", "", {"颜色": "藏青和卡其"})),
    ("这个瑜伽垫 六毫米厚 TPE材质 防滑 紫色的 送收纳绑带 六十九块", Truth("瑜伽垫", "", {"材质": "TPE"})),
    ("今天的不锈钢保温杯 五百毫升 保温十二小时 墨绿色 拍一发二", Truth("不锈钢保温杯", "", {"容量": "五百毫升"})),
)


def windows(dataset: Dataset, english: int) -> tuple[list[SummaryRequest], list[Truth]]:
    """English test-split windows (hashed subset) then the Chinese ones, with their truths."""
    moments = subset([m for m in dataset.split("test").moments if m.asr_text.strip()], english)
    reqs = [SummaryRequest(m.moment_id, m.asr_text, "en") for m in moments]
    reqs += [SummaryRequest(f"zh-{i}", text, "zh") for i, (text, _) in enumerate(ZH_WINDOWS)]
    return reqs, truths(dataset, moments) + [t for _, t in ZH_WINDOWS]


def _raw_llm(engine: str, reqs: list[SummaryRequest]) -> list[Summary]:
    """Replies of an LLM engine parsed without the gate (an error or invalid reply: an empty summary
    whose ``fallback_reason`` says why, counted as ``failed``)."""
    summarizer = build_summarizer_from(get_settings(), engine)
    langs = [request_language(r) for r in reqs]
    replies = summarizer._complete_many([summarizer.prompt.messages(r.text, lang) for r, lang in zip(reqs, langs)])
    out = []
    for r, lang, reply in zip(reqs, langs, replies, strict=True):
        try:
            if isinstance(reply, BaseException):
                raise InvalidOutput(str(reply))
            out.append(parse_llm_output(reply, transcript=r.text, language=lang, source=summarizer.name,
                                        prompt_version=summarizer.prompt.version, gate=False))
        except InvalidOutput as exc:
            out.append(Summary(has_product=False, language=lang, source=summarizer.name,
                               fallback_reason=str(exc)[:200] or type(exc).__name__))
    return out


def _row(engine: str, stage: str, lang: str, summaries: list[Summary], reqs: list[SummaryRequest],
         truth: list[Truth]) -> dict:
    f = measure(summaries, [r.text for r in reqs])
    q = score(summaries, truth)
    return {"engine": engine, "stage": stage, "language": lang, "windows": len(summaries),
            "failed": sum(s.fallback_reason is not None for s in summaries), "values": f.values,
            "unsupported": round(f.unsupported, 3), "foreign": round(f.foreign, 3),
            "foreign_sentences": round(f.foreign_sentences, 3),
            **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in q.items()
               if k in ("name_precision", "name_recall", "attr_precision", "attr_recall")}}


FIELD_KEYS = {
    "color": ("color", "colour", "颜色"),
    "size": ("size", "尺寸", "尺码", "容量", "screen_size", "monitor_size"),
    "material": ("material", "材质", "面料"),
}
"""The truth attributes that say each kinded field (by attribute key)."""
_NOT_EVIDENCE = frozenset(["色", "size", "color", "colour"])


def field_value(summary: Summary, field: str) -> str | None:
    """A summary's value of ``field`` (color | size | material | price)."""
    if field == "price":
        return summary.price_or_promo
    return getattr(summary.attributes, field)


def field_truth(truth: Truth, field: str) -> str | None:
    """The truth's value of ``field``, or None when its attributes do not say it."""
    vals = [v for k, v in truth.attributes.items() if k.lower() in FIELD_KEYS.get(field, ())]
    return " ".join(vals) if vals else None


def field_scores(summaries: list[Summary], truth: list[Truth]) -> dict[str, dict]:
    """Per field: filled values; among windows whose truth says the field, the values that share a
    word (CJK: a character, not 色) with it (precision over those filled, recall over those truths);
    price has no truth here, only its counts."""
    out: dict[str, dict] = {}
    for field in ("color", "size", "material", "price"):
        filled = verifiable = correct = truths_n = 0
        for s, t in zip(summaries, truth, strict=True):
            value, want = field_value(s, field), field_truth(t, field)
            filled += bool(value)
            truths_n += want is not None
            if value and want is not None:
                verifiable += 1
                correct += bool((tokens(value) - _NOT_EVIDENCE) & (tokens(want) - _NOT_EVIDENCE))
        out[field] = {"filled": filled, "verifiable": verifiable, "correct": correct, "truths": truths_n,
                      "precision": round(correct / verifiable, 3) if verifiable else None,
                      "recall": round(correct / truths_n, 3) if truths_n else None}
    kinded = [out[f] for f in ("color", "size", "material")]
    ver, cor, tru = (sum(x[k] for x in kinded) for k in ("verifiable", "correct", "truths"))
    out["attributes"] = {"filled": sum(x["filled"] for x in kinded), "verifiable": ver, "correct": cor, "truths": tru,
                         "precision": round(cor / ver, 3) if ver else None, "recall": round(cor / tru, 3) if tru else None}
    return out


def field_rows(engine: str, stages: dict[str, list[Summary]], reqs: list[SummaryRequest],
               truth: list[Truth]) -> list[dict]:
    """Per-field precision / recall of each stage and language (``engines.summarize.kinds`` before/after)."""
    rows = []
    for stage, summaries in stages.items():
        for lang in ("en", "zh"):
            idx = [i for i, r in enumerate(reqs) if r.lang == lang]
            if not idx:
                continue
            scores = field_scores([summaries[i] for i in idx], [truth[i] for i in idx])
            rows.append({"engine": engine, "stage": stage, "language": lang, "windows": len(idx),
                         "rejected": sum(len(summaries[i].rejected_fields) for i in idx), "fields": scores})
    return rows


def llm_stages(raw: list[Summary], reqs: list[SummaryRequest]) -> dict[str, list[Summary]]:
    """The same replies: raw, gated as before (support and script only), gated with the kind checks."""
    return {"raw": raw,
            "gated": [ground(s, r.text, kinds=False) if s.has_product else s for s, r in zip(raw, reqs)],
            "gated + kinds": [ground(s, r.text) if s.has_product else s for s, r in zip(raw, reqs)]}


def run(dataset: Dataset, engines: list[str], english: int) -> tuple[list[dict], list[dict]]:
    """One row per engine, stage (raw / gated / gated + kinds) and language; and the per-field rows."""
    reqs, truth = windows(dataset, english)
    rows, fields = [], []
    for engine in engines:
        if engine == "extractive":
            stages = {"as is": build_summarizer("extractive").summarize(reqs)}
        else:
            stages = llm_stages(_raw_llm(engine, reqs), reqs)
        fields += field_rows(engine, stages, reqs, truth)
        for stage, summaries in stages.items():
            for lang in ("en", "zh"):
                idx = [i for i, r in enumerate(reqs) if r.lang == lang]
                rows.append(_row(engine, stage, lang, [summaries[i] for i in idx], [reqs[i] for i in idx],
                                 [truth[i] for i in idx]))
    return rows, fields


def markdown(rows: list[dict]) -> str:
    cols = ["engine", "stage", "language", "windows", "failed", "values", "unsupported", "foreign", "foreign_sentences",
            "name_precision", "name_recall", "attr_precision", "attr_recall"]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    lines += ["| " + " | ".join("–" if r.get(c) is None else str(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def fields_markdown(rows: list[dict]) -> str:
    """One table: per stage and language, precision / recall (verifiable values) of each field."""
    head = ["engine", "stage", "language", "windows", "rejected"]
    names = ("color", "size", "material", "attributes")
    cols = head + [f"{n} P (n) / R" for n in names] + ["price filled"]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for r in rows:
        cells = [str(r[c]) for c in head]
        for n in names:
            f = r["fields"][n]
            p = "–" if f["precision"] is None else f"{f['precision']:.2f}"
            rec = "–" if f["recall"] is None else f"{f['recall']:.2f}"
            cells.append(f"{p} ({f['verifiable']}) / {rec}")
        cells.append(str(r["fields"]["price"]["filled"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from streams.settings import get_settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", type=Path, default=get_settings().home / "data" / "sample")
    ap.add_argument("--engines", default="extractive,llamacpp")
    ap.add_argument("--english", type=int, default=12, help="English test windows (a fixed hashed subset).")
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    rows, fields = run(Dataset.load(args.dataset), [e for e in args.engines.split(",") if e], args.english)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "field-kinds.json").write_text(json.dumps(fields, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "field-kinds.md").write_text(fields_markdown(fields), encoding="utf-8")
    print(fields_markdown(fields))
    (args.out / "summary_faithfulness.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n",
                                                        encoding="utf-8")
    (args.out / "summary_faithfulness.md").write_text(markdown(rows), encoding="utf-8")
    print(markdown(rows))


if __name__ == "__main__":
    main()
