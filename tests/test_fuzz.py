"""Hammers the binding with random ops, shapes, attributes and dtypes: every call must either
succeed or raise ValueError/TypeError; nothing may crash, hang or return the wrong shape."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnn import _C  # noqa: E402
from cnn import backend as B  # noqa: E402

OPS = sorted(_C.op_names())
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)
ints = st.lists(st.integers(-5, 5), max_size=6)
floats = st.lists(st.floats(-3, 3, allow_nan=False), max_size=3)
dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.bool_, np.float16])


@st.composite
def arrays(draw):
    shape = draw(shapes)
    dtype = draw(dtypes)
    values = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape) * 3
    return values.astype(dtype)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(OPS), inputs=st.lists(arrays(), min_size=0, max_size=3), i=ints, f=floats,
       training=st.booleans())
def test_op_calls_never_crash(name, inputs, i, f, training):
    try:
        out = _C.op_forward(name, inputs, i, f, training, 7)
    except (ValueError, TypeError):
        return
    assert out.dtype == np.float32
    g = np.ones(out.shape, np.float32)
    try:
        grads = _C.op_vjp(name, inputs, i, f, g, training, 7)
    except (ValueError, TypeError):
        return
    for x, gx in zip(inputs, grads):
        assert gx is None or gx.shape == np.shape(x)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(OPS), a=shapes, b=shapes, i=ints)
def test_symbolic_graph_building_never_crashes(name, a, b, i):
    g = B.GraphBuilder()
    xs = [g.input(a), g.input(b)]
    for n in (1, 2):
        try:
            B.op(name, xs[:n], ints=i)
        except (ValueError, TypeError):
            pass


@pytest.mark.parametrize("junk", [None, object(), "x", b"x", [[1], [1, 2]], {"a": 1}, 1 + 1j])
def test_junk_inputs_raise_type_errors(junk):
    with pytest.raises((TypeError, ValueError)):
        _C.op_forward("relu", [junk], [], [])
