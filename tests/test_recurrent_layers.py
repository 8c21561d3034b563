"""Recurrent layers: SimpleRNN, LSTM and GRU against real Keras 3 (torch backend) for outputs and training."""
import numpy as np
import pytest

import cnn

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)  # tiny models: torch's threads only contend with OpenBLAS's

N, T, F = 64, 6, 5


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    y = (x[:, :, 0].sum(1, keepdims=True) * 0.3 + x[:, -1, 1:2]).astype(np.float32)
    return x, y


def twins(units, head=True, cls="LSTM", **kw):
    # Fixed initial weights: a rare draw leaves one Adam-trained weight just past the
    # tolerance (float32 order differs from Keras's), and a test must not depend on luck.
    keras.utils.set_random_seed(0)
    k_layers = [keras.Input((T, F)), getattr(keras.layers, cls)(units, **kw)]
    c_layers = [cnn.layers.Input((T, F)), getattr(cnn.layers, cls)(units, **kw)]
    if head:
        k_layers.append(keras.layers.Dense(1))
        c_layers.append(cnn.layers.Dense(1))
    k, c = keras.Sequential(k_layers), cnn.models.Sequential(c_layers)
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


@pytest.mark.parametrize("cls,kw", [(cls, kw) for cls in ("LSTM", "GRU") for kw in [
    {}, dict(return_sequences=True), dict(go_backwards=True),
    dict(go_backwards=True, return_sequences=True), dict(use_bias=False),
    dict(activation="relu", recurrent_activation="hard_sigmoid"),
    dict(activation="sigmoid", recurrent_activation="tanh")]] + [("LSTM", dict(unit_forget_bias=False))]
    + [("SimpleRNN", kw) for kw in [{}, dict(return_sequences=True), dict(go_backwards=True),
                                    dict(use_bias=False), dict(activation="relu"),
                                    dict(activation="sigmoid", go_backwards=True, return_sequences=True)]],
    ids=str)
def test_outputs_match_keras(cls, kw):
    k, c = twins(7, head=False, cls=cls, **kw)
    x, _ = data()
    # Nudge the bias off Keras's zeros/ones so every gate's bias is exercised.
    if kw.get("use_bias", True):
        ws = k.get_weights()
        ws[2] = ws[2] + np.random.default_rng(3).uniform(-0.3, 0.3, ws[2].shape).astype(np.float32)
        k.set_weights(ws)
        c.set_weights(ws)
    want = np.asarray(k.predict(x, verbose=0))
    got = c.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_lstm_weights_and_init_like_keras():
    layer = cnn.layers.LSTM(3)
    layer.build((None, 4, 2))
    kl = keras.layers.LSTM(3)
    kl.build((None, 4, 2))
    assert [w.shape for w in layer.weights] == [tuple(w.shape) for w in kl.weights]
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    np.testing.assert_array_equal(layer.bias.numpy(), np.r_[np.zeros(3), np.ones(3), np.zeros(6)])
    r = layer.recurrent_kernel.numpy()  # orthogonal (3, 12): orthonormal rows
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-5)
    assert cnn.layers.LSTM(3, unit_forget_bias=False, name="l").get_config()["unit_forget_bias"] is False
    assert cnn.layers.LSTM(3, use_bias=False)(np.ones((2, 4, 2), np.float32)).shape == (2, 3)


def test_lstm_shapes_config_and_errors():
    layer = cnn.layers.LSTM(5, return_sequences=True, go_backwards=True, activation="relu")
    assert layer.compute_output_shape((None, 4, 2)) == (None, 4, 5)
    assert cnn.layers.LSTM(5).compute_output_shape((None, 4, 2)) == (None, 5)
    cfg = layer.get_config()
    assert cfg["activation"] == "relu" and cfg["return_sequences"] and cfg["go_backwards"]
    again = cnn.layers.LSTM.from_config(cfg)
    assert again.units == 5 and again.return_sequences and again.go_backwards
    with pytest.raises(ValueError, match="`activation` must be one of"):
        cnn.layers.LSTM(3, activation="softmax")
    with pytest.raises(ValueError, match="positive integer"):
        cnn.layers.LSTM(0)
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        cnn.layers.LSTM(3, dropuot=0.1)
    assert cnn.layers.LSTM(3, stateful=True).get_config()["stateful"] is True


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("opt,kw", [("SGD", dict(learning_rate=0.1)), ("Adam", dict(learning_rate=0.01))])
@pytest.mark.parametrize("lstm_kw", [{}, dict(go_backwards=True)], ids=str)
def test_regression_trains_like_keras(opt, kw, lstm_kw, cls):
    x, y = data(1)
    k, c = twins(8, cls=cls, **lstm_kw)
    k.compile(optimizer=getattr(keras.optimizers, opt)(**kw), loss="mse")
    c.compile(optimizer=getattr(cnn.optimizers, opt)(**kw), loss="mse")
    # 64 samples in batches of 4: 16 steps per epoch, 20 steps over two epochs' worth.
    xs, ys = np.concatenate([x, x[:16]]), np.concatenate([y, y[:16]])
    hk = k.fit(xs, ys, batch_size=4, epochs=1, shuffle=False, verbose=0)
    hc = c.fit(xs, ys, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert int(c.optimizer.iterations) == 20
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "SimpleRNN"])
def test_eager_gradient_matches_keras(cls):
    k, c = twins(4, head=False, cls=cls, return_sequences=True)
    x, _ = data(2)
    layer = c.layers[0]
    with cnn.backend.GradientTape() as tape:
        y = layer(x)
        loss = cnn.backend.op("sum", [cnn.backend.op("square", [y])], ints=[0, 1, 2])
    grads = tape.gradient(loss, [layer.kernel, layer.recurrent_kernel, layer.bias])
    kl = k.layers[0]
    ws = [kl.cell.kernel, kl.cell.recurrent_kernel, kl.cell.bias]
    out = kl(torch.tensor(x))
    want = torch.autograd.grad((out ** 2).sum(), [w.value for w in ws])
    for g, w in zip(grads, want):
        np.testing.assert_allclose(np.asarray(g), w.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_gru_weights_config_and_errors():
    layer = cnn.layers.GRU(3)
    layer.build((None, 4, 2))
    kl = keras.layers.GRU(3)
    kl.build((None, 4, 2))
    assert [w.shape for w in layer.weights] == [tuple(w.shape) for w in kl.weights]
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros((2, 9)))
    cfg = cnn.layers.GRU(5, return_sequences=True, go_backwards=True).get_config()
    assert "unit_forget_bias" not in cfg
    again = cnn.layers.GRU.from_config(cfg)
    assert again.units == 5 and again.return_sequences and again.go_backwards
    assert again.compute_output_shape((None, 4, 2)) == (None, 4, 5)
    assert cnn.layers.GRU(3, use_bias=False)(np.ones((2, 4, 2), np.float32)).shape == (2, 3)
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        cnn.layers.GRU(3, unit_forget_bias=False)
    with pytest.raises(ValueError, match="`recurrent_activation` must be one of"):
        cnn.layers.GRU(3, recurrent_activation="softmax")


def test_simple_rnn_weights_config_and_errors():
    layer = cnn.layers.SimpleRNN(3)
    layer.build((None, 4, 2))
    kl = keras.layers.SimpleRNN(3)
    kl.build((None, 4, 2))
    assert [w.shape for w in layer.weights] == [tuple(w.shape) for w in kl.weights]
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    cfg = cnn.layers.SimpleRNN(5, activation="relu", go_backwards=True).get_config()
    assert "recurrent_activation" not in cfg and "unit_forget_bias" not in cfg
    again = cnn.layers.SimpleRNN.from_config(cfg)
    assert again.units == 5 and again.go_backwards and again.get_config()["activation"] == "relu"
    assert again.compute_output_shape((None, 4, 2)) == (None, 5)
    assert not isinstance(cnn.layers.GRU(2), cnn.layers.LSTM)
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        cnn.layers.SimpleRNN(3, recurrent_activation="sigmoid")
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        cnn.layers.GRU(3, unit_forget_bias=True)
    with pytest.raises(ValueError, match="`activation` must be one of"):
        cnn.layers.SimpleRNN(3, activation="gelu")
