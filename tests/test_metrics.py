"""Metric objects against Keras 3's: standalone (update_state/result/reset_state, with and
without sample weights) and inside compile() (fit/evaluate logs and their names), where
their state comes from the compiled graph's reports and counts are summed over batches."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402

from cnn import metrics  # noqa: E402

torch.set_num_threads(1)  # tiny models: torch's threads only contend with OpenBLAS's

N, C = 48, 4


def data(kind, seed=0, n=N):
    rng = np.random.default_rng(seed)
    if kind == "binary":
        t = (rng.uniform(size=(n, C)) > 0.5).astype(np.float32)
        p = rng.uniform(size=(n, C)).astype(np.float32)
    elif kind == "logits":
        t = (rng.uniform(size=(n, C)) > 0.5).astype(np.float32)
        p = rng.standard_normal((n, C)).astype(np.float32) * 2
    elif kind == "onehot":
        t = np.eye(C, dtype=np.float32)[rng.integers(0, C, n)]
        p = rng.dirichlet(np.ones(C), n).astype(np.float32)
    elif kind == "sparse":
        t = rng.integers(0, C, n).astype(np.float32)
        p = rng.dirichlet(np.ones(C), n).astype(np.float32)
    elif kind == "equal":  # Accuracy: values on a coarse grid, so some match
        t = rng.integers(0, 3, (n, C)).astype(np.float32)
        p = rng.integers(0, 3, (n, C)).astype(np.float32)
    else:  # regression
        t = rng.standard_normal((n, C)).astype(np.float32)
        p = (t + 0.5 * rng.standard_normal((n, C))).astype(np.float32)
    return t, p, rng.uniform(0.1, 2.0, n).astype(np.float32)


def value(x):
    x = np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    return x


# (class name, kwargs, data kind)
STANDALONE = [
    ("Accuracy", {}, "equal"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.3}, "binary"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("SparseTopKCategoricalAccuracy", {}, "sparse"),  # k=5 > 4 classes: an error
    ("Precision", {}, "binary"),
    ("Precision", {"thresholds": [0.3, 0.6, 0.9]}, "binary"),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),  # evenly spaced
    ("Precision", {"top_k": 2}, "binary"),
    ("Precision", {"class_id": 1}, "binary"),
    ("Recall", {}, "binary"),
    ("Recall", {"top_k": 1, "class_id": 2}, "binary"),
    ("Recall", {"thresholds": 0.7}, "binary"),
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.2, 0.8]}, "binary"),
    ("TrueNegatives", {}, "binary"),
    ("FalseNegatives", {}, "binary"),
    ("AUC", {}, "binary"),
    ("AUC", {"num_thresholds": 7}, "binary"),
    ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}, "binary"),
    ("AUC", {"summation_method": "majoring"}, "binary"),
    ("AUC", {"curve": "PRGAIN"}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.35, 0.8]}, "binary"),
    ("AUC", {"multi_label": True}, "binary"),
    ("AUC", {"multi_label": True, "label_weights": [1.0, 0.5, 2.0, 0.0]}, "binary"),
    ("AUC", {"label_weights": [1.0, 0.5, 2.0, 0.0]}, "binary"),
    ("AUC", {"from_logits": True}, "logits"),
    ("MeanSquaredError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
]


@pytest.mark.parametrize("name,kwargs,kind", STANDALONE,
                         ids=[f"{n}-{k}" for n, k, _ in STANDALONE])
@pytest.mark.parametrize("weighted", [False, True])
def test_standalone_matches_keras(name, kwargs, kind, weighted):
    t, p, w = data(kind, seed=len(name) + len(kwargs))
    km, cm = getattr(keras.metrics, name)(**kwargs), getattr(metrics, name)(**kwargs)
    if name == "SparseTopKCategoricalAccuracy" and not kwargs:
        with pytest.raises(ValueError, match=r"k=5 exceeds the 4 classes"):
            cm.update_state(t, p)
        return
    half = N // 2
    for s in (slice(0, half), slice(half, N)):  # state accumulates over two batches
        sw = w[s] if weighted else None
        km.update_state(t[s], p[s], sample_weight=sw)
        cm.update_state(t[s], p[s], sample_weight=sw)
    got, want = value(cm.result()), value(km.result())
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    assert 0 < np.max(np.abs(want))  # a meaningful value, not an empty state
    cm.reset_state()
    km.reset_state()
    np.testing.assert_allclose(value(cm.result()), value(km.result()), atol=1e-7)
    # calling the metric updates and returns the result
    np.testing.assert_allclose(value(cm(t, p)), value(km(t, p)), rtol=2e-5, atol=2e-6)


def test_names_and_directions_like_keras():
    for name, kwargs, _ in STANDALONE:
        km, cm = getattr(keras.metrics, name)(**kwargs), getattr(metrics, name)(**kwargs)
        if not name[0] in "PRTFA" or name.endswith("Accuracy"):
            assert cm.name == km.name, name  # fixed default names
        assert cm._direction == getattr(km, "_direction", None), name
    assert metrics.Precision(name="p").name == "p"
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("auc"), metrics.AUC)
    assert isinstance(metrics.get("sparse_top_k_categorical_accuracy"),
                      metrics.SparseTopKCategoricalAccuracy)
    assert metrics.get({"class_name": "Precision", "config": {"thresholds": 0.3}}).thresholds == [0.3]
    with pytest.raises(ValueError, match=r"Could not interpret metric identifier: 'precison'"):
        metrics.get("precison")


@pytest.mark.parametrize("weights_shape", [None, (N,), (N, 1), (N, C)])
def test_mean_and_sum_match_keras(weights_shape):
    rng = np.random.default_rng(3)
    values = rng.standard_normal((N, C)).astype(np.float32)
    w = None if weights_shape is None else rng.uniform(size=weights_shape).astype(np.float32)
    for name in ("Mean", "Sum"):
        km, cm = getattr(keras.metrics, name)(), getattr(metrics, name)()
        km.update_state(values, sample_weight=w)
        cm.update_state(values, sample_weight=w)
        km.update_state(3.0)
        cm.update_state(3.0)
        np.testing.assert_allclose(cm.result(), value(km.result()), rtol=1e-5)
    mw = metrics.MeanMetricWrapper(metrics.mean_absolute_error, name="my_mae")
    kw = keras.metrics.MeanMetricWrapper(keras.metrics.mean_absolute_error, name="my_mae")
    sw = None if w is None or w.shape[-1] == C else w  # per-element weights: per-sample values
    mw.update_state(values, values * 0.5, sample_weight=sw)
    kw.update_state(values, values * 0.5, sample_weight=sw)
    np.testing.assert_allclose(mw.result(), value(kw.result()), rtol=1e-5)
    assert mw.name == "my_mae" and mw._direction == "down"


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]. Received: \[1.5\]"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"`num_thresholds` must be an integer > 1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match=r'Invalid AUC curve value: "XY"'):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match=r"`num_labels` is needed only when `multi_label`"):
        metrics.AUC(num_labels=3)
    with pytest.raises(ValueError, match=r"`y_pred` must have rank 2 when `multi_label=True`"):
        metrics.AUC(multi_label=True).update_state(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"`top_k` must be an integer >= 1"):
        metrics.Recall(top_k=0)
    with pytest.raises(ValueError, match=r"float32 only"):
        metrics.Mean(dtype="float64")


# ---- inside compile -----------------------------------------------------------------------

D = 6


def twins(units, act, seed=0):
    k = keras.Sequential([keras.Input((D,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(units, activation=act)])
    c = cnn.models.Sequential([cnn.layers.Input((D,)), cnn.layers.Dense(8, activation="relu"),
                               cnn.layers.Dense(units, activation=act)])
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(np.shape(w)).astype(np.float32) * 0.5 for w in k.get_weights()]
    k.set_weights(ws)
    c.set_weights(ws)
    return k, c


def assert_logs_close(got, want):
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(np.asarray(got[key], np.float64),
                                   np.asarray(want[key], np.float64), rtol=2e-5, atol=2e-6,
                                   err_msg=key)


def fit_both(k, c, kmetrics, cmetrics, loss, x, y, weighted=False, **fit_kw):
    kw = dict(weighted_metrics=kmetrics) if weighted else dict(metrics=kmetrics)
    cw = dict(weighted_metrics=cmetrics) if weighted else dict(metrics=cmetrics)
    k.compile(keras.optimizers.SGD(0.1), loss, **kw)
    c.compile(cnn.optimizers.SGD(0.1), loss, **cw)
    hk = k.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, **fit_kw)
    hc = c.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, **fit_kw)
    assert_logs_close(hc.history, hk.history)
    ek = k.evaluate(x, y, batch_size=16, verbose=0, return_dict=True,
                    sample_weight=fit_kw.get("sample_weight"))
    ec = c.evaluate(x, y, batch_size=16, verbose=0, return_dict=True,
                    sample_weight=fit_kw.get("sample_weight"))
    assert_logs_close(ec, ek)
    return hc, ec


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_metrics_in_fit_and_evaluate_match_keras(weighted):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((72, D)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + 0.5 * rng.standard_normal(72) > 0).astype(np.float32)
    k, c = twins(1, "sigmoid")

    def make(lib):
        m = lib.metrics
        return ["accuracy", "mse", m.Precision(name="precision"), m.Recall(name="recall"),
                m.AUC(num_thresholds=9, name="auc"), m.AUC(curve="PR", num_thresholds=5, name="pr"),
                m.RootMeanSquaredError(), m.MeanAbsoluteError(),
                m.BinaryAccuracy(threshold=0.7, name="acc70")]

    extra = dict(sample_weight=rng.uniform(0.2, 2, 72).astype(np.float32)) if weighted else {}
    hc, ec = fit_both(k, c, make(keras), make(cnn), "binary_crossentropy", x, y,
                      weighted=weighted, validation_split=0.25, **extra)
    assert "val_auc" in hc.history and isinstance(ec["auc"], float)


def test_counts_in_fit_match_keras():
    # No validation here: Keras-on-torch logs a count's training value as a view of its
    # variable, which validation then overwrites (train "tp" == "val_tp"); cnn does not.
    rng = np.random.default_rng(15)
    x = rng.standard_normal((40, D)).astype(np.float32)
    y = (x[:, 3] > 0).astype(np.float32)
    k, c = twins(1, "sigmoid", seed=5)

    def make(lib):
        m = lib.metrics
        return [m.TruePositives(name="tp"), m.FalseNegatives(thresholds=[0.2, 0.6], name="fn")]

    fit_both(k, c, make(keras), make(cnn), "binary_crossentropy", x, y)


def test_categorical_metrics_in_fit_match_keras():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, D)).astype(np.float32)
    labels = rng.integers(0, C, 64)
    y = np.eye(C, dtype=np.float32)[labels]
    k, c = twins(C, "softmax", seed=1)

    def make(lib):
        m = lib.metrics
        return ["acc", m.TopKCategoricalAccuracy(k=2), m.CategoricalAccuracy(),
                m.Precision(top_k=1, name="p_top1"), m.Recall(class_id=2, name="r_class2"),
                m.AUC(multi_label=True, num_thresholds=4, name="ml_auc"), "categorical_crossentropy"]

    fit_both(k, c, make(keras), make(cnn), "categorical_crossentropy", x, y,
             validation_data=(x[:20], y[:20]))

    k2, c2 = twins(C, "softmax", seed=2)

    def make_sparse(lib):
        return [lib.metrics.SparseTopKCategoricalAccuracy(k=3), "sparse_categorical_accuracy"]

    fit_both(k2, c2, make_sparse(keras), make_sparse(cnn), "sparse_categorical_crossentropy",
             x, labels)


def test_multiple_thresholds_log_an_array_like_keras():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((40, D)).astype(np.float32)
    y = (x[:, 2] > 0).astype(np.float32)
    k, c = twins(1, "sigmoid", seed=3)
    k.compile("sgd", "binary_crossentropy", metrics=[keras.metrics.Precision(thresholds=[0.3, 0.6], name="p")])
    c.compile("sgd", "binary_crossentropy", metrics=[metrics.Precision(thresholds=[0.3, 0.6], name="p")])
    ek = k.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    ec = c.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert np.shape(ec["p"]) == (2,)
    np.testing.assert_allclose(ec["p"], value(ek["p"]), rtol=1e-5)


def test_counts_are_summed_over_batches_not_averaged():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((50, D)).astype(np.float32)
    y = (rng.uniform(size=50) > 0.5).astype(np.float32)
    _, c = twins(1, "sigmoid", seed=4)
    c.compile("sgd", "binary_crossentropy", metrics=[metrics.Precision(name="p")])
    logs = c.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    pos = c.predict(x, verbose=0)[:, 0] > 0.5
    assert logs["p"] == pytest.approx((pos & (y == 1)).sum() / pos.sum(), abs=1e-7)
    per_batch = [((pos[i:i + 7] & (y[i:i + 7] == 1)).sum() / max(pos[i:i + 7].sum(), 1))
                 for i in range(0, 50, 7)]
    assert abs(np.mean(per_batch) - logs["p"]) > 1e-3  # the mean of batch values differs


def test_default_auc_in_compile_matches_keras():
    """AUC() keeps 2 x 200 threshold counts per batch: one vector report each, summed."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((90, D)).astype(np.float32)
    y = (rng.random(90) > 0.4).astype(np.float32)
    k, c = twins(1, "sigmoid")
    k.compile(keras.optimizers.SGD(0.1), "binary_crossentropy",
              metrics=[keras.metrics.AUC(name="auc"), keras.metrics.AUC(curve="PR", name="pr")])
    c.compile(cnn.optimizers.SGD(0.1), "binary_crossentropy",
              metrics=[metrics.AUC(name="auc"), metrics.AUC(curve="PR", name="pr")])
    want = k.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    got = c.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    for key in ("auc", "pr", "loss"):
        assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), key


def test_compile_errors_name_the_problem():
    x = np.zeros((8, D), np.float32)
    y = np.zeros(8, np.float32)
    _, c = twins(1, "sigmoid")

    class PythonState(metrics.Metric):
        def update_state(self, y_true, y_pred, sample_weight=None):
            self.n = 1

        def result(self):
            return 1.0

    c.compile("sgd", "binary_crossentropy", metrics=[PythonState(name="py")])
    with pytest.raises(TypeError, match=r"Metric 'py' \(PythonState\) keeps its state in Python"):
        c.evaluate(x, y, verbose=0)
    c.compile("sgd", "binary_crossentropy", metrics=[metrics.Mean()])
    with pytest.raises(TypeError, match=r"Metric 'mean' \(Mean\) keeps its state in Python"):
        c.evaluate(x, y, verbose=0)
    standalone = PythonState()
    standalone.update_state(None, None)
    assert standalone.result() == 1.0


def test_custom_metric_with_state_parts_runs_in_the_graph():
    class MaxError(metrics.Metric):
        """Sum of absolute errors over all batches, via the engine."""

        def _state_parts(self, y_true, y_pred, sample_weight=None):
            err = cnn.ops.sum(cnn.ops.abs(cnn.ops.subtract(y_true, y_pred)))
            return [(err, "sum")]

        def _result_from(self, totals):
            return float(totals[0])

    rng = np.random.default_rng(9)
    x = rng.standard_normal((30, D)).astype(np.float32)
    y = rng.standard_normal((30, 1)).astype(np.float32)
    _, c = twins(1, None)
    c.compile("sgd", "mse", metrics=[MaxError(name="sae")])
    logs = c.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert logs["sae"] == pytest.approx(np.abs(c.predict(x, verbose=0) - y).sum(), rel=1e-5)
    m = MaxError()
    m.update_state(y, y + 1)
    assert m.result() == pytest.approx(30.0)


def test_config_round_trip():
    for m in (metrics.BinaryAccuracy(threshold=0.3), metrics.TopKCategoricalAccuracy(k=2),
              metrics.MeanMetricWrapper(metrics.binary_accuracy, name="ba", threshold=0.2),
              metrics.Precision(thresholds=[0.2, 0.4], top_k=2, name="p"),
              metrics.AUC(curve="PR", thresholds=[0.3, 0.5], multi_label=True),
              metrics.RootMeanSquaredError(), metrics.TruePositives(thresholds=0.3)):
        again = metrics.get(metrics.serialize(m))
        assert type(again) is type(m) and again.get_config() == m.get_config()
        km = getattr(keras.metrics, type(m).__name__, None)
        if km is not None and type(m) is not metrics.MeanMetricWrapper:
            assert set(m.get_config()) <= set(km.from_config(m.get_config()).get_config())


def test_string_metrics_take_the_given_name_and_direction():
    x, y = np.zeros((8, D), np.float32), np.zeros((8, 1), np.float32)
    _, c = twins(1, "sigmoid")
    c.compile("sgd", "binary_crossentropy", metrics=["mse", "recall", "precision"])
    logs = c.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(logs) == ["loss", "mse", "precision", "recall"]
    directions = {m.name: m._direction for m in cnn.models.trainer.compiled_metrics(c)}
    assert directions == {"mse": "down", "recall": "up", "precision": "up"}
