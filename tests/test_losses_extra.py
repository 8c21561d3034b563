"""Losses against real Keras 3 (torch backend): per-sample values and gradients of every
loss function, the Loss classes with each reduction and sample-weight shape, rank
reconciliation, hinge label conversion, label smoothing, string names, custom losses in
compile()/fit(), and 20-step training parity."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # tiny models: torch's threads would only fight OpenBLAS's

N, K = 6, 4
NEW_FUNCTIONS = ["mean_absolute_percentage_error", "mean_squared_logarithmic_error",
                 "cosine_similarity", "log_cosh", "kl_divergence", "poisson", "hinge",
                 "squared_hinge", "categorical_hinge"]
OLD_FUNCTIONS = ["mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
                 "categorical_crossentropy"]
CLASSES = {"mean_absolute_percentage_error": "MeanAbsolutePercentageError",
           "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
           "cosine_similarity": "CosineSimilarity", "log_cosh": "LogCosh",
           "kl_divergence": "KLDivergence", "poisson": "Poisson", "hinge": "Hinge",
           "squared_hinge": "SquaredHinge", "categorical_hinge": "CategoricalHinge"}


def pair(name, seed=0, shape=(N, K)):
    """(y_true, y_pred) in the domain each loss expects, with no ties at kinks."""
    rng = np.random.default_rng(seed)
    u = lambda: rng.uniform(0.05, 0.95, shape).astype(np.float32)  # noqa: E731
    z = lambda: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    if name in ("kl_divergence", "categorical_crossentropy"):
        p, t = u(), u()
        return t / t.sum(-1, keepdims=True), p / p.sum(-1, keepdims=True)
    if name in ("poisson", "binary_crossentropy"):
        return (rng.uniform(size=shape) > 0.5).astype(np.float32) if name != "poisson" \
            else rng.poisson(2.0, shape).astype(np.float32), u() * 3
    if name in ("hinge", "squared_hinge"):
        return (rng.uniform(size=shape) > 0.5).astype(np.float32), z()
    if name == "categorical_hinge":
        return np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], shape[:-1])], z()
    if name == "mean_squared_logarithmic_error":
        return u() * 4, z() * 2  # negative predictions exercise the clip
    return z() * 2, z() * 2


def keras_value_and_grad(fn, t, p, **kw):
    tp = torch.tensor(p, requires_grad=True)
    out = fn(torch.tensor(t), tp, **kw)
    out.sum().backward()
    return out.detach().numpy(), tp.grad.numpy()


def cnn_value_and_grad(fn, t, p, **kw):
    v = cnn.Variable(p)
    with cnn.GradientTape() as tape:
        out = fn(t, v, **kw)
    return np.asarray(out), np.asarray(tape.gradient(out, v))


@pytest.mark.parametrize("name", NEW_FUNCTIONS + OLD_FUNCTIONS)
@pytest.mark.parametrize("shape", [(N, K), (3, 5, K)])
def test_functions_values_and_gradients_match_keras(name, shape):
    t, p = pair(name, 1, shape)
    kv, kg = keras_value_and_grad(getattr(keras.losses, name), t, p)
    cv, cg = cnn_value_and_grad(getattr(cnn.losses, name), t, p)
    assert cv.shape == kv.shape
    np.testing.assert_allclose(cv, kv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cg, kg, rtol=1e-4, atol=1e-6)


def test_domain_edges_match_keras():
    # Zero targets (MAPE's epsilon), zero/one probabilities (KL's clip), zero vectors
    # (cosine's norm floor), large errors (log_cosh's overflow-free form).
    t = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [3.0, -2.0, 0.5]], np.float32)
    p = np.array([[0.0, 0.5, 1.0], [0.2, 0.0, 0.0], [90.0, -80.0, 0.5]], np.float32)
    for name in NEW_FUNCTIONS:
        k = np.asarray(getattr(keras.losses, name)(t, p))
        c = np.asarray(getattr(cnn.losses, name)(t, p))
        np.testing.assert_allclose(c, k, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("axis", [-1, 0, 1, -2])
def test_cosine_similarity_axis(axis):
    t, p = pair("cosine_similarity", 2, (3, 5, 4))
    kv, kg = keras_value_and_grad(keras.losses.cosine_similarity, t, p, axis=axis)
    cv, cg = cnn_value_and_grad(cnn.losses.cosine_similarity, t, p, axis=axis)
    np.testing.assert_allclose(cv, kv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cg, kg, rtol=1e-4, atol=1e-6)
    k = keras.losses.CosineSimilarity(axis=axis, reduction="sum")(t, p)
    c = cnn.losses.CosineSimilarity(axis=axis, reduction="sum")(t, p)
    np.testing.assert_allclose(float(c), float(k), rtol=1e-5)


@pytest.mark.parametrize("labels", [
    [[0.0], [1.0], [1.0], [0.0]],      # binary: converted to -1/1
    [[-1.0], [1.0], [1.0], [-1.0]],    # already -1/1
    [[0.0], [1.0], [0.5], [0.0]],      # not all binary: used as they are
    [[0.0], [1.0], [1e-30], [1.0]],    # a tiny non-zero label is not binary either
    [[0.0], [0.0], [0.0], [0.0]],
])
@pytest.mark.parametrize("name", ["hinge", "squared_hinge"])
def test_hinge_label_conversion_matches_keras(name, labels):
    t = np.asarray(labels, np.float32)
    p = np.array([[0.3], [-0.2], [1.7], [-1.4]], np.float32)
    k = np.asarray(getattr(keras.losses, name)(t, p))
    np.testing.assert_allclose(np.asarray(getattr(cnn.losses, name)(t, p)), k, rtol=1e-6)
    # the same through engine tensors (the path compiled graphs take)
    tt = cnn.ops.convert_to_tensor(t)
    np.testing.assert_allclose(np.asarray(getattr(cnn.losses, name)(tt, p)), k, rtol=1e-6)


@pytest.mark.parametrize("cls", list(CLASSES.values()) + ["MeanSquaredError", "Huber"])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean",
                                       "mean_with_sample_weight", "none", None])
def test_classes_reductions_and_sample_weights_match_keras(cls, reduction):
    fn = next((f for f, c in CLASSES.items() if c == cls), "mean_squared_error")
    t, p = pair(fn, 3)
    rng = np.random.default_rng(4)
    kl, cl = getattr(keras.losses, cls)(reduction=reduction), \
        getattr(cnn.losses, cls)(reduction=reduction)
    for sw in (None, rng.uniform(0, 2, N).astype(np.float32),
               rng.uniform(0, 2, (N, 1)).astype(np.float32), np.float32(0.5),
               np.zeros(N, np.float32)):
        kw = {} if sw is None else {"sample_weight": sw}
        k = kl(t, p, **kw).detach().numpy()
        c = np.asarray(cl(t, p, **kw))
        assert c.shape == k.shape, (sw, c.shape, k.shape)
        np.testing.assert_allclose(c, k, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["mean_squared_error", "log_cosh", "poisson", "hinge",
                                  "mean_absolute_percentage_error"])
@pytest.mark.parametrize("t_shape,p_shape", [((N,), (N, 1)), ((N, 1), (N,)), ((N, 3, 1), (N, 3))])
def test_rank_reconciliation_matches_keras(name, t_shape, p_shape):
    rng = np.random.default_rng(5)
    t = rng.uniform(0.5, 2, t_shape).astype(np.float32)
    p = rng.uniform(0.5, 2, p_shape).astype(np.float32)
    k = getattr(keras.losses, CLASSES.get(name, "MeanSquaredError"))(reduction="none")(t, p)
    c = getattr(cnn.losses, CLASSES.get(name, "MeanSquaredError"))(reduction="none")(t, p)
    assert np.asarray(c).shape == tuple(k.shape)
    np.testing.assert_allclose(np.asarray(c), k.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,kw", [
    ("BinaryCrossentropy", dict(label_smoothing=0.2)),
    ("BinaryCrossentropy", dict(label_smoothing=0.1, from_logits=True)),
    ("CategoricalCrossentropy", dict(label_smoothing=0.3)),
    ("CategoricalCrossentropy", dict(label_smoothing=0.1, from_logits=True, axis=1)),
    ("SparseCategoricalCrossentropy", dict(from_logits=True)),
    ("SparseCategoricalCrossentropy", dict(ignore_class=2)),
])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight",
                                       "none"])
def test_crossentropy_options_match_keras(cls, kw, reduction):
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((N, 3)).astype(np.float32)
    labels = rng.integers(0, 3, N)
    if cls == "SparseCategoricalCrossentropy":
        t = labels.astype(np.float32)
    elif cls == "BinaryCrossentropy":
        t = (rng.uniform(size=(N, 3)) > 0.5).astype(np.float32)
    else:
        t = np.eye(3, dtype=np.float32)[labels]
    p = logits if kw.get("from_logits") else 1 / (1 + np.exp(-logits))
    if cls != "BinaryCrossentropy" and not kw.get("from_logits"):
        p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    sw = rng.uniform(0, 2, N).astype(np.float32)
    k = getattr(keras.losses, cls)(reduction=reduction, **kw)
    c = getattr(cnn.losses, cls)(reduction=reduction, **kw)
    for extra in ({}, {"sample_weight": sw}):
        np.testing.assert_allclose(np.asarray(c(t, p, **extra)),
                                   k(t, p, **extra).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_names_and_aliases_resolve_like_keras():
    from keras.src.losses import ALL_OBJECTS_DICT
    skipped = {"Loss", "LossFunctionWrapper", "BinaryFocalCrossentropy",
               "CategoricalFocalCrossentropy", "CTC", "Dice", "Tversky", "Circle",
               "CategoricalGeneralizedCrossEntropy", "binary_focal_crossentropy",
               "categorical_focal_crossentropy", "ctc", "dice", "tversky", "circle",
               "categorical_generalized_cross_entropy"}
    for name, obj in ALL_OBJECTS_DICT.items():
        if name in skipped:
            continue
        got = cnn.losses.get(name)
        if isinstance(obj, type):
            assert type(got).__name__ == obj.__name__, name
            assert got.name == obj().name, name
        else:
            assert got.__name__ == obj.__name__, name
    with pytest.raises(ValueError, match=r"Could not interpret loss identifier: 'hinj'.*"
                                         r"Known losses: .*'hinge'"):
        cnn.losses.get("hinj")
    loss = cnn.losses.get({"class_name": "CosineSimilarity", "config": {"axis": 0}})
    assert loss._fn_kwargs == {"axis": 0}
    again = cnn.losses.get(cnn.losses.serialize(cnn.losses.Huber(delta=2.0, reduction="sum")))
    assert again.get_config() == {"name": "huber_loss", "reduction": "sum", "delta": 2.0}


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`: 'avg'"):
        cnn.losses.Hinge(reduction="avg")
    with pytest.raises(ValueError, match="float32 only; received dtype='float16'"):
        cnn.losses.Poisson(dtype="float16")
    with pytest.raises(ValueError, match=r"CosineSimilarity: `axis` must be an integer; "
                                         r"received axis=1.5"):
        cnn.losses.CosineSimilarity(axis=1.5)
    with pytest.raises(ValueError, match="axis=3 is out of range for an input of rank 2"):
        cnn.losses.cosine_similarity(np.ones((2, 3)), np.ones((2, 3)), axis=3)
    with pytest.raises(ValueError, match=r"Target 0 does not match output .* poisson expects "
                                         r"targets of shape \(None, 3\)"):
        m = cnn.models.Sequential([cnn.layers.Input((2,)), cnn.layers.Dense(3)])
        m.compile("sgd", "poisson")
        m.fit(np.ones((4, 2)), np.ones((4, 2)), verbose=0)


# ---- training ----------------------------------------------------------------------------------

def twins(out_units, out_act, seed=0):
    layers = lambda L: [L.Input((5,)), L.Dense(8, activation="tanh"),  # noqa: E731
                        L.Dense(out_units, activation=out_act)]
    keras.utils.set_random_seed(seed)
    k = keras.Sequential(layers(keras.layers))
    c = cnn.models.Sequential(layers(cnn.layers))
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


def train_both(k, c, kl, cl, x, y, lr=0.1, **fit_kw):
    k.compile(optimizer=keras.optimizers.SGD(lr), loss=kl)
    c.compile(optimizer=cnn.optimizers.SGD(lr), loss=cl)
    np.testing.assert_allclose(c.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0),
                               rtol=1e-5)
    hk = k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, **fit_kw)
    hc = c.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, **fit_kw)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss,units,act", [
    ("kl_divergence", 3, "softmax"), ("poisson", 3, "softplus"), ("hinge", 1, "tanh"),
    ("squared_hinge", 1, "tanh"), ("log_cosh", 3, "linear"), ("CosineSimilarity", 3, "linear"),
    ("msle", 3, "softplus"), ("mape", 3, "linear"), ("categorical_hinge", 3, "linear"),
])
def test_training_20_steps_matches_keras(loss, units, act):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((160, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 160)
    if loss in ("hinge", "squared_hinge"):
        y = (labels == 0).astype(np.float32)  # 0/1 labels: Keras converts them to -1/1
    elif loss in ("kl_divergence", "categorical_hinge"):
        y = np.eye(3, dtype=np.float32)[labels] * 0.8 + 0.2 / 3
    else:
        y = np.abs(np.stack([x[:, 0] * 2 + 1, x[:, 1] - x[:, 2], x[:, 3] ** 2], 1)) + 0.5
    k, c = twins(units, act)
    kl = getattr(keras.losses, loss)() if loss[0].isupper() else loss
    cl = getattr(cnn.losses, loss)() if loss[0].isupper() else loss
    sw = rng.uniform(0.5, 1.5, 160).astype(np.float32)
    # MAPE's gradients are 100 / |y| times larger: a smaller step keeps training smooth.
    train_both(k, c, kl, cl, x, y, lr=0.001 if loss == "mape" else 0.1, sample_weight=sw)


def test_custom_loss_callable_trains_like_keras():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((160, 5)).astype(np.float32)
    y = (x[:, :1] * 0.5 - x[:, 1:2]).astype(np.float32).reshape(-1)  # (N,): reconciled to (N, 1)

    def with_ops(ops):
        def scaled_error(y_true, y_pred):
            return ops.mean(ops.square(y_true - y_pred) * 0.5 + ops.abs(y_pred) * 0.1, axis=-1)
        return scaled_error

    class CnnLoss(cnn.losses.Loss):
        def call(self, y_true, y_pred):
            return cnn.ops.sum(cnn.ops.log_softmax(y_pred) * 0.0 + cnn.ops.square(
                y_pred - y_true), axis=-1)

    class KerasLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.sum(keras.ops.square(y_pred - y_true), axis=-1)

    k, c = twins(1, "linear")
    train_both(k, c, with_ops(keras.ops), with_ops(cnn.ops), x, y)
    k, c = twins(1, "linear", seed=1)
    train_both(k, c, KerasLoss(reduction="sum"), CnnLoss(reduction="sum"), x, y.reshape(-1, 1),
               lr=0.002)
