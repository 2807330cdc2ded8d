"""Config names -> classes: the one ``Registry`` type every family of kinds uses.

It sits below every stage (it imports only ``pyims.errors``), so the model's activation curves
(``pyims.model.curves.CURVES``) and the components (``pyims.components.NEURONS``, ``SENSES``,
``COMBINERS``) register their kinds alike and report unknown names alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from pyims.errors import SpecError

__all__ = ["Registry"]

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Kinds of one family, in registration order."""

    def __init__(self, field: str) -> None:
        self.field = field  # the config field that names a kind, for error messages
        self._classes: dict[str, T] = {}

    def register(self, cls: T) -> T:
        """Class decorator: register ``cls`` under ``cls.kind``."""
        kind = getattr(cls, "kind", None)
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"{cls.__name__} needs a class attribute kind = '<config name>' to be registered")
        if kind in self._classes and self._classes[kind] is not cls:
            raise TypeError(f"{self.field}={kind!r} is registered twice ({self._classes[kind].__name__}, {cls.__name__})")
        self._classes[kind] = cls
        return cls

    def get(self, kind: object) -> T:
        """The class of ``kind``; SpecError naming the field and the known kinds otherwise."""
        if not isinstance(kind, str) or kind not in self._classes:
            raise SpecError(f"{self.field}={kind!r} is unknown; use one of {', '.join(self._classes)}")
        return self._classes[kind]

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._classes)

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __contains__(self, kind: object) -> bool:
        return kind in self._classes
