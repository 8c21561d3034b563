"""Parity with real Keras 3 (torch backend): Dense, losses through a model, SGD, Adam and
RMSprop over 20 training steps from identical weights, sample and class weights, weighted
metrics, validation data, steps_per_epoch/validation_steps/steps."""
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402  (Keras's backend here)

# These models are tiny: torch's intra-op threads only contend with OpenBLAS's for the
# cores, which made each Keras step ~10x slower (20 ms instead of 2 ms on 2 cores).
torch.set_num_threads(1)

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
    ("RMSprop", dict(learning_rate=0.01)),
    ("RMSprop", dict(learning_rate=0.005, rho=0.8, momentum=0.9, epsilon=1e-5)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True)),
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
    if loss == "mae":
        # MAE's gradient is sign(y_pred - y_true): where a prediction sits within float32
        # rounding of its target, torch and OpenBLAS can round to opposite signs, and that
        # one flipped term moves a weight by a few 1e-6 after Adam's normalisation.
        assert_weights_close(k, c, rtol=1e-4, atol=1e-4)
    else:
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


# ---- sample weights, class weights, weighted metrics ------------------------------------------

def fit_both(k, c, x, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hk = k.fit(x, y, shuffle=False, verbose=0, **kw)
        hc = c.fit(x, y, shuffle=False, verbose=0, **kw)
    assert set(hc.history) == set(hk.history)
    for name in hk.history:
        np.testing.assert_allclose(hc.history[name], hk.history[name], rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    return hk, hc


def compile_both(k, c, opt, loss, **kw):
    k.compile(optimizer=getattr(keras.optimizers, opt[0])(*opt[1:]), loss=loss, **kw)
    c.compile(optimizer=getattr(cnn.optimizers, opt[0])(*opt[1:]), loss=loss, **kw)


@pytest.mark.parametrize("how", ["sample_weight", "sample_weight_column", "class_weight"])
def test_fit_evaluate_with_sample_and_class_weights_match_keras(how):
    # Weighted loss: sum(loss * w) / batch size (not / sum(w)); `metrics` ignore the
    # weights, `weighted_metrics` give sum(v * w) / sum(w).
    x, labels = data(4)
    w = np.random.default_rng(9).random(N).astype(np.float32) * 2
    kw = {"sample_weight": dict(sample_weight=w),
          "sample_weight_column": dict(sample_weight=w.reshape(-1, 1)),
          "class_weight": dict(class_weight={0: 0.5, 1: 2.0})}[how]
    k, c = twin_models("softmax", "sparse_categorical_crossentropy")
    compile_both(k, c, ("SGD", 0.1), "sparse_categorical_crossentropy",
                 metrics=["accuracy"],
                 weighted_metrics=["accuracy", "sparse_categorical_crossentropy"])
    hk, _ = fit_both(k, c, x, labels, batch_size=16, epochs=2, **kw)
    assert "weighted_accuracy" in hk.history
    assert_weights_close(k, c)
    rk = k.evaluate(x, labels, sample_weight=w, verbose=0, return_dict=True)
    rc = c.evaluate(x, labels, sample_weight=w, verbose=0, return_dict=True)
    assert set(rc) == set(rk)
    for name in rk:
        np.testing.assert_allclose(rc[name], rk[name], rtol=1e-5, err_msg=name)


def test_validation_data_and_split_with_sample_weights_match_keras():
    x, labels = data(5)
    vx, vl = data(6)
    rng = np.random.default_rng(10)
    w, vw = rng.random(N).astype(np.float32), rng.random(N).astype(np.float32)
    k, c = twin_models("softmax", "sparse_categorical_crossentropy")
    compile_both(k, c, ("Adam", 0.01), "sparse_categorical_crossentropy",
                 weighted_metrics=["accuracy"])
    fit_both(k, c, x, labels, batch_size=32, epochs=2, validation_data=(vx, vl, vw))
    # validation_split splits the sample weights with x and y
    fit_both(k, c, x, labels, batch_size=32, epochs=2, sample_weight=w, validation_split=0.25)
    # class weights weight the training part only
    fit_both(k, c, x, labels, batch_size=32, epochs=1, class_weight={1: 3.0},
             validation_split=0.25)
    assert_weights_close(k, c)


@pytest.mark.parametrize("form", ["list", "shared"])
def test_multi_output_sample_weights_match_keras(form):
    x, labels = data(3)
    y2 = targets("mse", labels, x)
    rng = np.random.default_rng(11)
    w1, w2 = rng.random(N).astype(np.float32), rng.random(N).astype(np.float32)

    def build(lib):
        inp = lib.layers.Input((D,))
        h = lib.layers.Dense(H, activation="relu", name="shared")(inp)
        return lib.models.Model(inp, [lib.layers.Dense(C, activation="softmax", name="cls")(h),
                                      lib.layers.Dense(C, name="reg")(h)])

    k, c = build(keras), build(cnn)
    c.set_weights([np.asarray(v) for v in k.get_weights()])
    compile_both(k, c, ("SGD", 0.05), ["sparse_categorical_crossentropy", "mse"],
                 loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]],
                 weighted_metrics=[["accuracy"], ["mae", "mse"]])
    sw = [w1, w2] if form == "list" else w1
    fit_both(k, c, x, [labels, y2], sample_weight=sw, batch_size=32, epochs=2,
             validation_split=0.2)
    assert_weights_close(k, c)
    np.testing.assert_allclose(c.evaluate(x, [labels, y2], sample_weight=sw, verbose=0),
                               k.evaluate(x, [labels, y2], sample_weight=sw, verbose=0), rtol=1e-5)


def test_ignore_class_matches_keras():
    rng = np.random.default_rng(12)
    p = rng.random((6, 4)).astype(np.float32) + 0.1
    lab = np.array([0, 3, -1, 2, -1, 1])
    sw = np.arange(6, dtype=np.float32)
    for from_logits in (False, True):
        for reduction in ("sum_over_batch_size", "sum", None):
            kl, cl = (lib.losses.SparseCategoricalCrossentropy(
                from_logits=from_logits, ignore_class=-1, reduction=reduction)
                for lib in (keras, cnn))
            for weights in (None, sw):
                np.testing.assert_allclose(np.asarray(cl(lab, p, sample_weight=weights)),
                                           np.asarray(kl(lab, p, sample_weight=weights)), rtol=1e-5)
    everything_ignored = np.full(6, 2)
    nothing_kept = cnn.losses.SparseCategoricalCrossentropy(ignore_class=2)(everything_ignored, p)
    assert float(nothing_kept) == 0.0
    # and inside a compiled training graph, with sample weights
    x, labels = data(6)
    labels = labels.copy()
    labels[::5] = -1
    k, c = twin_models("linear", "sparse_categorical_crossentropy")
    k.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"],
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1))
    c.compile(optimizer=cnn.optimizers.SGD(0.1), metrics=["accuracy"],
              loss=cnn.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1))
    fit_both(k, c, x, labels, batch_size=32, epochs=2, sample_weight=rng.random(N))
    assert_weights_close(k, c)


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_crossentropy_axis_matches_keras(axis):
    rng = np.random.default_rng(13)
    p = rng.random((5, 3, 4)).astype(np.float32) + 0.05
    t = (rng.random((5, 3, 4)) > 0.5).astype(np.float32)
    for from_logits in (False, True):
        for smoothing in (0.0, 0.2):
            for fn in ("binary_crossentropy", "categorical_crossentropy"):
                kw = dict(axis=axis, from_logits=from_logits, label_smoothing=smoothing)
                np.testing.assert_allclose(np.asarray(getattr(cnn.losses, fn)(t, p, **kw)),
                                           np.asarray(getattr(keras.losses, fn)(t, p, **kw)),
                                           rtol=1e-5, atol=1e-6, err_msg=fn)
        labels = rng.integers(0, p.shape[axis], [d for i, d in enumerate(p.shape) if i != axis % 3])
        for lib_labels in (labels, np.expand_dims(labels, axis)):  # unit class axis squeezed
            kl, cl = (lib.losses.SparseCategoricalCrossentropy(axis=axis, from_logits=from_logits)
                      for lib in (keras, cnn))
            np.testing.assert_allclose(float(cl(lib_labels, p)), float(kl(lib_labels, p)),
                                       rtol=1e-5)
    if axis != 1:
        return
    # a class axis that is not the last one, in a compiled model: (N, 3, 4) logits, 3 classes
    x = rng.standard_normal((40, 3, 5)).astype(np.float32)
    k = keras.Sequential([keras.Input((3, 5)), keras.layers.Dense(4)])
    c = cnn.models.Sequential([cnn.layers.Input((3, 5)), cnn.layers.Dense(4)])
    c.set_weights([np.asarray(v) for v in k.get_weights()])
    k.compile(optimizer=keras.optimizers.SGD(0.1),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, axis=1))
    c.compile(optimizer=cnn.optimizers.SGD(0.1),
              loss=cnn.losses.SparseCategoricalCrossentropy(from_logits=True, axis=1))
    fit_both(k, c, x, rng.integers(0, 3, (40, 1, 4)), batch_size=8, epochs=2,
             sample_weight=rng.random((40, 1)))
    assert_weights_close(k, c)


# ---- steps ------------------------------------------------------------------------------------

@pytest.mark.parametrize("steps_per_epoch,batch_size,epochs", [
    (4, 16, 4),     # 10 batches: epochs take 4, 4, then the 2 left, then 4 of a new pass
    (25, 32, 2),    # more steps than batches: each epoch stops at the end of the data
    (3, None, 2),   # no batch size: ceil(160 / 3) = 54 per batch
])
def test_steps_per_epoch_and_validation_steps_match_keras(steps_per_epoch, batch_size, epochs):
    x, labels = data(7)
    vx, vl = data(8)
    k, c = twin_models("softmax", "sparse_categorical_crossentropy")
    compile_both(k, c, ("SGD", 0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    fit_both(k, c, x, labels, batch_size=batch_size, epochs=epochs,
             steps_per_epoch=steps_per_epoch, validation_data=(vx, vl), validation_steps=3)
    assert int(c.optimizer.iterations) == int(k.optimizer.iterations)
    assert_weights_close(k, c)
    if steps_per_epoch != 4:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for steps, bs in ((3, 16), (4, None), (50, 16)):
            np.testing.assert_allclose(c.evaluate(x, labels, steps=steps, batch_size=bs, verbose=0),
                                       k.evaluate(x, labels, steps=steps, batch_size=bs, verbose=0),
                                       rtol=1e-5)
            pc = c.predict(x, steps=steps, batch_size=bs, verbose=0)
            np.testing.assert_allclose(pc, k.predict(x, steps=steps, batch_size=bs, verbose=0),
                                       rtol=1e-5, atol=1e-6)
