import sys, os; sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # noqa: E401,E702
import re

import numpy as np
import pytest

from cnn import backend as B
from op_harness import forward, vjp, check_grad, check_torch, torch, requires_torch  # noqa: F401


def rand(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def lstm_inputs(n, t, f, u, bias=True, seed=0):
    ins = [rand(n, t, f, seed=seed), rand(f, 4 * u, seed=seed + 1, scale=0.5),
           rand(u, 4 * u, seed=seed + 2, scale=0.5)]
    return ins + [rand(4 * u, seed=seed + 3, scale=0.5)] if bias else ins


ACTS = {0: np.tanh, 1: lambda v: 1 / (1 + np.exp(-v)), 2: lambda v: np.maximum(v, 0),
        3: lambda v: v, 4: lambda v: np.clip(v + 3, 0, 6) / 6}


def lstm_numpy(x, w, r, b, back=False, act=0, ract=1):
    n, t, _ = x.shape
    u = r.shape[0]
    h, c = np.zeros((n, u)), np.zeros((n, u))
    sig, tanh = ACTS[ract], ACTS[act]
    out = []
    for s in range(t):
        z = x[:, t - 1 - s if back else s] @ w + h @ r + (0 if b is None else b)
        i, f, g, o = sig(z[:, :u]), sig(z[:, u:2 * u]), tanh(z[:, 2 * u:3 * u]), sig(z[:, 3 * u:])
        c = f * c + i * g
        h = o * tanh(c)
        out.append(h)
    return np.stack(out, 1)


@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("n,t,f,u,bias", [(2, 3, 2, 2, True), (1, 1, 3, 1, True), (3, 4, 1, 3, False)],
                         ids=str)
def test_lstm_forward_matches_numpy(n, t, f, u, bias, back):
    ins = lstm_inputs(n, t, f, u, bias)
    out = forward("lstm", ins, ints=[back])
    want = lstm_numpy(*[a.astype(np.float64) for a in ins], *(() if bias else (None,)), back=bool(back))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("n,t,f,u,bias", [(2, 3, 2, 2, True), (1, 2, 1, 1, True), (2, 3, 2, 1, False)],
                         ids=str)
def test_lstm_grad(n, t, f, u, bias, back):
    check_grad("lstm", lstm_inputs(n, t, f, u, bias, seed=4), ints=[back])


@pytest.mark.parametrize("act,ract", [(0, 0), (1, 1), (2, 1), (3, 4), (2, 4), (3, 3)])
def test_lstm_activations(act, ract):
    ins = lstm_inputs(3, 4, 2, 3, seed=7)
    out = forward("lstm", ins, ints=[0, act, ract])
    want = lstm_numpy(*[a.astype(np.float64) for a in ins], act=act, ract=ract)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    # Finite differences step over relu's and hard_sigmoid's kinks: compare away from them.
    check_grad("lstm", lstm_inputs(2, 3, 2, 2, seed=8), ints=[1, act, ract])


def torch_lstm(u, back):
    def fn(x, w, r, b):
        m = torch.nn.LSTM(x.shape[2], u, batch_first=True)
        # torch: weight_ih (4u, F) with gates i, f, g, o (Keras's i, f, c, o); two biases.
        params = {"weight_ih_l0": w.T, "weight_hh_l0": r.T, "bias_ih_l0": b,
                  "bias_hh_l0": torch.zeros(4 * u)}
        y, _ = torch.func.functional_call(m, params, (x.flip(1) if back else x,))
        return y
    return fn


@requires_torch
@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("n,t,f,u", [(4, 7, 5, 6), (16, 20, 8, 32), (1, 5, 3, 4), (3, 1, 2, 2)], ids=str)
def test_lstm_torch(n, t, f, u, back):
    check_torch("lstm", lstm_inputs(n, t, f, u), torch_lstm(u, back), ints=[back],
                rtol=1e-4, atol=1e-5)  # BPTT sums over steps: float32 order differs from torch's


def test_lstm_empty_and_errors():
    assert forward("lstm", lstm_inputs(0, 3, 2, 2)).shape == (0, 3, 2)
    assert forward("lstm", lstm_inputs(2, 0, 2, 2)).shape == (2, 0, 2)
    x, w, r, b = lstm_inputs(2, 3, 2, 2)
    with pytest.raises(ValueError, match=re.escape("lstm: shapes do not fit")):
        forward("lstm", [x, w, r, b[:7]])
    with pytest.raises(ValueError, match=re.escape("lstm: shapes do not fit")):
        forward("lstm", [x[:, :, :1], w, r, b])
    with pytest.raises(ValueError, match=re.escape("lstm: needs x (N, T, F)")):
        forward("lstm", [x[0], w, r, b])
    with pytest.raises(ValueError, match=re.escape("lstm: ints are [go_backwards,")):
        forward("lstm", [x, w, r, b], ints=[2])
    with pytest.raises(ValueError, match=re.escape("lstm: unknown activation code 5")):
        forward("lstm", [x, w, r, b], ints=[0, 0, 5])


def test_lstm_symbolic_batch_and_tape():
    g = B.GraphBuilder()
    x, w, r, b = lstm_inputs(3, 4, 2, 5)
    out = B.op("lstm", [g.input((4, 2)), g.const(w), g.const(r), g.const(b)])
    assert out.shape == (None, 4, 5)
    wv = B.Variable(w)
    with B.GradientTape() as tape:
        y = B.op("sum", [B.op("lstm", [x, wv, r, b])], ints=[0, 1, 2])
    (grad,) = tape.gradient(y, [wv])
    want = vjp("lstm", [x, w, r, b], np.ones((3, 4, 5), np.float32))[1]
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-6, atol=1e-7)


# ---- gru ----------------------------------------------------------------------------


def gru_inputs(n, t, f, u, bias=True, seed=0):
    ins = [rand(n, t, f, seed=seed), rand(f, 3 * u, seed=seed + 1, scale=0.5),
           rand(u, 3 * u, seed=seed + 2, scale=0.5)]
    return ins + [rand(2, 3 * u, seed=seed + 3, scale=0.5)] if bias else ins


def gru_numpy(x, w, r, b=None, back=False, act=0, ract=1):
    n, t, _ = x.shape
    u = r.shape[0]
    b = np.zeros((2, 3 * u)) if b is None else b
    h = np.zeros((n, u))
    sig, tanh = ACTS[ract], ACTS[act]
    out = []
    for s in range(t):
        xp = x[:, t - 1 - s if back else s] @ w + b[0]
        q = h @ r + b[1]
        z = sig(xp[:, :u] + q[:, :u])
        rr = sig(xp[:, u:2 * u] + q[:, u:2 * u])
        hh = tanh(xp[:, 2 * u:] + rr * q[:, 2 * u:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, 1)


@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("act,ract", [(0, 1), (2, 4), (3, 0), (1, 3)])
@pytest.mark.parametrize("n,t,f,u,bias", [(2, 3, 2, 2, True), (1, 1, 3, 1, True), (3, 4, 1, 3, False)],
                         ids=str)
def test_gru_forward_matches_numpy(n, t, f, u, bias, back, act, ract):
    ins = gru_inputs(n, t, f, u, bias)
    out = forward("gru", ins, ints=[back, act, ract])
    want = gru_numpy(*[a.astype(np.float64) for a in ins], back=bool(back), act=act, ract=ract)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("n,t,f,u,bias", [(2, 3, 2, 2, True), (1, 2, 1, 1, True), (2, 3, 2, 1, False)],
                         ids=str)
def test_gru_grad(n, t, f, u, bias, back):
    check_grad("gru", gru_inputs(n, t, f, u, bias, seed=4), ints=[back])


@pytest.mark.parametrize("act,ract", [(0, 0), (1, 1), (2, 1), (3, 4), (3, 3)])
def test_gru_grad_activations(act, ract):
    check_grad("gru", gru_inputs(2, 3, 2, 2, seed=8), ints=[1, act, ract])


def torch_gru(u, back):
    def fn(x, w, r, b):
        m = torch.nn.GRU(x.shape[2], u, batch_first=True)

        def reorder(a):  # Keras's gates z, r, h along the last axis -> torch's r, z, n
            return torch.cat([a[..., u:2 * u], a[..., :u], a[..., 2 * u:]], -1)
        params = {"weight_ih_l0": reorder(w).T, "weight_hh_l0": reorder(r).T,
                  "bias_ih_l0": reorder(b[0]), "bias_hh_l0": reorder(b[1])}
        y, _ = torch.func.functional_call(m, params, (x.flip(1) if back else x,))
        return y
    return fn


@requires_torch
@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("n,t,f,u", [(4, 7, 5, 6), (16, 20, 8, 32), (1, 5, 3, 4), (3, 1, 2, 2)], ids=str)
def test_gru_torch(n, t, f, u, back):
    # BPTT sums over steps in another float32 order than torch's; the kernel's gradient
    # entries reach ~10 at (16, 20, 8, 32), where cancellation leaves ~1e-5 absolute.
    check_torch("gru", gru_inputs(n, t, f, u), torch_gru(u, back), ints=[back],
                rtol=1e-4, atol=3e-5)


def test_gru_empty_and_errors():
    assert forward("gru", gru_inputs(0, 3, 2, 2)).shape == (0, 3, 2)
    assert forward("gru", gru_inputs(2, 0, 2, 2)).shape == (2, 0, 2)
    x, w, r, b = gru_inputs(2, 3, 2, 2)
    with pytest.raises(ValueError, match=re.escape("gru: shapes do not fit")):
        forward("gru", [x, w, r, b[:, :5]])
    with pytest.raises(ValueError, match=re.escape("gru: needs x (N, T, F)")):
        forward("gru", [x, w, r, b[0]])
    with pytest.raises(ValueError, match=re.escape("gru: ints are [go_backwards,")):
        forward("gru", [x, w, r, b], ints=[3])
    with pytest.raises(ValueError, match=re.escape("gru: unknown activation code 7")):
        forward("gru", [x, w, r, b], ints=[0, 7])


@pytest.mark.parametrize("op,ref,make", [("lstm", lstm_numpy, lstm_inputs), ("gru", gru_numpy, gru_inputs)])
def test_saturated_gates_stay_finite_and_exact(op, ref, make):
    # Pre-activations far past exp's float32 range (the kernels' exp clamps) and tiny ones
    # (tanh's small-argument series) both match float64.
    for scale in (200.0, 1e-3):
        ins = make(3, 5, 4, 6, seed=11)
        ins[0] = ins[0] * np.float32(scale)
        out = forward(op, ins, ints=[0])
        assert np.all(np.isfinite(out))
        with np.errstate(over="ignore"):
            want = ref(*[a.astype(np.float64) for a in ins])
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


# ---- simple_rnn ---------------------------------------------------------------------


def rnn_inputs(n, t, f, u, bias=True, seed=0):
    ins = [rand(n, t, f, seed=seed), rand(f, u, seed=seed + 1, scale=0.5),
           rand(u, u, seed=seed + 2, scale=0.5)]
    return ins + [rand(u, seed=seed + 3, scale=0.5)] if bias else ins


def rnn_numpy(x, w, r, b=None, back=False, act=0):
    n, t, _ = x.shape
    h = np.zeros((n, r.shape[0]))
    out = []
    for s in range(t):
        h = ACTS[act](x[:, t - 1 - s if back else s] @ w + h @ r + (0 if b is None else b))
        out.append(h)
    return np.stack(out, 1)


@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("act", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("n,t,f,u,bias", [(2, 3, 2, 2, True), (1, 1, 3, 1, True), (3, 4, 1, 3, False)],
                         ids=str)
def test_simple_rnn_forward_matches_numpy(n, t, f, u, bias, back, act):
    ins = rnn_inputs(n, t, f, u, bias)
    out = forward("simple_rnn", ins, ints=[back, act])
    want = rnn_numpy(*[a.astype(np.float64) for a in ins], back=bool(back), act=act)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("act", [0, 1, 3])
@pytest.mark.parametrize("n,t,f,u,bias", [(2, 3, 2, 2, True), (1, 2, 1, 1, True), (2, 3, 2, 1, False)],
                         ids=str)
def test_simple_rnn_grad(n, t, f, u, bias, back, act):
    check_grad("simple_rnn", rnn_inputs(n, t, f, u, bias, seed=4), ints=[back, act])


@requires_torch
@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("act", [0, 2])
@pytest.mark.parametrize("n,t,f,u", [(4, 7, 5, 6), (16, 20, 8, 32), (3, 1, 2, 2)], ids=str)
def test_simple_rnn_torch(n, t, f, u, back, act):
    def fn(x, w, r, b):
        m = torch.nn.RNN(f, u, batch_first=True, nonlinearity=["tanh", "sigmoid", "relu"][act])
        params = {"weight_ih_l0": w.T, "weight_hh_l0": r.T, "bias_ih_l0": b,
                  "bias_hh_l0": torch.zeros(u)}
        y, _ = torch.func.functional_call(m, params, (x.flip(1) if back else x,))
        return y
    ins = rnn_inputs(n, t, f, u)
    ins[2] = ins[2] / np.float32(np.sqrt(u))  # a contracting recurrence: relu would blow up
    check_torch("simple_rnn", ins, fn, ints=[back, act],
                rtol=1e-4, atol=1e-5)  # BPTT sums over steps: float32 order differs from torch's


def test_simple_rnn_empty_and_errors():
    assert forward("simple_rnn", rnn_inputs(0, 3, 2, 2)).shape == (0, 3, 2)
    assert forward("simple_rnn", rnn_inputs(2, 0, 2, 2)).shape == (2, 0, 2)
    x, w, r, b = rnn_inputs(2, 3, 2, 2)
    with pytest.raises(ValueError, match=re.escape("simple_rnn: shapes do not fit x (N, T, F)")):
        forward("simple_rnn", [x, w, r, b[:1]])
    with pytest.raises(ValueError, match=re.escape("simple_rnn: needs x (N, T, F)")):
        forward("simple_rnn", [x, w, r, b[None]])
    with pytest.raises(ValueError, match=re.escape("simple_rnn: ints are [go_backwards,")):
        forward("simple_rnn", [x, w, r, b], ints=[2])
    with pytest.raises(ValueError, match=re.escape("simple_rnn: unknown activation code 9")):
        forward("simple_rnn", [x, w, r, b], ints=[0, 9])
