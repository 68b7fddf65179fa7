"""Jump-forward decoding of the JSON answer: the keys are known, so they are fed, not generated.

The output schema fixes every object's keys and their order, so once the model closes a value the
next key is not a choice. Generating ``, "price_or_promo":`` costs one decode step per token;
feeding it as a chunk of the next step costs about one. :class:`KeyForcer` follows the characters
generated so far (strings, objects, arrays) and says which key text comes next, in the separators
the prompt's examples use (``{"a": 1, "b": 2}``). The caller checks every forced token against the
grammar before it accepts it, so a forced key can never break the constrained output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KeyTree:
    """The keys of one JSON object in generation order, and the trees of its object-valued keys."""

    keys: tuple[str, ...]
    children: dict[str, KeyTree] = field(default_factory=dict)


def key_tree(schema: dict[str, Any]) -> KeyTree:
    """The :class:`KeyTree` of an object schema (``properties`` in order)."""
    props = schema.get("properties") or {}
    children = {k: key_tree(v) for k, v in props.items() if isinstance(v, dict) and v.get("type") == "object"}
    return KeyTree(tuple(props), children)


@dataclass
class _Object:
    tree: KeyTree
    next_key: int = 0
    current: str | None = None  # the key whose value is being generated


class KeyForcer:
    """Feeds on generated text; :meth:`feed` returns the key text to force next, or ``""``."""

    def __init__(self, tree: KeyTree) -> None:
        self.tree = tree
        self.stack: list[_Object | str] = []  # _Object frames and "[" for arrays
        self.in_string = False
        self.escape = False
        self.started = False
        self.key_buf: str | None = None  # text seen at a key position (None: not at one)

    def feed(self, text: str) -> str:
        """Consume ``text`` (the next generated or forced characters); the key text now due."""
        for ch in text:
            self._char(ch)
        return self._due()

    # -- internals ---------------------------------------------------------------------------------
    def _literal(self) -> str | None:
        top = self.stack[-1] if self.stack else None
        if not isinstance(top, _Object) or top.next_key >= len(top.tree.keys):
            return None
        sep = "" if top.next_key == 0 else " "
        return f'{sep}"{top.tree.keys[top.next_key]}":'

    def _due(self) -> str:
        if self.key_buf is None:
            return ""
        literal = self._literal()
        if literal is None:
            return ""
        if not literal.startswith(self.key_buf):
            return ""
        return literal[len(self.key_buf):]

    def _char(self, ch: str) -> None:
        if self.key_buf is not None:
            self._key_char(ch)
            return
        if self.in_string:
            if self.escape:
                self.escape = False
            elif ch == "\\":
                self.escape = True
            elif ch == '"':
                self.in_string = False
            return
        top = self.stack[-1] if self.stack else None
        if ch == '"':
            self.in_string = True
        elif ch == "{":
            tree = self.tree if not self.started else self._child_tree(top)
            self.started = True
            self.stack.append(_Object(tree or KeyTree(())))
            self.key_buf = ""
        elif ch == "[":
            self.stack.append("[")
        elif ch in "}]":
            if self.stack:
                self.stack.pop()
        elif ch == "," and isinstance(top, _Object):
            self.key_buf = ""

    def _child_tree(self, top: _Object | str | None) -> KeyTree | None:
        if isinstance(top, _Object) and top.current:
            return top.tree.children.get(top.current)
        return None

    def _key_char(self, ch: str) -> None:
        """A character at a key position: whitespace, then ``"key"``, then ``:``."""
        assert self.key_buf is not None
        top = self.stack[-1]
        if not isinstance(top, _Object):  # cannot happen: key positions are inside objects
            self.key_buf = None
            return
        if ch == "}" and not self.key_buf.strip():  # an empty object, or one closed early
            self.key_buf = None
            self.stack.pop()
            return
        self.key_buf += ch
        body = self.key_buf.strip()
        if body.endswith(":") and body.count('"') >= 2:
            name = body[1:body.rindex('"')]
            keys = top.tree.keys
            top.current = name
            top.next_key = keys.index(name) + 1 if name in keys else top.next_key + 1
            self.key_buf = None
