"""Finding and checksumming data files that ship inside installed packages."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from expunge.errors import ChecksumMismatchError, DataUnavailableError

__all__ = ["package_file", "sha256_of", "verify_sha256"]


def package_file(package: str, relative: str, *, install_hint: str) -> Path:
    """Return the path of a file inside an installed package, without importing the package.

    Raises:
        DataUnavailableError: The package or the file is missing; ``install_hint`` says what to run.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(f"The package {package!r} is not installed. Install it with: {install_hint}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise DataUnavailableError(
        f"The package {package!r} is installed but has no file {relative!r}. Reinstall it with: {install_hint}"
    )


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> str:
    """Check a file's sha256 and return it.

    Raises:
        ChecksumMismatchError: The file's content is not the documented one.
    """
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumMismatchError(
            f"{path} has sha256 {actual}, expected {expected}: the file is corrupt or another version. "
            "Reinstall the package that ships it."
        )
    return actual
