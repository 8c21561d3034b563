"""Activation ops: pointwise activations (Keras 3 semantics, PyTorch numerics) and
softmax / log_softmax along any axis."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from op_harness import check_grad, check_torch, forward, requires_torch, torch, vjp  # noqa: E402

F = torch.nn.functional if torch is not None else None

# id -> (op name, ints, floats, torch reference, kinks to keep finite differences off)
POINTWISE = {
    "relu": ("relu", (), (), lambda x: F.relu(x), [0.0]),
    "leaky_relu": ("leaky_relu", (), (0.1,), lambda x: F.leaky_relu(x, 0.1), [0.0]),
    "elu": ("elu", (), (0.7,), lambda x: F.elu(x, 0.7), [0.0]),
    "selu": ("selu", (), (), lambda x: F.selu(x), [0.0]),
    "gelu": ("gelu", (0,), (), lambda x: F.gelu(x), []),
    "gelu_tanh": ("gelu", (1,), (), lambda x: F.gelu(x, approximate="tanh"), []),
    "sigmoid": ("sigmoid", (), (), lambda x: torch.sigmoid(x), []),
    "hard_sigmoid": ("hard_sigmoid", (), (), lambda x: F.hardsigmoid(x), [-3.0, 3.0]),
    "tanh": ("tanh", (), (), lambda x: torch.tanh(x), []),
    "softplus": ("softplus", (), (), lambda x: F.softplus(x), []),
    "softsign": ("softsign", (), (), lambda x: F.softsign(x), []),
    "silu": ("silu", (), (), lambda x: F.silu(x), []),
}


def away_from(x, kinks, d=0.05):
    """Moves entries within d of a kink to 2d past it, so finite differences stay smooth."""
    x = x.copy()
    for k in kinks:
        near = np.abs(x - k) < d
        x[near] = k + 2 * d * np.where(x[near] >= k, 1, -1)
    return x.astype(np.float32)


def sample(kinks, shape=(3, 4), scale=2.0, seed=0):
    rng = np.random.default_rng(seed)
    return away_from(rng.standard_normal(shape) * scale, kinks)


@pytest.mark.parametrize("key", POINTWISE)
def test_pointwise_grad(key):
    name, ints, floats, _, kinks = POINTWISE[key]
    check_grad(name, [sample(kinks)], ints=ints, floats=floats)


# Wide inputs (|x| up to ~16, plus the saturating tails and every kink exactly) so parity
# covers sigmoid/tanh saturation, softplus's threshold regime and the conventions at kinks
# (relu'(0) = 0, hard_sigmoid' = 0 at +-3).
EDGES = np.array([0.0, -3.0, 3.0, 20.0, 25.0, -25.0, 40.0, -40.0, 1e-4, -1e-4], np.float32)


# gelu_tanh's gradient in the far negative tail (x ~ -5) is ~1e-6 and a difference of two
# nearly equal terms; torch's vectorised tanh saturates to -1 there and returns 0, while
# the float64 value (and ours) is about -1.0e-6: an absolute gap just above 1e-6.
TORCH_TOL = {"gelu_tanh": dict(atol=5e-6)}


@requires_torch
@pytest.mark.parametrize("key", POINTWISE)
def test_pointwise_torch(key):
    name, ints, floats, fn, _ = POINTWISE[key]
    x = np.concatenate([sample([], (40,), scale=4.0), EDGES]).reshape(5, 10)
    check_torch(name, [x], fn, ints=ints, floats=floats, **TORCH_TOL.get(key, {}))


def test_pointwise_formulas():
    x = np.linspace(-5, 5, 41, dtype=np.float32)
    # Keras 3 hard_sigmoid is relu6(x + 3) / 6, not the old 0.2 x + 0.5
    np.testing.assert_allclose(forward("hard_sigmoid", [x]), np.clip(x + 3, 0, 6) / 6, atol=1e-7)
    np.testing.assert_allclose(forward("softsign", [x]), x / (1 + np.abs(x)), rtol=1e-6)
    # leaky_relu's default slope is keras.activations' 0.2; elu's default alpha is 1
    np.testing.assert_allclose(forward("leaky_relu", [x]), np.where(x > 0, x, 0.2 * x), rtol=1e-6)
    np.testing.assert_allclose(forward("elu", [x]), forward("elu", [x], floats=(1.0,)))
    # gelu defaults to the exact (erf) form
    np.testing.assert_array_equal(forward("gelu", [x]), forward("gelu", [x], ints=(0,)))
    # softplus stays finite and exact far out
    big = np.array([-50.0, 100.0, 1e4], np.float32)
    np.testing.assert_allclose(forward("softplus", [big]), [np.exp(-50.0), 100.0, 1e4], rtol=1e-6)


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="gelu"):
        forward("gelu", [np.zeros(3, np.float32)], ints=(2,))


# ---- softmax, log_softmax ---------------------------------------------------------

SOFTMAX = {"softmax": lambda x, ax: torch.softmax(x, ax),
           "log_softmax": lambda x, ax: torch.log_softmax(x, ax)}


@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("shape,axis", [((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -3)])
def test_softmax_grad(name, shape, axis):
    check_grad(name, [sample([], shape)], ints=(axis,))


@requires_torch
@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("shape,axis", [((5, 7), -1), ((5, 7), 0), ((2, 3, 4, 5), 1),
                                        ((2, 3, 4, 5), 2), ((2, 3, 4, 5), -1), ((6,), 0),
                                        ((4, 1, 3), 1), ((3, 8, 1), 1)])
def test_softmax_torch(name, shape, axis):
    x = sample([], shape, scale=3.0)
    check_torch(name, [x], lambda t: SOFTMAX[name](t, axis), ints=(axis,))


@requires_torch
@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_large_logits(name, axis):
    # max subtraction: logits near 1e3 and -1e3 must not overflow or lose the result
    x = np.array([[1000.0, 999.0, -1000.0], [0.0, 1000.0, 1000.0]], np.float32)
    out = forward(name, [x], ints=(axis,))
    assert np.all(np.isfinite(out))
    check_torch(name, [x], lambda t: SOFTMAX[name](t, axis), ints=(axis,))


def test_softmax_default_axis_and_sums():
    x = sample([], (2, 3, 4))
    np.testing.assert_array_equal(forward("softmax", [x]), forward("softmax", [x], ints=(-1,)))
    for axis in range(3):
        y = forward("softmax", [x], ints=(axis,))
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-6)
        ly = forward("log_softmax", [x], ints=(axis,))
        np.testing.assert_allclose(np.exp(ly), y, rtol=1e-5, atol=1e-7)


def test_softmax_zero_size():
    x = np.zeros((0, 4), np.float32)
    assert forward("softmax", [x]).shape == (0, 4)
    (g,) = vjp("log_softmax", [x], x, ints=(0,))
    assert g.shape == (0, 4)


@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("axis", [2, -3, 7])
def test_softmax_bad_axis(name, axis):
    with pytest.raises(ValueError, match=rf"{name}: axis {axis} is out of range"):
        forward(name, [np.zeros((3, 4), np.float32)], ints=(axis,))


@requires_torch
@pytest.mark.parametrize("key", ["sigmoid", "tanh", "silu", "gelu_tanh"])
def test_pointwise_extremes_match_torch(key):
    """The vectorised e^x (csrc/fastmath.h) at its clamps, underflow, infinities and NaN."""
    op, ints, floats, ref, _ = POINTWISE[key]
    x = np.array([-np.inf, -1e30, -100, -88, -87.5, -87, -86.9, -20, -1e-3, -1e-8, 0, 1e-8,
                  0.05, 0.1, 0.2, 20, 87, 88, 88.7, 89, 100, 1e30, np.inf, np.nan], np.float32)
    y = forward(op, [x], ints=ints, floats=floats)
    expected = ref(torch.from_numpy(x)).numpy()
    # NaN exactly where torch has one (NaN in, or inf * 0); |y| < 1e-30 counts as 0
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-30, equal_nan=True)


@requires_torch
def test_pointwise_dense_grid_matches_torch():
    """Relative error of the fast sigmoid and tanh over a dense grid, both signs."""
    x = np.linspace(-30, 30, 200001, dtype=np.float32)
    for op, ref in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        y = forward(op, [x])
        expected = ref(torch.from_numpy(x).double()).numpy()
        assert np.max(np.abs(y - expected) / np.maximum(np.abs(expected), 1e-30)) < 1e-6
