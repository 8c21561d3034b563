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


# ---- accuracy (elementwise equality) ------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_accuracy(shape):
    t, p = scores(shape, seed=5), scores(shape, seed=6)
    got = forward("accuracy", [t, p])
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, (t == p).mean(-1), rtol=1e-6)
    assert 0 < got.mean() < 1
    keras = _keras()
    kref = _np(keras.src.metrics.accuracy_metrics.accuracy(t, p))  # elementwise matches
    np.testing.assert_allclose(got, kref.mean(-1), rtol=1e-6)


# ---- top-k accuracy ---------------------------------------------------------------------

def _keras_top_k(keras, y, p, k, sparse):
    fn = keras.metrics.sparse_top_k_categorical_accuracy if sparse else \
        keras.metrics.top_k_categorical_accuracy
    return _np(fn(y, p, k=k))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 2])
def test_top_k_categorical_accuracy(shape, k):
    p = scores(shape, seed=7)  # ties: a tied score counts in the target's favour
    t = np.eye(shape[-1], dtype=np.float32)[np.random.default_rng(8).integers(0, shape[-1], shape[:-1])]
    target = t.argmax(-1)
    mine = np.take_along_axis(p, target[..., None], -1)
    ref = ((p > mine).sum(-1) < k).astype(np.float32)
    got = forward("top_k_categorical_accuracy", [t, p], ints=[k])
    assert got.shape == shape[:-1]
    np.testing.assert_array_equal(got, ref)
    assert 0 < got.mean() < 1
    np.testing.assert_array_equal(got, _keras_top_k(_keras(), t, p, k, sparse=False))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("trailing", [False, True])
def test_sparse_top_k_categorical_accuracy(shape, trailing):
    p = scores(shape, seed=9)
    y = np.random.default_rng(10).integers(0, shape[-1], shape[:-1]).astype(np.float32)
    yin = y[..., None] if trailing else y
    got = forward("sparse_top_k_categorical_accuracy", [yin, p], ints=[2])
    assert got.shape == shape[:-1]
    mine = np.take_along_axis(p, y.astype(int)[..., None], -1)
    np.testing.assert_array_equal(got, ((p > mine).sum(-1) < 2).astype(np.float32))
    kref = _keras_top_k(_keras(), yin, p, 2, sparse=True)  # shaped like y_true
    np.testing.assert_array_equal(got, kref.reshape(got.shape))


def test_top_k_invalid_labels_and_k():
    p = np.array([[0.1, 0.9, 0.0]] * 4, np.float32)
    y = np.array([1.0, 1.5, -1.0, 7.0], np.float32)
    np.testing.assert_array_equal(forward("sparse_top_k_categorical_accuracy", [y, p], ints=[3]),
                                  [1, 0, 0, 0])
    for name, t in [("top_k_categorical_accuracy", np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]),
                    ("sparse_top_k_categorical_accuracy", y)]:
        with pytest.raises(ValueError, match=rf"{name}: k=4 exceeds the 3 classes"):
            forward(name, [t, p], ints=[4])
        with pytest.raises(ValueError, match=rf"{name}: k must be >= 1"):
            forward(name, [t, p], ints=[0])


# ---- confusion_counts -------------------------------------------------------------------

def _keras_counts(keras, cls, t, p, w=None, **kw):
    """Keras's confusion variables, stacked (4, T) as tp, fp, tn, fn."""
    m = cls(**kw)
    m.update_state(t, p, sample_weight=w)
    return np.stack([_np(getattr(m, n).numpy() if hasattr(getattr(m, n), "numpy") else getattr(m, n))
                     for n in ("true_positives", "false_positives", "true_negatives",
                               "false_negatives")])


def _auc_thresholds(n):
    return np.array([-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7], np.float32)


def _binary_data(shape, seed):
    rng = np.random.default_rng(seed)
    t = (rng.uniform(size=shape) > 0.5).astype(np.float32)
    p = rng.uniform(size=shape).astype(np.float32)
    p.reshape(-1)[:4] = [0.0, 0.5, 1.0, 0.25]  # bucket edges
    return t, p, rng.uniform(size=shape[:1]).astype(np.float32)


@pytest.mark.parametrize("weighted", [False, True])
def test_confusion_counts_buckets_match_keras_auc(weighted):
    t, p, w = _binary_data((64, 3), 11)
    th = _auc_thresholds(50)
    inputs = [t, p, th] + ([w[:, None]] if weighted else [])
    got = forward("confusion_counts", inputs, ints=[2, 0, -1])
    assert got.shape == (4, 50, 3)
    keras = _keras()
    ref = _keras_counts(keras, keras.metrics.AUC, t, p, w if weighted else None, num_thresholds=50)
    np.testing.assert_allclose(got.sum(-1), ref, rtol=1e-5, atol=1e-5)
    # per label: the same as counting each column alone
    col = forward("confusion_counts", [t[:, 1:2], p[:, 1:2], th] + ([w[:, None]] if weighted else []),
                  ints=[2, 0, -1])
    np.testing.assert_allclose(got[..., 1], col[..., 0], rtol=1e-6, atol=1e-6)


def test_confusion_counts_compare_and_even_thresholds_match_keras():
    t, p, w = _binary_data((40, 4), 12)
    keras = _keras()
    for th in ([0.5], [0.2, 0.7, 0.4], [0.0, 0.5, 1.0]):
        mode = 1 if th == [0.0, 0.5, 1.0] else 0
        got = forward("confusion_counts", [t, p, np.array(th, np.float32), w[:, None]],
                      ints=[mode, 0, -1]).sum(-1)
        kp = keras.metrics.Precision(thresholds=th)
        kr = keras.metrics.Recall(thresholds=th)
        kp.update_state(t, p, sample_weight=w)
        kr.update_state(t, p, sample_weight=w)
        # float32 sums in another order: near-zero counts differ by rounding
        close = dict(rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(got[0], _np(kp.true_positives.numpy()), **close)
        np.testing.assert_allclose(got[1], _np(kp.false_positives.numpy()), **close)
        np.testing.assert_allclose(got[3], _np(kr.false_negatives.numpy()), **close)
        total = w.sum() * 4
        np.testing.assert_allclose(got.sum(0), np.full(len(th), total), rtol=1e-5)


@pytest.mark.parametrize("top_k,class_id", [(1, None), (2, None), (None, 2), (2, 1)])
def test_confusion_counts_top_k_and_class_id_match_keras(top_k, class_id):
    t, p, _ = _binary_data((30, 5), 13)
    thr = -1e10 if top_k is not None else 0.5
    got = forward("confusion_counts", [t, p, np.array([thr], np.float32)],
                  ints=[0, top_k or 0, -1 if class_id is None else class_id])
    assert got.shape == (4, 1, 1 if class_id is not None else 5)
    keras = _keras()
    m = keras.metrics.Precision(top_k=top_k, class_id=class_id)
    m.update_state(t, p)
    np.testing.assert_allclose(got.sum(-1)[:2, 0], [_np(m.true_positives.numpy())[0],
                                                    _np(m.false_positives.numpy())[0]])


def test_confusion_counts_top_k_ties_go_to_the_lower_index():
    p = np.array([[0.5, 0.9, 0.5, 0.5]], np.float32)
    t = np.ones_like(p)
    got = forward("confusion_counts", [t, p, np.array([-1e10], np.float32)], ints=[0, 2, -1])
    np.testing.assert_array_equal(got[0, 0], [1, 1, 0, 0])  # 0.9 and the first 0.5


def test_confusion_counts_rank1_and_broadcast_weights():
    t = np.array([1, 0, 1, 1, 0], np.float32)
    p = np.array([0.9, 0.8, 0.1, 0.6, 0.2], np.float32)
    w = np.array([1, 2, 3, 4, 5], np.float32)
    got = forward("confusion_counts", [t, p, np.array([0.5], np.float32), w], ints=[0, 0, -1])
    np.testing.assert_array_equal(got[:, 0, 0], [1 + 4, 2, 5, 3])
    scalar_w = forward("confusion_counts", [t, p, np.array([0.5], np.float32),
                                            np.array([2.0], np.float32)], ints=[0, 0, -1])
    np.testing.assert_array_equal(scalar_w[:, 0, 0], [4, 2, 2, 2])


def test_confusion_counts_not_differentiable_and_errors():
    t, p, _ = _binary_data((4, 3), 14)
    th = np.array([0.5], np.float32)
    assert all(g is None for g in vjp("confusion_counts", [t, p, th], np.ones((4, 1, 3), np.float32)))
    with pytest.raises(ValueError, match=r"confusion_counts: y_true and y_pred must have the same shape"):
        forward("confusion_counts", [t[:, :2], p, th])
    with pytest.raises(ValueError, match=r"confusion_counts: thresholds must have shape \(T,\)"):
        forward("confusion_counts", [t, p, th.reshape(1, 1)])
    with pytest.raises(ValueError, match=r"confusion_counts: sample_weight \(4, 2\) must have the rank"):
        forward("confusion_counts", [t, p, th, np.ones((4, 2), np.float32)])
    with pytest.raises(ValueError, match=r"confusion_counts: mode must be 0"):
        forward("confusion_counts", [t, p, th], ints=[3, 0, -1])
    with pytest.raises(ValueError, match=r"confusion_counts: bucket modes need at least 2"):
        forward("confusion_counts", [t, p, th], ints=[1, 0, -1])
    with pytest.raises(ValueError, match=r"confusion_counts: top_k=4 exceeds"):
        forward("confusion_counts", [t, p, th], ints=[0, 4, -1])
    with pytest.raises(ValueError, match=r"confusion_counts: class_id=3 is out of range"):
        forward("confusion_counts", [t, p, th], ints=[0, 0, 3])
    with pytest.raises(ValueError, match=r"confusion_counts: with class_id, y_pred must have shape"):
        forward("confusion_counts", [t[:, 0], p[:, 0], th], ints=[0, 0, 0])
