"""The data set registry: loaders keyed by a stable name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from expunge.datasets._base import Dataset
from expunge.errors import UnknownDatasetError, unknown_name_message

__all__ = ["available_datasets", "load_dataset", "register_dataset"]

Loader = Callable[..., Dataset]
_LOADERS: dict[str, Loader] = {}


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    """Register a loader under ``name`` (snake_case, stable forever)."""

    def decorate(loader: Loader) -> Loader:
        if name in _LOADERS:
            raise ValueError(f"A data set named {name!r} is already registered.")
        _LOADERS[name] = loader
        return loader

    return decorate


def available_datasets() -> list[str]:
    """Return the registered data set names, sorted."""
    _load_builtins()
    return sorted(_LOADERS)


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load a registered data set.

    Args:
        name: Registry key, see :func:`available_datasets`.
        **options: Passed to the loader (e.g. ``data_dir`` for Fashion-MNIST, ``n`` for synthetic sets).

    Raises:
        UnknownDatasetError: ``name`` is not registered.
        DataUnavailableError: The data set's files are not installed; the message says how to get them.
    """
    _load_builtins()
    try:
        loader = _LOADERS[name]
    except KeyError:
        raise UnknownDatasetError(unknown_name_message("data set", name, _LOADERS)) from None
    return loader(**options)


def _load_builtins() -> None:
    # Imported for their registration side effect, late so the registry module has no cycle.
    from expunge.datasets import _adult, _mnist, _synthetic  # noqa: F401
