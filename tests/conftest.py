"""Shared fixtures: a seeded rng (every random test input comes from it)."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
