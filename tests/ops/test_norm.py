"""batch_norm and layer_norm: finite-difference gradients, PyTorch parity (forward and
backward), the moving-statistics update and its modes, and errors."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import pytest

from op_harness import check_grad, check_torch, forward, torch, vjp

rng = np.random.default_rng(0)
EPS = 1e-3

if torch is not None:
    import torch.nn.functional as F


def bn_inputs(shape, axis, seed=0):
    r = np.random.default_rng(seed)
    c = shape[axis]
    return [r.standard_normal(shape) * 2 + 0.5, r.standard_normal(c), r.standard_normal(c),
            r.standard_normal(c) * 0.5, r.random(c) + 0.5]


def ln_inputs(shape, axes, seed=0):
    r = np.random.default_rng(seed)
    pshape = tuple(shape[a] for a in sorted(a % len(shape) for a in axes))
    return [r.standard_normal(shape) * 2 + 0.5, r.standard_normal(pshape), r.standard_normal(pshape)]


BN_CASES = [((6, 4), -1), ((3, 4, 2, 3), 1), ((2, 3, 4), 0), ((4, 3, 5), 2), ((5, 1, 3), -1)]

# ---- batch_norm -------------------------------------------------------------------------


@pytest.mark.parametrize("shape,axis", BN_CASES)
@pytest.mark.parametrize("mode", [1, 0])
def test_batch_norm_gradient(shape, axis, mode):
    # Gradients w.r.t. x, gamma and beta; the moving statistics take none.
    check_grad("batch_norm", bn_inputs(shape, axis), ints=[axis, mode], floats=[EPS, 0.9],
               wrt=[0, 1, 2])


def test_batch_norm_moving_statistics_get_no_gradient():
    ins = bn_inputs((4, 3), -1)
    grads = vjp("batch_norm", ins, np.ones((4, 3)), ints=[-1, 1], floats=[EPS, 0.9])
    assert grads[3] is None and grads[4] is None


def _torch_bn(axis, training):
    def fn(x, g, b, mm, mv):
        xc = x.movedim(axis, 1)  # torch's channel axis is 1
        y = F.batch_norm(xc, None if training else mm, None if training else mv, g, b,
                         training=training, eps=EPS)
        return y.movedim(1, axis)
    return fn


@pytest.mark.parametrize("shape,axis", BN_CASES + [((64, 32), -1), ((8, 16, 5, 5), 1)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_vs_torch(shape, axis, training):
    # torch's batch variance is two-pass, ours (Keras's) E[x^2] - E[x]^2: a few ulps apart.
    check_torch("batch_norm", bn_inputs(shape, axis, seed=1), _torch_bn(axis, training),
                ints=[axis, int(training)], floats=[EPS, 0.99], wrt=[0, 1, 2],
                rtol=2e-5, atol=5e-6)


def _keras_update(x, axis, mm, mv, momentum):
    """Keras 3 (torch backend) in float32: mean, E[x^2] - mean^2, then the momentum rule."""
    f32 = np.float32
    red = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
    mean = np.mean(x.astype(np.float64), axis=red).astype(f32)
    msq = np.mean(np.square(x).astype(np.float64), axis=red).astype(f32)
    var = msq - mean * mean
    m, m1 = f32(momentum), f32(1.0 - momentum)
    return mm * m + mean * m1, mv * m + var * m1, mean, var


@pytest.mark.parametrize("shape,axis", BN_CASES)
def test_batch_norm_updates_moving_statistics_in_place(shape, axis):
    x, g, b, mm, mv = [a.astype(np.float32) for a in bn_inputs(shape, axis)]
    want_mm, want_mv, mean, var = _keras_update(x, axis, mm.copy(), mv.copy(), 0.9)
    y = forward("batch_norm", [x, g, b, mm, mv], ints=[axis, -1], floats=[EPS, 0.9],
                training=True)
    np.testing.assert_allclose(mm, want_mm, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mv, want_mv, rtol=1e-6, atol=1e-7)
    shape_c = [1] * x.ndim
    shape_c[axis] = -1
    ref = (x - mean.reshape(shape_c)) * ((1 / np.sqrt(var + np.float32(EPS))) * g).reshape(
        shape_c) + b.reshape(shape_c)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode,training,updates", [
    (-1, True, True), (-1, False, False),  # follow the call's flag
    (1, False, True), (0, True, False),    # an attribute overrides it
])
def test_batch_norm_modes(mode, training, updates):
    x, g, b, mm, mv = [a.astype(np.float32) for a in bn_inputs((8, 3), -1)]
    mm0, mv0 = mm.copy(), mv.copy()
    y = forward("batch_norm", [x, g, b, mm, mv], ints=[-1, mode], floats=[EPS, 0.99],
                training=training)
    assert (not np.array_equal(mm, mm0)) == updates
    assert (not np.array_equal(mv, mv0)) == updates
    if not updates:  # inference: the moving statistics, exactly as Keras composes them
        s = (np.float32(1) / np.sqrt(mv0 + np.float32(EPS))) * g
        np.testing.assert_array_equal(y, (x - mm0) * s + b)


def test_batch_norm_momentum_extremes():
    x, g, b, mm, mv = [a.astype(np.float32) for a in bn_inputs((8, 3), -1)]
    keep_mm = mm.copy()
    forward("batch_norm", [x, g, b, mm, mv], ints=[-1, 1], floats=[EPS, 1.0])
    np.testing.assert_array_equal(mm, keep_mm)  # momentum 1: the statistics never move
    forward("batch_norm", [x, g, b, mm, mv], ints=[-1, 1], floats=[EPS, 0.0])
    np.testing.assert_allclose(mm, x.mean(0), rtol=1e-6, atol=1e-7)  # 0: the batch's


def test_batch_norm_empty_batch_keeps_statistics():
    _, g, b, mm, mv = [a.astype(np.float32) for a in bn_inputs((2, 3), -1)]
    mm0, mv0 = mm.copy(), mv.copy()
    y = forward("batch_norm", [np.zeros((0, 3)), g, b, mm, mv], ints=[-1, 1], floats=[EPS, 0.9])
    assert y.shape == (0, 3)
    np.testing.assert_array_equal(mm, mm0)
    np.testing.assert_array_equal(mv, mv0)


def test_batch_norm_constant_channel_is_finite():
    # E[x^2] - E[x]^2 can round below zero for a large constant channel; it is clamped.
    x = np.full((16, 2), 3000.1, np.float32)
    ins = [x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)]
    y = forward("batch_norm", ins, ints=[-1, 1], floats=[EPS, 0.9])
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(ins[4]))


@pytest.mark.parametrize("ints,floats,shapes,msg", [
    ([2, -1], [EPS, 0.9], [(4, 3)] + [(3,)] * 4, r"batch_norm: axis 2 is out of range for input \(4, 3\)"),
    ([-1, 2], [EPS, 0.9], [(4, 3)] + [(3,)] * 4, "mode"),
    ([-1, -1], [0.0, 0.9], [(4, 3)] + [(3,)] * 4, "epsilon must be a positive number, got 0"),
    ([-1, -1], [EPS, 1.5], [(4, 3)] + [(3,)] * 4, r"momentum must be in \[0, 1\], got 1.5"),
    ([-1, -1], [EPS, 0.9], [(4, 3), (3,), (3,), (4,), (3,)],
     r"batch_norm: moving_mean must have shape \(3,\) to match axis 1 of input \(4, 3\), got \(4,\)"),
    ([-1], [EPS, 0.9], [(4, 3)] + [(3,)] * 4, "expected ints"),
])
def test_batch_norm_errors(ints, floats, shapes, msg):
    with pytest.raises(ValueError, match=msg):
        forward("batch_norm", [np.zeros(s) for s in shapes], ints=ints, floats=floats)


# ---- layer_norm -------------------------------------------------------------------------

LN_CASES = [((4, 5), [-1]), ((3, 4, 5), [1, 2]), ((2, 3, 4, 5), [1, 3]), ((3, 4, 5), [0]),
            ((2, 3, 4), [0, 2]), ((3, 4, 5), [1]), ((2, 1, 4), [-2, -1])]


@pytest.mark.parametrize("shape,axes", LN_CASES)
@pytest.mark.parametrize("rms", [0, 1])
def test_layer_norm_gradient(shape, axes, rms):
    check_grad("layer_norm", ln_inputs(shape, axes), ints=[rms] + axes, floats=[EPS])


def _torch_ln(shape, axes, rms=False):
    axes = sorted(a % len(shape) for a in axes)
    bshape = [shape[d] if d in axes else 1 for d in range(len(shape))]

    def fn(x, g, b):
        var, mean = torch.var_mean(x, dim=axes, keepdim=True, correction=0)
        rstd = torch.rsqrt(var + EPS)
        g, b = g.reshape(bshape), b.reshape(bshape)
        return (x * rstd * g + b) if rms else ((x - mean) * rstd * g + b)
    return fn


@pytest.mark.parametrize("shape,axes", LN_CASES + [((16, 64), [-1]), ((4, 8, 32), [-1])])
def test_layer_norm_vs_torch(shape, axes):
    fn = _torch_ln(shape, axes)
    rank = len(shape)
    sorted_axes = sorted(a % rank for a in axes)
    if sorted_axes == list(range(rank - len(axes), rank)):  # trailing axes: torch's own op
        def fn(x, g, b):
            return F.layer_norm(x, tuple(shape[a] for a in sorted_axes), g, b, EPS)
    check_torch("layer_norm", ln_inputs(shape, axes, seed=2), fn, ints=[0] + axes,
                floats=[EPS], rtol=2e-5, atol=5e-6)


@pytest.mark.parametrize("shape,axes", [((4, 5), [-1]), ((2, 3, 4, 5), [1, 3])])
def test_layer_norm_rms_scaling_vs_torch(shape, axes):
    check_torch("layer_norm", ln_inputs(shape, axes, seed=3), _torch_ln(shape, axes, rms=True),
                ints=[1] + axes, floats=[EPS], rtol=2e-5, atol=5e-6)


def test_layer_norm_large_offset_keeps_precision():
    # Two-pass statistics: a large common offset does not swamp the variance.
    x = (rng.standard_normal((4, 32)) + 1e4).astype(np.float32)
    y = forward("layer_norm", [x, np.ones(32), np.zeros(32)], ints=[0, -1], floats=[EPS])
    xd = x.astype(np.float64)
    ref = (xd - xd.mean(1, keepdims=True)) / np.sqrt(xd.var(1, keepdims=True) + EPS)
    np.testing.assert_allclose(y, ref, rtol=1e-3, atol=1e-3)


def test_layer_norm_empty():
    assert forward("layer_norm", [np.zeros((0, 4)), np.ones(4), np.zeros(4)], ints=[0, -1],
                   floats=[EPS]).shape == (0, 4)


@pytest.mark.parametrize("ints,floats,shapes,msg", [
    ([0, 3], [EPS], [(4, 3), (3,), (3,)], r"layer_norm: axis 3 is out of range for input \(4, 3\)"),
    ([0, 1, -1], [EPS], [(4, 3), (3,), (3,)], "duplicate axis"),
    ([0, -1], [-1.0], [(4, 3), (3,), (3,)], "epsilon must be a positive number"),
    ([2, -1], [EPS], [(4, 3), (3,), (3,)], "rms_scaling"),
    ([0], [EPS], [(4, 3), (3,), (3,)], "at least one axis"),
    ([0, 1, 2], [EPS], [(2, 3, 4), (4, 3), (3, 4)],
     r"layer_norm: gamma must have shape \(3, 4\) \(the normalised axes of input \(2, 3, 4\)\), got \(4, 3\)"),
])
def test_layer_norm_errors(ints, floats, shapes, msg):
    with pytest.raises(ValueError, match=msg):
        forward("layer_norm", [np.zeros(s) for s in shapes], ints=ints, floats=floats)
