"""Fused attention ops (ops_attention.c): sdpa and sdpa_probs.

sdpa(q, k, v[, m]): q (B, Tq, H, d), k (B, Tk, Hk, d), v (B, Tk, Hk, dv) -> (B, Tq, H, dv), or
the same memory with the heads folded into the features when ints[0] = H. ints = [heads,
causal, kind (0 mask / 1 bias), style (0 Keras MHA / 1 keras.ops), dropout mode, seed
attribute], floats = [scale, dropout rate]. The reference is float64 NumPy written from the
formulas, and torch (explicit maths and F.scaled_dot_product_attention)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from op_harness import check_grad, check_torch, forward, requires_torch, torch, vjp  # noqa: E402

import cnn  # noqa: E402
from cnn import backend as B  # noqa: E402

TRAIN, INFER = 1, 2
SEED = 4321  # dropout seed attribute, used with a call seed of 0


def rand(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def qkv(b=2, tq=3, tk=4, h=2, hk=None, d=3, dv=2, seed=0):
    hk = h if hk is None else hk
    return [rand(b, tq, h, d, seed=seed), rand(b, tk, hk, d, seed=seed + 1),
            rand(b, tk, hk, dv, seed=seed + 2)]


def mask_of(shape, seed=0, p=0.35):
    return (np.random.default_rng(seed).random(shape) > p).astype(np.float32)


def as_4d(m, b, h, tq, tk):
    """A mask or bias laid on (B, H, Tq, Tk) as the op reads it: rank 3 is (B, Tq, Tk)."""
    m = np.asarray(m, np.float64)
    if m.ndim == 3:
        m = m[:, None]
    return np.broadcast_to(m.reshape((1,) * (4 - m.ndim) + m.shape), (b, h, tq, tk))


def ref_probs(q, k, m=None, kind=0, causal=False, style=0, scale=0.5):
    """Float64 probabilities (B, H, Tq, Tk) from the documented formulas."""
    q, k = np.asarray(q, np.float64), np.asarray(k, np.float64)
    b, tq, h, _ = q.shape
    tk, hk = k.shape[1], k.shape[2]
    k = np.repeat(k, h // hk, axis=2)  # query head n reads key head n // (H / Hk)
    s = np.einsum("bihd,bjhd->bhij", q, k) * scale
    attend = np.ones(s.shape, bool)
    if m is not None and kind == 1:
        s = s + as_4d(m, b, h, tq, tk)
    elif m is not None:
        attend &= as_4d(m, b, h, tq, tk) != 0
    if causal:
        attend &= np.tril(np.ones((tq, tk), bool))
    s = np.where(attend, s, -1e9 if style == 0 else -0.7 * 3.4028234663852886e38)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return p * attend if style == 0 else p


def ref_sdpa(q, k, v, m=None, kind=0, causal=False, style=0, scale=0.5, drop=None):
    p = ref_probs(q, k, m, kind, causal, style, scale)
    if drop is not None:
        p = p * drop
    h, hk = q.shape[2], v.shape[2]
    v = np.repeat(np.asarray(v, np.float64), h // hk, axis=2)
    return np.einsum("bhij,bjhd->bihd", p, v)


def ints_of(heads=0, causal=0, kind=0, style=0, mode=0, seed=0):
    return [heads, causal, kind, style, mode, seed]


# ---- forward --------------------------------------------------------------------------------

MASKS = {  # name -> mask shape for B=2, H=2, Tq=3, Tk=4 (None: no mask)
    "none": None, "btt": (2, 3, 4), "tt": (3, 4), "bhtt": (2, 2, 3, 4),
    "b1tt": (2, 1, 3, 4), "1h1t": (1, 2, 1, 4), "bt1": (2, 3, 1),
}


@pytest.mark.parametrize("style", [0, 1])
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("mask", list(MASKS))
def test_forward_matches_numpy(mask, causal, style):
    q, k, v = qkv(seed=1)
    ins = [q, k, v]
    m = None
    if MASKS[mask] is not None:
        m = mask_of(MASKS[mask], seed=2)
        ins.append(m)
    out = forward("sdpa", ins, ints_of(causal=causal, style=style), [0.5])
    want = ref_sdpa(q, k, v, m, 0, bool(causal), style)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    probs = forward("sdpa_probs", [q, k] + ins[3:], ints_of(causal=causal, style=style), [0.5])
    np.testing.assert_allclose(probs, ref_probs(q, k, m, 0, bool(causal), style), rtol=1e-5, atol=1e-7)


def test_fully_masked_rows_follow_the_style():
    q, k, v = qkv(seed=3)
    m = mask_of((2, 3, 4), seed=4)
    m[0, 1] = 0.0  # query step 1 of batch 0 sees no key
    mha = forward("sdpa", [q, k, v, m], ints_of(), [0.5])
    np.testing.assert_array_equal(mha[0, 1], 0.0)  # Keras MHA: zeros
    ops_style = forward("sdpa", [q, k, v, m], ints_of(style=1), [0.5])
    np.testing.assert_allclose(ops_style[0, 1], v[0].mean(0), rtol=1e-5, atol=1e-6)  # the mean
    p = forward("sdpa_probs", [q, k, m], ints_of(), [0.5])
    np.testing.assert_array_equal(p[0, :, 1], 0.0)
    np.testing.assert_array_equal(p[m[:, None].repeat(2, 1) == 0], 0.0)  # masked -> exactly 0


def test_mask_is_nonzero_means_attend():
    q, k, v = qkv(seed=5)
    m = np.random.default_rng(6).choice(np.array([0.0, 0.5, -2.0, 1.0, 1e-30], np.float32), (2, 3, 4))
    out = forward("sdpa", [q, k, v, m], ints_of(), [0.5])
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, (m != 0).astype(np.float32)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 2, 3, 4), (3, 4), (1, 2, 1, 4), (2, 3, 4)])
def test_bias_forward(shape):
    q, k, v = qkv(seed=7)
    bias = rand(*shape, seed=8)
    out = forward("sdpa", [q, k, v, bias], ints_of(kind=1, causal=1), [0.5])
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, bias, 1, True), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("h,hk", [(4, 2), (4, 1), (3, 3)])
def test_grouped_query_heads_and_folded_layout(h, hk):
    q, k, v = qkv(b=2, tq=5, tk=3, h=h, hk=hk, d=4, dv=3, seed=9)
    m = mask_of((2, 5, 3), seed=10)
    want = ref_sdpa(q, k, v, m, causal=True)
    out4 = forward("sdpa", [q, k, v, m], ints_of(causal=1), [0.5])
    np.testing.assert_allclose(out4, want, rtol=1e-5, atol=1e-6)
    flat = [x.reshape(x.shape[0], x.shape[1], -1) for x in (q, k, v)]
    out3 = forward("sdpa", flat + [m], ints_of(heads=h, causal=1), [0.5])
    assert out3.shape == (2, 5, h * 3)
    np.testing.assert_array_equal(out3.reshape(out4.shape), out4)  # the same memory, same maths


def test_large_logits_stay_finite():
    q, k, v = qkv(seed=11)
    out = forward("sdpa", [q * 100, k * 100, v], ints_of(), [1.0])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, ref_sdpa(q * 100, k * 100, v, scale=1.0), rtol=1e-4, atol=1e-5)


def test_empty_sizes():
    q, k, v = qkv()
    assert forward("sdpa", [q[:0], k[:0], v[:0]], ints_of(), [0.5]).shape == (0, 3, 2, 2)
    assert forward("sdpa", [q[:, :0], k, v], ints_of(), [0.5]).shape == (2, 0, 2, 2)
    out = forward("sdpa", [q, k[:, :0], v[:, :0]], ints_of(), [0.5])
    np.testing.assert_array_equal(out, np.zeros((2, 3, 2, 2)))  # nothing to attend: an empty sum
    grads = vjp("sdpa", [q, k[:, :0], v[:, :0]], np.ones((2, 3, 2, 2)), ints_of(), [0.5])
    np.testing.assert_array_equal(grads[0], 0.0)
    # d = 0: all scores 0, uniform probabilities
    out = forward("sdpa", [q[..., :0], k[..., :0], v], ints_of(), [0.5])
    np.testing.assert_allclose(out, np.repeat(v.mean(1, keepdims=True), 3, 1), rtol=1e-6)


# ---- gradients ------------------------------------------------------------------------------

@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("mask", ["none", "btt", "1h1t"])
def test_grad(mask, causal):
    ins = qkv(seed=12)
    if MASKS[mask] is not None:
        m = mask_of(MASKS[mask], seed=13)
        m.reshape(-1)[:4] = 0.0  # a fully masked row among others (btt: batch 0, step 0)
        ins.append(m)
    # finite differences move a mask entry by 1e-2: 0 becomes nonzero, so the mask is skipped
    check_grad("sdpa", ins, ints_of(causal=causal), [0.5], wrt=[0, 1, 2])
    check_grad("sdpa_probs", [ins[0], ins[1]] + ins[3:], ints_of(causal=causal), [0.5], wrt=[0, 1])


@pytest.mark.parametrize("shape", [(2, 2, 3, 4), (1, 2, 1, 4), (3, 4)])
def test_grad_with_bias(shape):
    ins = qkv(seed=14) + [rand(*shape, seed=15)]
    check_grad("sdpa", ins, ints_of(kind=1, causal=1), [0.5])
    check_grad("sdpa_probs", [ins[0], ins[1], ins[3]], ints_of(kind=1), [0.5])


def test_grad_grouped_heads_and_folded_layout():
    q, k, v = qkv(b=2, tq=3, tk=4, h=4, hk=2, d=2, dv=3, seed=16)
    m = mask_of((2, 3, 4), seed=17)
    check_grad("sdpa", [q, k, v, m], ints_of(causal=1, style=1), [0.7], wrt=[0, 1, 2])
    flat = [x.reshape(x.shape[0], x.shape[1], -1) for x in (q, k, v)]
    check_grad("sdpa", flat + [m], ints_of(heads=4), [0.7], wrt=[0, 1, 2])


def test_mask_gets_a_zero_gradient():
    q, k, v = qkv(seed=18)
    m = mask_of((2, 3, 4), seed=19)
    grads = vjp("sdpa", [q, k, v, m], rand(2, 3, 2, 2, seed=20), ints_of(), [0.5])
    np.testing.assert_array_equal(grads[3], 0.0)


# ---- torch parity ---------------------------------------------------------------------------

def torch_sdpa(mask=None, kind=0, causal=False, style=0, scale=0.5, drop=None):
    """Explicit torch maths for (q, k, v[, m]) in the op's layout."""
    def fn(q, k, v, *m):
        q, k, v = (x.transpose(1, 2) for x in (q, k, v))  # (B, H, T, d)
        g = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
        s = q @ k.transpose(-1, -2) * scale
        attend = torch.ones(s.shape, dtype=torch.bool)
        if m and kind == 1:
            mm = m[0] if m[0].dim() != 3 else m[0][:, None]
            s = s + mm
        elif m:
            mm = m[0] if m[0].dim() != 3 else m[0][:, None]
            attend = attend & (mm != 0)
        if causal:
            attend = attend & torch.ones(s.shape[-2:], dtype=torch.bool).tril()
        fill = -1e9 if style == 0 else -0.7 * torch.finfo(torch.float32).max
        p = torch.softmax(s.masked_fill(~attend, fill), -1)
        if style == 0:
            p = p * attend
        if drop is not None:
            p = p * torch.tensor(drop)
        return (p @ v).transpose(1, 2)
    return fn


@requires_torch
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("masking", ["none", "mask", "bias"])
@pytest.mark.parametrize("b,tq,tk,h,hk,d,dv", [(2, 7, 9, 4, 4, 8, 8), (3, 16, 16, 2, 1, 16, 4),
                                               (1, 33, 20, 6, 3, 5, 7)], ids=str)
def test_torch(b, tq, tk, h, hk, d, dv, masking, causal):
    ins = qkv(b, tq, tk, h, hk, d, dv, seed=21)
    kind = int(masking == "bias")
    if masking == "mask":
        m = mask_of((b, tq, tk), seed=22)
        m[0, 0] = 0.0
        ins.append(m)
    elif masking == "bias":
        ins.append(rand(b, h, tq, tk, seed=22))
    scale = 1 / np.sqrt(d)
    wrt = [0, 1, 2] + ([3] if kind else [])
    check_torch("sdpa", ins, torch_sdpa(kind=kind, causal=bool(causal), scale=scale),
                ints_of(causal=causal, kind=kind), [scale], wrt=wrt, rtol=1e-4, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("causal", [False, True])
def test_torch_scaled_dot_product_attention(causal):
    """keras.ops style (no zeroing) against torch's own fused kernel."""
    q, k, v = qkv(2, 12, 12, 3, 3, 8, 8, seed=23)
    m = mask_of((2, 3, 12, 12), seed=24)
    m[..., 0] = 1.0  # every row attends to something (torch gives NaN for empty rows)

    def fn(q, k, v, m):
        out = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            attn_mask=(m != 0) & torch.ones(12, 12, dtype=torch.bool).tril() if causal else m != 0)
        return out.transpose(1, 2)
    check_torch("sdpa", [q, k, v, m], fn, ints_of(causal=int(causal), style=1), [1 / np.sqrt(8)],
                wrt=[0, 1, 2], rtol=1e-4, atol=1e-5)


@requires_torch
def test_torch_probs():
    q, k, _ = qkv(2, 6, 5, 2, 2, 4, 4, seed=25)
    m = mask_of((2, 6, 5), seed=26)
    m[1, 2] = 0.0

    def fn(q, k, m):
        s = q.transpose(1, 2) @ k.permute(0, 2, 3, 1) * 0.5
        attend = (m != 0)[:, None] & torch.ones(6, 5, dtype=torch.bool).tril()
        return torch.softmax(s.masked_fill(~attend, -1e9), -1) * attend
    check_torch("sdpa_probs", [q, k, m], fn, ints_of(causal=1), [0.5], wrt=[0, 1], rtol=1e-5, atol=1e-6)


# ---- dropout --------------------------------------------------------------------------------

def keep_multiplier(shape, rate, seed_attr=SEED, call_seed=0):
    """The dropout op's mask over a tensor of `shape`: keep / (1 - rate) or 0."""
    return forward("dropout", [np.ones(shape, np.float32)], (TRAIN, seed_attr), (rate,), seed=call_seed)


def test_dropout_is_the_dropout_ops_draw_over_the_probabilities():
    q, k, v = qkv(seed=27)
    m = mask_of((2, 3, 4), seed=28)
    rate = 0.4
    out = forward("sdpa", [q, k, v, m], ints_of(mode=TRAIN, seed=SEED), [0.5, rate])
    drop = keep_multiplier((2, 2, 3, 4), rate)
    assert 0 < (drop == 0).mean() < 1
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, m, drop=drop), rtol=1e-5, atol=1e-6)
    # the composed pipeline with the same seed: sdpa_probs -> dropout -> matmul
    p = forward("sdpa_probs", [q, k, m], ints_of(), [0.5])
    pd = forward("dropout", [p], (TRAIN, SEED), (rate,))
    np.testing.assert_allclose(out, np.einsum("bhij,bjhd->bihd", pd, v), rtol=1e-5, atol=1e-6)


def test_dropout_seeds_and_modes():
    ins = qkv(seed=29)
    plain = forward("sdpa", ins, ints_of(), [0.5])
    a = forward("sdpa", ins, ints_of(), [0.5, 0.5], training=True, seed=7)
    again = forward("sdpa", ins, ints_of(), [0.5, 0.5], training=True, seed=7)
    other = forward("sdpa", ins, ints_of(), [0.5, 0.5], training=True, seed=8)
    np.testing.assert_array_equal(a, again)  # same seed, same mask
    assert not np.allclose(a, other)
    assert not np.allclose(a, plain)
    # the seed attribute separates two layers in the same call
    assert not np.allclose(a, forward("sdpa", ins, ints_of(seed=3), [0.5, 0.5], training=True, seed=7))
    # inactive: follow with training=False, or mode 2 (always infer) -> no dropout at all
    np.testing.assert_array_equal(forward("sdpa", ins, ints_of(), [0.5, 0.5], training=False), plain)
    np.testing.assert_array_equal(
        forward("sdpa", ins, ints_of(mode=INFER), [0.5, 0.5], training=True, seed=7), plain)
    # mode 1 trains even without the call's flag
    assert not np.allclose(forward("sdpa", ins, ints_of(mode=TRAIN, seed=SEED), [0.5, 0.5]), plain)
    # rate 1 drops every probability
    np.testing.assert_array_equal(forward("sdpa", ins, ints_of(mode=TRAIN), [0.5, 1.0]), 0.0)
    g = vjp("sdpa", ins, np.ones((2, 3, 2, 2)), ints_of(mode=TRAIN), [0.5, 1.0])
    for x in g:
        np.testing.assert_array_equal(x, 0.0)
    # backward of an inactive dropout is the plain backward
    r = rand(2, 3, 2, 2, seed=30)
    for x, y in zip(vjp("sdpa", ins, r, ints_of(), [0.5, 0.5]), vjp("sdpa", ins, r, ints_of(), [0.5])):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("masking", ["none", "mask", "bias"])
def test_dropout_grad(masking):
    """The mask is fixed by (call seed 0, seed attribute), so finite differences see the
    same draw in every forward: backward regenerates it consistently."""
    ins = qkv(seed=31)
    kind = int(masking == "bias")
    if masking == "mask":
        ins.append(mask_of((2, 3, 4), seed=32))
    elif masking == "bias":
        ins.append(rand(2, 1, 3, 4, seed=32))
    wrt = [0, 1, 2] + ([3] if kind else [])
    check_grad("sdpa", ins, ints_of(causal=1, kind=kind, mode=TRAIN, seed=SEED), [0.5, 0.3], wrt=wrt)


@requires_torch
def test_dropout_torch():
    ins = qkv(2, 8, 8, 2, 2, 4, 4, seed=33)
    rate = 0.25
    drop = keep_multiplier((2, 2, 8, 8), rate)
    check_torch("sdpa", ins, torch_sdpa(causal=True, drop=drop), ints_of(causal=1, mode=TRAIN, seed=SEED),
                [0.5, rate], rtol=1e-5, atol=1e-6)


# ---- graph, tape, fresh gradients -----------------------------------------------------------

def test_symbolic_batch_shapes():
    g = B.GraphBuilder()
    q, k, v = g.input((5, 2, 3)), g.input((4, 1, 3)), g.input((4, 1, 6))
    assert B.op("sdpa", [q, k, v], ints_of(), [0.5]).shape == (None, 5, 2, 6)
    m = g.input((5, 4))
    assert B.op("sdpa", [q, k, v, m], ints_of(), [0.5]).shape == (None, 5, 2, 6)
    assert B.op("sdpa_probs", [q, k, m], ints_of(), [0.5]).shape == (None, 2, 5, 4)
    qf, kf, vf = g.input((5, 6)), g.input((4, 3)), g.input((4, 6))
    assert B.op("sdpa", [qf, kf, vf], ints_of(heads=2), [0.5]).shape == (None, 5, 12)


@pytest.mark.parametrize("shared", [False, True])
def test_graph_train_step_gradients_match_vjp(shared):
    """A compiled SGD step (lr 1) moves q, k, v by minus the op's gradient: exercises the
    overwrite-fresh-gradient path, with grouped heads (two query heads per key head), and
    the zeroed path when one variable feeds q, k and v."""
    q0, k0, v0 = qkv(b=2, tq=4, tk=4, h=4, hk=2, d=3, dv=3, seed=34)
    if shared:
        k0 = v0 = q0 = q0[:, :, :2]
    m = mask_of((2, 4, 4), seed=35)
    r = rand(2, 4, q0.shape[2] if shared else 4, 3, seed=36)
    qv, kv, vv = (B.Variable(x.copy()) for x in (q0, k0, v0))
    gb = B.GraphBuilder()
    mi = gb.input((4, 4))
    args = [qv, qv, qv] if shared else [qv, kv, vv]
    out = B.op("sdpa", args + [mi], ints_of(causal=1), [0.5])
    loss = B.op("sum", [B.op("mul", [out, r])], ints=[0, 0, 1, 2, 3])
    trainable = [qv] if shared else [qv, kv, vv]
    prog = B.CompiledGraph(gb, [mi], [out], loss=loss, reports=[loss], trainable=trainable)
    prog.train_step([m], [], B.OptimizerState("sgd", learning_rate=1.0))
    grads = vjp("sdpa", [q0, k0, v0, m], r, ints_of(causal=1), [0.5])
    if shared:
        want = [q0 - (grads[0] + grads[1] + grads[2])]
    else:
        want = [x - gx for x, gx in zip((q0, k0, v0), grads[:3])]
    for var, w in zip(trainable, want):
        np.testing.assert_allclose(var.numpy(), w, rtol=1e-5, atol=1e-6)


def test_tape_gradient_matches_vjp():
    q, k, v = qkv(seed=37)
    m = mask_of((2, 3, 4), seed=38)
    qv, kv = B.Variable(q), B.Variable(k)
    with B.GradientTape() as tape:
        y = B.op("sum", [B.op("sdpa", [qv, kv, v, m], ints_of(causal=1), [0.5])], ints=[0, 0, 1, 2, 3])
    gq, gk = tape.gradient(y, [qv, kv])
    want = vjp("sdpa", [q, k, v, m], np.ones((2, 3, 2, 2)), ints_of(causal=1), [0.5])
    np.testing.assert_allclose(np.asarray(gq), want[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(gk), want[1], rtol=1e-6, atol=1e-7)


# ---- errors ---------------------------------------------------------------------------------

def test_bad_inputs_raise_value_error():
    q, k, v = qkv()

    def fails(match, ins, ints=(), floats=(0.5,), name="sdpa"):
        with pytest.raises(ValueError, match=match):
            forward(name, ins, list(ints), list(floats))

    fails(re.escape("sdpa: q, k and v must be (B, T, heads, d) (rank 4), got q (2, 3, 2)"),
          [q[..., 0], k, v])
    fails(re.escape("sdpa: with heads = 2 folded into the features, q, k and v must be "
                    "(B, T, heads*d) (rank 3)"), [q, k, v], ints_of(heads=2))
    fails(re.escape("sdpa: shapes do not fit: q (2, 3, 2, 3), k (2, 4, 2, 2)"), [q, k[..., :2], v])
    fails(re.escape("sdpa: shapes do not fit"), [q, k, v[:, :3]])         # Tk differs
    fails(re.escape("sdpa: shapes do not fit"), [q, k, v[:1]])            # batch differs
    fails(re.escape("sdpa: shapes do not fit"), [q, k[:, :, :1].repeat(3, 2), v[:, :, :1].repeat(3, 2)])
    fails(re.escape("sdpa: q's features (7) must be a positive multiple of heads = 2"),
          [rand(2, 3, 7), rand(2, 4, 6), rand(2, 4, 6)], ints_of(heads=2))
    fails(re.escape("sdpa: k's and v's features must hold whole heads"),
          [rand(2, 3, 6), rand(2, 4, 4), rand(2, 4, 6)], ints_of(heads=2))
    fails(re.escape("sdpa: mask (2, 3, 5) does not broadcast to (B, H, Tq, Tk) = (2, 2, 3, 4)"),
          [q, k, v, np.ones((2, 3, 5), np.float32)])
    fails(re.escape("sdpa: mask (3, 2, 3, 4) does not broadcast"), [q, k, v, np.ones((3, 2, 3, 4), np.float32)])
    fails(re.escape("sdpa: mask (4,) does not broadcast"), [q, k, v, np.ones(4, np.float32)])
    fails(re.escape("sdpa: bias (2, 3, 3) does not broadcast"), [q, k, v, np.ones((2, 3, 3), np.float32)],
          ints_of(kind=1))
    fails(re.escape("sdpa_probs: mask (2, 4, 4) does not broadcast"),
          [q, k, np.ones((2, 4, 4), np.float32)], name="sdpa_probs")
    fails(re.escape("sdpa: dropout rate must be in [0, 1], got 1.5"), [q, k, v], floats=(0.5, 1.5))
    fails(re.escape("sdpa: scale must be finite"), [q, k, v], floats=(float("inf"),))
    fails(re.escape("sdpa: expected ints [heads, causal, kind, style, mode, seed]"), [q, k, v], floats=())
    fails(re.escape("sdpa: ints[2] (kind: 0 mask, 1 bias) must be 0 or 1, got 2"), [q, k, v], [0, 0, 2])
    fails(re.escape("sdpa: mode (ints[4]) must be 0"), [q, k, v], [0, 0, 0, 0, 3])
    fails(re.escape("sdpa: heads (ints[0]) must be >= 0"), [q, k, v], [-1])
    with pytest.raises(ValueError, match="expected 3..4 inputs"):
        forward("sdpa", [q, k], [], [0.5])
    g = B.GraphBuilder()  # a graph rejects the node when it is added
    with pytest.raises(ValueError, match=re.escape("sdpa: shapes do not fit")):
        B.op("sdpa", [g.input((3, 2, 3)), g.input((4, 2, 2)), g.input((4, 2, 2))], ints_of(), [0.5])


# ---- cnn.ops.dot_product_attention vs Keras 3 ----------------------------------------------

def _keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("case", ["plain", "mask", "causal", "mask+causal", "bias", "bias2d",
                                  "gqa", "scale", "mask3d"])
def test_dot_product_attention_matches_keras(case):
    keras = _keras()
    b, t, s, n, kh, hd = 2, 5, 6, 4, 4, 8
    if case == "gqa":
        kh = 2
    q = rand(b, t, n, hd, seed=40)
    k, v = rand(b, s, kh, hd, seed=41), rand(b, s, kh, hd, seed=42)
    kw = {}
    if "mask" in case:
        shape = (b, t, s) if case == "mask3d" else (b, 1, t, s)
        m = np.random.default_rng(43).random(shape) > 0.4
        m[..., 0] = True  # no query step without keys (torch's kernel gives NaN there)
        kw["mask"] = m
    if "causal" in case:
        kw["is_causal"] = True
    if case == "bias":
        kw["bias"] = rand(b, n, t, s, seed=44)
    if case == "bias2d":
        kw["bias"] = rand(t, s, seed=44)
    if case == "scale":
        kw["scale"] = 0.3
    if case == "mask3d":  # a rank-3 mask broadcasts NumPy-style: (1, T, S) -> (1, 1, T, S)
        kw["mask"] = kw["mask"][:1]
    want = keras.ops.dot_product_attention(q, k, v, **kw)
    got = cnn.ops.dot_product_attention(q, k, v, **kw)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want.detach().cpu()), rtol=1e-5, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("case", ["mask+causal", "bias", "gqa"])
def test_dot_product_attention_gradients_match_keras(case):
    keras = _keras()
    b, t, s, n, kh, hd = 2, 4, 5, 2, 2 if case != "gqa" else 1, 3
    arrays = [rand(b, t, n, hd, seed=45), rand(b, s, kh, hd, seed=46), rand(b, s, kh, hd, seed=47)]
    kw = {}
    if case == "mask+causal":
        m = np.random.default_rng(48).random((b, 1, t, s)) > 0.3
        m[..., 0] = True
        kw = {"mask": m, "is_causal": True}
    if case == "bias":
        arrays.append(rand(b, n, t, s, seed=49))
    r = rand(b, t, n, hd, seed=50)
    ts = [torch.tensor(x, requires_grad=True) for x in arrays]
    want = keras.ops.dot_product_attention(*ts[:3], bias=ts[3] if len(ts) > 3 else None, **kw)
    (want * torch.tensor(r)).sum().backward()
    vs = [B.Variable(x) for x in arrays]
    with cnn.GradientTape() as tape:
        out = cnn.ops.dot_product_attention(*vs[:3], bias=vs[3] if len(vs) > 3 else None, **kw)
        loss = cnn.ops.sum(cnn.ops.multiply(out, r))
    for g, tt in zip(tape.gradient(loss, vs), ts):
        np.testing.assert_allclose(np.asarray(g), tt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_dot_product_attention_errors():
    q = rand(2, 3, 2, 4)
    with pytest.raises(ValueError, match="only supports 4D inputs"):
        cnn.ops.dot_product_attention(q[0], q[0], q[0])
    with pytest.raises(ValueError, match="Only one of `bias` and `mask`"):
        cnn.ops.dot_product_attention(q, q, q, bias=np.zeros((3, 3)), mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="sdpa: mask"):
        cnn.ops.dot_product_attention(q, q, q, mask=np.ones((2, 3, 5), bool))
    with pytest.raises(ValueError, match="sdpa: shapes do not fit"):
        cnn.ops.dot_product_attention(q, q[..., :3], q)
    with pytest.raises(ValueError, match="Flash attention"):
        cnn.ops.dot_product_attention(q, q, q, flash_attention=True)


@pytest.mark.parametrize("causal", [0, 1])
def test_threads_split_the_batch_without_changing_results(causal):
    """With several engine threads the (batch, head) blocks run on batch ranges in
    parallel; outputs and gradients equal the single-threaded run, dropout included."""
    ins = qkv(b=5, tq=6, tk=7, h=2, d=3, dv=4, seed=31) + [mask_of((5, 6, 7), seed=32)]
    ints, floats = ints_of(causal=causal), [0.5, 0.25]
    g = rand(5, 6, 2, 4, seed=33)
    before = cnn.config()["engine_threads"]
    results = {}
    try:
        for threads in (1, 2, 3):
            cnn.set_num_threads(threads)
            results[threads] = [forward("sdpa", ins, ints, floats, training=True, seed=9)] + [
                x for x in vjp("sdpa", ins, g, ints, floats, training=True, seed=9) if x is not None]
    finally:
        cnn.set_num_threads(before)
    for threads in (2, 3):
        for one, many in zip(results[1], results[threads]):
            np.testing.assert_allclose(many, one, rtol=1e-6, atol=1e-7)
