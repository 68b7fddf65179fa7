"""How `ampere --help` renders: a flag shows no value placeholder (Typer's rich panel writes `<bool>`
beside every flag, although a flag takes no value)."""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_display_type_rich = TyperOption.display_type_rich


def _no_placeholder_on_flags(self: TyperOption, ctx: Any) -> str | None:
    """The type column of one option: empty for a flag or a counter, Typer's own otherwise."""
    if self.is_flag or self.count:
        return None
    return _display_type_rich(self, ctx)


def install() -> None:
    """Apply the rendering rules above (idempotent)."""
    TyperOption.display_type_rich = _no_placeholder_on_flags  # type: ignore[method-assign]
