"""Callbacks against real Keras 3: the same model, weights, data and callback in both,
fit with shuffle=False; epoch logs, stop epochs, learning rates, restored weights, files
written and messages printed must agree. Also weights files (.weights.h5) both ways."""
import os
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # tiny models: torch's threads only contend with OpenBLAS's

N, D, C = 48, 5, 3


def data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, D)).astype(np.float32)
    y = (np.argmax(x[:, :C] + 0.8 * rng.standard_normal((n, C)), axis=1)).astype(np.int64)
    return x, y


def twins(lr=0.05, seed=0, metrics=("accuracy",)):
    k = keras.Sequential([keras.Input((D,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(C, activation="softmax")])
    c = cnn.models.Sequential([cnn.layers.Input((D,)), cnn.layers.Dense(8, activation="relu"),
                               cnn.layers.Dense(C, activation="softmax")])
    rng = np.random.default_rng(seed + 100)
    ws = [(rng.standard_normal(np.shape(w)) * 0.5).astype(np.float32) for w in k.get_weights()]
    k.set_weights(ws)
    c.set_weights(ws)
    loss = "sparse_categorical_crossentropy"
    k.compile(keras.optimizers.SGD(lr), loss, metrics=list(metrics))
    c.compile(cnn.optimizers.SGD(lr), loss, metrics=list(metrics))
    return k, c


def fit_both(make_callbacks, epochs=6, seed=0, lr=0.05, x=None, y=None, **kw):
    """Fits the twins with callbacks made by make_callbacks(lib); returns the models,
    their histories and the callbacks."""
    if x is None:
        x, y = data(seed)
    k, c = twins(lr, seed)
    kcb, ccb = make_callbacks(keras), make_callbacks(cnn)
    kw = dict(dict(batch_size=16, epochs=epochs, shuffle=False, verbose=0), **kw)
    hk = k.fit(x, y, callbacks=kcb, **kw)
    hc = c.fit(x, y, callbacks=ccb, **kw)
    return (k, c), (hk, hc), (kcb, ccb)


def assert_history_close(hc, hk):
    assert hc.epoch == hk.epoch
    assert sorted(hc.history) == sorted(hk.history)
    for key, values in hk.history.items():
        np.testing.assert_allclose(hc.history[key], values, rtol=2e-5, atol=2e-6, err_msg=key)


def assert_weights_close(c, k):
    for wc, wk in zip(c.get_weights(), k.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=2e-5, atol=2e-6)


# ---- hooks and their logs -----------------------------------------------------------------

def recorder(lib):
    class Recorder(lib.callbacks.Callback):
        """Logs every hook call: (hook, batch/epoch, sorted log keys, log values)."""

        def __init__(self):
            super().__init__()
            self.events = []
            for hook in [n for n in dir(lib.callbacks.Callback) if n.startswith("on_")]:
                setattr(self, hook, self._recording(hook))

        def _recording(self, hook):
            def record(*args, **kwargs):
                logs = kwargs.get("logs", args[-1] if args and isinstance(args[-1], dict) else None)
                index = args[0] if args and not isinstance(args[0], dict) else None
                values = {k: v for k, v in (logs or {}).items() if k != "outputs"}
                self.events.append((hook, index, sorted(logs) if logs is not None else None,
                                    values))
            return record
    return Recorder()


def test_every_hook_with_keras_logs():
    x, y = data(1)
    k, c = twins()
    rk, rc = recorder(keras), recorder(cnn)
    for model, cb in ((k, rk), (c, rc)):
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                  validation_data=(x[:20], y[:20]), callbacks=[cb])
        model.evaluate(x, y, batch_size=32, verbose=0, callbacks=[cb])
        model.predict(x, batch_size=32, verbose=0, callbacks=[cb])
    assert [e[:3] for e in rc.events] == [e[:3] for e in rk.events]
    for (hook, index, _, vc), (_, _, _, vk) in zip(rc.events, rk.events):
        for key in vk:
            np.testing.assert_allclose(vc[key], vk[key], rtol=2e-5, err_msg=f"{hook} {index} {key}")
    assert rc.params == rk.params == {"verbose": 0, "epochs": 1, "steps": 2}  # predict's


def test_batch_hooks_call_the_older_aliases():
    seen = []

    class Old(cnn.callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch, logs))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, sorted(logs)))

    x, y = data()
    twins()[1].fit(x, y, batch_size=32, verbose=0, callbacks=[Old()])
    assert seen == [("begin", 0, {}), ("end", 0, ["accuracy", "loss"]), ("begin", 1, {}),
                    ("end", 1, ["accuracy", "loss"])]


def test_stop_training_mid_epoch_still_validates_like_keras():
    def make(lib):
        class StopAt(lib.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if self.model.history is not None and batch == 1 and len(
                        getattr(self.model.history, "epoch", [])) == 1:
                    self.model.stop_training = True
        return [StopAt()]

    x, y = data(2)
    _, (hk, hc), _ = fit_both(make, epochs=4, validation_data=(x[:16], y[:16]))
    assert hc.epoch == [0, 1]
    assert_history_close(hc, hk)


@pytest.mark.parametrize("kw", [dict(initial_epoch=2), dict(validation_freq=2),
                                dict(validation_freq=[1, 4]),
                                dict(initial_epoch=1, validation_freq=[3])])
def test_initial_epoch_and_validation_freq_like_keras(kw):
    x, y = data(3)
    _, (hk, hc), _ = fit_both(lambda lib: [lib.callbacks.CSVLogger(os.devnull)], epochs=4,
                              validation_data=(x[:16], y[:16]), **kw)
    assert_history_close(hc, hk)


def test_bad_validation_freq():
    _, c = twins()
    x, y = data()
    with pytest.raises(ValueError, match=r"Expected `validation_freq` to be a list or int"):
        c.fit(x, y, validation_freq="2", validation_split=0.2, verbose=0)


# ---- EarlyStopping -------------------------------------------------------------------------

EARLY = [
    dict(monitor="val_loss", patience=1, min_delta=0.02, restore_best_weights=True, verbose=1),
    dict(monitor="loss", patience=50, restore_best_weights=True),  # ends before patience
    dict(monitor="val_accuracy", patience=2, mode="max"),
    dict(monitor="val_accuracy", patience=1, restore_best_weights=True, verbose=1),  # auto: up
    dict(monitor="val_loss", patience=2, baseline=0.5, restore_best_weights=True),
    dict(monitor="val_loss", patience=0, start_from_epoch=3),
    dict(monitor="loss", patience=1, min_delta=-0.01, mode="min", verbose=1),
]


@pytest.mark.parametrize("kw", EARLY, ids=[str(i) for i in range(len(EARLY))])
def test_early_stopping_like_keras(kw, capsys):
    x, y = data(4)
    (k, c), (hk, hc), (kcb, ccb) = fit_both(
        lambda lib: [lib.callbacks.EarlyStopping(**kw)], epochs=9, lr=0.2,
        validation_data=(x[:24] * 1.5, y[:24]))
    assert_history_close(hc, hk)
    assert ccb[0].stopped_epoch == kcb[0].stopped_epoch
    assert ccb[0].best_epoch == kcb[0].best_epoch
    assert ccb[0].wait == kcb[0].wait
    assert_weights_close(c, k)
    out = capsys.readouterr().out.splitlines()
    assert out[:len(out) // 2] == out[len(out) // 2:]  # the same messages, Keras's first
    if kw.get("verbose") and ccb[0].stopped_epoch:
        assert out[0] == f"Epoch {ccb[0].stopped_epoch + 1}: early stopping"


def test_early_stopping_restores_best_weights_when_epochs_run_out():
    # Never stopped early: at the end the best epoch's weights come back all the same.
    (k, c), (hk, hc), (kcb, ccb) = fit_both(
        lambda lib: [lib.callbacks.EarlyStopping(monitor="loss", mode="max", patience=100,
                                                 restore_best_weights=True)],
        epochs=6, validation_split=0.25)
    assert ccb[0].stopped_epoch == 0 and hc.epoch == list(range(6))
    assert ccb[0].best_epoch == kcb[0].best_epoch == 0  # the loss only went down
    assert_weights_close(c, k)


def test_monitor_missing_or_ambiguous_like_keras():
    x, y = data(5)
    _, c = twins()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c.fit(x, y, epochs=1, verbose=0, callbacks=[cnn.callbacks.EarlyStopping(monitor="val_loss")])
    assert any("Early stopping conditioned on metric `val_loss` which is not available. "
               "Available metrics are: accuracy,loss" in str(w.message) for w in caught)

    def my_metric(y_true, y_pred):
        return cnn.metrics.sparse_categorical_accuracy(y_true, y_pred)

    c.compile("sgd", "sparse_categorical_crossentropy", metrics=[my_metric])
    for cb in (cnn.callbacks.EarlyStopping(monitor="my_metric"),
               cnn.callbacks.ReduceLROnPlateau(monitor="val_my_metric"),
               cnn.callbacks.ModelCheckpoint("/tmp/x.weights.h5", monitor="my_metric",
                                             save_weights_only=True)):
        with pytest.raises(ValueError, match=rf"{type(cb).__name__} callback received monitor="
                                             r".*my_metric, but cnn isn't able to automatically "
                                             r"determine whether that metric should be maximized"):
            c.fit(x, y, epochs=1, verbose=0, callbacks=[cb], validation_split=0.25)
    with pytest.warns(UserWarning, match=r"EarlyStopping mode 'up' is unknown, fallback to auto"):
        cnn.callbacks.EarlyStopping(mode="up")


# ---- learning rates ------------------------------------------------------------------------

PLATEAU = [
    dict(monitor="val_loss", factor=0.5, patience=1, mode="max"),
    dict(monitor="val_accuracy", factor=0.5, patience=1, min_delta=0.2, cooldown=1,
         min_lr=0.02),
    dict(monitor="loss", factor=0.2, patience=2, mode="max", verbose=1),
]


@pytest.mark.parametrize("kw", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_lr_on_plateau_like_keras(kw, capsys):
    x, y = data(6)
    (k, c), (hk, hc), _ = fit_both(lambda lib: [lib.callbacks.ReduceLROnPlateau(**kw)],
                                   epochs=8, lr=0.3, validation_data=(x[:24] * 2, y[:24]))
    assert hc.history["learning_rate"] == hk.history["learning_rate"]  # float32 values
    assert len(set(hc.history["learning_rate"])) > 1
    assert_history_close(hc, hk)
    assert_weights_close(c, k)
    out = capsys.readouterr().out.splitlines()
    assert out[:len(out) // 2] == out[len(out) // 2:]
    with pytest.raises(ValueError, match=r"does not support a factor >= 1.0. Received factor=1"):
        cnn.callbacks.ReduceLROnPlateau(factor=1)


def test_learning_rate_scheduler_like_keras(capsys):
    def schedule(epoch, lr):
        return lr if epoch < 2 else lr * 0.5

    (k, c), (hk, hc), _ = fit_both(
        lambda lib: [lib.callbacks.LearningRateScheduler(schedule, verbose=1)], epochs=4)
    assert hc.history["learning_rate"] == hk.history["learning_rate"]
    assert_history_close(hc, hk)
    assert_weights_close(c, k)
    out = capsys.readouterr().out
    assert out.count("LearningRateScheduler setting learning rate to") == 8
    assert out[:len(out) // 2] == out[len(out) // 2:]
    # the one-argument form, and a schedule that does not return a float
    _, (hk, hc), _ = fit_both(
        lambda lib: [lib.callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))],
        epochs=3)
    assert hc.history["learning_rate"] == hk.history["learning_rate"]
    _, c = twins()
    x, y = data()
    with pytest.raises(ValueError, match=r"The output of the `schedule` function should be a "
                                         r"float. Got: 1"):
        c.fit(x, y, verbose=0, callbacks=[cnn.callbacks.LearningRateScheduler(lambda e, lr: 1)])


# ---- CSVLogger ------------------------------------------------------------------------------

def _read_csv(path, sep):
    with open(path) as f:
        lines = f.read().splitlines()
    return lines[0], [line.split(sep) for line in lines[1:]]


@pytest.mark.parametrize("sep", [",", ";"])
def test_csv_logger_like_keras(tmp_path, sep):
    x, y = data(7)
    paths = {lib: str(tmp_path / f"{lib.__name__}.csv") for lib in (keras, cnn)}
    for append in (False, True):  # a second fit appends rows without a second header
        fit_both(lambda lib: [lib.callbacks.CSVLogger(paths[lib], separator=sep,
                                                      append=append)],
                 epochs=3, validation_data=(x[:16], y[:16]), validation_freq=2)
    hk, rows_k = _read_csv(paths[keras], sep)
    hc, rows_c = _read_csv(paths[cnn], sep)
    assert hc == hk == sep.join(["epoch", "accuracy", "loss", "val_accuracy", "val_loss"])
    assert len(rows_c) == len(rows_k) == 6
    for rc, rk in zip(rows_c, rows_k):
        assert [v == "NA" for v in rc] == [v == "NA" for v in rk]
        np.testing.assert_allclose([float(v) for v in rc if v != "NA"],
                                   [float(v) for v in rk if v != "NA"], rtol=2e-5)


# ---- ModelCheckpoint and weights files --------------------------------------------------------

def test_model_checkpoint_files_like_keras(tmp_path, capsys):
    x, y = data(8)
    dirs = {keras: tmp_path / "k", cnn: tmp_path / "c"}

    def make(lib):
        d = dirs[lib]
        return [lib.callbacks.ModelCheckpoint(str(d / "w{epoch:02d}-{val_loss:.3f}.weights.h5"),
                                              save_weights_only=True),
                lib.callbacks.ModelCheckpoint(str(d / "best.weights.h5"), monitor="val_accuracy",
                                              save_best_only=True, save_weights_only=True,
                                              verbose=1),
                lib.callbacks.ModelCheckpoint(str(d / "b{epoch}-{batch}.weights.h5"),
                                              save_weights_only=True, save_freq=2)]

    (k, c), _, _ = fit_both(make, epochs=4, lr=0.3, validation_data=(x[:16] * 2, y[:16]))
    names = sorted(os.listdir(dirs[keras]))
    assert sorted(os.listdir(dirs[cnn])) == names
    assert "w04-" in " ".join(names) and "b2-1.weights.h5" in names
    out = capsys.readouterr().out.replace(str(dirs[keras]), "DIR").replace(str(dirs[cnn]), "DIR")
    lines = out.splitlines()
    assert lines[:len(lines) // 2] == lines[len(lines) // 2:]
    assert "val_accuracy improved from None to" in out and "did not improve from" in out
    # every file cnn wrote loads into Keras and matches Keras's own file
    for name in names:
        probe_k, probe_c = twins()
        probe_k.load_weights(str(dirs[cnn] / name))
        probe_c.load_weights(str(dirs[keras] / name))
        assert_weights_close(probe_c, probe_k)


def test_model_checkpoint_arguments_like_keras():
    with pytest.raises(ValueError, match=r"filepath provided must end in `.weights.h5`"):
        cnn.callbacks.ModelCheckpoint("w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `.keras` \(Keras model format\)"):
        cnn.callbacks.ModelCheckpoint("w.txt")
    with pytest.raises(ValueError, match=r"must end in `.keras`"):
        cnn.callbacks.ModelCheckpoint("model.h5")  # Keras 2's whole-model h5: not written
    with pytest.raises(ValueError, match=r"Unrecognized save_freq: often"):
        cnn.callbacks.ModelCheckpoint("w.weights.h5", save_weights_only=True, save_freq="often")
    _, c = twins()
    x, y = data()
    cb = cnn.callbacks.ModelCheckpoint("{nope}.weights.h5", save_weights_only=True)
    with pytest.raises(KeyError, match=r'Failed to format this callback filepath: '
                                       r'"\{nope\}.weights.h5". Reason:'):
        c.fit(x, y, verbose=0, callbacks=[cb])


def test_weights_files_move_between_keras_and_cnn(tmp_path):
    x, _ = data(9)
    # functional, with an input layer in the file
    ki = keras.Input((D,))
    ko = keras.layers.Dense(2)(keras.layers.Dense(4, activation="tanh")(ki))
    km = keras.Model(ki, ko)
    ci = cnn.layers.Input((D,))
    co = cnn.layers.Dense(2)(cnn.layers.Dense(4, activation="tanh")(ci))
    cm = cnn.models.Model(ci, co)
    km.save_weights(tmp_path / "f.weights.h5")
    cm.load_weights(tmp_path / "f.weights.h5")
    np.testing.assert_allclose(cm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)

    # subclassed: sublayers by attribute name, in Keras's order
    def subclassed(lib):
        class Net(lib.models.Model):
            def __init__(self):
                super().__init__()
                self.zeta = lib.layers.Dense(4, activation="relu")
                self.alpha = lib.layers.Dense(2)

            def call(self, inputs):
                return self.alpha(self.zeta(inputs))
        net = Net()
        net(x[:1])
        return net

    ks, cs = subclassed(keras), subclassed(cnn)
    cs.save_weights(str(tmp_path / "s.weights.h5"))
    ks.load_weights(str(tmp_path / "s.weights.h5"))
    np.testing.assert_allclose(np.asarray(ks.predict(x, verbose=0)), cs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)

    # mismatches: an error naming the layer, or with skip_mismatch a warning
    other = cnn.models.Sequential([cnn.layers.Input((D,)), cnn.layers.Dense(3),
                                   cnn.layers.Dense(2)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"(?s)A total of 2 objects could not be loaded.*"
                                         r"weight 'kernel' \(variable 0\) has shape \(5, 3\), but "
                                         r"the file holds shape \(5, 4\)"):
        other.load_weights(tmp_path / "f.weights.h5")
    # (a functional file keys the first Dense as layers/dense, as this Sequential does)
    for a, b in zip(other.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match=r"could not be loaded"):
        other.load_weights(tmp_path / "f.weights.h5", skip_mismatch=True)
    with pytest.raises(ValueError, match=r"The filename must end in `.weights.h5`"):
        cm.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match=r"not yet been built"):
        cnn.models.Sequential([cnn.layers.Dense(2)]).save_weights(tmp_path / "u.weights.h5")


# ---- TerminateOnNaN and LambdaCallback ---------------------------------------------------------

def test_terminate_on_nan_like_keras(capsys):
    x, y = data(10)
    x[40, 0] = np.nan  # batch 2 of each epoch
    (k, c), (hk, hc), _ = fit_both(lambda lib: [lib.callbacks.TerminateOnNaN()], epochs=3, x=x, y=y)
    assert hc.epoch == hk.epoch == [0]
    assert np.isnan(hc.history["loss"][0]) and np.isnan(hk.history["loss"][0])
    out = capsys.readouterr().out
    assert out == "Batch 2: Invalid loss, terminating training\n" * 2
    _, c = twins()
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch 2. Loss value: "
                                           r"nan. Terminating training immediately."):
        c.fit(x, y, batch_size=16, shuffle=False, verbose=0,
              callbacks=[cnn.callbacks.TerminateOnNaN(raise_error=True)])


def test_lambda_callback_hooks():
    calls = []
    cb = cnn.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_test_end=lambda logs: calls.append(("test_end", sorted(logs))),
        on_predict_begin=lambda logs: calls.append(("predict_begin",)))
    x, y = data(11)
    _, c = twins()
    c.fit(x, y, batch_size=24, epochs=1, verbose=0, validation_split=0.5, callbacks=[cb])
    c.predict(x, verbose=0, callbacks=[cb])
    assert calls == [("train_begin", {}), ("batch_end", 0), ("test_end", ["accuracy", "loss"]),
                     ("epoch_end", 0, ["accuracy", "loss", "val_accuracy", "val_loss"]),
                     ("predict_begin",)]
    with pytest.raises(TypeError, match=r"LambdaCallback got unknown hook\(s\) \['on_epoch_ends'\]"):
        cnn.callbacks.LambdaCallback(on_epoch_ends=print)
