"""Recurrent layers' masks, initial/final states, GRU reset_after=False, Bidirectional and
Masking against real Keras 3 (torch backend): outputs, gradients through fit, and the
masked loss."""
import re

import numpy as np
import pytest

import cnn

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)

N, T, V, E = 16, 7, 9, 4


def tokens(seed=0):
    """Right- and left-padded integer sequences (0 = padding), one all padding."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, V, (N, T)).astype(np.float32)
    lengths = rng.integers(0, T + 1, N)
    for i, n in enumerate(lengths):
        if i % 2:
            x[i, n:] = 0  # right padding
        else:
            x[i, :T - n] = 0  # left padding
    x[3] = 0
    return x


def build(lib, rnn, **kw):
    L = lib.layers
    inp = L.Input((T,))
    h = L.Embedding(V, E, mask_zero=True)(inp)
    out = rnn(L)(h, **kw) if kw else rnn(L)(h)
    return lib.models.Model(inp, out) if lib is cnn else keras.Model(inp, out)


def copy_weights(k, c):
    c.set_weights([np.asarray(w) for w in k.get_weights()])


def nudge(model, seed=3):
    """Moves biases off zeros so every term is exercised."""
    ws = [np.asarray(w) for w in model.get_weights()]
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.uniform(-0.3, 0.3, w.shape).astype(np.float32) for w in ws])


RNNS = {
    "lstm": lambda **kw: (lambda L: L.LSTM(5, **kw)),
    "gru": lambda **kw: (lambda L: L.GRU(5, **kw)),
    "gru_reset_before": lambda **kw: (lambda L: L.GRU(5, reset_after=False, **kw)),
    "simple": lambda **kw: (lambda L: L.SimpleRNN(5, **kw)),
}
OPTIONS = [{}, dict(return_sequences=True), dict(go_backwards=True),
           dict(return_sequences=True, go_backwards=True),
           dict(return_sequences=True, zero_output_for_mask=True)]


@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("kind", list(RNNS))
def test_masked_outputs_match_keras(kind, opts):
    keras.utils.set_random_seed(0)
    k = build(keras, RNNS[kind](**opts))
    nudge(k)
    c = build(cnn, RNNS[kind](**opts))
    copy_weights(k, c)
    x = tokens()
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", list(RNNS))
def test_return_state_and_initial_state_match_keras(kind):
    """An encoder's final states start a decoder (seq2seq), with masks on both."""
    def model(lib):
        L = lib.layers
        src, tgt = L.Input((T,)), L.Input((T,))
        enc = RNNS[kind](return_state=True)(L)(L.Embedding(V, E, mask_zero=True)(src))
        states = enc[1:]
        dec = RNNS[kind](return_sequences=True)(L)(
            L.Embedding(V, E, mask_zero=True)(tgt), initial_state=states)
        outs = [dec] + list(states)
        return (cnn.models.Model if lib is cnn else keras.Model)([src, tgt], outs)

    keras.utils.set_random_seed(1)
    k = model(keras)
    nudge(k)
    c = model(cnn)
    copy_weights(k, c)
    xs = [tokens(1), tokens(2)]
    for got, want in zip(c.predict(xs, verbose=0), k.predict(xs, verbose=0)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_keras(merge_mode, return_sequences):
    def rnn(L):
        return L.Bidirectional(L.LSTM(4, return_sequences=return_sequences),
                               merge_mode=merge_mode)
    keras.utils.set_random_seed(2)
    k = build(keras, rnn)
    nudge(k)
    c = build(cnn, rnn)
    copy_weights(k, c)
    x = tokens(3)
    got, want = c.predict(x, verbose=0), k.predict(x, verbose=0)
    for g, w in zip(got if merge_mode is None else [got], want if merge_mode is None else [want]):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=1e-6)
    assert [w.shape for w in c.weights] == [tuple(w.shape) for w in k.weights]


def test_bidirectional_return_state_matches_keras():
    def rnn(L):
        return L.Bidirectional(L.GRU(3, return_state=True, return_sequences=True))
    keras.utils.set_random_seed(4)
    k = build(keras, rnn)
    nudge(k)
    c = build(cnn, rnn)
    copy_weights(k, c)
    x = tokens(4)
    got, want = c.predict(x, verbose=0), k.predict(x, verbose=0)
    assert len(got) == len(want) == 3
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=1e-6)


def test_masking_layer_matches_keras():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, T, 3)).astype(np.float32)
    x[::2, -3:] = -1.0  # padded steps
    x[1, :2] = -1.0

    def model(lib):
        L = lib.layers
        inp = L.Input((T, 3))
        out = L.LSTM(4, return_sequences=True)(L.Masking(mask_value=-1.0)(inp))
        return (cnn.models.Model if lib is cnn else keras.Model)(inp, out)
    keras.utils.set_random_seed(5)
    k, c = model(keras), model(cnn)
    copy_weights(k, c)
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    layer = cnn.layers.Masking(mask_value=-1.0)
    np.testing.assert_array_equal(np.asarray(layer(x)),
                                  np.asarray(keras.layers.Masking(mask_value=-1.0)(x)))


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_before", "simple"])
def test_masked_sequence_training_matches_keras(kind):
    """The masked loss (padding steps weigh nothing, the mean runs over kept steps) and
    the gradients through masked steps and initial states: 12 SGD steps."""
    def model(lib):
        L = lib.layers
        inp = L.Input((T,))
        h = RNNS[kind](return_sequences=True)(L)(L.Embedding(V, E, mask_zero=True)(inp))
        out = L.Dense(2)(h)
        return (cnn.models.Model if lib is cnn else keras.Model)(inp, out)
    keras.utils.set_random_seed(6)
    k, c = model(keras), model(cnn)
    nudge(k)
    copy_weights(k, c)
    x = tokens(6)
    y = np.random.default_rng(7).standard_normal((N, T, 2)).astype(np.float32)
    k.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    c.compile(optimizer=cnn.optimizers.SGD(0.1), loss="mse")
    hk = k.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    hc = c.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    for got, want in zip(c.get_weights(), k.get_weights()):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0), rtol=1e-5)


def test_dropout_trains_and_is_off_in_inference():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((64, T, 3)).astype(np.float32)
    y = x[:, :, 0].sum(1, keepdims=True).astype(np.float32)
    model = cnn.models.Sequential([cnn.layers.Input((T, 3)),
                                   cnn.layers.LSTM(8, dropout=0.3, recurrent_dropout=0.3, seed=1),
                                   cnn.layers.Dense(1)])
    model.compile(cnn.optimizers.Adam(0.02), "mse")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * first
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    layer = model.layers[0]
    eager = [np.asarray(layer(x[:4], training=True)) for _ in range(2)]
    assert not np.allclose(eager[0], eager[1])  # each training call draws new masks
    np.testing.assert_array_equal(np.asarray(layer(x[:4])), np.asarray(layer(x[:4])))


def test_saving_round_trips_new_options(tmp_path):
    inp = cnn.layers.Input((T,))
    h = cnn.layers.Embedding(V, E, mask_zero=True)(inp)
    h = cnn.layers.Bidirectional(cnn.layers.GRU(3, reset_after=False, return_sequences=True,
                                                dropout=0.1))(h)
    out = cnn.layers.LSTM(2, zero_output_for_mask=True, return_sequences=True)(h)
    model = cnn.models.Model(inp, out)
    x = tokens(9)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = cnn.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)
    config = again.layers[2].get_config()
    assert config["layer"]["config"]["reset_after"] is False
    assert again.layers[1].mask_zero and again.layers[3].zero_output_for_mask


def test_bad_input_names_the_layer():
    lstm = cnn.layers.LSTM(3)
    x = np.ones((2, 5, 4), np.float32)
    lstm(x)
    with pytest.raises(ValueError, match="expected ndim=3"):
        lstm(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        lstm(np.ones((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"the mask must have shape \(batch, timesteps\)"):
        lstm(x, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"expects 2 initial state\(s\)"):
        lstm(x, initial_state=[np.zeros((2, 3), np.float32)])
    with pytest.raises(ValueError, match=r"initial state 1 must have shape \(batch, units\)"):
        lstm(x, initial_state=[np.zeros((2, 3), np.float32), np.zeros((2, 2), np.float32)])
    with pytest.raises(ValueError, match="recurrent layer"):
        cnn.layers.Bidirectional(cnn.layers.Dense(3))
    with pytest.raises(ValueError, match="Invalid merge mode"):
        cnn.layers.Bidirectional(cnn.layers.LSTM(3), merge_mode="max")
    # An explicit boolean mask works eagerly and matches the masked numbers.
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    np.testing.assert_allclose(np.asarray(lstm(x, mask=mask))[0],
                               np.asarray(lstm(x[:, :3]))[0], rtol=1e-6)


def seq2seq(lib):
    """Encoder (Bidirectional LSTM with states) -> decoder (LSTM from the encoder's
    forward states), masks from Embedding(mask_zero=True), a GRU with the reset before."""
    L = lib.layers
    src, tgt = L.Input((T,)), L.Input((T,))
    enc = L.Bidirectional(L.LSTM(3, return_state=True), merge_mode="sum")(
        L.Embedding(V, E, mask_zero=True)(src))
    dec = L.LSTM(3, return_sequences=True)(L.Embedding(V, E, mask_zero=True)(tgt),
                                           initial_state=enc[1:3])
    out = L.GRU(2, reset_after=False, return_sequences=True)(dec)
    return (cnn.models.Model if lib is cnn else keras.Model)([src, tgt], [out, enc[0]])


@pytest.mark.parametrize("direction", ["cnn_to_keras", "keras_to_cnn"])
def test_keras_files_move_both_ways(direction, tmp_path):
    keras.utils.set_random_seed(10)
    k, c = seq2seq(keras), seq2seq(cnn)
    nudge(k)
    copy_weights(k, c)
    xs = [tokens(10), tokens(11)]
    path = str(tmp_path / "m.keras")
    if direction == "cnn_to_keras":
        c.save(path)
        loaded = keras.models.load_model(path)
        got = [np.asarray(v) for v in loaded.predict(xs, verbose=0)]
        want = c.predict(xs, verbose=0)
    else:
        k.save(path)
        loaded = cnn.models.load_model(path)
        got = loaded.predict(xs, verbose=0)
        want = [np.asarray(v) for v in k.predict(xs, verbose=0)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    weights = str(tmp_path / "w.weights.h5")
    (k if direction == "keras_to_cnn" else c).save_weights(weights)
    fresh = seq2seq(cnn if direction == "keras_to_cnn" else keras)
    fresh.load_weights(weights)
    for g, w in zip(fresh.predict(xs, verbose=0), want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-6)


def masked_encoder(lib, residual=True):
    """A padded-token Transformer-style block: MultiHeadAttention sees the query/value
    masks, Add combines masks, GlobalAveragePooling1D averages the kept steps only."""
    L = lib.layers
    inp = L.Input((T,))
    h = L.Embedding(V, 8, mask_zero=True)(inp)
    a = L.MultiHeadAttention(num_heads=2, key_dim=4)(h, h)
    h = L.LayerNormalization()(L.Add()([h, a]) if residual else a)
    h = L.Dense(8, activation="relu")(h)
    out = L.Dense(2)(L.GlobalAveragePooling1D()(h))
    return (cnn.models.Model if lib is cnn else keras.Model)(inp, out)


@pytest.mark.parametrize("residual", [True, False])
def test_attention_add_and_pooling_respect_masks_like_keras(residual):
    keras.utils.set_random_seed(12)
    k, c = masked_encoder(keras, residual), masked_encoder(cnn, residual)
    nudge(k)
    copy_weights(k, c)
    x = tokens(12)
    x[(x == 0).all(1), 0] = 1  # every row keeps a step (Keras's masked mean of none is NaN)
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    y = np.random.default_rng(13).integers(0, 2, N).astype(np.float32)
    for m in (k, c):
        m.compile(optimizer=(keras if m is k else cnn).optimizers.SGD(0.05),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hk = k.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hc = c.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)


def test_masked_metrics_count_kept_steps_like_keras():
    def model(lib):
        L = lib.layers
        inp = L.Input((T,))
        h = L.LSTM(4, return_sequences=True)(L.Embedding(V, E, mask_zero=True)(inp))
        return (cnn.models.Model if lib is cnn else keras.Model)(inp, L.Dense(3)(h))
    keras.utils.set_random_seed(14)
    k, c = model(keras), model(cnn)
    copy_weights(k, c)
    x = tokens(14)
    y = np.random.default_rng(15).integers(0, 3, (N, T)).astype(np.float32)
    for m, lib in ((k, keras), (c, cnn)):
        m.compile(optimizer="sgd", metrics=["accuracy"],
                  loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True))
    want, got = k.evaluate(x, y, verbose=0), c.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_global_average_pooling_mask_eagerly():
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    mask = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], bool)
    out = np.asarray(cnn.layers.GlobalAveragePooling1D()(x, mask=mask))
    np.testing.assert_allclose(out[0], x[0, :2].mean(0))
    np.testing.assert_array_equal(out[1], np.zeros(3))  # no kept step: zeros, not NaN


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "SimpleRNN"])
def test_stateful_carries_states_across_batches_like_keras(cls):
    def model(lib):
        L = lib.layers
        inp = L.Input((T, 3), batch_size=4)
        out = L.Dense(1)(getattr(L, cls)(5, stateful=True, return_sequences=True)(inp))
        return (cnn.models.Model if lib is cnn else keras.Model)(inp, out)
    keras.utils.set_random_seed(16)
    k, c = model(keras), model(cnn)
    nudge(k)
    copy_weights(k, c)
    rng = np.random.default_rng(17)
    chunks = [rng.standard_normal((4, T, 3)).astype(np.float32) for _ in range(3)]
    for x in chunks:  # each predict continues from the previous batch's final states
        np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)),
                                   rtol=1e-5, atol=1e-6)
    for h, kh in zip(c.layers[1].states, k.layers[1].states):
        np.testing.assert_allclose(h.numpy(), np.asarray(kh), rtol=1e-5, atol=1e-6)
    c.layers[1].reset_states()
    k.layers[1].reset_states()
    np.testing.assert_allclose(c.predict(chunks[0], verbose=0),
                               np.asarray(k.predict(chunks[0], verbose=0)), rtol=1e-5, atol=1e-6)
    assert len(c.weights) == len(k.weights)  # the states are not weights


def test_stateful_training_equals_one_long_sequence():
    """fit on consecutive chunks of one sequence carries the states like the unbroken
    sequence: the first step's gradients equal the long model's through the carried
    states' values (the states themselves are constants, as in Keras)."""
    rng = np.random.default_rng(18)
    x = rng.standard_normal((2, 2 * T, 3)).astype(np.float32)
    layer = cnn.layers.LSTM(4, stateful=True, return_sequences=True)
    model = cnn.models.Sequential([cnn.layers.Input((T, 3), batch_size=2), layer])
    long_ = cnn.layers.LSTM(4, return_sequences=True)
    long_(x)
    long_.set_weights(layer.get_weights())
    want = np.asarray(long_(x))
    got = np.concatenate([model.predict(x[:, :T], verbose=0),
                          model.predict(x[:, T:], verbose=0)], 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # A training step moves the states on too (from the weights before its update).
    model.compile("sgd", "mse")
    layer.reset_states()
    model.fit(x[:, :T], np.zeros((2, T, 4), np.float32), batch_size=2, shuffle=False, verbose=0)
    final = cnn.layers.LSTM(4, return_state=True)
    final(x[:, :T])
    final.set_weights(long_.get_weights())
    _, h, c = final(x[:, :T])
    np.testing.assert_allclose(layer.states[0].numpy(), np.asarray(h), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.states[1].numpy(), np.asarray(c), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch size must be static"):
        cnn.models.Sequential([cnn.layers.Input((T, 3)), cnn.layers.GRU(2, stateful=True)])
    with pytest.raises(ValueError, match=re.escape("lstm: initial state 0 must be (N, u)")):
        model.predict(x[:1, :T], verbose=0)


def concat_model(lib, axis, mask_second):
    """Two token inputs (the second masked or not) embedded and concatenated along the time
    axis or the features, then an LSTM that consumes the merged mask."""
    L = lib.layers
    a, b = L.Input((T,)), L.Input((T,))
    ha = L.Embedding(V, E, mask_zero=True)(a)
    hb = L.Embedding(V, E, mask_zero=mask_second)(b)
    out = L.LSTM(5, return_sequences=True)(L.Concatenate(axis=axis)([ha, hb]))
    return (lib.models.Model if lib is cnn else keras.Model)([a, b], out)


@pytest.mark.parametrize("axis", [1, -1])
@pytest.mark.parametrize("mask_second", [True, False])
def test_concatenate_merges_step_masks_as_keras(axis, mask_second):
    """Along time the masks are concatenated (an unmasked input keeps all its steps); along
    the features a step is kept when any input keeps it, as in Keras 3."""
    xa, xb = tokens(0), tokens(5)
    k = concat_model(keras, axis, mask_second)
    nudge(k)
    c = concat_model(cnn, axis, mask_second)
    copy_weights(k, c)
    np.testing.assert_allclose(c.predict([xa, xb], verbose=0), np.asarray(k.predict([xa, xb], verbose=0)),
                               rtol=1e-5, atol=1e-5)
