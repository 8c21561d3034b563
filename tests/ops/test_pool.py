import sys, os; sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # noqa: E401,E702
import re

import numpy as np
import pytest

from op_harness import forward, vjp, check_grad, check_torch, torch, requires_torch  # noqa: F401


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def distinct(*shape, seed=0):
    """Values at least 0.05 apart, so a finite-difference step never changes an argmax."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) * 0.05 - n * 0.025).astype(np.float32)


def same_pads(size, k, s):
    """Keras "same": ceil(size / s) outputs, the odd padding pixel after."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


# (input NHWC, pool, strides, same)
CASES = [((2, 5, 7, 3), (2, 2), (2, 2), 0), ((2, 5, 7, 3), (2, 3), (1, 2), 0),
         ((1, 7, 5, 2), (3, 3), (2, 2), 0), ((2, 5, 7, 3), (2, 2), (2, 2), 1),
         ((2, 5, 7, 3), (3, 2), (2, 3), 1), ((1, 6, 6, 2), (3, 3), (1, 1), 1),
         ((1, 4, 9, 1), (4, 2), (3, 4), 1), ((2, 3, 3, 2), (3, 3), (3, 3), 0),
         ((1, 2, 3, 2), (4, 5), (1, 2), 1), ((1, 1, 9, 2), (1, 3), (1, 2), 1)]
IDS = [f"{s}-p{p}-s{st}-{'same' if m else 'valid'}" for s, p, st, m in CASES]


def attrs(pool, strides, same):
    return [*pool, *strides, same]


def torch_pool(kind, pool, strides, same):
    F = torch.nn.functional

    def fn(t):
        x = t.permute(0, 3, 1, 2)
        pads = (0, 0, 0, 0)
        if same:
            (t0, b0), (l0, r0) = same_pads(x.shape[2], pool[0], strides[0]), same_pads(x.shape[3], pool[1], strides[1])
            pads = (l0, r0, t0, b0)
        if kind == "max":
            y = F.max_pool2d(F.pad(x, pads, value=float("-inf")), pool, strides)
        else:  # average over the real elements only: window sums over window counts
            ones = torch.ones_like(x[:1, :1])
            y = (F.avg_pool2d(F.pad(x, pads), pool, strides, divisor_override=1)
                 / F.avg_pool2d(F.pad(ones, pads), pool, strides, divisor_override=1))
        return y.permute(0, 2, 3, 1)
    return fn


@pytest.mark.parametrize("shape,pool,strides,same", CASES, ids=IDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_grad(kind, shape, pool, strides, same):
    x = distinct(*shape) if kind == "max" else rand(*shape)
    check_grad(f"{kind}_pool2d", [x], attrs(pool, strides, same))


@requires_torch
@pytest.mark.parametrize("shape,pool,strides,same", CASES, ids=IDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_torch(kind, shape, pool, strides, same):
    check_torch(f"{kind}_pool2d", [rand(*shape)], torch_pool(kind, pool, strides, same),
                attrs(pool, strides, same))


@requires_torch
def test_max_pool_ties_route_to_first_max():
    x = np.ones((1, 4, 4, 2), np.float32)
    x[0, 1, 1] = 1.0  # still a tie
    check_torch("max_pool2d", [x], torch_pool("max", (2, 2), (2, 2), 0), [2, 2, 2, 2, 0])
    g = vjp("max_pool2d", [x], np.ones((1, 2, 2, 2), np.float32), [2, 2, 2, 2, 0])[0]
    assert g[0, ::2, ::2].sum() == 8 and g.sum() == 8


@requires_torch
def test_max_pool_nan_propagates_like_torch():
    x = rand(1, 4, 4, 3)
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = x[0, 3, 3, 2] = np.nan
    check_torch("max_pool2d", [x], torch_pool("max", (2, 2), (2, 2), 0), [2, 2, 2, 2, 0])


def test_avg_pool_same_counts_real_elements():
    x = np.ones((1, 3, 3, 1), np.float32)
    np.testing.assert_array_equal(forward("avg_pool2d", [x], [2, 2, 2, 2, 1]), np.ones((1, 2, 2, 1)))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_larger_than_input(kind):
    msg = f'{kind}_pool2d: pool size (3, 3) is larger than the input\'s spatial dims in input (1, 2, 5, 1) with padding "valid"'
    with pytest.raises(ValueError, match=re.escape(msg)):
        forward(f"{kind}_pool2d", [np.zeros((1, 2, 5, 1), np.float32)], [3, 3, 3, 3, 0])


@pytest.mark.parametrize("ints", [[2, 2, 2, 2], [0, 2, 2, 2, 0], [2, 2, 2, 2, 3]], ids=str)
def test_pool_bad_attrs(ints):
    with pytest.raises(ValueError, match="max_pool2d: attributes .* must be pool_h"):
        forward("max_pool2d", [np.zeros((1, 4, 4, 1), np.float32)], ints)


def test_pool_bad_rank():
    with pytest.raises(ValueError, match=re.escape("avg_pool2d: expected an input of rank 4 (batch, height, width, channels), got (4, 4)")):
        forward("avg_pool2d", [np.zeros((4, 4), np.float32)], [2, 2, 2, 2, 0])


# ---- upsample2d ---------------------------------------------------------------------

@pytest.mark.parametrize("shape,size", [((2, 3, 4, 2), (2, 2)), ((1, 3, 2, 3), (3, 1)), ((1, 2, 2, 1), (1, 1))], ids=str)
def test_upsample(shape, size):
    x = rand(*shape)
    out = forward("upsample2d", [x], size)
    np.testing.assert_array_equal(out, x.repeat(size[0], axis=1).repeat(size[1], axis=2))
    check_grad("upsample2d", [x], size)


@requires_torch
def test_upsample_torch():
    F = torch.nn.functional
    check_torch("upsample2d", [rand(2, 3, 5, 4)],
                lambda t: F.interpolate(t.permute(0, 3, 1, 2), scale_factor=(2, 3), mode="nearest").permute(0, 2, 3, 1),
                [2, 3])


def test_upsample_bad_size():
    with pytest.raises(ValueError, match=re.escape("upsample2d: size (0, 2) must be two integers >= 1")):
        forward("upsample2d", [np.zeros((1, 2, 2, 1), np.float32)], [0, 2])


# ---- zero_pad2d ---------------------------------------------------------------------

@pytest.mark.parametrize("pads", [(1, 1, 1, 1), (0, 2, 3, 1), (0, 0, 0, 0), (2, 0, 0, 1)], ids=str)
def test_zero_pad(pads):
    x = rand(2, 3, 4, 2)
    out = forward("zero_pad2d", [x], pads)
    t, b, l, r = pads
    np.testing.assert_array_equal(out, np.pad(x, ((0, 0), (t, b), (l, r), (0, 0))))
    check_grad("zero_pad2d", [x], pads)


@requires_torch
def test_zero_pad_torch():
    F = torch.nn.functional
    check_torch("zero_pad2d", [rand(2, 3, 4, 2)], lambda t: F.pad(t, (0, 0, 3, 1, 0, 2)), [0, 2, 3, 1])


def test_zero_pad_bad():
    with pytest.raises(ValueError, match=re.escape("zero_pad2d: padding (1, -1, 0, 0) must be top, bottom, left, right")):
        forward("zero_pad2d", [np.zeros((1, 2, 2, 1), np.float32)], [1, -1, 0, 0])
