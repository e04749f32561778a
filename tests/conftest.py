"""Shared fixtures: a seeded toy scenario, small enough for unit tests."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def toy_scenario():
    """A blobs problem with class 0 forgotten, trained once per test session."""
    from expunge.unlearn import prepare_scenario

    return prepare_scenario("blobs", arch="mlp", forget="class:0", seed=0, hidden=(64, 32))


@pytest.fixture(scope="session")
def toy_original(toy_scenario):
    """The original model of :func:`toy_scenario`."""
    from expunge.unlearn import train_original

    model, _ = train_original(toy_scenario)
    return model
