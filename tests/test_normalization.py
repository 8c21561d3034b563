"""BatchNormalization and LayerNormalization against real Keras 3 (torch backend): layer
outputs in both modes, moving statistics, 20 training steps from identical weights, frozen
layers, explicit `training=`, eager tapes, evaluate/predict, weights, config and errors."""
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)  # tiny models: torch's threads only contend with OpenBLAS's

N, D, H, C = 160, 8, 16, 3  # 20 steps of batch 8
WEIGHT_NAMES = ["gamma", "beta", "moving_mean", "moving_variance"]


def data(seed=0, shape=(N, D)):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)  # statistics far from 0/1
    return x, rng.integers(0, C, shape[0])


def to_np(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def copy_weights(k, c):
    c.set_weights([to_np(w) for w in k.get_weights()])


def assert_weights_close(k, c, rtol=1e-5, atol=1e-6):
    kw, cw = k.get_weights(), c.get_weights()
    assert [w.shape for w in cw] == [np.shape(w) for w in kw]
    for i, (wk, wc) in enumerate(zip(kw, cw)):
        np.testing.assert_allclose(wc, to_np(wk), rtol=rtol, atol=atol, err_msg=f"weight {i}")


def randomize(layer_k, layer_c, seed=1):
    """Random gamma/beta/moving statistics (moving variance positive) in both layers."""
    rng = np.random.default_rng(seed)
    values = []
    for w in layer_k.weights:
        v = rng.standard_normal(w.shape).astype(np.float32)
        values.append(np.abs(v) + 0.5 if "variance" in w.path else v)
    layer_k.set_weights(values)
    layer_c.set_weights(values)


def twin(lib_layer, *args, **kwargs):
    return getattr(keras.layers, lib_layer)(*args, **kwargs), \
        getattr(cnn.layers, lib_layer)(*args, **kwargs)


# ---- layers on their own ---------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((16, 8), -1), ((4, 3, 5, 5), 1), ((6, 4, 5), 1),
                                        ((6, 4, 5), -1), ((5, 4, 3, 2), 2)])
def test_batch_norm_layer_matches_keras_in_both_modes(shape, axis):
    x, _ = data(2, shape)
    k, c = twin("BatchNormalization", axis=axis, momentum=0.9)
    k.build(shape)
    c.build(shape)
    randomize(k, c)
    for training in (False, None):
        np.testing.assert_allclose(np.asarray(c(x, training=training)),
                                   to_np(k(x, training=training)), rtol=1e-5, atol=1e-5)
    assert_weights_close(k, c, rtol=0, atol=0)  # inference leaves the statistics alone
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(c(x, training=True)), to_np(k(x, training=True)),
                                   rtol=1e-5, atol=1e-5)
    assert_weights_close(k, c, rtol=1e-6, atol=1e-7)  # each training call updates once


@pytest.mark.parametrize("axis,shape", [(-1, (6, 10)), ([-2, -1], (4, 5, 6)), ([1, 3], (3, 4, 5, 6)),
                                        ([1, 2, 3], (3, 4, 5, 6)), ([0, 2], (3, 4, 5))])
def test_layer_norm_layer_matches_keras(axis, shape):
    x, _ = data(3, shape)
    k, c = twin("LayerNormalization", axis=axis)
    k.build(shape)
    c.build(shape)
    assert [tuple(w.shape) for w in c.weights] == [tuple(w.shape) for w in k.weights]
    randomize(k, c)
    for training in (False, True):  # the same in both modes
        np.testing.assert_allclose(np.asarray(c(x, training=training)), to_np(k(x)),
                                   rtol=1e-5, atol=1e-5)
    assert c.axis == k.axis


@pytest.mark.parametrize("axis,shape", [(1, (3, 4, 5)), ([1, 2], (3, 4, 5, 6))])
def test_layer_norm_inner_axes_are_normalized_over_those_axes(axis, shape):
    # Keras's torch backend sends contiguous axes that do not end at the last one to
    # F.layer_norm, which normalises the trailing axes instead (or fails); cnn normalises
    # the axes it was given.
    x, _ = data(4, shape)
    layer = cnn.layers.LayerNormalization(axis=axis, epsilon=1e-3)
    axes = tuple(axis) if isinstance(axis, list) else (axis,)
    xd = x.astype(np.float64)
    ref = (xd - xd.mean(axes, keepdims=True)) / np.sqrt(xd.var(axes, keepdims=True) + 1e-3)
    np.testing.assert_allclose(np.asarray(layer(x)), ref, rtol=1e-5, atol=1e-5)


def test_layer_norm_rms_scaling_and_options_match_keras():
    x, _ = data(5, (6, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = [twin("LayerNormalization", rms_scaling=True),
                 twin("LayerNormalization", center=False),
                 twin("LayerNormalization", scale=False, epsilon=1e-5)]
    with pytest.warns(UserWarning, match="rms_scaling"):
        cnn.layers.LayerNormalization(rms_scaling=True)
    for k, c in pairs:
        k.build(x.shape)
        c.build(x.shape)
        assert [w.path.split("/")[-1] for w in k.weights] == [w.name for w in c.weights]
        randomize(k, c)
        np.testing.assert_allclose(np.asarray(c(x)), to_np(k(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [dict(center=False), dict(scale=False),
                                    dict(center=False, scale=False, epsilon=1e-5)])
def test_batch_norm_options_match_keras(kwargs):
    x, _ = data(6, (12, 5))
    k, c = twin("BatchNormalization", **kwargs)
    k.build(x.shape)
    c.build(x.shape)
    assert [w.path.split("/")[-1] for w in k.weights] == [w.name for w in c.weights]
    randomize(k, c)
    for training in (True, False):
        np.testing.assert_allclose(np.asarray(c(x, training=training)),
                                   to_np(k(x, training=training)), rtol=1e-5, atol=1e-5)
    assert_weights_close(k, c, rtol=1e-6, atol=1e-7)


# ---- models trained with fit -------------------------------------------------------------

def dense_bn_dense(lib, **bn_kwargs):
    # The first Dense has no bias: in front of BatchNormalization its gradient is zero up to
    # float rounding, and Adam would turn that rounding noise into full-size steps.
    L = lib.layers
    return lib.models.Sequential([
        L.Input((D,)), L.Dense(H, use_bias=False), L.BatchNormalization(**bn_kwargs),
        L.Activation("relu"), L.Dense(C, activation="softmax")])


def twin_models(build, **kwargs):
    k, c = build(keras, **kwargs), build(cnn, **kwargs)
    copy_weights(k, c)
    return k, c


def compile_both(k, c, opt="Adam", lr=0.01, loss="sparse_categorical_crossentropy"):
    k.compile(optimizer=getattr(keras.optimizers, opt)(lr), loss=loss)
    c.compile(optimizer=getattr(cnn.optimizers, opt)(lr), loss=loss)


def fit_both(k, c, x, y, **kw):
    hk = k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, **kw)
    hc = c.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, **kw)
    for name in hk.history:
        np.testing.assert_allclose(hc.history[name], hk.history[name], rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("opt,bn_kwargs", [("Adam", dict(momentum=0.9)),
                                           ("SGD", dict()),
                                           ("RMSprop", dict(momentum=0.5, epsilon=1e-2))])
def test_dense_bn_dense_20_steps_match_keras(opt, bn_kwargs):
    x, y = data(7)
    k, c = twin_models(dense_bn_dense, **bn_kwargs)
    compile_both(k, c, opt)
    fit_both(k, c, x, y)
    assert_weights_close(k, c)  # gamma, beta, and the moving statistics after 20 updates
    np.testing.assert_allclose(c.predict(x, verbose=0), to_np(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0),
                               rtol=1e-5)


def seq_model(lib, norm):
    # (batch, 4, 6) inputs: BatchNormalization over axis 1, LayerNormalization over (4, 8).
    L = lib.layers
    layer = L.BatchNormalization(axis=1, momentum=0.8) if norm == "bn" else \
        L.LayerNormalization(axis=[1, 2])
    return lib.models.Sequential([L.Input((4, 6)), L.Dense(8, use_bias=norm != "bn"), layer,
                                  L.Dense(2)])


@pytest.mark.parametrize("norm", ["bn", "ln"])
def test_rank3_models_20_steps_match_keras(norm):
    x, _ = data(8, (N, 4, 6))
    y = np.tanh(x[..., :2] * 0.5 + x[..., 2:4]).astype(np.float32)
    k, c = twin_models(seq_model, norm=norm)
    compile_both(k, c, "Adam", 0.01, loss="mse")
    fit_both(k, c, x, y)
    assert_weights_close(k, c)


def dense_ln_dense(lib):
    L = lib.layers
    return lib.models.Sequential([L.Input((D,)), L.Dense(H), L.LayerNormalization(),
                                  L.Activation("relu"), L.Dense(C, activation="softmax")])


def test_layer_norm_model_20_steps_matches_keras():
    x, y = data(9)
    k, c = twin_models(dense_ln_dense)
    compile_both(k, c, "Adam")
    fit_both(k, c, x, y)
    assert_weights_close(k, c)


def test_frozen_batch_norm_runs_in_inference_and_never_updates():
    x, y = data(10)
    k, c = twin_models(dense_bn_dense)
    kb, cb = k.layers[1], c.layers[1]
    randomize(kb, cb)
    kb.trainable = cb.trainable = False
    before = cb.get_weights()
    assert [w.name for w in cb.non_trainable_weights] == WEIGHT_NAMES
    assert len(c.trainable_weights) == 3  # kernel, and the last Dense's kernel and bias
    compile_both(k, c, "Adam")
    fit_both(k, c, x, y)
    for a, b in zip(cb.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # neither the optimizer nor the statistics
    assert_weights_close(k, c)
    h = np.asarray(c.layers[0](x[:16]))
    np.testing.assert_array_equal(np.asarray(cb(h, training=True)),
                                  np.asarray(cb(h, training=False)))
    np.testing.assert_allclose(np.asarray(c(x[:16], training=True)),
                               to_np(k(x[:16], training=True)), rtol=1e-5, atol=1e-6)


def test_unfreezing_after_compile_takes_effect_on_the_next_fit():
    x, y = data(11)
    k, c = twin_models(dense_bn_dense)
    compile_both(k, c, "SGD")
    c.layers[1].trainable = False
    c.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert np.array_equal(c.layers[1].moving_mean.numpy(), np.zeros(H, np.float32))
    c.layers[1].trainable = True
    c.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert not np.array_equal(c.layers[1].moving_mean.numpy(), np.zeros(H, np.float32))


def test_model_call_training_flag_matches_keras():
    x, _ = data(12)
    k, c = twin_models(dense_bn_dense, momentum=0.9)
    randomize(k.layers[1], c.layers[1])
    for training in (False, None):
        np.testing.assert_allclose(np.asarray(c(x[:32], training=training)),
                                   to_np(k(x[:32], training=training)), rtol=1e-5, atol=1e-6)
    assert_weights_close(k, c, rtol=0, atol=0)
    for batch in (slice(0, 32), slice(32, 48)):
        np.testing.assert_allclose(np.asarray(c(x[batch], training=True)),
                                   to_np(k(x[batch], training=True)), rtol=1e-5, atol=1e-6)
    assert_weights_close(k, c, rtol=1e-6, atol=1e-7)


def test_evaluate_predict_and_inference_calls_leave_moving_statistics():
    x, y = data(13)
    _, c = twin_models(dense_bn_dense)
    c.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    c.fit(x, y, batch_size=16, epochs=1, verbose=0)
    snapshot = c.get_weights()
    c.evaluate(x, y, verbose=0)
    c.predict(x, verbose=0)
    c.predict(x[:4], verbose=0)
    c.predict_on_batch(x[:8])
    c.test_on_batch(x[:8], y[:8])
    c(x[:8])
    c(x[:8], training=False)
    for a, b in zip(c.get_weights(), snapshot):
        np.testing.assert_array_equal(a, b)


def test_validation_data_does_not_update_statistics_matches_keras():
    x, y = data(14)
    vx, vy = data(15)
    k, c = twin_models(dense_bn_dense)
    compile_both(k, c, "SGD", 0.05)
    fit_both(k, c, x, y, validation_data=(vx, vy))
    assert_weights_close(k, c)


def test_train_on_batch_updates_once_per_call():
    x, y = data(16)
    k, c = twin_models(dense_bn_dense, momentum=0.5)
    compile_both(k, c, "SGD", 0.1)
    for s in (slice(0, 32), slice(32, 64), slice(64, 96)):
        k.train_on_batch(x[s], y[s])
        c.train_on_batch(x[s], y[s])
    assert_weights_close(k, c)


def test_gradient_tape_loop_matches_fit():
    # Eager training calls update the statistics as fit's compiled step does.
    x, y = data(17)
    _, a = twin_models(dense_bn_dense, momentum=0.9)
    b = dense_bn_dense(cnn, momentum=0.9)
    b.set_weights(a.get_weights())
    a.compile(optimizer=cnn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    a.fit(x[:40], y[:40], batch_size=8, epochs=1, shuffle=False, verbose=0)
    opt = cnn.optimizers.SGD(0.1)
    loss_fn = cnn.losses.SparseCategoricalCrossentropy()
    for s in range(0, 40, 8):
        with cnn.GradientTape() as tape:
            loss = loss_fn(y[s:s + 8], b(x[s:s + 8], training=True))
        grads = tape.gradient(loss, b.trainable_variables)
        opt.apply_gradients(zip(grads, b.trainable_variables))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("explicit", [True, False])
def test_training_argument_recorded_in_functional_model_matches_keras(explicit):
    # Keras 3 runs a functional model's layers with the training value of the model's own
    # call (fit: True, predict/evaluate: False) over one given when the graph was built;
    # that one is only the default for calls that leave training unset.
    x, y = data(18)

    def build(lib):
        inp = lib.layers.Input((D,))
        h = lib.layers.Dense(H, use_bias=False)(inp)
        h = lib.layers.BatchNormalization(momentum=0.9)(h, training=explicit)
        return lib.models.Model(inp, lib.layers.Dense(C, activation="softmax")(h))

    k, c = twin_models(build)
    randomize(k.layers[2], c.layers[2])
    np.testing.assert_allclose(c.predict(x[:32], verbose=0), to_np(k.predict(x[:32], verbose=0)),
                               rtol=1e-5, atol=1e-6)
    # A call that leaves training unset takes the recorded value (True: batch statistics
    # and one update of the moving ones).
    np.testing.assert_allclose(np.asarray(c(x[:32])), to_np(k(x[:32])), rtol=1e-5, atol=1e-6)
    assert_weights_close(k, c, rtol=1e-6, atol=1e-7)
    compile_both(k, c, "SGD", 0.05)
    fit_both(k, c, x, y)
    assert_weights_close(k, c)


@pytest.mark.parametrize("forward_training", [True, False])
def test_subclassed_model_training_argument(forward_training):
    # call() passing its `training` on: fit updates the statistics, evaluate does not;
    # an explicit training=False holds in fit too.
    class Net(cnn.models.Model):
        def __init__(self):
            super().__init__()
            self.d1 = cnn.layers.Dense(H, use_bias=False)
            self.bn = cnn.layers.BatchNormalization()
            self.d2 = cnn.layers.Dense(C, activation="softmax")

        def call(self, x, training=None):
            return self.d2(self.bn(self.d1(x), training=training if forward_training else False))

    x, y = data(20)
    net = Net()
    net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    net.fit(x, y, batch_size=16, epochs=1, verbose=0)
    moved = not np.array_equal(net.bn.moving_mean.numpy(), np.zeros(H, np.float32))
    assert moved == forward_training
    snapshot = net.get_weights()
    net.evaluate(x, y, verbose=0)
    net.predict(x, verbose=0)
    for a, b in zip(net.get_weights(), snapshot):
        np.testing.assert_array_equal(a, b)


# ---- weights, config, summary ------------------------------------------------------------

def test_weights_order_names_and_counts_match_keras():
    k, c = twin_models(dense_bn_dense)
    kb, cb = k.layers[1], c.layers[1]
    assert [w.name for w in cb.weights] == [w.path.split("/")[-1] for w in kb.weights] == \
        WEIGHT_NAMES
    assert [w.name for w in cb.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in cb.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert cb.count_params() == kb.count_params() == 4 * H
    assert c.count_params() == k.count_params()
    assert sum(np.prod(w.shape) for w in c.non_trainable_weights) == \
        sum(np.prod(w.shape) for w in k.non_trainable_weights) == 2 * H
    np.testing.assert_array_equal(cb.moving_variance.numpy(), np.ones(H))
    lines = []
    c.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f"Non-trainable params: {2 * H:,}" in text
    assert f"Total params: {k.count_params():,}" in text


def test_get_config_round_trip_and_keras_keys():
    k, c = twin("BatchNormalization", axis=1, momentum=0.8, epsilon=1e-4, center=False)
    kc, cc = k.get_config(), c.get_config()
    for key in ("axis", "momentum", "epsilon", "center", "scale", "gamma_initializer",
                "moving_variance_initializer", "renorm", "synchronized"):
        assert key in cc
    for key in ("axis", "momentum", "epsilon", "center", "scale"):
        assert cc[key] == kc[key]
    again = cnn.layers.BatchNormalization.from_config(cc)
    assert again.get_config() == cc
    k, c = twin("LayerNormalization", axis=[2, 1], epsilon=1e-5)
    k.build((2, 3, 4))
    c.build((2, 3, 4))
    assert c.get_config()["axis"] == k.get_config()["axis"] == [1, 2]
    assert cnn.layers.LayerNormalization.from_config(c.get_config()).get_config() == c.get_config()


def test_gamma_regularizer_joins_the_loss_like_keras():
    x, y = data(19)
    k, c = twin_models(dense_bn_dense, gamma_regularizer="l2", beta_regularizer="l1")
    compile_both(k, c, "SGD", 0.05)
    fit_both(k, c, x, y)
    assert_weights_close(k, c)


# ---- errors ----------------------------------------------------------------------------------

def test_errors_name_the_layer():
    bn = cnn.layers.BatchNormalization(axis=3, name="bn")
    with pytest.raises(ValueError, match=r"Layer 'bn': axis 3 is out of bounds for input shape \(4, 5\)"):
        bn(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="epsilon must be a positive number; received epsilon=0"):
        cnn.layers.BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match="epsilon"):
        cnn.layers.LayerNormalization(epsilon=-1e-3)
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\]"):
        cnn.layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="renorm"):
        cnn.layers.BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match="synchronized"):
        cnn.layers.BatchNormalization(synchronized=True)
    with pytest.raises(ValueError, match="constraints"):
        cnn.layers.LayerNormalization(gamma_constraint="non_neg")
    with pytest.raises(TypeError, match="axis must be an integer"):
        cnn.layers.BatchNormalization(axis=[1])
    bn = cnn.layers.BatchNormalization(name="bn2")
    bn(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"Input 0 of layer 'bn2' is incompatible.*expected axis -1 "
                                         r"of input shape to have value 5"):
        bn(np.zeros((4, 6), np.float32))
    with pytest.raises(ValueError, match=r"Layer 'bn3' needs a known size on axis 0"):
        cnn.layers.BatchNormalization(axis=0, name="bn3").build((None, 4))
    ln = cnn.layers.LayerNormalization(axis=[1, -1], name="ln")
    with pytest.raises(ValueError, match=r"Layer 'ln': axis \[1, -1\] names the same axis"):
        ln(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"Layer 'ln2': axis 2 is out of bounds"):
        cnn.layers.LayerNormalization(axis=2, name="ln2")(np.zeros((2, 3), np.float32))
    ln = cnn.layers.LayerNormalization(name="ln3")
    ln(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="layer 'ln3'"):
        ln(np.zeros((2, 4), np.float32))


def test_freezing_a_model_freezes_its_batch_normalization():
    """Keras: `model.trainable = False` sets it on every layer, so BN infers and keeps its
    moving statistics in fit."""
    import cnn
    rng = np.random.default_rng(0)
    inner = cnn.models.Sequential([cnn.layers.Input((4,)), cnn.layers.BatchNormalization()])
    outer = cnn.models.Sequential([cnn.layers.Input((4,)), inner, cnn.layers.Dense(1)])
    inner.trainable = False
    assert not inner.layers[0].trainable
    before = [w.copy() for w in inner.get_weights()]
    outer.compile(cnn.optimizers.SGD(0.1), "mse")
    outer.fit(rng.standard_normal((32, 4)) * 3 + 1, rng.standard_normal((32, 1)), epochs=2, verbose=0)
    for a, b in zip(before, inner.get_weights()):
        np.testing.assert_array_equal(a, b)
    inner.trainable = True
    assert inner.layers[0].trainable
