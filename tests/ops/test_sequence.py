import sys, os; sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # noqa: E401,E702
import re

import numpy as np
import pytest

from cnn import backend as B
from op_harness import forward, vjp, check_grad, check_torch, torch, requires_torch  # noqa: F401


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def indices(shape, v, seed=1):
    return np.random.default_rng(seed).integers(0, v, shape).astype(np.float32)


# ---- embedding ----------------------------------------------------------------------

EMBEDDINGS = [((5,), 7, 3), ((2, 4), 6, 5), ((2, 3, 2), 4, 1), ((), 3, 4), ((3,), 1, 2),
              ((0,), 3, 2), ((2, 2), 3, 0)]


@pytest.mark.parametrize("shape,v,d", EMBEDDINGS, ids=str)
def test_embedding_gathers_rows(shape, v, d):
    idx, table = indices(shape, v), rand(v, d)
    out = forward("embedding", [idx, table])
    assert out.shape == shape + (d,)
    np.testing.assert_array_equal(out, table[idx.astype(np.int64)])


@pytest.mark.parametrize("shape,v,d", [s for s in EMBEDDINGS if np.prod(s[0]) and s[2]], ids=str)
def test_embedding_grad(shape, v, d):
    check_grad("embedding", [indices(shape, v), rand(v, d)], wrt=[1])


def test_embedding_repeated_indices_add_up():
    table = rand(4, 3)
    idx = np.array([[2, 2, 0], [2, 1, 1]], np.float32)
    g = rand(2, 3, 3, seed=5)
    grads = vjp("embedding", [idx, table], g)
    assert grads[0] is None  # the indices get no gradient
    want = np.zeros_like(table)
    np.add.at(want, idx.astype(np.int64), g)
    np.testing.assert_allclose(grads[1], want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(grads[1][3], 0)  # a row never picked gets nothing


@requires_torch
@pytest.mark.parametrize("shape,v,d", [((6,), 4, 3), ((3, 5), 3, 8), ((2, 3, 4), 10, 6),
                                       ((40,), 2, 16)], ids=str)
def test_embedding_torch(shape, v, d):
    # Few rows for many indices: most rows are picked several times.
    idx = indices(shape, v)
    check_torch("embedding", [idx, rand(v, d)],
                lambda i, t: torch.nn.functional.embedding(i.long(), t), wrt=[1])


@pytest.mark.parametrize("bad", [4.0, -1.0, 1.5, np.nan, np.inf, 1e9])
def test_embedding_bad_index(bad):
    idx = np.array([0, bad, 1], np.float32)
    shown = re.escape(f"{np.float32(bad):g}") if np.isfinite(bad) else "-?" + str(bad)
    msg = r"embedding: index " + shown + re.escape(" is not an integer row index in [0, 4) "
                                                   "(the table has V = 4 rows)")
    with pytest.raises(ValueError, match=msg):
        forward("embedding", [idx, rand(4, 2)])
    with pytest.raises(ValueError, match="embedding: index"):
        vjp("embedding", [idx, rand(4, 2)], np.ones((3, 2), np.float32))


@pytest.mark.parametrize("table", [(4,), (2, 3, 4), ()], ids=str)
def test_embedding_bad_table(table):
    with pytest.raises(ValueError, match=re.escape("embedding: the table must be (V, D)")):
        forward("embedding", [np.zeros(3, np.float32), np.zeros(table, np.float32)])


def test_embedding_symbolic_batch_and_eager_tape():
    g = B.GraphBuilder()
    out = B.op("embedding", [g.input((5,)), g.const(rand(7, 3))])
    assert out.shape == (None, 5, 3)
    msg = "embedding: the table must be (V, D) with known sizes; got table (None, 3) for indices (None, 5)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        B.op("embedding", [g.input((5,)), g.input((3,))])
    table = B.Variable(rand(5, 2))
    idx = np.array([[1, 4], [1, 0]], np.float32)
    with B.GradientTape() as tape:
        y = B.op("sum", [B.op("embedding", [idx, table])], ints=[0, 1, 2])
    (grad,) = tape.gradient(y, [table])
    want = np.zeros((5, 2), np.float32)
    np.add.at(want, idx.astype(np.int64), 1.0)
    np.testing.assert_array_equal(np.asarray(grad), want)


# ---- not_equal_any (the Masking layer's mask) -----------------------------------------


def test_not_equal_any_marks_steps_with_any_other_value():
    x = np.array([[[0, 0], [0, 1], [2, 0]], [[-1, -1], [0, 0], [0, 0]]], np.float32)
    np.testing.assert_array_equal(forward("not_equal_any", [x], floats=[0.0]), [[0, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(forward("not_equal_any", [x], floats=[-1.0]), [[1, 1, 1], [0, 1, 1]])
    with pytest.raises(ValueError, match="not_equal_any: takes floats=\\[value\\]"):
        forward("not_equal_any", [x])
    with pytest.raises(ValueError, match="not_equal_any: needs x"):
        forward("not_equal_any", [np.float32(1.0)], floats=[0.0])
