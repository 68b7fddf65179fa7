"""One registry per engine kind: engine name → factory. The only place an engine name is dispatched.

Every place that builds an engine (the worker's wiring, the CLI, benchmarks, evaluation) goes through
its kind's registry, and the settings validate their engine names against it, so an unknown name gives
one error that lists the choices, when the settings are read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from engines.errors import AmpereError

T = TypeVar("T")
Log = Callable[[str], None]
Options = dict[str, Any]


class UnknownEngine(AmpereError, ValueError):
    """An engine name no registry entry has."""


def _no_model(options: Mapping[str, Any]) -> str:
    return ""


def _as_is(options: Options, log: Log) -> Options:
    return options


@dataclass(frozen=True)
class EngineEntry(Generic[T]):
    """One engine: how to build it, what names its model, and what to fetch before building it."""

    name: str
    factory: Callable[..., T]
    model: Callable[[Mapping[str, Any]], str] = _no_model
    prepare: Callable[[Options, Log], Options] = _as_is


class EngineRegistry(Generic[T]):
    """The engines of one kind, by name, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # e.g. "encoder engine", in error messages
        self._entries: dict[str, EngineEntry[T]] = {}

    def register(
        self,
        name: str,
        *,
        model: Callable[[Mapping[str, Any]], str] = _no_model,
        prepare: Callable[[Options, Log], Options] = _as_is,
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register ``factory`` under ``name`` (``model`` names the model from the options,
        ``prepare`` completes the options before the factory runs, e.g. fetches pinned weights)."""

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = EngineEntry(name, factory, model, prepare)
            return factory

        return add

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def entry(self, name: str) -> EngineEntry[T]:
        """The entry of ``name``; :class:`UnknownEngine` listing the choices otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownEngine(
                f"unknown {self.kind} {name!r}; choose one of {', '.join(self._entries)}"
            ) from None

    def check(self, name: str) -> str:
        """``name`` if registered (the settings' validator), else :class:`UnknownEngine`."""
        return self.entry(name).name

    def build(self, name: str, *, log: Log = print, **options: Any) -> T:
        """Build engine ``name`` from ``options`` (after its ``prepare`` step, which may log progress)."""
        entry = self.entry(name)
        return entry.factory(**entry.prepare(dict(options), log))

    def model_id(self, name: str, options: Mapping[str, Any]) -> str:
        """What identifies the model engine ``name`` would run with ``options`` ("" = no model)."""
        return self.entry(name).model(options)
