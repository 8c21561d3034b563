"""The Keras-style front end: building models, weights, summary, fit/evaluate/predict
plumbing, eager calls and custom GradientTape loops, optimizers, losses, metrics,
initializers, activations and callbacks."""
import re

import numpy as np
import pytest

import cnn
from cnn import callbacks, initializers, losses, metrics, models, optimizers
from cnn.layers import Activation, Dense, Input, InputLayer


def rng(seed=0):
    return np.random.default_rng(seed)


def mlp(features=6, hidden=8, out=3, out_act="softmax"):
    return models.Sequential([Input((features,)), Dense(hidden, activation="relu"),
                              Dense(out, activation=out_act)])


def numpy_mlp(weights, x):
    w1, b1, w2, b2 = weights
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def summary_of(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines[0]


# ---- construction -------------------------------------------------------------------------

def test_sequential_input_forms_give_the_same_graph():
    a = models.Sequential([Input((5,)), Dense(3)])
    b = models.Sequential([Dense(3, input_shape=(5,))])
    c = models.Sequential()
    c.add(InputLayer(shape=(5,)))
    c.add(Dense(3))
    for m in (a, b, c):
        assert m.built and m.inputs[0].shape == (None, 5) and m.outputs[0].shape == (None, 3)
        assert [type(l).__name__ for l in m.layers] == ["Dense"]
        assert m.count_params() == 18


def test_deferred_sequential_builds_on_first_data():
    m = models.Sequential([Dense(4, activation="relu"), Dense(2)])
    assert not m.built and m.weights == []
    assert "0 (unbuilt)" in summary_of(m) and "?" in summary_of(m)
    out = m.predict(np.zeros((3, 7), np.float32), verbose=0)
    assert out.shape == (3, 2) and m.built and m.inputs[0].shape == (None, 7)
    assert [w.shape for w in m.weights] == [(7, 4), (4,), (4, 2), (2,)]


def test_add_and_pop_rewire_the_stack():
    m = models.Sequential([Input((4,)), Dense(3)])
    m.add(Dense(2))
    assert m.outputs[0].shape == (None, 2)
    m.pop()
    assert m.outputs[0].shape == (None, 3) and len(m.layers) == 1


def test_names_are_auto_numbered_like_keras():
    first, second = Dense(1), Dense(1)
    base = re.fullmatch(r"dense(?:_(\d+))?", first.name)
    assert base, first.name
    k = int(base.group(1) or 0)
    assert second.name == f"dense_{k + 1}"
    assert Dense(1, name="mine").name == "mine"
    assert re.fullmatch(r"sequential(_\d+)?", models.Sequential().name)
    inp = Input((2,))
    assert re.fullmatch(r"functional(_\d+)?", models.Model(inp, Dense(1)(inp)).name)


def test_weight_names_and_trainable_lists():
    m = mlp()
    assert [w.name for w in m.weights] == ["kernel", "bias", "kernel", "bias"]
    assert len(m.trainable_weights) == 4 and m.non_trainable_weights == []
    m.layers[0].trainable = False
    assert [tuple(w.shape) for w in m.trainable_variables] == [(8, 3), (3,)]
    assert [tuple(w.shape) for w in m.non_trainable_weights] == [(6, 8), (8,)]


def test_get_set_weights_roundtrip_and_forward_matches_numpy():
    m = mlp()
    new = [rng(1).standard_normal(w.shape).astype(np.float32) for w in m.get_weights()]
    m.set_weights(new)
    for got, want in zip(m.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    x = rng(2).standard_normal((10, 6)).astype(np.float32)
    np.testing.assert_allclose(m.predict(x, verbose=0), numpy_mlp(new, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(m(x)), numpy_mlp(new, x), rtol=1e-5, atol=1e-6)
    # get_weights hands out copies
    m.get_weights()[0][:] = 0
    np.testing.assert_array_equal(m.get_weights()[0], new[0])


def test_dense_folds_leading_axes():
    layer = Dense(4)
    x = rng(3).standard_normal((2, 5, 3)).astype(np.float32)
    y = np.asarray(layer(x))
    w, b = layer.get_weights()
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-5, atol=1e-6)
    inp = Input((5, 3))
    assert Dense(4)(inp).shape == (None, 5, 4)


def test_activation_layer_and_config():
    x = np.array([[-1.0, 2.0]], np.float32)
    np.testing.assert_allclose(np.asarray(Activation("relu")(x)), [[0.0, 2.0]])
    cfg = Dense(3, activation="tanh", name="d").get_config()
    assert cfg["units"] == 3 and cfg["activation"] == "tanh" and cfg["name"] == "d"
    assert cfg["kernel_initializer"] == "glorot_uniform"
    assert Dense.from_config(cfg).units == 3


# ---- functional models -------------------------------------------------------------------

def test_shared_layer_shares_weights_between_calls():
    a, b = Input((4,), name="left"), Input((4,), name="right")
    shared = Dense(3, name="shared")
    out_a, out_b = shared(a), shared(b)
    m = models.Model([a, b], [out_a, out_b])
    assert len(m.weights) == 2 and len(shared._inbound_nodes) == 2
    xa, xb = rng(4).standard_normal((5, 4)), rng(5).standard_normal((5, 4))
    pa, pb = m.predict([xa, xb], verbose=0)
    w, bias = shared.get_weights()
    np.testing.assert_allclose(pa, xa @ w + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pb, xb @ w + bias, rtol=1e-5, atol=1e-5)
    text = summary_of(m, line_length=108)
    assert "Connected to" in text and "left[0][0]," in text and "right[0][0]" in text


def test_multi_input_multi_output_fit_evaluate_predict():
    cnn.utils.set_random_seed(0)
    a, b = Input((4,), name="a"), Input((3,), name="b")
    h1, h2 = Dense(8, activation="relu")(a), Dense(8, activation="relu")(b)
    reg = Dense(1, name="reg")(h1)
    cls = Dense(3, activation="softmax", name="cls")(h2)
    m = models.Model([a, b], [reg, cls])
    m.compile("adam", ["mse", "sparse_categorical_crossentropy"], metrics=[["mae"], ["accuracy"]],
              loss_weights=[1.0, 0.5])
    xa, xb = rng(6).standard_normal((64, 4)), rng(7).standard_normal((64, 3))
    y1, y2 = xa.sum(axis=1), rng(8).integers(0, 3, 64)
    hist = m.fit([xa, xb], [y1, y2], epochs=2, batch_size=16, verbose=0, validation_split=0.25)
    assert list(hist.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae",
                                  "val_cls_accuracy", "val_cls_loss", "val_loss", "val_reg_loss",
                                  "val_reg_mae"]
    h = {k: v[-1] for k, v in hist.history.items()}
    assert h["loss"] == pytest.approx(h["reg_loss"] + 0.5 * h["cls_loss"], rel=1e-2)
    result = m.evaluate([xa, xb], [y1, y2], verbose=0)
    named = m.evaluate({"a": xa, "b": xb}, {"reg": y1, "cls": y2}, verbose=0, return_dict=True)
    assert m.metrics_names == ["loss", "reg_loss", "cls_loss", "reg_mae", "cls_accuracy"]
    # Keras's list order: the loss, the per-output losses, then the other logs by name.
    keras_order = ["loss", "reg_loss", "cls_loss", "cls_accuracy", "reg_mae"]
    assert result == pytest.approx([named[k] for k in keras_order], rel=1e-6)
    assert result[0] == pytest.approx(result[1] + 0.5 * result[2], rel=1e-5)
    p_reg, p_cls = m.predict([xa, xb], batch_size=10, verbose=0)
    assert p_reg.shape == (64, 1) and p_cls.shape == (64, 3)
    np.testing.assert_allclose(p_cls.sum(axis=1), 1, rtol=1e-5)


def test_model_call_is_eager_and_differentiable():
    m = mlp()
    x = rng(9).standard_normal((4, 6)).astype(np.float32)
    out = m(x, training=False)
    assert isinstance(out, cnn.Tensor) and out.shape == (4, 3)
    with cnn.GradientTape() as tape:
        loss = losses.SparseCategoricalCrossentropy()(np.array([0, 1, 2, 1]), m(x))
    grads = tape.gradient(loss, m.trainable_variables)
    assert [tuple(g.shape) for g in grads] == [tuple(v.shape) for v in m.trainable_variables]
    assert all(np.isfinite(np.asarray(g)).all() for g in grads)


def test_nested_model_as_a_layer():
    inner = models.Sequential([Input((4,)), Dense(3, activation="relu")])
    inp = Input((4,))
    outer = models.Model(inp, Dense(2)(inner(inp)))
    x = rng(10).standard_normal((5, 4)).astype(np.float32)
    expected = np.asarray(outer.layers[-1](inner(x)))
    np.testing.assert_allclose(outer.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_subclassed_model_trains():
    class TwoLayer(models.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(8, activation="relu")
            self.out = Dense(1)

        def call(self, x, training=None):
            return self.out(self.hidden(x))

    m = TwoLayer()
    x = rng(11).standard_normal((32, 3)).astype(np.float32)
    m.compile(optimizers.Adam(0.01), "mse")
    y = x.sum(axis=1)
    before = m.evaluate(x, y, verbose=0)  # builds the model from the data
    m.fit(x, y, epochs=20, verbose=0)
    assert m.name == "two_layer" and len(m.trainable_weights) == 4
    assert m.evaluate(x, y, verbose=0) < before
    assert m.predict(x, verbose=0).shape == (32, 1)


# ---- summary -------------------------------------------------------------------------------

def test_summary_layout():
    m = models.Sequential([Input((64,)), Dense(32, activation="relu"), Dense(10)], name="net")
    text = summary_of(m, line_length=88)
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == 'Model: "net"'
    assert lines[1].startswith("┏") and lines[3].startswith("┡") and lines[-4].startswith("└")
    assert lines[2] == "┃ Layer (type)                         ┃ Output Shape                ┃" \
                       "         Param # ┃"
    assert lines[4].startswith("│ dense") and "(Dense)" in lines[4] and "(None, 32)" in lines[4]
    assert lines[4].endswith("2,080 │")
    assert {len(l) for l in lines[1:-3]} == {88}
    assert lines[-3:] == [" Total params: 2,410 (9.41 KB)", " Trainable params: 2,410 (9.41 KB)",
                          " Non-trainable params: 0 (0.00 B)"]
    m.compile("adam", "mse")
    m.fit(np.zeros((4, 64)), np.zeros((4, 10)), verbose=0)
    # after training Keras adds the optimizer's variables: 2 moments per weight + 2 scalars
    assert summary_of(m).rstrip().split("\n")[-1] == " Optimizer params: 4,822 (18.84 KB)"


def test_summary_matches_keras_text():
    keras = pytest.importorskip("keras")

    def build(lib):
        a, b = lib.layers.Input((4,), name="a"), lib.layers.Input((3,), name="b")
        x1 = lib.layers.Dense(2, name="d1")(a)
        x2 = lib.layers.Dense(5, name="d2")(b)
        return lib.models.Model([a, b], [lib.layers.Dense(1, name="o1")(x1),
                                         lib.layers.Dense(3, activation="softmax", name="o2")(x2)],
                                name="fm")

    def shared(lib):
        a, b = lib.layers.Input((4,), name="left"), lib.layers.Input((4,), name="right")
        layer = lib.layers.Dense(4, name="shared")
        x = layer(layer(a))
        return lib.models.Model([a, b], [x, lib.layers.Dense(2, name="head")(layer(b))],
                                name="sh")

    def seq(lib):
        return lib.models.Sequential([lib.layers.Input((64,)),
                                      lib.layers.Dense(32, activation="relu", name="hidden"),
                                      lib.layers.Dense(10, name="out")], name="s")

    for make in (build, shared, seq):
        for length in (None, 60, 76):  # Keras crops lines wider than the terminal
            assert summary_of(make(cnn), line_length=length) == \
                summary_of(make(keras), line_length=length)


# ---- custom training loops -----------------------------------------------------------------

@pytest.mark.parametrize("make_opt", [lambda: optimizers.SGD(0.1, momentum=0.9),
                                      lambda: optimizers.Adam(0.01)], ids=["sgd", "adam"])
def test_gradient_tape_loop_reproduces_fit(make_opt):
    x = rng(12).standard_normal((48, 6)).astype(np.float32)
    y = rng(13).integers(0, 3, 48)
    fitted, manual = mlp(), mlp()
    manual.set_weights(fitted.get_weights())
    fitted.compile(make_opt(), "sparse_categorical_crossentropy")
    fitted.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    opt, loss_fn = make_opt(), losses.SparseCategoricalCrossentropy()
    for _ in range(2):
        for start in range(0, 48, 16):
            xb, yb = x[start:start + 16], y[start:start + 16]
            with cnn.GradientTape() as tape:
                loss = loss_fn(yb, manual(xb, training=True))
            grads = tape.gradient(loss, manual.trainable_variables)
            opt.apply_gradients(zip(grads, manual.trainable_variables))
    assert opt.iterations == fitted.optimizer.iterations == 6
    for a, b in zip(fitted.get_weights(), manual.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_optimizer_api():
    sgd = optimizers.get("sgd")
    assert isinstance(sgd, optimizers.SGD) and sgd.learning_rate == pytest.approx(0.01)
    adam = optimizers.get("Adam")
    assert isinstance(adam, optimizers.Adam) and adam.learning_rate == pytest.approx(0.001)
    assert optimizers.get(sgd) is sgd
    var = cnn.Variable(np.ones(3, np.float32), name="v")
    sgd.learning_rate = 0.5
    sgd.apply([np.array([1.0, 2.0, 3.0], np.float32)], [var])
    np.testing.assert_allclose(var.numpy(), [0.5, 0.0, -0.5])
    other = cnn.Variable(np.ones(2, np.float32), name="w")
    sgd.apply_gradients([(None, other), (np.ones(3, np.float32), var)])  # None grads skipped
    np.testing.assert_allclose(other.numpy(), [1.0, 1.0])
    assert sgd.iterations == 2 and sgd.get_config()["learning_rate"] == 0.5


# ---- losses, metrics, initializers, activations -------------------------------------------

def test_loss_functions_match_numpy():
    t = rng(14).random((6, 4)).astype(np.float32)
    p = rng(15).random((6, 4)).astype(np.float32) * 0.9 + 0.05
    np.testing.assert_allclose(np.asarray(losses.mse(t, p)), ((t - p) ** 2).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(losses.mae(t, p)), np.abs(t - p).mean(-1), rtol=1e-5)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)
    np.testing.assert_allclose(np.asarray(losses.binary_crossentropy(t, p)), bce, rtol=1e-4)
    probs = p / p.sum(-1, keepdims=True)
    onehot = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1]]
    cce = -(onehot * np.log(probs)).sum(-1)
    np.testing.assert_allclose(np.asarray(losses.categorical_crossentropy(onehot, probs)), cce, rtol=1e-4)
    np.testing.assert_allclose(
        np.asarray(losses.sparse_categorical_crossentropy(np.array([0, 1, 2, 3, 0, 1]), probs)), cce, rtol=1e-4)
    logits = np.log(probs)
    np.testing.assert_allclose(np.asarray(losses.CategoricalCrossentropy(from_logits=True)(onehot, logits)),
                               cce.mean(), rtol=1e-4)
    err = t - p
    delta = 0.1
    hub = np.where(np.abs(err) <= delta, 0.5 * err ** 2, delta * (np.abs(err) - 0.5 * delta)).mean(-1)
    np.testing.assert_allclose(np.asarray(losses.Huber(delta, reduction=None)(t, p)), hub, rtol=1e-4)
    np.testing.assert_allclose(float(losses.MeanSquaredError(reduction="sum")(t, p)),
                               ((t - p) ** 2).mean(-1).sum(), rtol=1e-5)


def test_loss_rank_reconciliation():
    y = np.array([1.0, 2.0, 3.0], np.float32)
    pred = np.array([[1.5], [2.0], [2.0]], np.float32)
    assert float(losses.MeanSquaredError()(y, pred)) == pytest.approx((0.25 + 1.0) / 3)
    assert float(losses.MeanSquaredError()(y.reshape(3, 1), pred)) == pytest.approx((0.25 + 1.0) / 3)
    probs = np.array([[0.7, 0.3], [0.2, 0.8]], np.float32)
    col = losses.SparseCategoricalCrossentropy()(np.array([[0], [1]]), probs)
    assert float(col) == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2, rel=1e-5)
    assert losses.get("mse") is losses.mean_squared_error
    assert isinstance(losses.get("Huber"), losses.Huber)


@pytest.mark.parametrize("loss,out_units,y_kind,expected", [
    ("sparse_categorical_crossentropy", 3, "sparse", "sparse_categorical_accuracy"),
    ("categorical_crossentropy", 3, "onehot", "categorical_accuracy"),
    ("binary_crossentropy", 1, "binary", "binary_accuracy"),
])
def test_accuracy_is_resolved_like_keras(loss, out_units, y_kind, expected):
    x = rng(16).standard_normal((40, 5)).astype(np.float32)
    labels = rng(17).integers(0, 3, 40)
    y = {"sparse": labels, "onehot": np.eye(3)[labels], "binary": (labels == 0) * 1.0}[y_kind]
    m = models.Sequential([Input((5,)), Dense(out_units, activation="sigmoid" if out_units == 1
                                               else "softmax")])
    m.compile("sgd", loss, metrics=["accuracy", "acc"])
    result = m.evaluate(x, y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "accuracy", "acc"}
    p = m.predict(x, verbose=0)
    want = {"sparse_categorical_accuracy": (p.argmax(1) == labels).mean(),
            "categorical_accuracy": (p.argmax(1) == labels).mean(),
            "binary_accuracy": ((p[:, 0] > 0.5) == (labels == 0)).mean()}[expected]
    assert result["accuracy"] == pytest.approx(want, abs=1e-6)
    assert metrics.resolve_accuracy(np.shape(y)[:1] if y.ndim == 1 else y.shape, p.shape).__name__ == expected


def test_metric_classes_and_functions():
    acc = metrics.SparseCategoricalAccuracy()
    acc.update_state([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]], np.float32))
    acc.update_state([1], np.array([[0.1, 0.9]], np.float32))
    assert acc.result() == pytest.approx(2 / 3) and acc.name == "sparse_categorical_accuracy"
    acc.reset_state()
    assert acc.result() == 0.0
    m = models.Sequential([Input((2,)), Dense(1)])
    m.compile("sgd", "mse", metrics=["mae", metrics.MeanSquaredError(), metrics.binary_accuracy])
    logs = m.evaluate(np.ones((4, 2)), np.zeros(4), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae", "mean_squared_error", "binary_accuracy"}
    assert logs["mean_squared_error"] == pytest.approx(logs["loss"], rel=1e-6)


def test_initializers():
    cnn.utils.set_random_seed(42)
    w = initializers.get("glorot_uniform")((200, 100))
    assert w.dtype == np.float32 and np.abs(w).max() <= np.sqrt(6 / 300) + 1e-7
    h = initializers.HeNormal(seed=1)((400, 300))
    assert h.std() == pytest.approx(np.sqrt(2 / 400), rel=0.05) and np.abs(h).max() <= 2 * np.sqrt(2 / 400) / 0.8796 + 1e-6
    np.testing.assert_array_equal(initializers.HeNormal(seed=1)((3, 3)), initializers.HeNormal(seed=1)((3, 3)))
    assert initializers.get("zeros")((2,)).tolist() == [0, 0] and initializers.get("ones")((1,)).tolist() == [1]
    assert initializers.compute_fans((3, 3, 4, 8)) == (36, 72)
    cnn.utils.set_random_seed(7)
    first = mlp().get_weights()
    cnn.utils.set_random_seed(7)
    for a, b in zip(first, mlp().get_weights()):
        np.testing.assert_array_equal(a, b)


def test_activations_get():
    x = np.array([-2.0, 0.5], np.float32)
    assert cnn.activations.get(None)(x) is x and cnn.activations.get("linear")(x) is x
    assert cnn.activations.get("swish") is cnn.activations.silu
    np.testing.assert_allclose(np.asarray(cnn.activations.get("relu")(x)), [0.0, 0.5])
    np.testing.assert_allclose(np.asarray(cnn.activations.get("sigmoid")(x)), 1 / (1 + np.exp(-x)), rtol=1e-6)
    for name in ("elu", "selu", "gelu", "hard_sigmoid", "tanh", "softplus", "softsign", "silu",
                 "leaky_relu", "softmax", "log_softmax"):
        assert np.asarray(cnn.activations.get(name)(x.reshape(1, 2))).shape == (1, 2)


# ---- fit plumbing ---------------------------------------------------------------------------

class Recorder(callbacks.Callback):
    def __init__(self, stop_after=None):
        super().__init__()
        self.events, self.stop_after = [], stop_after

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name.startswith("on_"):
            def record(*args, **kwargs):
                object.__getattribute__(self, "events").append(name)
                return attr(*args, **kwargs)
            return record
        return attr

    def on_epoch_end(self, epoch, logs=None):
        if self.stop_after is not None and epoch + 1 >= self.stop_after:
            self.model.stop_training = True


def test_callbacks_see_every_hook_and_can_stop_training():
    m = mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng(18).standard_normal((20, 6)), rng(19).integers(0, 3, 20)
    rec = Recorder(stop_after=2)
    hist = m.fit(x, y, batch_size=8, epochs=5, validation_data=(x[:5], y[:5]), callbacks=[rec],
                 verbose=0)
    assert hist.epoch == [0, 1] and len(hist.history["val_loss"]) == 2 and m.history is hist
    ev = rec.events
    assert ev[0] == "on_train_begin" and ev[-1] == "on_train_end"
    assert ev.count("on_epoch_begin") == 2 and ev.count("on_train_batch_end") == 6
    assert ev.count("on_test_begin") == 2 and ev.count("on_test_batch_end") == 2
    rec2 = Recorder()
    m.predict(x, batch_size=8, callbacks=[rec2], verbose=0)
    assert rec2.events == ["on_predict_begin"] + ["on_predict_batch_begin", "on_predict_batch_end"] * 3 + \
        ["on_predict_end"]


def test_early_stopping_restores_best_weights():
    m = mlp()
    m.compile(optimizers.SGD(0.0), "sparse_categorical_crossentropy")  # the loss never improves
    x, y = rng(20).standard_normal((16, 6)), rng(21).integers(0, 3, 16)
    stop = callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    hist = m.fit(x, y, epochs=10, verbose=0, callbacks=[stop])
    assert len(hist.history["loss"]) == 3 and stop.stopped_epoch == 2 and stop.best_epoch == 0


def test_validation_split_uses_the_last_samples():
    m = mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng(22).standard_normal((40, 6)).astype(np.float32), rng(23).integers(0, 3, 40)
    before = m.evaluate(x[30:], y[30:], verbose=0)
    weights = m.get_weights()
    m.set_weights(weights)
    m2 = mlp()
    m2.set_weights(weights)
    m2.compile(optimizers.SGD(0.0), "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = m2.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    assert hist.history["val_loss"][0] == pytest.approx(before[0], rel=1e-5)
    assert hist.history["val_accuracy"][0] == pytest.approx(before[1], rel=1e-5)


def test_evaluate_predict_batching_and_return_forms():
    m = mlp()
    m.compile("adam", "sparse_categorical_crossentropy")
    x, y = rng(24).standard_normal((37, 6)), rng(25).integers(0, 3, 37)
    loss = m.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    assert m.evaluate(x, y, batch_size=5, verbose=0) == pytest.approx(loss, rel=1e-5)
    assert m.evaluate(x, y, verbose=0, return_dict=True) == {"loss": pytest.approx(loss)}
    np.testing.assert_allclose(m.predict(x, batch_size=4, verbose=0), m.predict(x, batch_size=100, verbose=0),
                               rtol=1e-6)
    assert m.train_on_batch(x, y) == pytest.approx(loss, rel=1e-5)
    assert m.test_on_batch(x, y) < loss
    assert m.predict_on_batch(x).shape == (37, 3)


def test_steps_limit_batches_and_set_the_batch_size():
    m = mlp()
    m.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    x, y = rng(30).standard_normal((40, 6)), rng(31).integers(0, 3, 40)
    assert m.predict(x, steps=2, batch_size=8, verbose=0).shape == (16, 3)
    assert m.predict(x, steps=3, verbose=0).shape == (40, 3)  # batch ceil(40 / 3) = 14
    assert m.evaluate(x, y, steps=1, batch_size=10, verbose=0) == pytest.approx(
        m.evaluate(x[:10], y[:10], verbose=0), rel=1e-6)
    with pytest.warns(UserWarning, match="ran out of data"):
        assert m.predict(x, steps=9, batch_size=10, verbose=0).shape == (40, 3)
    seen = Recorder()
    m.fit(x, y, batch_size=10, epochs=3, steps_per_epoch=3, shuffle=False, verbose=0,
          callbacks=[seen])
    # 4 batches: the epochs take 3, then the 1 left, then 3 from a new pass
    assert m.optimizer.iterations == 7 and seen.params["steps"] == 3
    assert seen.events.count("on_train_batch_begin") == 7
    m.fit(x, y, epochs=1, steps_per_epoch=2, verbose=0)  # no batch size: 20 per batch
    assert m.optimizer.iterations == 9


def test_sample_weights_in_fit_and_evaluate():
    x, y = rng(32).standard_normal((30, 6)), rng(33).integers(0, 3, 30)
    m = mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"],
              weighted_metrics=["accuracy"])
    per_sample = np.asarray(losses.sparse_categorical_crossentropy(y, m.predict(x, verbose=0)))
    correct = (m.predict(x, verbose=0).argmax(1) == y).astype(float)
    w = np.linspace(0.0, 2.0, 30)
    logs = m.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    # the loss is sum(loss * w) / N, not / sum(w); weighted metrics divide by sum(w)
    assert logs["loss"] == pytest.approx((per_sample * w).sum() / 30, rel=1e-5)
    assert logs["accuracy"] == pytest.approx(correct.mean())
    assert logs["weighted_accuracy"] == pytest.approx((correct * w).sum() / w.sum(), rel=1e-6)
    plain = m.evaluate(x, y, verbose=0, return_dict=True)
    assert plain["weighted_accuracy"] == pytest.approx(plain["accuracy"])
    assert m.test_on_batch(x, y, sample_weight=w, return_dict=True)["loss"] == \
        pytest.approx(logs["loss"], rel=1e-5)
    # class_weight is sample_weight looked up from the labels
    cw = {0: 0.25, 2: 3.0}
    a, b = mlp(), mlp()
    b.set_weights(a.get_weights())
    for model in (a, b):
        model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    a.fit(x, y, class_weight=cw, batch_size=8, epochs=2, verbose=0, shuffle=False)
    b.fit(x, y, sample_weight=np.array([cw.get(int(c), 1.0) for c in y]), batch_size=8,
          epochs=2, verbose=0, shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    # shuffled batches gather the weights with the samples: unit weights change nothing
    runs = []
    for kw in ({}, {"sample_weight": np.ones(30)}):
        cnn.utils.set_random_seed(3)
        model = mlp()
        model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        runs.append((model.fit(x, y, batch_size=8, epochs=2, verbose=0, **kw).history["loss"],
                     model.get_weights()))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-6)
    for wa, wb in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_sample_weight_forms_for_several_outputs():
    a = Input((4,), name="a")
    m = models.Model(a, [Dense(1, name="o1")(a), Dense(2, name="o2")(a)])
    m.compile("sgd", "mse", weighted_metrics=["mae"])
    x = rng(34).standard_normal((12, 4))
    ys = [rng(35).standard_normal(12), rng(36).standard_normal((12, 2))]
    w1, w2 = np.linspace(0, 1, 12), np.linspace(1, 3, 12)
    as_list = m.evaluate(x, ys, sample_weight=[w1, w2], verbose=0, return_dict=True)
    as_dict = m.evaluate(x, ys, sample_weight={"o2": w2, "o1": w1}, verbose=0, return_dict=True)
    assert as_list == pytest.approx(as_dict)
    shared = m.evaluate(x, ys, sample_weight=w1, verbose=0, return_dict=True)
    assert shared == pytest.approx(m.evaluate(x, ys, sample_weight=[w1, w1], verbose=0,
                                              return_dict=True))
    only_o1 = m.evaluate(x, ys, sample_weight={"o1": w1}, verbose=0, return_dict=True)
    unweighted = m.evaluate(x, ys, verbose=0, return_dict=True)
    assert only_o1["o2_loss"] == pytest.approx(unweighted["o2_loss"])
    assert only_o1["o1_loss"] == pytest.approx(as_list["o1_loss"])


def test_compile_defaults_to_rmsprop():
    m = mlp()
    m.compile(loss="sparse_categorical_crossentropy")
    assert isinstance(m.optimizer, optimizers.RMSprop)
    assert m.optimizer.name.startswith("rm_sprop")  # Keras 3's auto name for RMSprop
    config = m.optimizer.get_config()
    assert {k: config[k] for k in ("learning_rate", "rho", "momentum", "epsilon", "centered")} == \
        {"learning_rate": float(np.float32(0.001)), "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7,
         "centered": False}  # Keras keeps the rate in a float32 variable
    m.fit(rng(37).standard_normal((8, 6)), rng(38).integers(0, 3, 8), verbose=0)
    assert m.optimizer.iterations == 1
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)


def test_label_shapes_are_reconciled():
    x = rng(26).standard_normal((12, 6)).astype(np.float32)
    labels = rng(27).integers(0, 3, 12)
    m = mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    a = m.evaluate(x, labels, verbose=0)
    b = m.evaluate(x, labels.reshape(-1, 1), verbose=0)
    assert a == pytest.approx(b)
    binary = mlp(out=1, out_act="sigmoid")
    binary.compile("sgd", "binary_crossentropy")
    assert binary.evaluate(x, labels == 1, verbose=0) == pytest.approx(
        binary.evaluate(x, (labels == 1).reshape(-1, 1), verbose=0))


def test_progress_output(capsys):
    m = mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng(28).standard_normal((40, 6)), rng(29).integers(0, 3, 40)
    m.fit(x, y, epochs=2, batch_size=16, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(r"2/2 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} - "
                        r"val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}", lines[1]), lines[1]
    m.fit(x, y, epochs=1, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch" not in out and "\r\x1b[1m3/3\x1b[0m \x1b[32m" + "━" * 20 in out and "loss:" in out
    assert out.endswith("\n")
    m.fit(x, y, epochs=1, verbose=0)
    m.evaluate(x, y, verbose=0)
    m.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_progbar_standalone():
    import io
    stream = io.StringIO()
    bar = cnn.utils.Progbar(4, verbose=2, stream=stream)
    for i in range(1, 5):
        bar.update(i, [("loss", float(i))])
    assert re.fullmatch(r"4/4 - \d+s - \d+(us|ms|s)/step - loss: 4\.0000\n", stream.getvalue())


def test_small_input_fast_path_matches_the_general_path():
    """predict_on_batch, predict(verbose=0) and model(x) on one small array take the compiled
    program directly; they must agree with the batched predict and the eager tape path."""
    import cnn
    from cnn.layers import Dense, Input
    from cnn.models import Sequential
    rng = np.random.default_rng(0)
    m = Sequential([Input((5,)), Dense(7, activation="relu"), Dense(3, activation="softmax")])
    x = rng.standard_normal((4, 5))  # float64: converted on the way in
    ref = m.predict(x, batch_size=2, verbose=0)
    np.testing.assert_allclose(m.predict_on_batch(x), ref, rtol=1e-6)
    np.testing.assert_allclose(m.predict(x[:1], verbose=0), ref[:1], rtol=1e-6)
    np.testing.assert_allclose(m(x).numpy(), ref, rtol=1e-6)
    with cnn.GradientTape() as tape:  # a recording tape takes the eager path
        total = cnn.ops.sum(m(x))
    assert tape.gradient(total, m.trainable_variables)[0] is not None
    with pytest.raises(ValueError, match="dense"):
        m.predict_on_batch(np.zeros((1, 4), np.float32))


def test_ops_on_weights_alone_inside_call_train_in_fit():
    """A layer transforming its kernel (op on a Variable only) must put that op in the
    graph; run eagerly at build time it would freeze into a constant and never train."""
    import cnn
    from cnn import backend

    class Tied(cnn.layers.Layer):
        def build(self, input_shape):
            self.k = self.add_weight(shape=(input_shape[-1], 1), initializer="ones", name="k")

        def call(self, x):
            return backend.op("matmul", [x, backend.op("neg", [self.k])])

    m = cnn.models.Sequential([cnn.layers.Input((3,)), Tied()])
    m.compile(cnn.optimizers.SGD(0.1), "mse")
    before = m.get_weights()[0].copy()
    m.fit(np.ones((8, 3), np.float32), np.ones((8, 1), np.float32), epochs=2, verbose=0)
    assert not np.allclose(m.get_weights()[0], before)
