"""Ed25519 signing keys: create, load, rotate, sign, and verify with a keyring of public keys.

Layout of an install's keys folder (``EXPUNGE_KEYS_DIR``)::

    signing_ed25519.pem              the current private key (PKCS#8 PEM, mode 0600)
    signing_ed25519.pub.pem          its public key (SubjectPublicKeyInfo PEM)
    signing/<key_id>.pub.pem         the keyring: every public key this install ever signed with

A key ID is the first 16 hex digits of the sha256 of the raw 32-byte public key. Rotation makes a
new key current and keeps the old public keys in the keyring, so entries signed before it still
verify; the old private key is deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from expunge.errors import EvidenceError, EvidenceInputError, KeyMismatchError

__all__ = [
    "KEYRING_DIR",
    "Keyring",
    "Signer",
    "key_id_of",
    "load_public_key",
    "public_key_pem",
    "rotate_signing_key",
]

PRIVATE_NAME = "signing_ed25519.pem"
PUBLIC_NAME = "signing_ed25519.pub.pem"
KEYRING_DIR = "signing"
_RING_NAME = re.compile(r"^[0-9a-f]{16}\.pub\.pem$")
_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """Return the 16-hex-digit ID of a public key: the start of the sha256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """Return the PEM (SubjectPublicKeyInfo) of a public key."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key from PEM bytes.

    Raises:
        EvidenceInputError: The bytes are not an Ed25519 public key in PEM.
    """
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise EvidenceInputError(
            "The public key is not a PEM public key (expected a -----BEGIN PUBLIC KEY----- block)."
        ) from err
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceInputError(f"The public key must be Ed25519. Got {type(key).__name__}.")
    return key


def _write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers see all or nothing."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as err:
        raise EvidenceError(f"The signing key {str(path)!r} is not an unencrypted PEM key: {err}.") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceError(f"The signing key {str(path)!r} must be Ed25519. Got {type(key).__name__}.")
    return key


def _add_to_keyring(keys_dir: Path, public_key: Ed25519PublicKey) -> None:
    ring = keys_dir / KEYRING_DIR
    ring.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = ring / f"{key_id_of(public_key)}.pub.pem"
    if not path.exists():
        _write_atomic(path, public_key_pem(public_key), mode=0o644)


class Signer:
    """Sign bytes with an Ed25519 private key and say which key signed them.

    Args:
        private_key: The install's signing key.
    """

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def generate(cls) -> Signer:
        """Return a signer with a fresh random key (tests, throwaway installs)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> Signer:
        """Load the signing key under ``keys_dir``, creating it (and its public PEM) if absent.

        Also puts its public key in the keyring folder (``signing/``) if it is not there yet.

        Raises:
            EvidenceError: The key file exists but is not an unencrypted Ed25519 PEM private key.
            KeyMismatchError: ``signing_ed25519.pub.pem`` holds another key than the private key's
                (an interrupted rotation, or a file copied from elsewhere).
        """
        keys_dir = Path(keys_dir)
        path = keys_dir / PRIVATE_NAME
        if not path.exists():
            keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = keys_dir / f".{PRIVATE_NAME}.{secrets.token_hex(8)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_private_pem(Ed25519PrivateKey.generate()))
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(tmp, path)
            tmp.unlink()
        signer = cls(_load_private(path))
        public_path = keys_dir / PUBLIC_NAME
        if not public_path.exists():
            _write_atomic(public_path, public_key_pem(signer.public_key), mode=0o644)
        else:
            try:
                written = load_public_key(public_path.read_bytes())
            except EvidenceInputError as err:
                raise KeyMismatchError(
                    f"The public key file {str(public_path)!r} is unreadable: {err.message}"
                ) from err
            if key_id_of(written) != signer.key_id:
                raise KeyMismatchError(
                    f"The public key file {str(public_path)!r} holds key {key_id_of(written)}, but the private "
                    f"key {str(path)!r} is key {signer.key_id}: they do not belong together (an interrupted "
                    "rotation, or a file copied from elsewhere). Restore the matching pair, or run "
                    "`expunge evidence rotate-key` to make a new key current."
                )
        _add_to_keyring(keys_dir, signer.public_key)
        return signer

    def sign(self, data: bytes) -> str:
        """Return the hex Ed25519 signature of ``data``."""
        return self._key.sign(data).hex()

    def sign_raw(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data`` (RFC 8032)."""
        return self._key.sign(data)


def rotate_signing_key(keys_dir: Path) -> tuple[str | None, Signer]:
    """Make a new Ed25519 key the install's signing key; keep every old public key in the keyring.

    Order of the writes, so that a crash at any point leaves entries verifiable: the old key's public
    key goes into the keyring, then the new one's, then the new private key replaces the old one
    (atomic rename), then ``signing_ed25519.pub.pem``. A crash before the last step leaves a public
    file that does not match, which :meth:`Signer.load_or_create` reports; rotating again repairs it.

    Processes that loaded the old key keep signing with it until restarted; their entries verify
    with the keyring like any other.

    Returns:
        The previous key ID (``None`` when there was no key) and the new signer.

    Raises:
        EvidenceError: The current private key file is unreadable.
    """
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = keys_dir / PRIVATE_NAME
    old: str | None = None
    if path.exists():
        previous = _load_private(path).public_key()
        old = key_id_of(previous)
        _add_to_keyring(keys_dir, previous)
    new = Ed25519PrivateKey.generate()
    signer = Signer(new)
    _add_to_keyring(keys_dir, signer.public_key)
    _write_atomic(path, _private_pem(new), mode=0o600)
    _write_atomic(keys_dir / PUBLIC_NAME, public_key_pem(signer.public_key), mode=0o644)
    return old, signer


class Keyring(Mapping[str, Ed25519PublicKey]):
    """Public keys by key ID; the keys that verify entries, checkpoints and seals.

    A keyring read from a folder looks at the folder again when asked for a key it lacks, so a
    long-running process learns of a key another process rotated to.

    Args:
        keys: Public keys to start with (their IDs are computed).
        folder: A folder of ``*.pem`` public keys to (re)load from.
    """

    def __init__(self, keys: Iterable[Ed25519PublicKey] = (), *, folder: Path | None = None) -> None:
        self._keys = {key_id_of(k): k for k in keys}
        self.folder = folder
        if folder is not None:
            self.reload()

    @classmethod
    def of_install(cls, keys_dir: Path) -> Keyring:
        """Return the keyring of an install: ``signing/*.pub.pem`` and ``signing_ed25519.pub.pem``.

        Raises:
            EvidenceInputError: Neither exists, or a file is not a public key or is misnamed.
        """
        keys_dir = Path(keys_dir)
        extra = []
        if (keys_dir / PUBLIC_NAME).exists():
            extra.append(load_public_key((keys_dir / PUBLIC_NAME).read_bytes()))
        ring = cls(extra, folder=keys_dir / KEYRING_DIR if (keys_dir / KEYRING_DIR).is_dir() else None)
        if not ring:
            raise EvidenceInputError(
                f"No signing public key under {str(keys_dir)!r} (expected {PUBLIC_NAME} or {KEYRING_DIR}/). "
                "Pass --public-key, or set EXPUNGE_KEYS_DIR to the install's keys folder."
            )
        return ring

    @classmethod
    def from_paths(cls, paths: Iterable[Path]) -> Keyring:
        """Return the keys of PEM files and of folders of ``*.pem`` files.

        Raises:
            EvidenceInputError: A path does not exist, or a file is not an Ed25519 public key in PEM,
                or a keyring file's name is not the ID of the key it holds.
        """
        keys: list[Ed25519PublicKey] = []
        for path in paths:
            keys.extend(_read_keys(Path(path)))
        if not keys:
            raise EvidenceInputError("No public key was given: pass --public-key with a PEM file or a folder of them.")
        return cls(keys)

    def reload(self) -> None:
        """Read the folder again (keys are only ever added)."""
        if self.folder is not None and self.folder.is_dir():
            for key in _read_keys(self.folder):
                self._keys.setdefault(key_id_of(key), key)

    def __getitem__(self, key_id: str) -> Ed25519PublicKey:
        if key_id not in self._keys and self.folder is not None:
            self.reload()
        return self._keys[key_id]

    def __contains__(self, key_id: object) -> bool:
        if key_id not in self._keys and self.folder is not None:
            self.reload()
        return key_id in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._keys))

    def __len__(self) -> int:
        return len(self._keys)


def _read_keys(path: Path) -> list[Ed25519PublicKey]:
    if not path.exists():
        raise EvidenceInputError(f"The public key file {str(path)!r} does not exist. Pass a PEM file or a folder.")
    files = sorted(path.glob("*.pem")) if path.is_dir() else [path]
    keys = []
    for file in files:
        data = file.read_bytes()
        found = []
        for block in _PEM_BLOCK.findall(data) or [data]:  # a file may hold several keys, one after another
            try:
                found.append(load_public_key(block))
            except EvidenceInputError as err:
                raise EvidenceInputError(f"{str(file)!r}: {err.message}") from err
        if _RING_NAME.match(file.name) and [f"{key_id_of(k)}.pub.pem" for k in found] != [file.name]:
            raise EvidenceInputError(f"The keyring file {str(file)!r} does not hold the key its name says.")
        keys.extend(found)
    return keys


def verify_signature(public_key: Ed25519PublicKey, signature_hex: str, data: bytes) -> bool:
    """Tell whether ``signature_hex`` is a valid signature of ``data`` under ``public_key``."""
    try:
        public_key.verify(bytes.fromhex(signature_hex), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_raw(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """Tell whether the 64-byte ``signature`` is a valid signature of ``data`` under ``public_key``."""
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
