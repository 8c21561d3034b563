"""Activations, bias_add and max pooling split their work (bias_add's bias gradient by columns,
pooling by samples) across the engine's threads: 2 and 3 threads must give exactly the
single-threaded results, on arrays large enough to be split, and the split results are right."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import pytest

from op_harness import assert_same_at_every_count, forward, run_threads, vjp

SHAPE = (8, 26, 26, 48)  # 260k elements: several ranges at 2 and 3 threads


def forward_and_vjp(name, inputs, ints=(), floats=()):
    y = forward(name, inputs, ints, floats)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    return [y] + list(vjp(name, inputs, g, ints, floats)), g


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"])
def test_activation_split_gives_one_thread_results(name):
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    results = run_threads(lambda: forward_and_vjp(name, [x])[0])
    assert_same_at_every_count(results)
    if name == "relu":  # and the split result is right
        y, dx = results[2]
        _, g = forward_and_vjp(name, [x])
        np.testing.assert_array_equal(y, np.maximum(x, 0))
        np.testing.assert_array_equal(dx, np.where(x > 0, g, 0))


@pytest.mark.parametrize("channels", [48, 40, 7])
def test_bias_add_split_gives_one_thread_results(channels):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(SHAPE[:-1] + (channels,)).astype(np.float32)
    b = rng.standard_normal(channels).astype(np.float32)
    results = run_threads(lambda: forward_and_vjp("bias_add", [x, b])[0])
    assert_same_at_every_count(results)
    y, dx, db = results[3]
    _, g = forward_and_vjp("bias_add", [x, b])
    np.testing.assert_array_equal(y, x + b)
    np.testing.assert_array_equal(dx, g)
    np.testing.assert_allclose(db, g.reshape(-1, channels).astype(np.float64).sum(0),
                               rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("ints", [[2, 2, 2, 2, 0], [3, 3, 2, 2, 1]])
def test_max_pool_split_by_samples_gives_one_thread_results(ints):
    x = np.random.default_rng(3).standard_normal((16, 26, 26, 32)).astype(np.float32)
    results = run_threads(lambda: forward_and_vjp("max_pool2d", [x], ints)[0])
    assert_same_at_every_count(results)
    if ints[0] == 2 and ints[2] == 2:  # 2x2 windows, stride 2: the maxima of each block
        y = results[3][0]
        np.testing.assert_array_equal(y, x.reshape(16, 13, 2, 13, 2, 32).max(axis=(2, 4)))
