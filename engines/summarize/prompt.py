"""The summarizer prompt, kept as versioned data in ``prompts/<version>.json``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).with_name("prompts")
DEFAULT_PROMPT_VERSION = "v1"

Message = dict[str, str]
LANGUAGE_NAMES = {"zh": "Chinese (zh)", "en": "English (en)"}
LEAN_SUFFIX = "-lean"
# how the system text asks for the sentence: the key with its explanation, and "... and sentence"
_SENTENCE_KEY = re.compile(r",\s*sentence\s*\([^)]*\)")
_AND_SENTENCE = re.compile(r"(\w+), (\w+) and sentence\b")


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

    @property
    def is_lean(self) -> bool:
        """True for the lean form (the LLM answers without ``sentence``)."""
        return self.version.endswith(LEAN_SUFFIX)

    def lean(self) -> Prompt:
        """This prompt for the lean output: no ``sentence`` asked for, none in the examples."""
        system = _AND_SENTENCE.sub(r"\1 and \2", _SENTENCE_KEY.sub("", self.system))
        if re.search(r"\bsentence\b", system):
            raise ValueError(f"prompt {self.version} still asks for a sentence; it has no lean form")
        examples = tuple(
            {**ex, "output": {k: v for k, v in ex["output"].items() if k != "sentence"}} for ex in self.examples
        )
        return replace(self, version=self.version + LEAN_SUFFIX, system=system, examples=examples)

    def repair_messages(self, messages: list[Message], bad_reply: str, error: str) -> list[Message]:
        """The conversation extended by the bad reply and one request to fix it."""
        return [
            *messages,
            {"role": "assistant", "content": bad_reply[:2000]},
            {"role": "user", "content": self.repair.format(error=error[:200])},
        ]


@lru_cache(maxsize=8)
def load_prompt(version: str = DEFAULT_PROMPT_VERSION) -> Prompt:
    """Read ``prompts/<version>.json`` (``<version>-lean``: its lean form); a clear error names the versions that exist."""
    if version.endswith(LEAN_SUFFIX):
        return load_prompt(version.removesuffix(LEAN_SUFFIX)).lean()
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
