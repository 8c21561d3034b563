"""The passes around conv2d's products run on the engine's threads (csrc/ops_conv.c): im2col
split by rows, col2im and the depthwise kernel gradient by channels, groups or filters, the
depthwise forward by rows. Every split keeps each output's sum in the same order, so 2 and 3
threads must give exactly the single-threaded results, for each way the work is cut."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import pytest

import cnn
from op_harness import assert_same_at_every_count, forward, run_threads, vjp

SAME = 1

# (x shape, kernel shape, ints): each large enough that every pass is split.
CASES = {
    # im2col + GEMM; col2im by channels
    "standard": ((8, 20, 20, 8), (3, 3, 8, 16), [1, 1, 1, 1, 1, SAME]),
    "strided_dilated": ((16, 23, 21, 6), (3, 3, 6, 12), [2, 1, 1, 2, 1, 0]),
    "grouped": ((4, 16, 16, 8), (3, 3, 4, 16), [1, 1, 1, 1, 2, SAME]),
    # the direct window loop: depthwise (channels), depthwise multiplier (groups), and one
    # input channel (its filters)
    "depthwise": ((4, 20, 20, 16), (3, 3, 1, 16), [1, 1, 1, 1, 16, SAME]),
    "depth_multiplier": ((4, 20, 20, 8), (3, 3, 8, 3), [1, 1, 1, 1, 8, SAME, 1]),
    "one_channel": ((8, 28, 28, 1), (3, 3, 1, 32), [1, 1, 1, 1, 1, 0]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv2d_passes_split_give_one_thread_results(case):
    x_shape, k_shape, ints = CASES[case]
    rng = np.random.default_rng(7)
    x = rng.standard_normal(x_shape).astype(np.float32)
    k = (rng.standard_normal(k_shape) / np.sqrt(np.prod(k_shape[:3]))).astype(np.float32)

    def once():
        y = forward("conv2d", [x, k], ints)
        g = np.random.default_rng(8).standard_normal(y.shape).astype(np.float32)
        return [y] + list(vjp("conv2d", [x, k], g, ints))

    results = run_threads(once)
    assert_same_at_every_count(results)
    assert np.abs(results[1][2]).sum() > 0  # the kernel gradient was computed at all


def test_conv2d_transpose_split_gives_one_thread_results():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((16, 12, 12, 16)).astype(np.float32)
    k = (rng.standard_normal((3, 3, 8, 16)) / 12).astype(np.float32)
    ints = [2, 2, 1, 1, SAME, -1, -1]

    def once():
        y = forward("conv2d_transpose", [x, k], ints)
        g = np.random.default_rng(10).standard_normal(y.shape).astype(np.float32)
        return [y] + list(vjp("conv2d_transpose", [x, k], g, ints))

    assert_same_at_every_count(run_threads(once))


def test_first_layer_kernel_gradient_split_by_filters():
    # A single-channel input whose own gradient is not needed: the depthwise kernel
    # gradient is then split over the filters.
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 28, 28, 1)).astype(np.float32)
    layer = cnn.layers.Conv2D(32, 3)
    layer.build((None, 28, 28, 1))

    def once():
        with cnn.GradientTape() as tape:
            loss = cnn.ops.sum(cnn.ops.square(layer(x)))
        return [np.asarray(g) for g in tape.gradient(loss, layer.trainable_weights)]

    results = run_threads(once)
    assert_same_at_every_count(results)
    # and it is the gradient: against the op's own vjp, which computes dx as well
    y = forward("conv2d", [x, np.asarray(layer.kernel)], [1, 1, 1, 1, 1, 0])
    dk = vjp("conv2d", [x, np.asarray(layer.kernel)], 2 * (y + np.asarray(layer.bias)),
             [1, 1, 1, 1, 1, 0])[1]
    np.testing.assert_allclose(results[1][0], dk, rtol=1e-5, atol=1e-4)
