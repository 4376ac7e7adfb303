"""A dataclass field kept in English (the catalog's msgid) and read in the current language.

Texts stored as data (a knob's label and help, a model's key idea and notes, a published figure's note) are
written in English and marked ``N_`` where they are declared; a field declared as ``Translated()`` keeps that
English and returns ``_(text)`` whenever it is read, so every consumer (a page, the CLI, a figure) gets the
current language without translating it itself. ``msgid(obj, name)`` gives the stored English.

Pickling and copying see the English (it lives in the instance ``__dict__`` under another name), so a cached
object never carries one session's language into another's.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from typing import Any

from lightnets.i18n import _

_PREFIX = "_msgid_"


@dataclass(frozen=True)
class Formatted:
    """A msgid with its ``str.format`` fields, for a text that carries numbers: translated, then filled in."""

    message: str
    fields: tuple[tuple[str, Any], ...]

    def __str__(self) -> str:
        return self.message.format(**dict(self.fields))


def formatted(message: str, **fields: Any) -> Formatted:
    """``message`` (marked ``N_`` by the caller) to be filled with ``fields`` in the language it is read in."""
    return Formatted(message, tuple(fields.items()))


def _translate(value: Any) -> Any:
    if isinstance(value, Formatted):
        return _(value.message).format(**dict(value.fields))
    if isinstance(value, str):
        return _(value) if value else value  # gettext("") is the catalog's header, never a translation
    if isinstance(value, tuple):
        return tuple(_translate(v) for v in value)
    return value


class Translated:
    """A descriptor-typed dataclass field (a str, or a tuple of str) translated when read."""

    def __init__(self, default: Any = MISSING) -> None:
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.attr = _PREFIX + name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:  # the dataclass asks for the default: none means a required field
            if self.default is MISSING:
                raise AttributeError(self.name)
            return self.default
        return _translate(obj.__dict__[self.attr])

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.attr] = value


def msgid(obj: Any, name: str) -> Any:
    """The English text a ``Translated`` field ``name`` of ``obj`` holds (what the catalog translates)."""
    value = obj.__dict__[_PREFIX + name]
    return str(value) if isinstance(value, Formatted) else value
