"""R2Score (keras.metrics.R2Score) against Keras 3 and scikit-learn: standalone with and
without sample weights, every class_aggregation, the adjusted score, and inside compile()
where its sums accumulate over the batches of an epoch."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402

from cnn import metrics  # noqa: E402


def regression(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((n, d)).astype(np.float32) * np.arange(1, d + 1, dtype=np.float32)
    p = (t + rng.standard_normal((n, d)).astype(np.float32)).astype(np.float32)
    return t, p, rng.uniform(0.1, 2.0, n).astype(np.float32)


def value(x):
    return np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, dtype=np.float64)


@pytest.mark.parametrize("aggregation", ["uniform_average", "variance_weighted_average", None])
@pytest.mark.parametrize("weights", [None, "per_sample", "per_element"])
@pytest.mark.parametrize("num_regressors", [0, 2])
def test_standalone_matches_keras(aggregation, weights, num_regressors):
    t, p, w = regression(seed=len(str(aggregation)))
    if weights == "per_element":
        w = np.repeat(w[:, None], t.shape[1], axis=1) * np.linspace(0.5, 1.5, t.shape[1],
                                                                    dtype=np.float32)
    km = keras.metrics.R2Score(class_aggregation=aggregation, num_regressors=num_regressors)
    cm = metrics.R2Score(class_aggregation=aggregation, num_regressors=num_regressors)
    for s in (slice(0, 15), slice(15, 40)):  # the state accumulates over two batches
        sw = None if weights is None else w[s]
        km.update_state(t[s], p[s], sample_weight=sw)
        cm.update_state(t[s], p[s], sample_weight=sw)
    got, want = value(cm.result()), value(km.result())
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    cm.reset_state()
    assert np.isnan(cm.result())


def test_matches_scikit_learn_and_keras_example():
    sk = pytest.importorskip("sklearn.metrics")
    t, p, w = regression(n=64, d=2, seed=5)
    for ours_name, sk_name in (("uniform_average", "uniform_average"),
                               ("variance_weighted_average", "variance_weighted"),
                               (None, "raw_values")):
        ours = metrics.R2Score(class_aggregation=ours_name)
        ours.update_state(t, p, sample_weight=w)
        np.testing.assert_allclose(value(ours.result()),
                                   sk.r2_score(t, p, sample_weight=w, multioutput=sk_name),
                                   rtol=1e-5, atol=1e-6)
    # the docstring example of keras.metrics.R2Score; rank-1 targets against (n, 1) outputs
    example = metrics.R2Score()
    example.update_state(np.array([[1], [4], [3]], np.float32), np.array([[2], [4], [4]], np.float32))
    np.testing.assert_allclose(example.result(), 0.57142854, rtol=1e-6)
    r = metrics.R2Score()
    assert np.isclose(r(np.array([1.0, 4.0, 3.0]), np.array([[2.0], [4.0], [4.0]])), 0.57142854)


def test_names_config_and_errors():
    r = metrics.R2Score()
    assert r.name == "r2_score" and r._direction == "up"
    assert isinstance(metrics.get("r2_score"), metrics.R2Score)
    assert isinstance(metrics.get("R2Score"), metrics.R2Score)
    config = metrics.R2Score(class_aggregation=None, num_regressors=3, name="r2").get_config()
    assert config == {"name": "r2", "dtype": "float32", "class_aggregation": None,
                      "num_regressors": 3}
    clone = metrics.deserialize(metrics.serialize(metrics.R2Score(num_regressors=3)))
    assert clone.num_regressors == 3
    with pytest.raises(ValueError, match="Invalid value for argument `class_aggregation`"):
        metrics.R2Score(class_aggregation="mean")
    with pytest.raises(ValueError, match="Invalid value for argument `num_regressors`"):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match=r"R2Score expects 2D inputs"):
        metrics.R2Score().update_state(np.zeros((4, 2, 2)), np.zeros((4, 2, 2)))
    with pytest.warns(UserWarning, match="More independent predictors than datapoints"):
        adjusted = metrics.R2Score(num_regressors=10)
        adjusted.update_state(np.arange(4.0)[:, None], np.arange(4.0)[:, None] * 0.9)
        np.testing.assert_allclose(adjusted.result(), metrics.R2Score()(
            np.arange(4.0)[:, None], np.arange(4.0)[:, None] * 0.9))


def test_in_compile_matches_keras():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 2)) + 0.3 * rng.standard_normal((50, 2))).astype(np.float32)
    k = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
    c = cnn.models.Sequential([cnn.layers.Input((5,)), cnn.layers.Dense(2)])
    c.set_weights(k.get_weights())
    k.compile(keras.optimizers.SGD(0.05), "mse", metrics=[keras.metrics.R2Score()])
    c.compile(cnn.optimizers.SGD(0.05), "mse", metrics=[metrics.R2Score()])
    hk = k.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    hc = c.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert sorted(hc.history) == sorted(hk.history) == ["loss", "r2_score"]
    np.testing.assert_allclose(hc.history["r2_score"], hk.history["r2_score"], rtol=1e-4)
    ek = k.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    ec = c.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    np.testing.assert_allclose(ec["r2_score"], ek["r2_score"], rtol=1e-4)
    # the epoch's score is R2 over all its samples, not a mean of per-batch scores
    sk = pytest.importorskip("sklearn.metrics")
    np.testing.assert_allclose(ec["r2_score"], sk.r2_score(y, c.predict(x, verbose=0)),
                               rtol=1e-4)
    # by its name in compile, weighted by sample_weight in weighted_metrics
    w = rng.uniform(0.5, 2.0, 50).astype(np.float32)
    c.compile(cnn.optimizers.SGD(0.05), "mse", weighted_metrics=["r2_score"])
    got = c.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0, return_dict=True)
    np.testing.assert_allclose(got["r2_score"],
                               sk.r2_score(y, c.predict(x, verbose=0), sample_weight=w),
                               rtol=1e-4)
