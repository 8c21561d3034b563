"""The library's random state: one NumPy Generator, reseeded by set_random_seed.

Created on first use: importing numpy.random (and Python's random) costs ~12 ms, a tenth of
`import cnn`, and many sessions only predict."""
import numpy as np

_state = {"generator": None}


def set_random_seed(seed):
    """Seeds Python's `random`, NumPy's global RNG and cnn's own generator (initializers,
    shuffling, per-step seeds of stochastic ops), so runs repeat exactly."""
    if not isinstance(seed, (int, np.integer)):
        raise ValueError(f"Expected `seed` to be an integer. Received: seed={seed!r}")
    import random

    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    _state["generator"] = np.random.default_rng(seed)
    from .. import backend  # the engine's own stream of per-call seeds (dropout etc.)
    backend.reset_seed_stream(seed)


def global_generator():
    if _state["generator"] is None:
        _state["generator"] = np.random.default_rng()
    return _state["generator"]


def make_generator(seed=None):
    """A generator for one consumer: its own when `seed` is given, else the global one."""
    if seed is None:
        return global_generator()
    return np.random.default_rng(int(seed))


def draw_seed():
    """A fresh 63-bit seed from the global generator (for per-step op seeds)."""
    return int(global_generator().integers(0, 2**63 - 1))
