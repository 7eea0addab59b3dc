"""Shared fixtures: every test starts from seeded RNGs and runs in its own temporary folder."""

from __future__ import annotations

import random

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)



@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One torch thread per test process: ``pytest -n 2`` runs two processes on two cores, and
    two OpenMP threads each (four on two cores) make training tests many times slower."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
