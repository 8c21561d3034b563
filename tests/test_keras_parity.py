"""Parity with real Keras 3 (torch backend): Dense, losses through a model, SGD and Adam over
20 training steps from identical weights."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402

N, D, H, C = 160, 8, 16, 3  # 20 steps of batch 8


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)).astype(np.float32)
    labels = rng.integers(0, C, N)
    return x, labels


def targets(loss, labels, x):
    if loss == "sparse_categorical_crossentropy":
        return labels
    if loss in ("categorical_crossentropy",):
        return np.eye(C, dtype=np.float32)[labels]
    if loss == "binary_crossentropy":
        return (labels == 0).astype(np.float32).reshape(-1, 1)
    return np.stack([x[:, 0] * 2 + 1, x[:, 1] - x[:, 2], x[:, 3] ** 2], axis=1)  # regression


def out_units(loss):
    return 1 if loss == "binary_crossentropy" else C


def twin_models(out_act, loss):
    k = keras.Sequential([keras.Input((D,)), keras.layers.Dense(H, activation="relu"),
                          keras.layers.Dense(out_units(loss), activation=out_act)])
    c = cnn.models.Sequential([cnn.layers.Input((D,)), cnn.layers.Dense(H, activation="relu"),
                               cnn.layers.Dense(out_units(loss), activation=out_act)])
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


def optimizer_pair(name, kwargs):
    return getattr(keras.optimizers, name)(**kwargs), getattr(cnn.optimizers, name)(**kwargs)


def assert_weights_close(k, c, rtol=2e-5, atol=2e-6):
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=rtol, atol=atol)


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "softplus",
                                 "softsign", "swish", "gelu", "hard_sigmoid", "leaky_relu"])
def test_dense_forward_matches_keras(act):
    k, c = twin_models(act, "mse")
    x, _ = data()
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)


OPTIMIZERS = [
    ("SGD", dict(learning_rate=0.1)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(learning_rate=0.01)),
    ("Adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5, amsgrad=True)),
]


@pytest.mark.parametrize("opt_name,opt_kwargs", OPTIMIZERS)
def test_optimizers_20_steps_match_keras(opt_name, opt_kwargs):
    x, labels = data()
    loss = "sparse_categorical_crossentropy"
    k, c = twin_models("softmax", loss)
    ko, co = optimizer_pair(opt_name, opt_kwargs)
    k.compile(optimizer=ko, loss=loss)
    c.compile(optimizer=co, loss=loss)
    hk = k.fit(x, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    hc = c.fit(x, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert_weights_close(k, c)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    assert int(co.iterations) == int(ko.iterations) == 20


LOSSES = [
    ("softmax", "sparse_categorical_crossentropy", {}),
    ("softmax", "categorical_crossentropy", {}),
    ("sigmoid", "binary_crossentropy", {}),
    ("linear", "mse", {}),
    ("linear", "mae", {}),
    ("linear", "huber", {}),
    ("linear", "SparseCategoricalCrossentropy", dict(from_logits=True)),
    ("linear", "CategoricalCrossentropy", dict(from_logits=True)),
    ("linear", "BinaryCrossentropy", dict(from_logits=True)),
]


@pytest.mark.parametrize("act,loss,kw", LOSSES)
def test_losses_train_like_keras(act, loss, kw):
    x, labels = data(1)
    if loss[0].isupper():  # a Loss class
        kl, cl = getattr(keras.losses, loss)(**kw), getattr(cnn.losses, loss)(**kw)
        key = {"SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
               "CategoricalCrossentropy": "categorical_crossentropy",
               "BinaryCrossentropy": "binary_crossentropy"}[loss]
    else:
        kl = cl = key = loss
    y = targets(key, labels, x)
    k, c = twin_models(act, key)
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss=kl)
    c.compile(optimizer=cnn.optimizers.Adam(0.01), loss=cl)
    np.testing.assert_allclose(c.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0), rtol=1e-5)
    hk = k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    hc = c.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    assert_weights_close(k, c)


@pytest.mark.parametrize("loss,act,metric", [
    ("sparse_categorical_crossentropy", "softmax", "accuracy"),
    ("categorical_crossentropy", "softmax", "accuracy"),
    ("binary_crossentropy", "sigmoid", "accuracy"),
    ("mse", "linear", "mae"),
    ("mae", "linear", "mse"),
])
def test_metrics_match_keras(loss, act, metric):
    x, labels = data(2)
    y = targets(loss, labels, x)
    k, c = twin_models(act, loss)
    k.compile(optimizer="sgd", loss=loss, metrics=[metric])
    c.compile(optimizer="sgd", loss=loss, metrics=[metric])
    rk = k.evaluate(x, y, verbose=0, return_dict=True)
    rc = c.evaluate(x, y, verbose=0, return_dict=True)
    assert set(rc) == set(rk)
    for name in rk:
        np.testing.assert_allclose(rc[name], rk[name], rtol=1e-5, err_msg=name)
    hk = k.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_split=0.25)
    hc = c.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_split=0.25)
    assert set(hc.history) == set(hk.history)
    for name in hk.history:
        np.testing.assert_allclose(hc.history[name], hk.history[name], rtol=1e-4, err_msg=name)


def test_functional_two_outputs_loss_weights_match_keras():
    x, labels = data(3)
    y1 = labels
    y2 = targets("mse", labels, x)

    def build(lib):
        inp = lib.layers.Input((D,))
        h = lib.layers.Dense(H, activation="relu", name="shared")(inp)
        a = lib.layers.Dense(C, activation="softmax", name="cls")(h)
        b = lib.layers.Dense(C, name="reg")(h)
        return lib.models.Model(inp, [a, b])

    k, c = build(keras), build(cnn)
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    for m, lib in ((k, keras), (c, cnn)):
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5])
    hk = k.fit(x, [y1, y2], batch_size=16, epochs=2, shuffle=False, verbose=0)
    hc = c.fit(x, [y1, y2], batch_size=16, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    assert_weights_close(k, c)
