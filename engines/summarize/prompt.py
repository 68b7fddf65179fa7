"""The summarizer prompt, kept as versioned data in ``prompts/<version>.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).with_name("prompts")
DEFAULT_PROMPT_VERSION = "v1"

Message = dict[str, str]
LANGUAGE_NAMES = {"zh": "Chinese (zh)", "en": "English (en)"}


def delimit(transcript: str) -> str:
    """Make the transcript unable to close or reopen its own delimiters."""
    return transcript.replace("<", "‹").replace(">", "›")


@dataclass(frozen=True)
class Prompt:
    """System instruction, user template, repair message and in-context examples of one version."""

    version: str
    system: str
    user_template: str
    repair: str
    examples: tuple[dict, ...]

    def user_message(self, transcript: str, language: str) -> str:
        """The user turn that carries one (delimited) transcript."""
        return self.user_template.format(
            language=LANGUAGE_NAMES.get(language, language), transcript=delimit(transcript)
        )

    def messages(self, transcript: str, language: str) -> list[Message]:
        """Chat messages: system, the few-shot examples in the window's language (all of them when
        none is) as turns, then the transcript."""
        msgs: list[Message] = [{"role": "system", "content": self.system}]
        for ex in [e for e in self.examples if e["language"] == language] or self.examples:
            msgs.append({"role": "user", "content": self.user_message(ex["transcript"], ex["language"])})
            msgs.append({"role": "assistant", "content": json.dumps(ex["output"], ensure_ascii=False)})
        msgs.append({"role": "user", "content": self.user_message(transcript, language)})
        return msgs

    def repair_messages(self, messages: list[Message], bad_reply: str, error: str) -> list[Message]:
        """The conversation extended by the bad reply and one request to fix it."""
        return [
            *messages,
            {"role": "assistant", "content": bad_reply[:2000]},
            {"role": "user", "content": self.repair.format(error=error[:200])},
        ]


@lru_cache(maxsize=8)
def load_prompt(version: str = DEFAULT_PROMPT_VERSION) -> Prompt:
    """Read ``prompts/<version>.json``; a clear error names the versions that exist."""
    path = PROMPTS_DIR / f"{version}.json"
    if not path.exists():
        known = sorted(p.stem for p in PROMPTS_DIR.glob("*.json"))
        raise FileNotFoundError(f"unknown prompt version {version!r}; known: {known}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("version") != version:
        raise ValueError(f"{path.name} says version {data.get('version')!r}, expected {version!r}")
    return Prompt(
        version=version,
        system=data["system"],
        user_template=data["user_template"],
        repair=data["repair"],
        examples=tuple(data.get("examples", ())),
    )
