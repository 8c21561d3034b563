"""What the loaders share: optional-package imports with an install hint, and the seeded
train/test split Keras's `boston_housing.load_data` uses."""
import importlib

import numpy as np


def require(module, pip_name, dataset):
    """Imports `module`, or raises an ImportError that says what to install for `dataset`."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"cnn.datasets.{dataset} reads data shipped inside the `{pip_name}` package, "
            f"which is not installed: run `pip install {pip_name}` (nothing is downloaded "
            f"at run time).") from error


def split(x, y, test_split, seed):
    """Shuffles (x, y) with `seed` and holds out the last `test_split` fraction as test data."""
    if not 0.0 <= test_split < 1.0:
        raise ValueError(f"`test_split` must be in [0, 1). Received: test_split={test_split}")
    order = np.random.RandomState(seed).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])
