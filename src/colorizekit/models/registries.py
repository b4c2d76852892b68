"""A name -> entry registry, shared by the model registry and the loss registry."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name; `kind` and `kinds` ("model", "models") name them in errors."""

    def __init__(self, kind: str, kinds: str) -> None:
        self.kind, self.kinds = kind, kinds
        self.entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> None:
        """Register `entry` as `name`; ValueError when the name is taken."""
        if name in self.entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self.entries[name] = entry

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self.entries)

    def get(self, name: str) -> T:
        """The entry registered as `name`; ValueError listing the known names otherwise."""
        try:
            return self.entries[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; available {self.kinds}: "
                             f"{', '.join(self.names())}") from None
