"""Shared fixtures: a seeded rng (every random test input comes from it)."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread_per_worker():
    """pytest-xdist runs two workers on two cores: more BLAS threads than cores makes
    torch's CPU kernels stall on each other (seen: 100× slower steps)."""
    import torch

    torch.set_num_threads(1)
