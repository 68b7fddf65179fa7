"""What revision 2 (the window refined by the LLM summary) encodes on its text branch.

Measured by ``python -m tooling.bench.refinement`` (docs/RESULTS.md, "Revision 2's text branch"):
a candidate replaces the transcript only when its R@1 gain has a 95 % paired interval above 0.
None did, so revision 2 keeps revision 1's text (the transcript, hence the same vectors) and only
adds the LLM's structured facts to the stored object; a refinement can no longer move a tag by
re-encoding a sentence that retrieves worse than the speech it came from.
"""

from __future__ import annotations

from typing import Literal

from engines.summarize.schema import Summary

RefinedText = Literal["transcript", "summary", "appended"]
REFINED_TEXTS: tuple[RefinedText, ...] = ("transcript", "summary", "appended")


def refined_text(transcript: str, summary: Summary, mode: RefinedText = "transcript") -> str | None:
    """The text branch of an LLM-summarized window: its transcript, the summary's sentence, or the
    sentence appended to the transcript (an empty summary adds nothing; None when nothing is left)."""
    speech = transcript.strip()
    sentence = "" if summary.is_empty else summary.sentence.strip()
    if mode == "summary":
        text = sentence
    elif mode == "appended":
        text = f"{speech} {sentence}".strip()
    else:
        text = speech
    return text or None
