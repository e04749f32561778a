"""Every governance package states what it owns and must not touch, and exports a documented __all__."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ["expunge.db", "expunge.catalog", "expunge.bus", "expunge.evidence", "expunge.requests", "expunge.service"]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_docstring_and_exports(name):
    module = importlib.import_module(name)
    assert "must not touch" in (module.__doc__ or "").lower()
    exported = module.__all__
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    for attr in exported:
        obj = getattr(module, attr)  # every exported name resolves
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"{name}.{attr} has no docstring"
