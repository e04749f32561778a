"""One registry type for every pluggable part, with one duplicate-name rule and one unknown-name sentence.

Unlearning methods, membership-inference attacks, data sets, model architectures, vector-store schemes and bus
subscribers are each a :class:`Registry` keyed by a snake_case name that stays stable forever (it is written
into audit records and case files). A new backend is a new module plus one decorator line::

    METHODS: Registry[type[UnlearningMethod]] = Registry("unlearning method", unknown=UnknownMethodError)

    @METHODS.register("label_flip")
    class LabelFlip(UnlearningMethod): ...

The rules, the same for every registry: a second entry under a taken name raises
:class:`~expunge.errors.DuplicateNameError`; a lookup of a name nobody registered raises the registry's
:class:`~expunge.errors.UnknownNameError` subclass with the sentence of
:func:`~expunge.errors.unknown_name_message`, which lists ``names()`` — never a hand-typed list.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from expunge.errors import DuplicateNameError, UnknownNameError, unknown_name_message

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind keyed by name.

    Args:
        kind: What an entry is, in words (``"unlearning method"``); it begins the unknown-name sentence.
        unknown: The error raised for a name nobody registered (an :class:`~expunge.errors.UnknownNameError`,
            so also a :class:`LookupError`); its code tells which registry refused.
        builtins: Modules imported on the first lookup for their registration side effect, so the module that
            defines the registry does not import its entries (and no import cycle forms).
    """

    def __init__(
        self, kind: str, *, unknown: type[UnknownNameError] = UnknownNameError, builtins: Sequence[str] = ()
    ) -> None:
        self.kind = kind
        self.unknown = unknown
        self._builtins = tuple(builtins)
        self._loaded = not self._builtins
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name`` and return it.

        Raises:
            DuplicateNameError: ``name`` is taken.
        """
        if name in self._entries:
            raise DuplicateNameError(f"A {self.kind} named {name!r} is already registered; names are unique.")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers what it decorates under ``name`` (see :meth:`add`)."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def get(self, name: str) -> T:
        """Return the entry registered under ``name``.

        Raises:
            UnknownNameError: The registry's subclass of it, naming every registered entry.
        """
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise self.unknown(unknown_name_message(self.kind, name, self._entries)) from None

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._entries)})"

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # first: a builtin module that looks an entry up while importing must not recurse
        try:
            for module in self._builtins:
                importlib.import_module(module)
        except BaseException:
            self._loaded = False
            raise
