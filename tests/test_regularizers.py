"""Regularizers against real Keras 3 (torch backend): penalty values, names and bad
factors, and training parity (history loss, evaluate, weights after 20 steps from Keras's
initial weights) for weight regularizers on kernels and biases, activity regularizers
(divided by the batch size), ActivityRegularization, add_weight(regularizer=), frozen
layers and several outputs; `losses` as Keras lists them."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # tiny models: torch's threads would only fight OpenBLAS's

R = cnn.regularizers


def both(spec):
    """(keras object, cnn object) from ("ClassName", args...) or a name string."""
    if isinstance(spec, str):
        return spec, spec
    name, *args = spec
    return getattr(keras.regularizers, name)(*args), getattr(R, name)(*args)


@pytest.mark.parametrize("spec", [("L1", 0.3), ("L2", 0.05), ("L1L2", 0.01, 0.02),
                                  ("L1L2", 0.0, 0.0), ("L1L2", 0.2), ("OrthogonalRegularizer",),
                                  ("OrthogonalRegularizer", 0.5, "columns")])
def test_penalty_values_and_gradients_match_keras(spec):
    k, c = both(spec)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    kv = k(xt)
    v = cnn.Variable(x)
    with cnn.GradientTape() as tape:
        cv = c(v)
    np.testing.assert_allclose(float(cv), float(kv), rtol=1e-5, atol=1e-7)
    if kv.requires_grad:
        kv.backward()
        np.testing.assert_allclose(np.asarray(tape.gradient(cv, v)), xt.grad.numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_get_names_configs_and_bad_factors():
    assert isinstance(R.get("l1"), R.L1) and R.get("l1").l1 == 0.01
    assert isinstance(R.get("L2"), R.L2) and R.get("l2").l2 == 0.01
    both_factors = R.get("l1_l2")  # the defaults Keras documents for this string
    assert (both_factors.l1, both_factors.l2) == (0.01, 0.01)
    assert R.get("l1l2").get_config() == keras.regularizers.get("l1l2").get_config()
    assert isinstance(R.get("orthogonal_regularizer"), R.OrthogonalRegularizer)
    with pytest.raises(ValueError, match=r"Could not interpret regularizer identifier: 'l3'. "
                                         r"Known regularizers: \[.*'l1_l2'"):
        R.get("l3")
    reg = R.L1L2(l1=0.1, l2=0.2)
    assert R.serialize(reg) == {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}
    assert R.get(R.serialize(reg)).get_config() == reg.get_config()
    fn = lambda w: cnn.ops.sum(w) * 0.0  # noqa: E731  (any callable is a regularizer)
    assert R.get(fn) is fn
    for cls, arg in ((R.L1, "l1"), (R.L2, "l2")):
        for bad in (-0.1, float("nan"), float("inf"), "0.1", True):
            with pytest.raises(ValueError, match=f"Invalid value for argument {arg}: expected a "
                                                 "non-negative float"):
                cls(bad)
    with pytest.raises(ValueError, match="argument l2: expected a non-negative float"):
        R.L1L2(l1=0.1, l2=-1)
    with pytest.raises(ValueError, match="argument factor: expected a non-negative float"):
        R.OrthogonalRegularizer(-1.0)
    with pytest.raises(ValueError, match="Expected one of {'rows', 'columns'}"):
        R.OrthogonalRegularizer(mode="diag")
    with pytest.raises(ValueError, match="must have rank 2"):
        R.OrthogonalRegularizer()(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier"):
        cnn.layers.Dense(2, kernel_regularizer="l2x")


# ---- training parity -------------------------------------------------------------------------

def data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = np.stack([x[:, 0] - x[:, 1], x[:, 2] * 0.5, x[:, 3] ** 2], 1).astype(np.float32)
    return x, y


def twin(build):
    k, c = build(keras), build(cnn)
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


def assert_train_like_keras(k, c, x, y, loss="mse", opt=("SGD", 0.05), epochs=1, **fit_kw):
    k.compile(optimizer=getattr(keras.optimizers, opt[0])(opt[1]), loss=loss)
    c.compile(optimizer=getattr(cnn.optimizers, opt[0])(opt[1]), loss=loss)
    ek, ec = k.evaluate(x, y, verbose=0), c.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(ec, ek, rtol=1e-5)  # penalties count in evaluate too
    hk = k.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, **fit_kw)
    hc = c.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, **fit_kw)
    assert set(hc.history) == set(hk.history)
    for name in hk.history:
        np.testing.assert_allclose(hc.history[name], hk.history[name], rtol=1e-5, err_msg=name)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0),
                               rtol=1e-5)


def mlp(lib, first=None, second=None):
    L = lib.layers
    return lib.Sequential([L.Input((6,)), L.Dense(12, activation="tanh", **(first or {})),
                           L.Dense(3, **(second or {}))]) if lib is keras else \
        cnn.models.Sequential([L.Input((6,)), L.Dense(12, activation="tanh", **(first or {})),
                               L.Dense(3, **(second or {}))])


@pytest.mark.parametrize("where", ["kernel_regularizer", "bias_regularizer",
                                   "activity_regularizer"])
@pytest.mark.parametrize("spec", [("L1", 0.02), ("L2", 0.05), ("L1L2", 0.01, 0.03), "l2"])
def test_dense_regularizers_train_like_keras(where, spec):
    x, y = data()

    def build(lib):
        reg = both(spec)[0 if lib is keras else 1]
        return mlp(lib, first={where: reg}, second={where: reg})

    k, c = twin(build)
    assert_train_like_keras(k, c, x, y)


def test_activity_regularization_layer_and_odd_last_batch_train_like_keras():
    x, y = data(150)  # the last batch has 6 samples: the activity penalty divides by 6

    def build(lib):
        L = lib.layers
        stack = [L.Input((6,)), L.Dense(12, activation="relu"),
                 L.ActivityRegularization(l1=0.01, l2=0.02),
                 L.Dense(3, kernel_regularizer=lib.regularizers.L2(0.01))]
        return keras.Sequential(stack) if lib is keras else cnn.models.Sequential(stack)

    k, c = twin(build)
    vx, vy = data(20, seed=1)
    assert_train_like_keras(k, c, x, y, opt=("Adam", 0.01), epochs=2, validation_data=(vx, vy))
    cfg = c.layers[1].get_config()
    assert (cfg["l1"], cfg["l2"]) == (0.01, 0.02) and "activity_regularizer" not in cfg


def test_add_weight_regularizer_and_frozen_layers_like_keras():
    x, y = data()

    def build(lib):
        class Scale(lib.layers.Layer):
            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                         regularizer=lib.regularizers.L1L2(0.05, 0.1),
                                         name="w")

            def call(self, inputs):
                return inputs * self.w

        inp = lib.layers.Input((6,))
        frozen = lib.layers.Dense(6, kernel_regularizer="l2", name="frozen")
        frozen.trainable = False  # Keras counts penalties of trainable weights only
        h = Scale(name="scale")(frozen(inp))
        out = lib.layers.Dense(3, bias_regularizer=lib.regularizers.L1(0.1))(h)
        return lib.models.Model(inp, out)

    k, c = twin(build)
    assert len(c.losses) == len(k.losses) == 2
    np.testing.assert_allclose([float(v) for v in c.losses], [float(v) for v in k.losses],
                               rtol=1e-6)
    assert_train_like_keras(k, c, x, y)


def test_two_outputs_report_penalties_in_the_total_only():
    x, y = data()
    ys = [y[:, :2], y[:, 2:]]

    def build(lib):
        L = lib.layers
        inp = L.Input((6,))
        h = L.Dense(8, activation="tanh", kernel_regularizer=lib.regularizers.L2(0.02),
                    activity_regularizer=lib.regularizers.L1(0.01), name="h")(inp)
        return lib.models.Model(inp, [L.Dense(2, name="a")(h), L.Dense(1, name="b")(h)])

    k, c = twin(build)
    assert_train_like_keras(k, c, x, ys, loss=["mse", "mae"])


def test_losses_list_like_keras_after_eager_calls():
    x, _ = data(10)

    def build(lib):
        return mlp(lib, first={"kernel_regularizer": lib.regularizers.L2(0.1),
                               "activity_regularizer": lib.regularizers.L1(0.05)},
                   second={"bias_regularizer": lib.regularizers.L1(0.2)})

    k, c = twin(build)
    assert len(c.losses) == len(k.losses) == 2  # no call yet: the weight penalties only
    for kwargs in ({}, {"training": True}):
        k(x, **kwargs)
        c(x, **kwargs)
        np.testing.assert_allclose([float(v) for v in c.losses],
                                   [float(v.detach()) for v in k.losses], rtol=1e-6)
    # A custom training loop: the penalties are tape-recorded tensors with gradients.
    with cnn.GradientTape() as tape:
        out = c(x, training=True)
        total = cnn.ops.mean(cnn.ops.square(out))
        for penalty in c.losses:
            total = total + penalty
    grads = tape.gradient(total, c.trainable_variables)
    kx = torch.tensor(x)
    kout = k(kx, training=True)
    ktotal = (kout ** 2).mean() + sum(k.losses)
    ktotal.backward()
    for g, v in zip(grads, k.trainable_variables):
        np.testing.assert_allclose(np.asarray(g), v.value.grad.numpy(), rtol=1e-4, atol=1e-6)
    # a layer called alone reports its own activity penalty (divided by the batch size)
    layer = cnn.layers.Dense(2, kernel_initializer="ones", activity_regularizer="l2")
    layer(np.ones((4, 3), np.float32))
    assert float(layer.losses[0]) == pytest.approx(0.01 * 4 * 2 * 9 / 4)


def test_dense_config_round_trip_keeps_regularizers():
    d = cnn.layers.Dense(3, kernel_regularizer=R.L1L2(0.1, 0.2), bias_regularizer="l1",
                         activity_regularizer=R.L2(0.3))
    cfg = d.get_config()
    assert cfg["kernel_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}
    again = cnn.layers.Dense.from_config(cfg)
    assert again.kernel_regularizer.get_config() == {"l1": 0.1, "l2": 0.2}
    assert again.bias_regularizer.get_config() == {"l1": 0.01}
    assert again.activity_regularizer.get_config() == {"l2": 0.3}
