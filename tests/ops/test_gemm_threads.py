"""Products split across the engine's threads (csrc/gemm.c): matmul and conv2d, forward and
backward, give the single-threaded results at 2 and 3 threads, and match float64 NumPy.

The shapes are past the split threshold and cover each way a product is cut and computed:
by columns (n >= m) and by rows, A or B transposed (the gradients), the register-tile
kernel and OpenBLAS (thin outputs, large products)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import pytest

import cnn
from op_harness import forward, run_threads, vjp

MATMUL_SHAPES = [
    ((64, 784), (784, 256)),    # Dense forward: column blocks, tile kernel
    ((512, 300), (300, 40)),    # row blocks; dW (300 x 40) by rows, dX by columns
    ((256, 512), (512, 10)),    # thin output: OpenBLAS, too small to split
    ((4096, 512), (512, 10)),   # thin output: OpenBLAS, row blocks
    ((300, 1000), (1000, 300)),  # past the tile kernel's size: OpenBLAS, split
    ((3, 50, 200), (3, 200, 120)),  # batched
]


@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES)
def test_matmul_split_matches_one_thread_and_float64(a_shape, b_shape):
    rng = np.random.default_rng(4)
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = (rng.standard_normal(b_shape) / np.sqrt(a_shape[-1])).astype(np.float32)
    y64 = np.matmul(a.astype(np.float64), b.astype(np.float64))
    g = rng.standard_normal(y64.shape).astype(np.float32)

    def once():
        return [forward("matmul", [a, b])] + list(vjp("matmul", [a, b], g))

    results = run_threads(once)
    for n in (2, 3):
        for one, many in zip(results[1], results[n]):
            np.testing.assert_allclose(many, one, rtol=1e-6, atol=1e-6)
    y, da, db = results[2]
    g64 = g.astype(np.float64)
    np.testing.assert_allclose(y, y64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(da, np.matmul(g64, np.swapaxes(b, -1, -2).astype(np.float64)),
                               rtol=1e-4, atol=1e-4)
    db64 = np.matmul(np.swapaxes(a, -1, -2).astype(np.float64), g64)
    np.testing.assert_allclose(db, db64, rtol=1e-4, atol=1e-3 * np.sqrt(a_shape[-2]))


def test_conv2d_split_matches_one_thread():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 14, 14, 32)).astype(np.float32)
    k = (rng.standard_normal((3, 3, 32, 64)) / np.sqrt(288)).astype(np.float32)
    ints = [1, 1, 1, 1, 1, 1]  # strides, dilation, groups, SAME padding

    def once():
        y = forward("conv2d", [x, k], ints)
        g = np.random.default_rng(6).standard_normal(y.shape).astype(np.float32)
        return [y] + list(vjp("conv2d", [x, k], g, ints))

    results = run_threads(once)
    for n in (2, 3):
        for one, many in zip(results[1], results[n]):
            np.testing.assert_allclose(many, one, rtol=1e-6, atol=1e-6)


def test_dense_model_trains_the_same_at_one_and_two_threads():
    """A fit is a chain of split products: the weights after a few epochs agree."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((512, 100)).astype(np.float32)
    y = rng.integers(0, 10, 512)

    def fit():
        cnn.utils.set_random_seed(3)
        m = cnn.models.Sequential([cnn.layers.Input((100,)), cnn.layers.Dense(256, activation="relu"),
                                   cnn.layers.Dense(10, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(x, y, batch_size=128, epochs=3, verbose=0, shuffle=False)
        return m.get_weights()

    results = run_threads(fit, counts=(1, 2))
    for one, two in zip(results[1], results[2]):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
