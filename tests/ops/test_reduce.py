import sys, os; sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # noqa: E401,E702
import re

import numpy as np
import pytest

from op_harness import forward, vjp, check_grad, check_torch, torch, requires_torch  # noqa: F401

# (shape, axes): last axis and leading axes (the fast paths), a middle axis, and the
# strided general path (two or more separate reduced groups).
CASES = [
    ((3, 4, 5), ()),          # all axes
    ((3, 4, 5), (-1,)),       # last axis
    ((3, 4, 5), (0,)),        # leading axis
    ((3, 4, 5), (0, 1)),      # leading axes
    ((3, 4, 5), (1,)),        # middle axis
    ((3, 4, 5), (2, 1)),      # trailing axes, out of order
    ((3, 4, 5), (0, 2)),      # general path
    ((3, 4, 5), (-1, -3)),    # general path, negative axes
    ((2, 3, 4, 5), (1, 3)),   # general path, reduced innermost run
    ((2, 3, 4, 5), (0, 2)),   # general path, kept innermost run
    ((2, 1, 4, 3), (1, 3)),   # a size-1 reduced axis folds away
    ((5,), (0,)),
]
IDS = [f"{s}-{a}" for s, a in CASES]

TORCH_FN = {"sum": "sum", "mean": "mean", "max": "amax"}


def ints(keepdims, axes):
    return (int(keepdims),) + tuple(axes)


def torch_reduce(op, axes, keepdims):
    def fn(t):
        dims = tuple(axes) if axes else tuple(range(t.dim()))
        return getattr(torch, TORCH_FN[op])(t, dim=dims, keepdim=bool(keepdims))
    return fn


def distinct(shape, seed=0):
    """Values without near-ties (spacing 0.1 > the finite-difference step), so max's
    gradient is well defined."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.1 - 0.05 * n).astype(np.float32)


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("shape,axes", CASES, ids=IDS)
def test_shape_and_grad(op, keepdims, shape, axes):
    x = distinct(shape)
    out = forward(op, [x], ints(keepdims, axes))
    ref = getattr(np, op)(x, axis=tuple(a % len(shape) for a in axes) if axes else None,
                          keepdims=bool(keepdims))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    check_grad(op, [x], ints(keepdims, axes))


@requires_torch
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("shape,axes", CASES, ids=IDS)
def test_torch(op, keepdims, shape, axes):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    check_torch(op, [x], torch_reduce(op, axes, keepdims), ints(keepdims, axes))


@requires_torch
@pytest.mark.parametrize("shape,axes", [((4, 6), (-1,)), ((6, 4), (0,)), ((3, 4, 5), (1,)),
                                        ((3, 4, 5), (0, 2)), ((2, 3, 4), ())], ids=str)
def test_max_ties_split_like_amax(shape, axes):
    # Few distinct values: most maxima are tied, and torch.amax splits dy equally.
    x = np.random.default_rng(2).integers(0, 3, size=shape).astype(np.float32)
    check_torch("max", [x], torch_reduce("max", axes, 0), ints(0, axes))
    g = vjp("max", [x], np.ones(forward("max", [x], ints(0, axes)).shape), ints(0, axes))[0]
    np.testing.assert_allclose(g.sum(), np.prod(forward("max", [x], ints(0, axes)).shape), rtol=1e-6)


@requires_torch
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("shape,axes", [((64, 300), (-1,)), ((300, 64), (0,)), ((8, 50, 40), (0, 2)),
                                        ((16, 9, 9, 32), (1, 2))], ids=str)
def test_torch_larger(op, shape, axes):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    check_torch(op, [x], torch_reduce(op, axes, 0), ints(0, axes), rtol=1e-5, atol=1e-5)


def test_long_sum_is_accurate():
    x = np.random.default_rng(4).random(200_000).astype(np.float32)
    np.testing.assert_allclose(forward("sum", [x]), np.sum(x, dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(forward("mean", [x]), np.mean(x, dtype=np.float64), rtol=1e-6)


def test_no_attrs_reduces_everything():
    x = distinct((2, 3))
    assert forward("sum", [x]).shape == ()
    np.testing.assert_allclose(forward("sum", [x]), x.sum(), rtol=1e-6)
    np.testing.assert_allclose(forward("max", [x], (1,)), x.max(keepdims=True))


def test_max_propagates_nan():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]], np.float32)
    out = forward("max", [x], (0, -1))
    assert np.isnan(out[0]) and out[1] == 6.0


def test_empty_reductions():
    x = np.zeros((3, 0), np.float32)
    np.testing.assert_array_equal(forward("sum", [x], (0, 1)), np.zeros(3, np.float32))
    assert np.isnan(forward("mean", [x], (0, 1))).all()
    with pytest.raises(ValueError, match=re.escape("max: cannot reduce over the zero-size axis 1 of (3, 0)")):
        forward("max", [x], (0, 1))


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_bad_axis(op):
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=re.escape(f"{op}: axis 2 is out of range for input (2, 3)")):
        forward(op, [x], (0, 2))
    with pytest.raises(ValueError, match=re.escape(f"{op}: axis -3 is out of range for input (2, 3)")):
        forward(op, [x], (1, 0, -3))


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_duplicate_axes(op):
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=re.escape(f"{op}: duplicate axis -2 in axes (1, -2) for input (2, 3, 4)")):
        forward(op, [x], (0, 1, -2))


def test_bad_keepdims():
    with pytest.raises(ValueError, match="sum: keepdims"):
        forward("sum", [np.zeros((2, 3), np.float32)], (2, 0))
