"""Summary faithfulness per engine, before and after the gate (``engines.summarize.faithfulness``).

English windows: a fixed hashed subset of the dataset's test-split moments (truth: the product).
Chinese windows: the short pitches below, written for this measurement (truth: the product named).
For an LLM engine the raw replies are parsed without the gate ("raw") and then gated ("gated"), so
both are measured on the same replies. Writes JSON + markdown into ``bench/results/``::

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
from engines.summarize.quality import Truth, score
from engines.summarize.schema import Summary, SummaryRequest
from streams.settings import get_settings
from streams.wiring import build_summarizer_from
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
    out = []
    for r in reqs:
        lang = request_language(r)
        reply = summarizer._complete_many([summarizer.prompt.messages(r.text, lang)])[0]
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


def run(dataset: Dataset, engines: list[str], english: int) -> list[dict]:
    """One row per engine, stage (raw / gated) and language."""
    reqs, truth = windows(dataset, english)
    rows = []
    for engine in engines:
        if engine == "extractive":
            stages = {"as is": build_summarizer("extractive").summarize(reqs)}
        else:
            raw = _raw_llm(engine, reqs)
            stages = {"raw": raw, "gated": [ground(s, r.text) if s.has_product else s for s, r in zip(raw, reqs)]}
        for stage, summaries in stages.items():
            for lang in ("en", "zh"):
                idx = [i for i, r in enumerate(reqs) if r.lang == lang]
                rows.append(_row(engine, stage, lang, [summaries[i] for i in idx], [reqs[i] for i in idx],
                                 [truth[i] for i in idx]))
    return rows


def markdown(rows: list[dict]) -> str:
    cols = ["engine", "stage", "language", "windows", "failed", "values", "unsupported", "foreign", "foreign_sentences",
            "name_precision", "name_recall", "attr_precision", "attr_recall"]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    lines += ["| " + " | ".join("–" if r.get(c) is None else str(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    from streams.settings import get_settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", type=Path, default=get_settings().home / "data" / "sample")
    ap.add_argument("--engines", default="extractive,llamacpp")
    ap.add_argument("--english", type=int, default=12, help="English test windows (a fixed hashed subset).")
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    rows = run(Dataset.load(args.dataset), [e for e in args.engines.split(",") if e], args.english)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary_faithfulness.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n",
                                                        encoding="utf-8")
    (args.out / "summary_faithfulness.md").write_text(markdown(rows), encoding="utf-8")
    print(markdown(rows))


if __name__ == "__main__":
    main()
