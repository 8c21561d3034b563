"""conv2d: finite-difference gradients, PyTorch parity (forward and backward), shape errors.

The op is channels_last with Keras's kernel layout (KH, KW, C/groups, F); torch is driven
in NCHW with the kernel permuted to (F, C/groups, KH, KW), and Keras's asymmetric "same"
padding (the odd pixel at the bottom/right) applied with F.pad.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import pytest

from op_harness import check_grad, check_torch, forward, torch

rng = np.random.default_rng(0)
VALID, SAME, CAUSAL = 0, 1, 2


def attrs(strides=(1, 1), dilation=(1, 1), groups=1, padding=VALID):
    return [strides[0], strides[1], dilation[0], dilation[1], groups, padding]


def pads(n, k, s, d, padding):
    """(before, after) padding along one axis, as Keras computes it."""
    eff = (k - 1) * d + 1
    if padding == VALID:
        return 0, 0
    if padding == CAUSAL:
        return eff - 1, 0
    out = -(-n // s)
    total = max((out - 1) * s + eff - n, 0)
    return total // 2, total - total // 2


def torch_conv(strides, dilation, groups, padding):
    def f(x, k):
        kh, kw = k.shape[0], k.shape[1]
        xt = x.permute(0, 3, 1, 2)
        pt, pb = pads(x.shape[1], kh, strides[0], dilation[0], padding)
        pl, pr = pads(x.shape[2], kw, strides[1], dilation[1], padding)
        xt = torch.nn.functional.pad(xt, (pl, pr, pt, pb))
        y = torch.nn.functional.conv2d(xt, k.permute(3, 2, 0, 1), stride=strides,
                                       dilation=dilation, groups=groups)
        return y.permute(0, 2, 3, 1)
    return f


CASES = [  # x shape, kernel (KH, KW), filters, strides, dilation, groups, padding
    ((2, 5, 5, 3), (3, 3), 4, (1, 1), (1, 1), 1, VALID),
    ((2, 5, 7, 3), (3, 3), 4, (1, 1), (1, 1), 1, SAME),
    ((1, 7, 6, 2), (3, 2), 3, (2, 2), (1, 1), 1, SAME),
    ((1, 7, 7, 2), (3, 3), 3, (2, 1), (1, 1), 1, VALID),
    ((1, 7, 7, 2), (3, 3), 2, (1, 1), (2, 2), 1, SAME),
    ((1, 8, 7, 2), (2, 3), 2, (1, 1), (2, 1), 1, VALID),
    ((2, 5, 5, 4), (3, 3), 6, (1, 1), (1, 1), 2, SAME),
    ((1, 6, 5, 4), (3, 3), 4, (2, 2), (1, 1), 4, SAME),   # depthwise
    ((1, 6, 5, 3), (3, 3), 6, (1, 1), (1, 1), 3, VALID),  # depthwise, depth multiplier 2
    ((2, 5, 6, 1), (3, 2), 3, (2, 1), (1, 1), 1, SAME),   # one input channel: direct loop
    ((1, 5, 5, 3), (1, 1), 4, (1, 1), (1, 1), 1, VALID),  # 1x1: the direct matmul path
    ((1, 5, 5, 4), (1, 1), 4, (1, 1), (1, 1), 2, SAME),   # direct, grouped
    ((1, 5, 5, 3), (1, 1), 2, (2, 2), (1, 1), 1, VALID),  # 1x1 strided: im2col
    ((2, 1, 9, 2), (1, 3), 3, (1, 1), (1, 2), 1, CAUSAL),  # Conv1D causal as H=1
]


def make(xs, ks, f, groups):
    x = rng.standard_normal(xs)
    k = rng.standard_normal(ks + (xs[3] // groups, f))
    return x, k


@pytest.mark.parametrize("xs,ks,f,s,d,g,p", CASES)
def test_conv2d_gradient(xs, ks, f, s, d, g, p):
    x, k = make(xs, ks, f, g)
    check_grad("conv2d", [x, k], ints=attrs(s, d, g, p))


@pytest.mark.parametrize("xs,ks,f,s,d,g,p", CASES)
def test_conv2d_vs_torch(xs, ks, f, s, d, g, p):
    x, k = make(xs, ks, f, g)
    check_torch("conv2d", [x, k], torch_conv(s, d, g, p), ints=attrs(s, d, g, p),
                rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("xs,ks,f,s,p,atol", [
    ((4, 28, 28, 1), (3, 3), 8, (1, 1), SAME, 1e-4),
    ((3, 14, 14, 32), (3, 3), 64, (1, 1), SAME, 1e-4),   # K = 288
    ((2, 15, 13, 16), (5, 5), 8, (2, 2), VALID, 1e-4),
    # The col matrix exceeds the work cap: row chunks. dkernel sums 25600 products of
    # magnitude ~1; against float64 our error is 2.6e-4, float32 torch's 5.4e-4 (AVX-512)
    # to 3.5e-3 (AVX2): the reference is float64.
    ((64, 20, 20, 64), (3, 3), 16, (1, 1), SAME, 1e-3),
])
def test_conv2d_larger_vs_torch(xs, ks, f, s, p, atol):
    x, k = make(xs, ks, f, 1)
    k /= np.sqrt(k[..., 0].size)  # fan-in scaling keeps outputs O(1), as in a network
    check_torch("conv2d", [x, k], torch_conv(s, (1, 1), 1, p), ints=attrs(s, (1, 1), 1, p),
                rtol=1e-4, atol=atol, exact=True)


def test_conv2d_zero_batch_and_shapes():
    y = forward("conv2d", [np.zeros((0, 5, 5, 3)), np.zeros((3, 3, 3, 2))], ints=attrs())
    assert y.shape == (0, 3, 3, 2)
    y = forward("conv2d", [np.zeros((1, 5, 6, 3)), np.zeros((3, 3, 3, 2))],
                ints=attrs((2, 2), padding=SAME))
    assert y.shape == (1, 3, 3, 2)


@pytest.mark.parametrize("x,k,a,msg", [
    ((1, 5, 5, 3), (3, 3, 2, 4), attrs(),
     r"conv2d: input \(1, 5, 5, 3\) has 3 channels but kernel \(3, 3, 2, 4\) with groups=1 expects 2"),
    ((1, 5, 5, 4), (3, 3, 2, 3), attrs(groups=2), r"not divisible by groups=2"),
    ((1, 2, 2, 3), (3, 3, 3, 4), attrs(), r"input \(1, 2, 2, 3\) is smaller than the dilated kernel"),
    ((1, 5, 5), (3, 3, 3, 4), attrs(), r"expected x \(N, H, W, C\)"),
    ((1, 5, 5, 3), (3, 3, 3, 4), attrs(strides=(0, 1)), r"must be >= 1"),
])
def test_conv2d_errors(x, k, a, msg):
    with pytest.raises(ValueError, match=msg):
        forward("conv2d", [np.zeros(x), np.zeros(k)], ints=a)


# ---- conv2d_transpose ------------------------------------------------------------------

def transpose_pads(k, s, d, same, op):
    """Keras 3's (lo, hi) padding of the full transposed output (its JAX rule); op None or int."""
    e = (k - 1) * d + 1
    if not same:
        op = max(e, s) - e if op is None else op
        return e - 1, e - 1 + op
    length = s + e - 2 if op is None else e + e % 2 - 2 + op
    lo = min(length // 2 + length % 2, e - 1)
    return lo, length - lo


def torch_conv_transpose(strides, dilation, same, out_pad):
    def f(x, k):  # x (N,H,W,Cin), k (KH,KW,F,Cin)
        y = torch.nn.functional.conv_transpose2d(x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1),
                                                 stride=strides, dilation=dilation)
        crops = []
        for ax in (1, 0):  # F.pad lists the last axis (W) first
            e = (k.shape[ax] - 1) * dilation[ax] + 1
            lo, hi = transpose_pads(k.shape[ax], strides[ax], dilation[ax], same, out_pad[ax])
            crops += [-(e - 1 - lo), -(e - 1 - hi)]  # negative pads crop
        return torch.nn.functional.pad(y, crops).permute(0, 2, 3, 1)
    return f


T_CASES = [  # x shape, kernel (KH, KW), filters, strides, dilation, same, output_padding
    ((2, 4, 5, 3), (3, 3), 4, (1, 1), (1, 1), 0, (None, None)),
    ((2, 4, 5, 3), (3, 3), 4, (2, 2), (1, 1), 1, (None, None)),
    ((1, 3, 4, 2), (3, 2), 3, (2, 3), (1, 1), 0, (None, None)),
    ((1, 3, 4, 2), (2, 2), 3, (3, 3), (1, 1), 0, (None, None)),   # stride > kernel: gaps
    ((1, 4, 4, 2), (3, 3), 2, (2, 2), (1, 1), 1, (1, 0)),
    ((1, 4, 4, 2), (3, 3), 2, (2, 2), (1, 1), 0, (1, 1)),
    ((1, 4, 5, 2), (3, 3), 2, (1, 1), (2, 2), 1, (None, None)),
    ((1, 4, 4, 3), (1, 1), 2, (1, 1), (1, 1), 0, (None, None)),   # 1x1: the direct path
    ((1, 4, 4, 3), (3, 3), 1, (2, 2), (1, 1), 1, (None, None)),   # one output channel
]


def t_attrs(s, d, same, op):
    return [s[0], s[1], d[0], d[1], same] + [-1 if v is None else v for v in op]


@pytest.mark.parametrize("xs,ks,f,s,d,same,op", T_CASES)
def test_conv2d_transpose_gradient_and_torch(xs, ks, f, s, d, same, op):
    x = rng.standard_normal(xs)
    k = rng.standard_normal(ks + (f, xs[3]))
    a = t_attrs(s, d, same, op)
    check_grad("conv2d_transpose", [x, k], ints=a)
    check_torch("conv2d_transpose", [x, k], torch_conv_transpose(s, d, same, op), ints=a,
                rtol=1e-5, atol=1e-5)


def test_conv2d_transpose_larger_vs_torch():
    x = rng.standard_normal((8, 14, 14, 32))
    k = rng.standard_normal((3, 3, 16, 32)) / np.sqrt(9 * 32)
    check_torch("conv2d_transpose", [x, k], torch_conv_transpose((2, 2), (1, 1), 1, (None, None)),
                ints=t_attrs((2, 2), (1, 1), 1, (None, None)), rtol=1e-4, atol=1e-4)


def test_conv2d_transpose_errors():
    with pytest.raises(ValueError, match=r"conv2d_transpose: input \(1, 4, 4, 3\) has 3 channels but "
                                         r"kernel \(3, 3, 2, 5\) expects 5"):
        forward("conv2d_transpose", [np.zeros((1, 4, 4, 3)), np.zeros((3, 3, 2, 5))],
                ints=t_attrs((1, 1), (1, 1), 0, (None, None)))


# ---- the 1-D form and the depthwise kernel layout --------------------------------------

@pytest.mark.parametrize("s,d,p", [(1, 1, VALID), (2, 1, SAME), (1, 2, CAUSAL)])
def test_conv2d_rank3_is_conv1d(s, d, p):
    x, k = rng.standard_normal((2, 9, 3)), rng.standard_normal((3, 3, 4))
    a = attrs((1, s), (1, d), 1, p)
    check_grad("conv2d", [x, k], ints=a)
    ref = forward("conv2d", [x[:, None], k[None]], ints=a)
    np.testing.assert_allclose(forward("conv2d", [x, k], ints=a), ref[:, 0], rtol=1e-6, atol=1e-6)


def test_conv2d_depthwise_layout():
    x, k = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 3, 3, 2))  # multiplier 2
    a = attrs((1, 1), (1, 1), 3, SAME)
    check_grad("conv2d", [x, k], ints=a + [1])
    np.testing.assert_array_equal(forward("conv2d", [x, k], ints=a + [1]),
                                  forward("conv2d", [x, k.reshape(3, 3, 1, 6)], ints=a))
    with pytest.raises(ValueError, match=r"input \(2, 6, 5, 3\) has 3 channels but depthwise kernel "
                                         r"\(3, 3, 4, 2\) \(groups=3\) expects 4"):
        forward("conv2d", [x, np.zeros((3, 3, 4, 2))], ints=a + [1])


def test_conv2d_transpose_rank3():
    x, k = rng.standard_normal((2, 5, 3)), rng.standard_normal((3, 2, 3))
    a = t_attrs((1, 2), (1, 1), 1, (None, None))
    check_grad("conv2d_transpose", [x, k], ints=a)
    ref = forward("conv2d_transpose", [x[:, None], k[None]], ints=a)
    np.testing.assert_allclose(forward("conv2d_transpose", [x, k], ints=a), ref[:, 0], rtol=1e-6)
