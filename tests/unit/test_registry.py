"""The one Registry type: one duplicate rule, one unknown-name sentence, built-ins loaded on first lookup."""

from __future__ import annotations

import sys
import types

import pytest

from expunge.errors import DuplicateNameError, UnknownMethodError, UnknownNameError
from expunge.registry import Registry


def test_a_duplicate_name_is_refused_and_the_first_entry_kept():
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    with pytest.raises(DuplicateNameError, match="A widget named 'a' is already registered") as info:
        reg.add("a", 2)
    assert isinstance(info.value, ValueError) and info.value.code == "registry.duplicate_name"
    assert reg.get("a") == 1 and len(reg) == 1


def test_an_unknown_name_raises_the_registry_error_listing_every_name_sorted():
    reg: Registry[int] = Registry("unlearning method", unknown=UnknownMethodError)
    for name in ("zeta", "alpha"):
        reg.add(name, 0)
    with pytest.raises(UnknownMethodError) as info:
        reg.get("beta")
    assert isinstance(info.value, UnknownNameError) and isinstance(info.value, LookupError)
    assert str(info.value) == "Unknown unlearning method 'beta'. Available: alpha, zeta."
    assert info.value.code == "unlearn.unknown_method"
    assert reg.names() == ["alpha", "zeta"] and list(reg) == ["alpha", "zeta"] and "alpha" in reg


def test_builtins_are_imported_once_on_the_first_lookup(monkeypatch):
    reg: Registry[str] = Registry("gadget", builtins=("expunge_test_gadgets",))
    imported = []

    module = types.ModuleType("expunge_test_gadgets")

    def load():  # what importing the module does: register its entries
        imported.append(1)
        reg.add("built_in", "x")

    class Finder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name != "expunge_test_gadgets":
                return None
            from importlib.machinery import ModuleSpec

            class Loader:
                @staticmethod
                def create_module(spec):
                    return module

                @staticmethod
                def exec_module(mod):
                    load()

            return ModuleSpec(name, Loader())

    monkeypatch.setattr(sys, "meta_path", [Finder, *sys.meta_path])
    monkeypatch.delitem(sys.modules, "expunge_test_gadgets", raising=False)
    reg.add("extra", "y")  # registering does not load the built-ins
    assert imported == []
    assert reg.names() == ["built_in", "extra"]
    assert reg.get("built_in") == "x" and imported == [1]
