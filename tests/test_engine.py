"""The engine below the Keras API: compiled graphs, the tape, optimizers, input conversion."""
import numpy as np
import pytest

from cnn import _C
from cnn import backend as B


def mlp_graph(W1, b1, W2, b2):
    """x -> relu(x W1 + b1) W2 + b2 -> mse against y, mean over the batch."""
    g = B.GraphBuilder()
    x, y = g.input((4,)), g.input((2,))
    h = B.op("relu", [B.op("bias_add", [B.op("matmul", [x, W1]), b1])])
    out = B.op("bias_add", [B.op("matmul", [h, W2]), b2])
    loss = B.op("mean", [B.op("mse", [y, out])], ints=[0])
    return g, x, y, out, loss


def make_vars(seed=0):
    rng = np.random.default_rng(seed)
    return [B.Variable(rng.standard_normal(s) * 0.5, n)
            for s, n in [((4, 8), "W1"), ((8,), "b1"), ((8, 2), "W2"), ((2,), "b2")]]


def eager_loss(vs, x, y):
    W1, b1, W2, b2 = vs
    h = B.op("relu", [B.op("bias_add", [B.op("matmul", [x, W1]), b1])])
    out = B.op("bias_add", [B.op("matmul", [h, W2]), b2])
    return B.op("mean", [B.op("mse", [y, out])], ints=[0])


def data(n=16, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.standard_normal((n, 2)).astype(np.float32)


def test_symbolic_shapes_carry_the_batch_dimension():
    vs = make_vars()
    g, x, y, out, loss = mlp_graph(*vs)
    assert x.shape == (None, 4) and out.shape == (None, 2) and loss.shape == ()


@pytest.mark.parametrize("kind,hyper", [("sgd", dict(learning_rate=0.1)),
                                        ("sgd", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
                                        ("adam", dict(learning_rate=0.01)),
                                        ("adam", dict(learning_rate=0.01, amsgrad=True))])
def test_graph_train_step_matches_tape_loop(kind, hyper):
    """The compiled step (one C call) and an eager tape loop give the same weights."""
    x, y = data()
    va, vb = make_vars(), make_vars()
    g, xi, yi, out, loss = mlp_graph(*va)
    prog = B.CompiledGraph(g, [xi], [out], targets=[yi], loss=loss, reports=[loss], trainable=va)
    opt_a, opt_b = B.OptimizerState(kind, **hyper), B.OptimizerState(kind, **hyper)
    for step in range(10):
        sl = slice(4 * (step % 4), 4 * (step % 4) + 4)
        reported = prog.train_step([x[sl]], [y[sl]], opt_a)
        with B.GradientTape() as tape:
            l = eager_loss(vb, x[sl], y[sl])
        np.testing.assert_allclose(reported[0], float(l), rtol=1e-5)
        opt_b.apply(tape.gradient(l, vb), vb)
    for a, b in zip(va, vb):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert opt_a.iterations == opt_b.iterations == 10


def test_batch_size_changes_replan_and_predict_is_consistent():
    vs = make_vars()
    g, xi, yi, out, loss = mlp_graph(*vs)
    prog = B.CompiledGraph(g, [xi], [out])
    x, _ = data(10)
    full = prog.predict([x])[0]
    for n in (1, 3, 10, 7):
        np.testing.assert_allclose(prog.predict([x[:n]])[0], full[:n], rtol=1e-6)


def test_fan_out_accumulates_gradients():
    """A value used twice gets the sum of both gradients, in the graph and on the tape."""
    W = B.Variable(np.array([[2.0]]), "W")
    g = B.GraphBuilder()
    x = g.input((1,))
    h = B.op("matmul", [x, W])
    loss = B.op("mean", [B.op("mul", [h, h])], ints=[0])
    opt = B.OptimizerState("sgd", learning_rate=1.0)
    prog = B.CompiledGraph(g, [x], [h], loss=loss, reports=[loss], trainable=[W])
    xv = np.array([[3.0]], np.float32)
    prog.train_step([xv], [], opt)
    # d/dW mean((xW)^2) = 2 x^2 W = 36 -> W = 2 - 36
    np.testing.assert_allclose(W.numpy(), [[-34.0]])


def test_tape_gradient_none_for_unconnected_and_single_use():
    a, b = B.Variable(np.ones(3), "a"), B.Variable(np.ones(3), "b")
    with B.GradientTape() as tape:
        y = B.op("sum", [B.op("mul", [a, a])], ints=[0])
    ga, gb = tape.gradient(y, [a, b])
    np.testing.assert_allclose(ga.numpy(), 2 * np.ones(3))
    assert gb is None
    with pytest.raises(ValueError, match="persistent"):
        tape.gradient(y, [a])


def test_persistent_tape_and_nested_tapes():
    x = B.Variable(np.array([3.0]), "x")
    with B.GradientTape(persistent=True) as outer:
        with B.GradientTape() as inner:
            y = B.op("mul", [x, x])
        z = B.op("mul", [y, x])
    np.testing.assert_allclose(inner.gradient(y, [x])[0].numpy(), [6.0])
    np.testing.assert_allclose(outer.gradient(z, [x])[0].numpy(), [27.0])
    np.testing.assert_allclose(outer.gradient(y, [x])[0].numpy(), [6.0])


def test_consolidated_variables_keep_values_and_train():
    vs = make_vars()
    before = [v.numpy() for v in vs]
    _C.consolidate([v._t for v in vs])
    for v, b in zip(vs, before):
        np.testing.assert_array_equal(v.numpy(), b)
    g, xi, yi, out, loss = mlp_graph(*vs)
    prog = B.CompiledGraph(g, [xi], [out], targets=[yi], loss=loss, reports=[loss], trainable=vs)
    x, y = data()
    opt = B.OptimizerState("adam", learning_rate=0.05)
    first = prog.train_step([x], [y], opt)[0]
    for _ in range(50):
        last = prog.train_step([x], [y], opt)[0]
    assert last < first


@pytest.mark.parametrize("bad,kind", [
    (np.array([["a", "b"]]), TypeError),
    (np.array([[1 + 2j, 0]]), TypeError),
    (np.array([{}, {}], dtype=object), TypeError),
    ([[1.0, 2.0], [3.0]], TypeError),
    ("text", TypeError),
])
def test_binding_rejects_non_numeric_input(bad, kind):
    with pytest.raises(kind, match="relu input"):
        _C.op_forward("relu", [bad], [], [])


def test_integer_and_float64_input_is_converted():
    out = _C.op_forward("relu", [np.array([[-1, 2]], dtype=np.int64)], [], [])
    assert out.dtype == np.float32 and out.tolist() == [[0.0, 2.0]]


def test_program_rejects_wrong_feature_width_with_shapes():
    vs = make_vars()
    g, xi, yi, out, loss = mlp_graph(*vs)
    prog = B.CompiledGraph(g, [xi], [out])
    with pytest.raises(ValueError, match=r"expected shape \(None, 4\), got \(3, 5\)"):
        prog.predict([np.zeros((3, 5), np.float32)])


def test_unknown_op_and_bad_optimizer_kind():
    with pytest.raises(ValueError, match="unknown op 'nope'"):
        _C.op_forward("nope", [np.zeros(1)], [], [])
    with pytest.raises(ValueError, match="unknown optimizer kind"):
        B.OptimizerState("adagrad-ish")


def test_every_registered_op_has_a_test_file_entry():
    """Guards against an op landing without tests: each op name appears in tests/ops."""
    import pathlib
    text = "".join(p.read_text() for p in (pathlib.Path(__file__).parent / "ops").glob("test_*.py"))
    missing = [n for n in _C.op_names() if f'"{n}"' not in text and f"'{n}'" not in text]
    assert not missing, f"ops without tests: {missing}"


@pytest.mark.parametrize("name,shape,ints,want", [
    ("sum", (3, 4), [0, 1], (None, 4)),
    ("sum", (3, 4), [0, 0], (3, 4)),
    ("reshape", (3, 4), [-1, 12], (None, 12)),
    ("transpose", (3, 4), [0, 2, 1], (None, 4, 3)),
    ("softmax", (3, 4), [-1], (None, 3, 4)),
])
def test_symbolic_inference_propagates_the_batch_dimension(name, shape, ints, want):
    g = B.GraphBuilder()
    x = g.input(shape)
    assert B.op(name, [x], ints=ints).shape == want


def test_symbolic_concat_and_matmul_shapes():
    g = B.GraphBuilder()
    a, b = g.input((3, 4)), g.input((3, 2))
    assert B.op("concat", [a, b], ints=[-1]).shape == (None, 3, 6)
    assert B.op("matmul", [a, np.zeros((4, 5))]).shape == (None, 3, 5)
    with pytest.raises(ValueError, match="concat"):
        B.op("concat", [a, b], ints=[1])


def test_engine_flushes_denormals_inside_and_restores_the_callers_fp_mode():
    """Denormals are flushed inside engine calls (they made Adam 12x slower), but the
    caller's IEEE mode comes back: NumPy still sees denormals after a call."""
    tiny = np.array([1e-39, 1.0], np.float32)  # 1e-39 is denormal in float32
    out = _C.op_forward("mul", [tiny, np.float32(1.0)], [], [])
    assert out[0] == 0.0 and out[1] == 1.0
    assert (tiny * np.float32(1.0))[0] != 0.0


@pytest.mark.parametrize("batch", [1, 5])
def test_shared_weight_and_first_writer_overwrite_match_the_tape(batch):
    """W feeds two matmuls and b two bias_adds: the first backward to reach each gradient
    overwrites it (no memset), the second adds. Batch 1 takes the sgemv/sger path."""
    rng = np.random.default_rng(3)
    W0, b0 = rng.standard_normal((4, 4)), rng.standard_normal(4)
    x = rng.standard_normal((batch, 4)).astype(np.float32)
    Wa, ba, Wb, bb = B.Variable(W0), B.Variable(b0), B.Variable(W0), B.Variable(b0)

    def net(x, W, b):
        h = B.op("tanh", [B.op("bias_add", [B.op("matmul", [x, W]), b])])
        return B.op("bias_add", [B.op("matmul", [h, W]), b])

    g = B.GraphBuilder()
    xi = g.input((4,))
    loss = B.op("mean", [B.op("square", [net(xi, Wa, ba)])], ints=[0])
    prog = B.CompiledGraph(g, [xi], [], loss=loss, reports=[loss], trainable=[Wa, ba])
    opt_a, opt_b = B.OptimizerState("sgd", learning_rate=0.1), B.OptimizerState("sgd", learning_rate=0.1)
    for _ in range(3):
        prog.train_step([x], [], opt_a)
        with B.GradientTape() as tape:
            l = B.op("mean", [B.op("square", [net(x, Wb, bb)])], ints=[0])
        opt_b.apply(tape.gradient(l, [Wb, bb]), [Wb, bb])
    np.testing.assert_allclose(Wa.numpy(), Wb.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ba.numpy(), bb.numpy(), rtol=1e-5, atol=1e-6)


def test_trainable_variable_outside_the_loss_path_gets_zero_gradient():
    used, unused = B.Variable(np.ones((2, 1))), B.Variable(np.full(3, 7.0))
    g = B.GraphBuilder()
    x = g.input((2,))
    loss = B.op("mean", [B.op("matmul", [x, used])], ints=[0])
    prog = B.CompiledGraph(g, [x], [], loss=loss, reports=[loss], trainable=[used, unused])
    prog.train_step([np.ones((3, 2), np.float32)], [], B.OptimizerState("sgd", learning_rate=0.5))
    np.testing.assert_array_equal(unused.numpy(), np.full(3, 7.0))
    np.testing.assert_allclose(used.numpy(), np.full((2, 1), 0.5))
