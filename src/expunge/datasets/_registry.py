"""The data set registry: loaders keyed by a stable name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from expunge.datasets._base import Dataset
from expunge.errors import UnknownDatasetError
from expunge.registry import Registry

__all__ = ["DATASETS", "available_datasets", "load_dataset", "register_dataset"]

Loader = Callable[..., Dataset]
# The built-in loaders are imported on the first lookup for their registration side effect (no import cycle).
DATASETS: Registry[Loader] = Registry(
    "data set",
    unknown=UnknownDatasetError,
    builtins=tuple(f"expunge.datasets.{module}" for module in ("_adult", "_mnist", "_synthetic")),
)


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    """Register a loader under ``name`` (snake_case, stable forever).

    Raises:
        DuplicateNameError: ``name`` is taken.
    """
    return DATASETS.register(name)


def available_datasets() -> list[str]:
    """Return the registered data set names, sorted."""
    return DATASETS.names()


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load a registered data set.

    Args:
        name: Registry key, see :func:`available_datasets`.
        **options: Passed to the loader (e.g. ``data_dir`` for Fashion-MNIST, ``n`` for synthetic sets).

    Raises:
        UnknownDatasetError: ``name`` is not registered.
        DataUnavailableError: The data set's files are not installed; the message says how to get them.
    """
    return DATASETS.get(name)(**options)
