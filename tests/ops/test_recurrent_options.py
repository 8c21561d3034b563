"""The fused recurrent ops' optional inputs and outputs: initial states, masks (Keras 3's
carry rule and zero_output_for_mask), emitted final states, GRU with the reset gate before
the product (reset_after=False), input and recurrent dropout. Forward against a float64
NumPy reference, gradients by central differences, and torch parity for initial states."""
import sys, os; sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # noqa: E401,E702
import itertools
import re

import numpy as np
import pytest

from op_harness import forward, vjp, check_grad, check_torch, torch, requires_torch  # noqa: F401

HAS_BIAS, HAS_STATE, HAS_MASK, EMIT, ZERO, RESET_BEFORE = 1, 2, 4, 8, 16, 32
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
N_STATES = {"lstm": 2, "gru": 1, "simple_rnn": 1}


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def rand(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


# Each sample: kept steps with a gap, leading masked steps, all masked, all kept.
MASK = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], np.float32)


def make_inputs(op, flags, n=4, t=4, f=3, u=2, seed=0):
    g = GATES[op] * u
    ins = [rand(n, t, f, seed=seed), rand(f, g, seed=seed + 1, scale=0.5),
           rand(u, g, seed=seed + 2, scale=0.5)]
    if flags & HAS_BIAS:
        two_rows = op == "gru" and not flags & RESET_BEFORE
        ins.append(rand(*((2, g) if two_rows else (g,)), seed=seed + 3, scale=0.5))
    if flags & HAS_STATE:
        ins += [rand(n, u, seed=seed + 4 + k) for k in range(N_STATES[op])]
    if flags & HAS_MASK:
        ins.append(MASK[:n, :t])
    return ins


def reference(op, ins, flags, back=False):
    """Keras 3's RNN loop in float64: masked steps carry the states; their output repeats
    the previous output (zeros at first), or is zero with zero_output_for_mask."""
    ins = [np.asarray(a, np.float64) for a in ins]
    x, w, r = ins[:3]
    rest = ins[3:]
    b = rest.pop(0) if flags & HAS_BIAS else None
    n, T, _ = x.shape
    u = r.shape[0]
    h, c = np.zeros((n, u)), np.zeros((n, u))
    if flags & HAS_STATE:
        h = rest.pop(0)
        if op == "lstm":
            c = rest.pop(0)
    mask = rest.pop(0) if flags & HAS_MASK else np.ones((n, T))
    ys, prev_y = [], np.zeros((n, u))
    for s in range(T):
        t = T - 1 - s if back else s
        xt = x[:, t]
        cn = c
        if op == "lstm":
            z = xt @ w + h @ r + (0 if b is None else b)
            i, fg, gg, o = (sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]),
                            sigmoid(z[:, 3 * u:]))
            cn = fg * c + i * gg
            hn = o * np.tanh(cn)
        elif op == "gru" and flags & RESET_BEFORE:
            xp = xt @ w + (0 if b is None else b)
            q = h @ r[:, :2 * u]
            zg, rg = sigmoid(xp[:, :u] + q[:, :u]), sigmoid(xp[:, u:2 * u] + q[:, u:])
            hh = np.tanh(xp[:, 2 * u:] + (rg * h) @ r[:, 2 * u:])
            hn = zg * h + (1 - zg) * hh
        elif op == "gru":
            xp = xt @ w + (0 if b is None else b[0])
            q = h @ r + (0 if b is None else b[1])
            zg, rg = sigmoid(xp[:, :u] + q[:, :u]), sigmoid(xp[:, u:2 * u] + q[:, u:2 * u])
            hh = np.tanh(xp[:, 2 * u:] + rg * q[:, 2 * u:])
            hn = zg * h + (1 - zg) * hh
        else:
            hn = np.tanh(xt @ w + h @ r + (0 if b is None else b))
        m = mask[:, t:t + 1] != 0
        h, c = np.where(m, hn, h), np.where(m, cn, c)
        y = np.where(m, h, 0 if flags & ZERO else prev_y)
        ys.append(y)
        prev_y = y
    out = np.stack(ys, 1) if T else np.zeros((n, 0, u))
    if flags & EMIT:
        extra = [h, c] if op == "lstm" else [h]
        out = np.concatenate([out] + [e[:, None] for e in extra], 1)
    return out


def cases():
    for op in ("lstm", "gru", "simple_rnn"):
        variants = [0, RESET_BEFORE] if op == "gru" else [0]
        for extra in variants:
            for state, mask, emit in itertools.product([0, HAS_STATE], [0, HAS_MASK], [0, EMIT]):
                yield op, HAS_BIAS | extra | state | mask | emit
            yield op, extra | HAS_MASK | ZERO | EMIT | HAS_STATE  # no bias, zeroed outputs


CASES = list(cases())
IDS = [f"{op}-{flags}" for op, flags in CASES]


@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("op,flags", CASES, ids=IDS)
def test_forward_matches_reference(op, flags, back):
    ins = make_inputs(op, flags)
    out = forward(op, ins, ints=[back, 0, 1, flags])
    np.testing.assert_allclose(out, reference(op, ins, flags, bool(back)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("op,flags", CASES, ids=IDS)
def test_gradients(op, flags, back):
    ins = make_inputs(op, flags, n=4, t=4, f=2, u=2, seed=3)
    wrt = range(len(ins) - (1 if flags & HAS_MASK else 0))  # the mask is not differentiable
    check_grad(op, ins, ints=[back, 0, 1, flags], wrt=wrt)


def test_zero_timesteps_emit_the_initial_states():
    ins = make_inputs("lstm", HAS_BIAS | HAS_STATE | EMIT, t=0)
    out = forward("lstm", ins, ints=[0, 0, 1, HAS_BIAS | HAS_STATE | EMIT])
    np.testing.assert_array_equal(out, np.stack([ins[4], ins[5]], 1))
    grads = vjp("lstm", ins, np.ones_like(out), ints=[0, 0, 1, HAS_BIAS | HAS_STATE | EMIT])
    np.testing.assert_array_equal(grads[4], np.ones_like(ins[4]))


def torch_with_state(op, u, back):
    def fn(x, w, r, b, *states):
        xs = x.flip(1) if back else x
        if op == "lstm":
            m = torch.nn.LSTM(x.shape[2], u, batch_first=True)
            params = {"weight_ih_l0": w.T, "weight_hh_l0": r.T, "bias_ih_l0": b,
                      "bias_hh_l0": torch.zeros(4 * u)}
            y, (hn, cn) = torch.func.functional_call(
                m, params, (xs, (states[0][None], states[1][None])))
            return torch.cat([y, hn.transpose(0, 1), cn.transpose(0, 1)], 1)

        def reorder(a):  # Keras's gates z, r, h -> torch's r, z, n
            return torch.cat([a[..., u:2 * u], a[..., :u], a[..., 2 * u:]], -1)
        if op == "gru":
            m = torch.nn.GRU(x.shape[2], u, batch_first=True)
            params = {"weight_ih_l0": reorder(w).T, "weight_hh_l0": reorder(r).T,
                      "bias_ih_l0": reorder(b[0]), "bias_hh_l0": reorder(b[1])}
        else:
            m = torch.nn.RNN(x.shape[2], u, batch_first=True)
            params = {"weight_ih_l0": w.T, "weight_hh_l0": r.T, "bias_ih_l0": b,
                      "bias_hh_l0": torch.zeros(u)}
        y, hn = torch.func.functional_call(m, params, (xs, states[0][None]))
        return torch.cat([y, hn.transpose(0, 1)], 1)
    return fn


@requires_torch
@pytest.mark.parametrize("back", [0, 1])
@pytest.mark.parametrize("op", ["lstm", "gru", "simple_rnn"])
def test_initial_states_and_final_states_match_torch(op, back):
    flags = HAS_BIAS | HAS_STATE | EMIT
    ins = make_inputs(op, flags, n=5, t=6, f=4, u=3, seed=9)
    # torch's GRU gate z mixes like Keras's (h = z h + (1 - z) n), so the mapping is exact.
    check_torch(op, ins, torch_with_state(op, 3, back), ints=[back, 0, 1, flags],
                rtol=1e-4, atol=1e-5)


# ---- dropout ----------------------------------------------------------------------


def test_dropout_is_off_outside_training_and_repeats_with_the_seed():
    ins = make_inputs("lstm", HAS_BIAS)
    plain = forward("lstm", ins, ints=[0, 0, 1, HAS_BIAS])
    floats = [0.5, 0.3]
    np.testing.assert_array_equal(forward("lstm", ins, [0, 0, 1, HAS_BIAS], floats), plain)
    a = forward("lstm", ins, [0, 0, 1, HAS_BIAS], floats, training=True, seed=7)
    b = forward("lstm", ins, [0, 0, 1, HAS_BIAS], floats, training=True, seed=7)
    c = forward("lstm", ins, [0, 0, 1, HAS_BIAS], floats, training=True, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain) and not np.allclose(a, c)
    # Keras: a rate of exactly 1 (or 0) leaves the cell alone.
    np.testing.assert_array_equal(
        forward("lstm", ins, [0, 0, 1, HAS_BIAS], [1.0, 1.0], training=True, seed=7), plain)
    # The layer seed (ints[4]) changes the stream.
    d = forward("lstm", ins, [0, 0, 1, HAS_BIAS, 5], floats, training=True, seed=7)
    assert not np.allclose(a, d)


def identity_rnn(n, t, u):
    """simple_rnn with linear activation and identity kernels: h_s = x_t m + h_{s-1} m_r."""
    x = np.ones((n, t, u), np.float32)
    return [x, np.eye(u, dtype=np.float32), np.zeros((u, u), np.float32)]


def test_input_dropout_mask_is_shared_by_every_step():
    n, t, u, rate = 64, 5, 8, 0.25
    out = forward("simple_rnn", identity_rnn(n, t, u), [0, 3, 0, 0], [rate], training=True, seed=3)
    # One (sample, feature) mask for every step, values 0 or 1 / (1 - rate).
    np.testing.assert_allclose(out, np.repeat(out[:, :1], t, 1), rtol=0, atol=0)
    assert set(np.unique(out)) <= {0.0, np.float32(1 / (1 - rate))}
    assert abs((out[:, 0] == 0).mean() - rate) < 0.06


def test_recurrent_dropout_mask_is_shared_by_every_step():
    n, t, u, rate = 64, 4, 8, 0.5
    x, w, _ = identity_rnn(n, t, u)
    x = np.zeros_like(x)
    h0 = np.ones((n, u), np.float32)
    ins = [x, w, np.eye(u, dtype=np.float32), h0]
    out = forward("simple_rnn", ins, [0, 3, 0, HAS_STATE], [0.0, rate], training=True, seed=5)
    keep = out[:, 0]  # h_1 = h0 * m_r
    assert set(np.unique(keep)) <= {0.0, 2.0}
    for s in range(t):  # h_s = h0 * m_r^(s+1): the same mask at every step
        np.testing.assert_allclose(out[:, s], keep ** (s + 1), rtol=1e-6)


@pytest.mark.parametrize("op,flags", [("lstm", HAS_BIAS | HAS_STATE | HAS_MASK),
                                      ("gru", HAS_BIAS | HAS_STATE),
                                      ("gru", HAS_BIAS | HAS_STATE | RESET_BEFORE | HAS_MASK),
                                      ("simple_rnn", HAS_BIAS | HAS_STATE)])
def test_dropout_gradients(op, flags):
    ins = make_inputs(op, flags, seed=4)
    wrt = range(len(ins) - (1 if flags & HAS_MASK else 0))
    check_grad(op, ins, ints=[1, 0, 1, flags], floats=[0.4, 0.3], wrt=wrt, training=True,
               op_seed=11)


# ---- bad input ----------------------------------------------------------------------


def test_bad_options_raise_clear_errors():
    ins = make_inputs("lstm", HAS_BIAS | HAS_STATE | HAS_MASK)
    ints = [0, 0, 1, HAS_BIAS | HAS_STATE | HAS_MASK]
    with pytest.raises(ValueError, match=re.escape("lstm: mask must be (N, T) = (4, 4)")):
        forward("lstm", ins[:-1] + [MASK[:, :3]], ints)
    with pytest.raises(ValueError, match=re.escape("lstm: initial state 1 must be (N, u) = (4, 2)")):
        forward("lstm", ins[:5] + [ins[5][:, :1]] + ins[6:], ints)
    with pytest.raises(ValueError, match="lstm: flags 7 announce 7 inputs, got 6"):
        forward("lstm", ins[:-1], ints)
    with pytest.raises(ValueError, match="lstm: unknown flags 32"):
        forward("lstm", ins[:3], [0, 0, 1, RESET_BEFORE])
    with pytest.raises(ValueError, match=re.escape("lstm: floats are [dropout, recurrent_dropout]")):
        forward("lstm", ins, ints, [1.5])
    g = make_inputs("gru", HAS_BIAS | RESET_BEFORE)
    with pytest.raises(ValueError, match=re.escape("gru: needs x (N, T, F), kernel (F, 3u), "
                                                   "recurrent_kernel (u, 3u), bias (3u)")):
        forward("gru", g[:3] + [np.zeros((2, 6), np.float32)], [0, 0, 1, HAS_BIAS | RESET_BEFORE])


@pytest.mark.parametrize("op", ["lstm", "gru", "simple_rnn"])
def test_write_states_leaves_the_final_states_in_the_state_inputs(op):
    """Flag 64 (stateful): the forward pass overwrites the state inputs with the final
    states (what EMIT returns); backward still differentiates from the original ones."""
    flags = HAS_BIAS | HAS_STATE | HAS_MASK
    ins = make_inputs(op, flags, seed=21)
    emitted = forward(op, ins, ints=[0, 0, 1, flags | EMIT])
    states = [np.array(a) for a in ins[4:4 + N_STATES[op]]]
    args = ins[:4] + states + ins[4 + N_STATES[op]:]
    out = forward(op, args, ints=[0, 0, 1, flags | 64])
    np.testing.assert_allclose(out, emitted[:, :4], rtol=1e-6)
    for k, state in enumerate(states):
        np.testing.assert_allclose(state, emitted[:, 4 + k], rtol=1e-6)
    # Gradients come from the call's own initial states, saved before they are overwritten.
    r = np.random.default_rng(22).standard_normal(out.shape).astype(np.float32)
    want = vjp(op, ins, r, ints=[0, 0, 1, flags])
    fresh = [np.array(a) for a in ins]
    got = vjp(op, fresh, r, ints=[0, 0, 1, flags | 64])
    for g, w in zip(got[:3], want[:3]):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="needs the initial states"):
        forward(op, ins[:4], ints=[0, 0, 1, HAS_BIAS | 64])


@pytest.mark.parametrize("op,flags", [("lstm", HAS_BIAS | HAS_STATE | HAS_MASK | EMIT),
                                      ("simple_rnn", HAS_BIAS | HAS_STATE | HAS_MASK | EMIT),
                                      ("gru", HAS_BIAS | HAS_STATE | HAS_MASK),
                                      ("gru", HAS_BIAS | HAS_STATE | HAS_MASK | RESET_BEFORE)])
@pytest.mark.parametrize("back", [0, 1])
def test_threads_split_the_batch_without_changing_results(op, flags, back):
    """With 2 engine threads the time loops run on halves of the batch (>= 32 samples);
    outputs and every gradient match the single-threaded run, dropout included."""
    import cnn
    rng = np.random.default_rng(23)
    n, t = 40, 6
    ins = make_inputs(op, flags & ~HAS_MASK, n=n, t=t, f=3, u=5, seed=24)
    if flags & HAS_MASK:
        ins.append((rng.random((n, t)) > 0.3).astype(np.float32))
    ints, floats = [back, 0, 1, flags], [0.2, 0.3]
    out_grad = rng.standard_normal(forward(op, ins, ints, floats).shape).astype(np.float32)
    results = {}
    before = cnn.config()["engine_threads"]
    try:
        for threads in (1, 2):
            cnn.set_num_threads(threads)
            results[threads] = ([forward(op, ins, ints, floats, training=True, seed=5)] +
                                [g for g in vjp(op, ins, out_grad, ints, floats, training=True,
                                                seed=5) if g is not None])
    finally:
        cnn.set_num_threads(before)
    for one, two in zip(results[1], results[2]):
        np.testing.assert_allclose(two, one, rtol=1e-6, atol=1e-7)
