from __future__ import annotations

import numpy as np
import pytest

from expunge.datasets import available_datasets, load_dataset, parse_forget_spec, partition, write_id_file
from expunge.datasets._files import verify_sha256
from expunge.errors import (
    ChecksumMismatchError,
    DataUnavailableError,
    InvalidForgetSetError,
    UnknownDatasetError,
)


def test_mnist_is_the_original_60k_and_10k_with_stable_ids():
    data = load_dataset("mnist")
    assert len(data.train) == 60_000 and len(data.test) == 10_000
    assert data.train.ids[0] == "mnist:train:00000" and data.test.ids[-1] == "mnist:test:09999"
    assert len(set(data.train.ids.tolist())) == 60_000
    # The original training set starts 5, 0, 4, 1, 9 and holds 6,742 ones.
    assert data.train.y[:5].tolist() == [5, 0, 4, 1, 9]
    assert int((data.train.y == 1).sum()) == 6742
    assert tuple(data.train.x.shape[1:]) == (1, 28, 28)


def test_adult_has_one_id_per_person_row_and_documented_encoding():
    data = load_dataset("adult")
    assert len(data.train) == 32_561 and len(data.test) == 16_281
    assert data.classes == ("<=50K", ">50K")
    assert 0.23 < float(data.train.y.float().mean()) < 0.25  # 24 % earn more than 50K
    assert data.train.x.shape[1] == data.test.x.shape[1] == data.input_shape[0]
    # Numeric columns come first and are standardised on the training file.
    assert abs(float(data.train.x[:, 0].mean())) < 1e-4


def test_unknown_dataset_lists_the_available_ones():
    with pytest.raises(UnknownDatasetError) as err:
        load_dataset("cifar10")
    assert "Available: " + ", ".join(available_datasets()) in str(err.value)


def test_missing_fashion_mnist_says_how_to_install_it(tmp_path):
    with pytest.raises(DataUnavailableError, match="apt-get install -y dataset-fashion-mnist"):
        load_dataset("fashion_mnist", data_dir=tmp_path)


def test_a_changed_file_fails_its_checksum(tmp_path):
    path = tmp_path / "data.gz"
    path.write_bytes(b"not the real file")
    with pytest.raises(ChecksumMismatchError, match="expected abc"):
        verify_sha256(path, "abc")


def test_partition_is_disjoint_stratified_and_deterministic():
    data = load_dataset("blobs")
    a, b = partition(data.train, seed=0), partition(data.train, seed=0)
    assert a.members.ids.tolist() == b.members.ids.tolist()
    sets = [set(s.ids.tolist()) for s in (a.members, a.val, a.holdout)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sum(map(len, sets)) == len(data.train)
    assert set(a.holdout.y.tolist()) == set(range(data.num_classes))


def test_forget_specs_select_what_they_say():
    members = partition(load_dataset("blobs").train).members
    by_class = parse_forget_spec("class:2", members, num_classes=4)
    assert by_class.target_class == 2 and len(by_class) == int((members.y == 2).sum())
    rand = parse_forget_spec("random:0.1", members, num_classes=4, seed=3)
    assert len(rand) == round(0.1 * len(members))
    assert rand.ids == parse_forget_spec("random:0.1", members, num_classes=4, seed=3).ids
    forget, retain = rand.split(members)
    assert len(forget) + len(retain) == len(members)
    assert not set(forget.ids.tolist()) & set(retain.ids.tolist())


def test_forget_id_file_round_trips(tmp_path):
    members = partition(load_dataset("blobs").train).members
    path = tmp_path / "ids.txt"
    write_id_file(path, list(members.ids[:5]))
    from_file = parse_forget_spec(str(path), members, num_classes=4)
    assert from_file.ids == tuple(sorted(members.ids[:5])) and from_file.target_class is None
    write_id_file(path, parse_forget_spec("class:1", members, num_classes=4).ids)
    assert parse_forget_spec(str(path), members, num_classes=4).target_class == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("class:9", r"must be an integer in \[0, 3\]; got 9"),
        ("random:1.5", r"must be a float in \(0, 1\); got '1.5'"),
        ("random:abc", r"must be a float in \(0, 1\)"),
        ("everything", "use class:K"),
    ],
)
def test_bad_forget_specs_name_the_value_and_what_is_accepted(spec, message):
    members = partition(load_dataset("blobs").train).members
    with pytest.raises(InvalidForgetSetError, match=message):
        parse_forget_spec(spec, members, num_classes=4)


def test_unknown_or_missing_ids_are_rejected(tmp_path):
    members = partition(load_dataset("blobs").train).members
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("blobs:train:99999\n")
    with pytest.raises(InvalidForgetSetError, match="'blobs:train:99999'"):
        parse_forget_spec(str(unknown), members, num_classes=4)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(InvalidForgetSetError, match="holds no ID"):
        parse_forget_spec(str(empty), members, num_classes=4)
    held_out = partition(load_dataset("blobs").train).holdout.ids[0]
    write_id_file(unknown, [held_out])
    with pytest.raises(InvalidForgetSetError, match="not training samples"):
        parse_forget_spec(str(unknown), members, num_classes=4)
    assert np.all(members.ids != held_out)
