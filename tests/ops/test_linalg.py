import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import pytest

from op_harness import check_grad, check_torch, forward, torch

rng = np.random.default_rng(0)


@pytest.mark.parametrize("a,b", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((2, 3, 4), (2, 4, 5)), ((1, 1), (1, 1))])
def test_matmul_gradient(a, b):
    check_grad("matmul", [rng.standard_normal(a), rng.standard_normal(b)])


@pytest.mark.parametrize("a,b", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((2, 3, 4), (2, 4, 5)), ((64, 784), (784, 256))])
def test_matmul_vs_torch(a, b):
    check_torch("matmul", [rng.standard_normal(a), rng.standard_normal(b)], lambda x, w: x @ w,
                rtol=1e-4, atol=1e-4)  # K up to 784: float32 summation order differs from MKL/oneDNN


def test_matmul_zero_sizes():
    assert forward("matmul", [np.zeros((0, 3)), np.zeros((3, 2))]).shape == (0, 2)
    np.testing.assert_array_equal(forward("matmul", [np.zeros((2, 0)), np.zeros((0, 3))]), np.zeros((2, 3)))


@pytest.mark.parametrize("x", [(3, 4), (2, 3, 4), (4,)])
def test_bias_add_gradient_and_torch(x):
    inputs = [rng.standard_normal(x), rng.standard_normal(x[-1:])]
    check_grad("bias_add", inputs)
    check_torch("bias_add", inputs, lambda a, b: a + b)


@pytest.mark.parametrize("name,a,b,msg", [
    ("matmul", (3, 4), (5, 2), r"matmul: inner dimensions differ: \(3, 4\) @ \(5, 2\)"),
    ("matmul", (4,), (4, 2), "rank >= 2"),
    ("matmul", (2, 3, 4), (3, 4, 5), "batch dimensions differ"),
    ("bias_add", (3, 4), (3,), r"bias_add: bias \(3,\) does not match the last axis of \(3, 4\)"),
])
def test_shape_errors(name, a, b, msg):
    with pytest.raises(ValueError, match=msg):
        forward(name, [np.zeros(a), np.zeros(b)])
