"""Ed25519 signing keys: create, load, sign, and verify with the public key alone."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from expunge.errors import EvidenceError

__all__ = ["Signer", "key_id_of", "load_public_key", "public_key_pem"]

PRIVATE_NAME = "signing_ed25519.pem"
PUBLIC_NAME = "signing_ed25519.pub.pem"


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
        EvidenceError: The bytes are not an Ed25519 public key in PEM.
    """
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise EvidenceError(f"The public key is not a PEM public key: {err}.") from err
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(f"The public key must be Ed25519. Got {type(key).__name__}.")
    return key


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

        Raises:
            EvidenceError: The key file exists but is not an unencrypted Ed25519 PEM private key.
        """
        keys_dir = Path(keys_dir)
        path = keys_dir / PRIVATE_NAME
        if not path.exists():
            keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            tmp = keys_dir / f".{PRIVATE_NAME}.{secrets.token_hex(8)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(tmp, path)
            tmp.unlink()
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as err:
            raise EvidenceError(f"The signing key {str(path)!r} is not an unencrypted PEM key: {err}.") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise EvidenceError(f"The signing key {str(path)!r} must be Ed25519. Got {type(key).__name__}.")
        signer = cls(key)
        public_path = keys_dir / PUBLIC_NAME
        if not public_path.exists():
            public_path.write_bytes(public_key_pem(signer.public_key))
        return signer

    def sign(self, data: bytes) -> str:
        """Return the hex Ed25519 signature of ``data``."""
        return self._key.sign(data).hex()


def verify_signature(public_key: Ed25519PublicKey, signature_hex: str, data: bytes) -> bool:
    """Tell whether ``signature_hex`` is a valid signature of ``data`` under ``public_key``."""
    try:
        public_key.verify(bytes.fromhex(signature_hex), data)
    except (InvalidSignature, ValueError):
        return False
    return True
