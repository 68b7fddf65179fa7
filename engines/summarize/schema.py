"""The summary contract: what every summarizer engine returns for one ASR window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SummarySource = Literal["vllm", "openai", "llamacpp", "extractive", "empty"]
#: Why a window got the extractive summary, decided by the failure's type (never by its message):
#: the LLM call timed out, its reply stayed invalid after the repair turn, it raised, the window waited
#: too long and was shed, or the whole summarizer raised.
FallbackClass = Literal["timeout", "invalid_output", "error", "shed", "engine_raised"]


@dataclass(frozen=True)
class SummaryRequest:
    """One window of ASR text to summarize."""

    window_id: str
    text: str
    lang: str | None = None


class Attributes(BaseModel):
    """Product attributes heard in the stream; unknown ones stay None."""

    model_config = ConfigDict(extra="forbid")

    color: str | None = None
    material: str | None = None
    size: str | None = None
    specs: list[str] = Field(default_factory=list)


class Summary(BaseModel):
    """Product-specific facts distilled from a window of noisy live-stream speech."""

    model_config = ConfigDict(extra="forbid")

    has_product: bool = Field(description="False when the window talks about nothing sellable.")
    product_name: str | None = None
    brand: str | None = None
    category: str | None = None
    attributes: Attributes = Field(default_factory=Attributes)
    price_or_promo: str | None = None
    sentence: str = Field("", description="One normalized sentence for the text encoder.")
    language: str = "en"
    source: SummarySource = "extractive"
    prompt_version: str | None = None
    fallback_reason: str | None = Field(
        None, description="Why an LLM engine fell back to the extractive summary (None = no fallback)."
    )
    fallback_class: FallbackClass | None = Field(
        None, description="The bounded class of the fallback, from the failure's type (metrics label)."
    )
    rejected_fields: list[str] = Field(
        default_factory=list,
        description="Fact fields the gate blanked because their value was not of the field's kind "
        "(a colour that is no colour word, a size that is no size, ...).",
    )

    @property
    def is_fallback(self) -> bool:
        """True when an LLM engine was asked but the extractive fallback produced this summary."""
        return self.fallback_reason is not None

    @property
    def is_empty(self) -> bool:
        """True when there is no text for the text branch (it must be masked)."""
        return not self.has_product or not self.sentence.strip()
