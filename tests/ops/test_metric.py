import sys, os; sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # noqa: E401,E702
from op_harness import forward, vjp, check_grad, check_torch, torch, requires_torch  # noqa: E402,F401

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def _keras():
    """Keras 3 on the torch backend, or skip."""
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except Exception as e:  # pragma: no cover - depends on the environment
        pytest.skip(f"keras unavailable: {e}")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    return keras


def _np(x):
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def scores(shape, seed=0, ties=True):
    """Scores on a coarse grid so that rows hold ties (first maximum must win)."""
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 4, shape) if ties else rng.standard_normal(shape)
    return p.astype(np.float32)


SHAPES = [(32, 5), (4, 6, 3)]


# ---- sparse_categorical_accuracy -------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("trailing", [False, True])
def test_sparse_categorical_accuracy(shape, trailing):
    p = scores(shape)
    rng = np.random.default_rng(1)
    y = rng.integers(0, shape[-1], shape[:-1]).astype(np.float32)
    y.reshape(-1)[:4] = np.argmax(p, -1).reshape(-1)[:4]  # some sure hits
    ref = (np.argmax(p, -1) == y).astype(np.float32)
    yin = y[..., None] if trailing else y
    got = forward("sparse_categorical_accuracy", [yin, p])
    assert got.shape == shape[:-1]
    np.testing.assert_array_equal(got, ref)
    assert 0 < got.sum() < got.size
    keras = _keras()
    np.testing.assert_array_equal(got, _np(keras.metrics.sparse_categorical_accuracy(yin, p)))


def test_sparse_accuracy_invalid_labels_never_match():
    p = np.array([[0.1, 0.9, 0.0]] * 4, np.float32)
    y = np.array([1.0, 1.5, -1.0, 7.0], np.float32)
    np.testing.assert_array_equal(forward("sparse_categorical_accuracy", [y, p]), [1, 0, 0, 0])


# ---- categorical_accuracy --------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_categorical_accuracy(shape):
    p = scores(shape, seed=2)
    t = scores(shape, seed=3)  # soft / tied targets: argmax of both, first maximum
    t.reshape(-1, shape[-1])[:3] = p.reshape(-1, shape[-1])[:3]
    ref = (np.argmax(t, -1) == np.argmax(p, -1)).astype(np.float32)
    got = forward("categorical_accuracy", [t, p])
    assert got.shape == shape[:-1]
    np.testing.assert_array_equal(got, ref)
    assert 0 < got.sum() < got.size
    keras = _keras()
    np.testing.assert_array_equal(got, _np(keras.metrics.categorical_accuracy(t, p)))


@requires_torch
def test_argmax_nan_and_ties_like_torch():
    p = np.array([[1, 3, 3], [np.nan, 5, 5], [2, np.nan, np.nan], [-np.inf, -np.inf, -np.inf]], np.float32)
    idx = torch.argmax(torch.tensor(p), -1).numpy()
    np.testing.assert_array_equal(idx, np.argmax(p, -1))
    for k in range(3):
        y = np.full(4, k, np.float32)
        np.testing.assert_array_equal(forward("sparse_categorical_accuracy", [y, p]), (idx == k).astype(np.float32))


# ---- binary_accuracy -------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("threshold", [None, 0.3])
def test_binary_accuracy(shape, threshold):
    rng = np.random.default_rng(4)
    t = rng.integers(0, 2, shape).astype(np.float32)
    p = rng.uniform(0, 1, shape).astype(np.float32)
    thr = 0.5 if threshold is None else threshold
    p.reshape(-1)[:3] = np.float32(thr)  # exactly at the threshold: strict '>' -> 0
    t.reshape(-1)[3] = 0.7  # a non-binary target never matches
    floats = () if threshold is None else (threshold,)
    got = forward("binary_accuracy", [t, p], floats=floats)
    ref = (t == (p > np.float32(thr)).astype(np.float32)).mean(-1)
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    keras = _keras()
    # Keras 3 returns the elementwise matches; the op reports their mean over the last axis
    kref = _np(keras.metrics.binary_accuracy(t, p, threshold=thr))
    assert kref.shape == shape
    np.testing.assert_allclose(got, kref.mean(-1), rtol=1e-6, atol=1e-7)


# ---- contract and errors ---------------------------------------------------------------

def test_not_differentiable():
    p = scores((3, 4))
    for name, t in [("sparse_categorical_accuracy", np.zeros(3, np.float32)),
                    ("categorical_accuracy", scores((3, 4), 1)), ("binary_accuracy", scores((3, 4), 2))]:
        g = vjp(name, [t, p], np.ones(3, np.float32))
        assert all(x is None for x in g), name


@pytest.mark.parametrize("name", ["categorical_accuracy", "binary_accuracy"])
def test_shape_mismatch(name):
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(2, 4\)"):
        forward(name, [np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)])


def test_sparse_shape_mismatch():
    p = np.zeros((2, 3), np.float32)
    for y in (np.zeros(3, np.float32), np.zeros((2, 3), np.float32)):
        with pytest.raises(ValueError, match=r"sparse_categorical_accuracy.*\(2, 3\)"):
            forward("sparse_categorical_accuracy", [y, p])


def test_no_classes():
    for name, t in [("sparse_categorical_accuracy", np.zeros(2, np.float32)),
                    ("categorical_accuracy", np.zeros((2, 0), np.float32))]:
        with pytest.raises(ValueError, match=name):
            forward(name, [t, np.zeros((2, 0), np.float32)])
