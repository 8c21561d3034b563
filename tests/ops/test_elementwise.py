"""Elementwise ops: broadcasting binary ops (add, sub, mul, div, maximum, minimum) and
unary math (neg, exp, log, sqrt, square, abs, clip)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from op_harness import check_grad, check_torch, forward, requires_torch, torch, vjp  # noqa: E402

BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]
NUMPY_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
                "maximum": np.maximum, "minimum": np.minimum}
TORCH_BINARY = {"add": "add", "sub": "sub", "mul": "mul", "div": "div",
                "maximum": "maximum", "minimum": "minimum"}

# Shape pairs covering each path: equal shapes, a scalar on either side, a trailing row
# on either side, a column, both sides broadcast, rank growth, and a rank-8 strided case.
SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((3, 1), (1, 4)),
    ((3, 4), (3, 1)),
    ((2, 3, 1, 5), (3, 4, 1)),
]
SMALL_SHAPES = SHAPES[:8]  # finite differences on the small ones
RANK8 = ((2, 1, 2, 1, 2, 1, 2, 3), (1, 2, 1, 2, 1, 2, 1, 3))


def binary_inputs(name, sa, sb, seed=0):
    """Random inputs kept away from the ops' singular points: for div, b away from 0; for
    maximum/minimum, a on odd and b on even multiples of 0.1, so |a - b| >= 0.1 after any
    broadcast (no ties, no kink within a finite-difference step)."""
    rng = np.random.default_rng(seed)
    if name in ("maximum", "minimum"):
        a = (2 * rng.integers(-10, 10, sa) + 1) * 0.1
        b = 2 * rng.integers(-10, 10, sb) * 0.1
    else:
        a = rng.uniform(-2, 2, sa)
        b = rng.uniform(-2, 2, sb)
        if name == "div":
            b = np.sign(b) * (0.5 + np.abs(b) / 2)
    return np.asarray(a, np.float32), np.asarray(b, np.float32)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("sa,sb", SHAPES + [RANK8, ((0, 4), (4,))])
def test_binary_forward_matches_numpy(name, sa, sb):
    a, b = binary_inputs(name, sa, sb)
    out = forward(name, [a, b])
    ref = NUMPY_BINARY[name](a, b)
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("sa,sb", SMALL_SHAPES)
def test_binary_grad(name, sa, sb):
    check_grad(name, list(binary_inputs(name, sa, sb)))


@requires_torch
@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("sa,sb", SHAPES + [RANK8])
def test_binary_torch(name, sa, sb):
    fn = getattr(torch, TORCH_BINARY[name])
    check_torch(name, list(binary_inputs(name, sa, sb)), fn)


@requires_torch
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_max_min_ties_split_gradient(name):
    a = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 5.0]], np.float32)
    b = np.array([1.0, 0.0, 3.0], np.float32)  # ties at (0, 0), (0, 2), (1, 1)
    g = np.ones((2, 3), np.float32)
    ga, gb = vjp(name, [a, b], g)
    tie = a == b
    np.testing.assert_array_equal(ga[tie], 0.5)
    check_torch(name, [a, b], getattr(torch, name))


def test_binary_zero_size():
    a, b = np.zeros((0, 4), np.float32), np.ones(4, np.float32)
    assert forward("mul", [a, b]).shape == (0, 4)
    ga, gb = vjp("mul", [a, b], np.zeros((0, 4), np.float32))
    assert ga.shape == (0, 4)
    np.testing.assert_array_equal(gb, 0.0)


@pytest.mark.parametrize("name", BINARY)
def test_binary_bad_broadcast(name):
    a, b = np.zeros((3, 4), np.float32), np.zeros((5,), np.float32)
    with pytest.raises(ValueError, match=rf"{name}: shapes \(3, 4\) and \(5,\)"):
        forward(name, [a, b])
    with pytest.raises(ValueError, match=rf"{name}: .*\(2, 3, 4\).*\(2, 4\)"):
        forward(name, [np.zeros((2, 3, 4)), np.zeros((2, 4))])


# ---- unary ------------------------------------------------------------------------

LO, HI = -0.5, 0.7

# name -> (floats, input sampler (rng, shape), torch reference)
UNARY = {
    "neg": ((), lambda r, s: r.uniform(-2, 2, s), lambda x: torch.neg(x)),
    "exp": ((), lambda r, s: r.uniform(-2, 2, s), lambda x: torch.exp(x)),
    "log": ((), lambda r, s: r.uniform(0.2, 3, s), lambda x: torch.log(x)),
    "sqrt": ((), lambda r, s: r.uniform(0.2, 3, s), lambda x: torch.sqrt(x)),
    "square": ((), lambda r, s: r.uniform(-2, 2, s), lambda x: torch.square(x)),
    "abs": ((), lambda r, s: r.uniform(-2, 2, s), lambda x: torch.abs(x)),
    "clip": ((LO, HI), lambda r, s: r.uniform(-1.5, 1.5, s), lambda x: torch.clamp(x, LO, HI)),
}
KINKS = {"abs": [0.0], "clip": [LO, HI]}


def away_from(x, kinks, d=0.05):
    """Moves entries within d of a kink to 2d past it, so finite differences stay smooth."""
    x = x.copy()
    for k in kinks:
        near = np.abs(x - k) < d
        x[near] = k + 2 * d * np.where(x[near] >= k, 1, -1)
    return x.astype(np.float32)


def unary_input(name, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    return away_from(UNARY[name][1](rng, shape), KINKS.get(name, []))


@pytest.mark.parametrize("name", UNARY)
def test_unary_grad(name):
    check_grad(name, [unary_input(name)], floats=UNARY[name][0])


@requires_torch
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), ()])
def test_unary_torch(name, shape):
    check_torch(name, [unary_input(name, shape)], UNARY[name][2], floats=UNARY[name][0])


@requires_torch
def test_unary_conventions_at_kinks():
    # abs'(0) = 0; clip's gradient is 1 at both bounds (inclusive), as torch.clamp.
    check_torch("abs", [np.array([-1.0, 0.0, 2.0], np.float32)], torch.abs)
    x = np.array([LO - 1, LO, 0.0, HI, HI + 1], np.float32)
    check_torch("clip", [x], lambda t: torch.clamp(t, LO, HI), floats=(LO, HI))
    (g,) = vjp("clip", [x], np.ones(5, np.float32), floats=(LO, HI))
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 0])


def test_clip_needs_bounds():
    with pytest.raises(ValueError, match="clip"):
        forward("clip", [np.zeros(3, np.float32)], floats=(0.0,))
