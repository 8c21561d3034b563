"""Test-session setup shared by all tests.

- Keras parity tests run Keras 3 on its torch backend; the variable must be set before any
  keras import.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded_peers():
    """Every test starts from the same random state in the peers (Keras's initializers,
    PyTorch's default RNG): a parity test whose twin models start from Keras's random
    weights then compares the same numbers in every run, instead of failing on the rare
    draw whose float32 rounding drifts past its tolerance."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.utils.set_random_seed(0)
    else:
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.manual_seed(0)
    yield
