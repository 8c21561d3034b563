"""Stochastic ops (ops_random.c): dropout, alpha_dropout, gaussian_noise, gaussian_dropout.

ints = [mode, seed attribute, *noise shape]: mode 0 follows the call's training flag, 1
always trains, 2 always infers. With a fixed seed the draw is deterministic, so finite
differences work, and torch computes the reference from OUR mask or noise."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from op_harness import check_grad, forward, requires_torch, torch, vjp  # noqa: E402

from cnn import backend as B  # noqa: E402

TRAIN, INFER = 1, 2
SEED = 12345  # seed attribute used with a call seed of 0
ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946

# op -> float parameter used in the generic tests
OPS = {"dropout": 0.3, "alpha_dropout": 0.3, "gaussian_noise": 0.5, "gaussian_dropout": 0.3}


def sample(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- the counter-based stream, recomputed in Python --------------------------------------

M64 = (1 << 64) - 1


def mix(a, b):
    """cnn_seed_mix: the splitmix64 finaliser of a + golden * (b + 1)."""
    z = (a + 0x9E3779B97F4A7C15 * (b + 1)) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def uniform(seed, k):
    return (mix(seed, k) >> 40) / 16777216.0


def test_dropout_mask_is_the_documented_stream():
    """keep = u >= rate with u = cnn_rand_uniform(mix(call seed, seed attribute), k)."""
    x = np.ones(200, np.float32)
    rate, call_seed = 0.4, 99
    y = forward("dropout", [x], ints=(TRAIN, SEED), floats=(rate,), seed=call_seed)
    s = mix(call_seed, SEED)
    keep = np.array([uniform(s, k) >= np.float32(rate) for k in range(200)])
    np.testing.assert_array_equal(y != 0, keep)
    np.testing.assert_array_equal(y[keep], np.float32(1) / np.float32(1 - rate))
    # seed attribute 0: the call seed is used as is
    y0 = forward("dropout", [x], ints=(TRAIN, 0), floats=(rate,), seed=call_seed)
    keep0 = np.array([uniform(call_seed, k) >= np.float32(rate) for k in range(200)])
    np.testing.assert_array_equal(y0 != 0, keep0)


def test_gaussian_noise_is_box_muller_on_the_stream():
    n = 64
    z = forward("gaussian_noise", [np.zeros(n, np.float32)], ints=(TRAIN, SEED), floats=(1.0,))
    s = mix(0, SEED)
    want = []
    for k in range(n):
        j = k & ~1
        u1, u2 = uniform(s, j), uniform(s, j + 1)
        r = math.sqrt(-2 * math.log(1 - u1))
        want.append(r * (math.sin if k & 1 else math.cos)(2 * math.pi * u2))
    np.testing.assert_allclose(z, want, rtol=1e-5, atol=1e-5)


# ---- inference: the identity -----------------------------------------------------------------

@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("ints,training", [((0, 0), False), ((INFER, SEED), True), ((), False)])
def test_inference_is_the_identity(name, ints, training):
    x = sample((3, 5, 4))
    np.testing.assert_array_equal(forward(name, [x], ints=ints, floats=(OPS[name],), training=training), x)
    g = sample((3, 5, 4), 1)
    np.testing.assert_array_equal(vjp(name, [x], g, ints=ints, floats=(OPS[name],), training=training)[0], g)


@pytest.mark.parametrize("name", OPS)
def test_zero_rate_is_the_identity_in_training(name):
    x = sample((4, 6))
    np.testing.assert_array_equal(forward(name, [x], ints=(TRAIN, SEED), floats=(0.0,)), x)


def test_follow_mode_reads_the_call_flag():
    x = sample((50, 20))
    on = forward("dropout", [x], ints=(0, 0), floats=(0.5,), training=True, seed=3)
    assert (on == 0).mean() > 0.3
    off = forward("dropout", [x], ints=(0, 0), floats=(0.5,), training=False, seed=3)
    np.testing.assert_array_equal(off, x)


# ---- gradients (fixed seed: a deterministic function of x) -------------------------------------

GRAD_CASES = {
    "dropout": [(TRAIN, SEED), (TRAIN, SEED, -1, 1, -1), (INFER, SEED)],
    "alpha_dropout": [(TRAIN, SEED), (TRAIN, SEED, -1, 1, 4), (INFER, 0)],
    "gaussian_noise": [(TRAIN, SEED), (INFER, SEED)],
    "gaussian_dropout": [(TRAIN, SEED), (INFER, SEED)],
}


@pytest.mark.parametrize("name,ints", [(n, i) for n, cases in GRAD_CASES.items() for i in cases],
                         ids=lambda v: str(v))
def test_grad(name, ints):
    check_grad(name, [sample((3, 5, 4))], ints=ints, floats=(OPS[name],))


def test_rate_one_drops_everything():
    x = sample((4, 5))
    np.testing.assert_array_equal(forward("dropout", [x], ints=(TRAIN, SEED), floats=(1.0,)), 0)
    np.testing.assert_array_equal(vjp("dropout", [x], np.ones_like(x), ints=(TRAIN, SEED), floats=(1.0,))[0], 0)


# ---- torch parity with our draw -------------------------------------------------------------

def torch_check(name, x, ints, floats, reference, rtol=1e-6, atol=1e-6):
    """Our forward and vjp against torch's autograd through `reference(xt)`."""
    xt = torch.tensor(x, requires_grad=True)
    ref = reference(xt)
    out = forward(name, [x], ints=ints, floats=floats)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=rtol, atol=atol)
    g = sample(x.shape, 7)
    ref.backward(torch.tensor(g))
    got = vjp(name, [x], g, ints=ints, floats=floats)[0]
    np.testing.assert_allclose(got, xt.grad.numpy(), rtol=rtol, atol=atol)


@requires_torch
@pytest.mark.parametrize("noise", [(), (-1, 1, -1), (1, 5, 1), (-1, 5, 4)])
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_torch(noise, rate):
    x = sample((6, 5, 4))
    ints = (TRAIN, SEED) + noise
    scaled = forward("dropout", [np.ones_like(x)], ints=ints, floats=(rate,))
    mask = torch.tensor((scaled != 0).astype(np.float32))
    for d, v in enumerate(noise):  # a broadcast mask is constant along its size-1 dims
        if v == 1:
            np.testing.assert_array_equal(scaled, np.take(scaled, [0], axis=d).repeat(x.shape[d], d))
    torch_check("dropout", x, ints, (rate,), lambda t: t * (mask / (1 - rate)), rtol=0, atol=0)


@requires_torch
@pytest.mark.parametrize("noise", [(), (-1, 1, -1)])
@pytest.mark.parametrize("rate", [0.05, 0.2, 0.6])
def test_alpha_dropout_torch(noise, rate):
    """Keras's formula: a * (x * kept + alpha_p * (1 - kept)) + b, with OUR kept mask."""
    x = sample((6, 5, 4))
    ints = (TRAIN, SEED) + noise
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    b = -a * ALPHA_P * rate
    kept = vjp("alpha_dropout", [x], np.ones_like(x), ints=ints, floats=(rate,))[0] != 0
    assert 0 < kept.mean() < 1
    k = torch.tensor(kept.astype(np.float32))
    torch_check("alpha_dropout", x, ints, (rate,), lambda t: a * (t * k + ALPHA_P * (1 - k)) + b)


@requires_torch
def test_gaussian_noise_torch():
    x = sample((6, 7))
    noise = torch.tensor(forward("gaussian_noise", [np.zeros_like(x)], ints=(TRAIN, SEED), floats=(0.7,)))
    torch_check("gaussian_noise", x, (TRAIN, SEED), (0.7,), lambda t: t + noise, rtol=0, atol=0)


@requires_torch
def test_gaussian_dropout_torch():
    x = sample((6, 7))
    m = torch.tensor(forward("gaussian_dropout", [np.ones_like(x)], ints=(TRAIN, SEED), floats=(0.4,)))
    torch_check("gaussian_dropout", x, (TRAIN, SEED), (0.4,), lambda t: t * m, rtol=0, atol=0)


# ---- statistics over large draws ------------------------------------------------------------

N = 1_000_000


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_statistics(rate):
    y = forward("dropout", [np.ones(N, np.float32)], ints=(TRAIN, SEED), floats=(rate,))
    sigma = math.sqrt(rate * (1 - rate) / N)
    assert abs((y == 0).mean() - rate) < 5 * sigma
    assert abs(y.mean() - 1) < 5 * sigma / (1 - rate)  # the expected sum is preserved


def test_dropout_noise_shape_statistics():
    """(N, T, C) with noise (N, 1, C): a channel is all kept or all dropped over time."""
    y = forward("dropout", [np.ones((2000, 8, 50), np.float32)], ints=(TRAIN, SEED, -1, 1, -1),
                floats=(0.3,))
    dropped = y == 0
    assert (dropped.all(axis=1) | ~dropped.any(axis=1)).all()
    assert abs(dropped[:, 0].mean() - 0.3) < 5 * math.sqrt(0.21 / 1e5)


def test_gaussian_noise_statistics():
    z = forward("gaussian_noise", [np.zeros(N, np.float32)], ints=(TRAIN, SEED), floats=(0.5,))
    z = z.astype(np.float64) / 0.5
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / N)
    assert abs((z ** 3).mean()) < 5 * math.sqrt(15 / N)     # symmetric
    assert abs((z ** 4).mean() - 3) < 5 * math.sqrt(96 / N)  # normal kurtosis
    assert abs((np.abs(z) < 1).mean() - 0.682689) < 5 * math.sqrt(0.22 / N)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_gaussian_dropout_statistics(rate):
    m = forward("gaussian_dropout", [np.ones(N, np.float32)], ints=(TRAIN, SEED), floats=(rate,))
    var = rate / (1 - rate)
    assert abs(m.mean() - 1) < 5 * math.sqrt(var / N)
    assert abs(m.var() - var) < 5 * var * math.sqrt(2 / N)


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5])
def test_alpha_dropout_keeps_mean_and_variance(rate):
    """Keras documents that a standard-normal input keeps mean 0 and variance 1."""
    x = np.random.default_rng(1).standard_normal(N).astype(np.float32)
    y = forward("alpha_dropout", [x], ints=(TRAIN, SEED), floats=(rate,)).astype(np.float64)
    assert abs(y.mean()) < 0.01
    assert abs(y.var() - 1) < 0.01
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    dropped = np.float32(a) * np.float32(ALPHA_P) + np.float32(-a * ALPHA_P * rate)
    assert abs((y == dropped).mean() - rate) < 5 * math.sqrt(rate * (1 - rate) / N)


# ---- determinism ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", OPS)
def test_same_seed_same_draw_different_seed_different_draw(name):
    x = sample((40, 30))
    f = OPS[name]
    a = forward(name, [x], ints=(0, 0), floats=(f,), training=True, seed=5)
    np.testing.assert_array_equal(a, forward(name, [x], ints=(0, 0), floats=(f,), training=True, seed=5))
    assert not np.array_equal(a, forward(name, [x], ints=(0, 0), floats=(f,), training=True, seed=6))
    # the seed attribute is mixed in: same call seed, different layer seeds differ
    b = forward(name, [x], ints=(0, 7), floats=(f,), training=True, seed=5)
    assert not np.array_equal(a, b)
    assert not np.array_equal(b, forward(name, [x], ints=(0, 8), floats=(f,), training=True, seed=5))


def test_eager_backward_regenerates_the_forward_mask():
    """op_vjp runs forward and backward separately: the gradient's zeros are the output's."""
    x = sample((30, 40)) + 5  # no zeros in x
    y = forward("dropout", [x], ints=(0, 0), floats=(0.5,), training=True, seed=11)
    g = vjp("dropout", [x], np.ones_like(x), ints=(0, 0), floats=(0.5,), training=True, seed=11)[0]
    np.testing.assert_array_equal(g == 0, y == 0)


# ---- graph: symbolic shapes ------------------------------------------------------------------

@pytest.mark.parametrize("name,ints", [("dropout", [0, 0, -1, 1, -1]), ("alpha_dropout", [1, 3]),
                                       ("gaussian_noise", [0, 0]), ("gaussian_dropout", [])])
def test_symbolic_shape(name, ints):
    g = B.GraphBuilder()
    x = g.input((5, 4))
    assert B.op(name, [x], ints=ints, floats=[0.2]).shape == (None, 5, 4)


def test_graph_noise_shape_checked_once_the_batch_is_known():
    g = B.GraphBuilder()
    x = g.input((3,))
    y = B.op("dropout", [x], ints=[1, 0, 4, 1], floats=[0.5])  # batch of 4 required
    prog = B.CompiledGraph(g, [x], [y])
    assert prog.predict([np.ones((4, 3), np.float32)])[0].shape == (4, 3)
    with pytest.raises(ValueError, match="noise_shape"):
        prog.predict([np.ones((5, 3), np.float32)])


# ---- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name,ints,floats,match", [
    ("dropout", (), (), r"expected floats=\[rate\]"),
    ("dropout", (), (1.5,), r"rate must be in \[0, 1\], got 1.5"),
    ("dropout", (), (-0.1,), r"rate must be in \[0, 1\]"),
    ("dropout", (), (float("nan"),), r"rate must be in"),
    ("alpha_dropout", (), (1.0,), r"rate must be in \[0, 1\), got 1"),
    ("gaussian_dropout", (), (1.0,), r"rate must be in \[0, 1\)"),
    ("gaussian_noise", (), (-1.0,), r"stddev must be in \[0, inf\)"),
    ("dropout", (3,), (0.5,), r"mode \(ints\[0\]\) must be 0"),
    ("gaussian_noise", (0, 0, 1), (0.5,), r"takes ints=\[mode, seed\]"),
    ("dropout", (0, 0, -1, 1), (0.5,), r"noise_shape \(-1, 1\) must have one entry per input dim"),
    ("dropout", (0, 0, -1, 2, 1), (0.5,), r"noise_shape \(-1, 2, 1\) does not broadcast to the input \(2, 3, 4\)"),
    ("alpha_dropout", (0, 0, 0, 1, 1), (0.5,), r"alpha_dropout: noise_shape"),
])
def test_bad_attributes(name, ints, floats, match):
    with pytest.raises(ValueError, match=match):
        forward(name, [np.zeros((2, 3, 4), np.float32)], ints=ints, floats=floats, training=True)


def test_empty_and_scalar_inputs():
    for shape in [(0, 3), (), (1,)]:
        x = np.ones(shape, np.float32)
        for name, f in OPS.items():
            assert forward(name, [x], ints=(TRAIN, 1), floats=(f,)).shape == shape
