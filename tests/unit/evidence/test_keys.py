"""Signing keys: a keyring of public keys, rotation, mixed logs, and a public key that does not match."""

from __future__ import annotations

import os

import pytest
from evidence_support import append_case, case_file, receipt
from sqlalchemy import text

from expunge.errors import (
    EvidenceError,
    EvidenceInputError,
    KeyMismatchError,
    TamperedEvidenceError,
    UnknownKeyError,
)
from expunge.evidence import (
    AuditLog,
    Keyring,
    Signer,
    export_entries,
    key_id_of,
    parse_export,
    public_key_pem,
    rotate_signing_key,
    verify_case_file,
    verify_log,
)


def test_rotation_makes_a_new_key_current_and_keeps_every_old_public_key(tmp_path):
    keys = tmp_path / "keys"
    first = Signer.load_or_create(keys)
    previous, second = rotate_signing_key(keys)
    assert previous == first.key_id and second.key_id != first.key_id
    assert Signer.load_or_create(keys).key_id == second.key_id
    assert (keys / "signing_ed25519.pem").stat().st_mode & 0o777 == 0o600
    assert list(Keyring.of_install(keys)) == sorted([first.key_id, second.key_id])
    _, third = rotate_signing_key(keys)
    assert set(Keyring.of_install(keys)) == {first.key_id, second.key_id, third.key_id}
    assert (keys / "signing_ed25519.pub.pem").read_bytes() == public_key_pem(third.public_key)


def test_a_public_key_file_that_does_not_match_the_private_key_is_detected_at_load(tmp_path):
    keys = tmp_path / "keys"
    Signer.load_or_create(keys)
    stranger = Signer.generate()
    (keys / "signing_ed25519.pub.pem").write_bytes(public_key_pem(stranger.public_key))
    with pytest.raises(KeyMismatchError, match=f"holds key {stranger.key_id}, but the private key"):
        Signer.load_or_create(keys)
    (keys / "signing_ed25519.pub.pem").write_bytes(b"garbage")
    with pytest.raises(KeyMismatchError, match="unreadable"):
        Signer.load_or_create(keys)
    # Rotating is the way out; the stranger's key does not join the keyring.
    _, signer = rotate_signing_key(keys)
    assert Signer.load_or_create(keys).key_id == signer.key_id
    assert stranger.key_id not in Keyring.of_install(keys)


def test_a_rotation_interrupted_before_the_public_file_is_reported_and_repaired(tmp_path, monkeypatch):
    keys = tmp_path / "keys"
    first = Signer.load_or_create(keys)
    real = os.replace

    def crash_on_public_file(src, dst):  # the crash: the private key was replaced, the public file not yet
        if str(dst).endswith("signing_ed25519.pub.pem"):
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_public_file)
    with pytest.raises(KeyboardInterrupt):
        rotate_signing_key(keys)
    monkeypatch.setattr(os, "replace", real)
    with pytest.raises(KeyMismatchError, match="interrupted rotation"):
        Signer.load_or_create(keys)
    assert len(Keyring.of_install(keys)) == 2  # the first key and the half-rotated one: both verify
    _, repaired = rotate_signing_key(keys)
    assert Signer.load_or_create(keys).key_id == repaired.key_id
    assert first.key_id in Keyring.of_install(keys)


def test_an_unreadable_private_key_is_reported(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "signing_ed25519.pem").write_bytes(b"not a key")
    with pytest.raises(EvidenceError, match="not an unencrypted PEM key"):
        Signer.load_or_create(keys)
    with pytest.raises(EvidenceError, match="not an unencrypted PEM key"):
        rotate_signing_key(keys)


def test_a_log_signed_before_and_after_a_rotation_verifies_with_the_keyring(db, tmp_path):
    keys = tmp_path / "keys"
    old_signer = Signer.load_or_create(keys)
    old_log = AuditLog(old_signer, public_keys=Keyring.of_install(keys))
    append_case(old_log, db, "dsr_1")
    _, new_signer = rotate_signing_key(keys)
    new_log = AuditLog(new_signer, public_keys=Keyring.of_install(keys))
    append_case(new_log, db, "dsr_2")
    with db.begin() as conn:  # the old process still runs, unaware: it learns the new key from the folder
        old_log.append_receipt(conn, receipt(7, "dsr_2"))
    ring = Keyring.of_install(keys)
    with db.read() as conn:
        snapshot = new_log.snapshot(conn)
    data = export_entries(snapshot.entries, snapshot.checkpoint)
    summary = verify_log(*parse_export(data), ring)
    assert summary["key_ids"] == sorted([old_signer.key_id, new_signer.key_id])
    # The symptom: with the current key alone, the intact older entries are unverifiable.
    with pytest.raises(UnknownKeyError):
        verify_log(*parse_export(data), {new_signer.key_id: new_signer.public_key})
    assert verify_case_file(case_file(new_log, db, "dsr_1"), ring)["key_ids"] == sorted(
        [old_signer.key_id, new_signer.key_id]
    )


def test_a_checkpoint_signed_by_a_key_rotated_elsewhere_is_learnt_from_the_keyring_folder(db, tmp_path):
    keys = tmp_path / "keys"
    reader = AuditLog(Signer.load_or_create(keys), public_keys=Keyring.of_install(keys))
    _, rotated = rotate_signing_key(keys)
    writer = AuditLog(rotated, public_keys=Keyring.of_install(keys))
    append_case(writer, db)
    with db.read() as conn:
        assert reader.snapshot(conn).checkpoint.key_id == rotated.key_id
    frozen = AuditLog(Signer.generate())  # a keyring without a folder cannot learn it
    with db.read() as conn, pytest.raises(UnknownKeyError):
        frozen.entries(conn)


def test_keyrings_from_files_and_folders(tmp_path):
    a, b = Signer.generate(), Signer.generate()
    (tmp_path / "both.pem").write_bytes(public_key_pem(a.public_key) + public_key_pem(b.public_key))
    assert set(Keyring.from_paths([tmp_path / "both.pem"])) == {a.key_id, b.key_id}
    ring = tmp_path / "ring"
    ring.mkdir()
    (ring / f"{a.key_id}.pub.pem").write_bytes(public_key_pem(a.public_key))
    (ring / "anything.pem").write_bytes(public_key_pem(b.public_key))
    assert set(Keyring.from_paths([ring])) == {a.key_id, b.key_id}
    (ring / f"{a.key_id}.pub.pem").write_bytes(public_key_pem(b.public_key))
    with pytest.raises(EvidenceInputError, match="does not hold the key its name says"):
        Keyring.from_paths([ring])
    with pytest.raises(EvidenceInputError, match="does not exist"):
        Keyring.from_paths([tmp_path / "missing.pem"])
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(EvidenceInputError, match="bad.pem"):
        Keyring.from_paths([tmp_path / "bad.pem"])
    with pytest.raises(EvidenceInputError, match="No signing public key"):
        Keyring.of_install(tmp_path / "nowhere")
    assert key_id_of(a.public_key) == a.key_id


def test_entries_signed_by_an_unknown_key_are_refused_even_with_a_valid_checkpoint(db, tmp_path):
    keys = tmp_path / "keys"
    log = AuditLog(Signer.load_or_create(keys), public_keys=Keyring.of_install(keys))
    append_case(log, db)
    intruder = Signer.generate()
    with db.begin() as conn:  # an entry re-signed by a key the install never had
        row = conn.execute(text("select text from evidence_log where seq = 1")).one()
        conn.execute(
            text("update evidence_log set signature = :s where seq = 1"), {"s": intruder.sign(row.text.encode())}
        )
    with db.read() as conn:
        snapshot = log.snapshot(conn)  # the text is unchanged, so the tree still matches
    with pytest.raises(TamperedEvidenceError, match="signature does not verify"):
        verify_log(*parse_export(export_entries(snapshot.entries, snapshot.checkpoint)), Keyring.of_install(keys))
