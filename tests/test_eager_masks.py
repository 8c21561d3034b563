"""Masks in eager layer chains, as Keras 3 carries them on eager tensors: a layer called on
the output of Embedding(mask_zero=True) or Masking gets that mask without being given it,
and passes its own output mask on. Compared with real Keras (torch backend) for the same
weights."""
import numpy as np
import pytest

import cnn

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)


def to_np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def tokens():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, (6, 7)).astype(np.float32)
    for i, n in enumerate([7, 5, 3, 1, 6, 2]):
        x[i, n:] = 0  # right padding of several lengths
    return x


CHAINS = {
    "embedding-lstm": lambda L: [L.Embedding(9, 4, mask_zero=True), L.LSTM(3)],
    "embedding-gru-seq-pool": lambda L: [L.Embedding(9, 4, mask_zero=True),
                                         L.GRU(3, return_sequences=True),
                                         L.GlobalAveragePooling1D()],
    "embedding-dense-simple_rnn": lambda L: [L.Embedding(9, 4, mask_zero=True), L.Dense(5),
                                             L.SimpleRNN(3, go_backwards=True)],
    "embedding-bidirectional": lambda L: [L.Embedding(9, 4, mask_zero=True),
                                          L.Bidirectional(L.LSTM(2))],
}


def run_chain(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def copy(keras_layers, cnn_layers):
    for k, c in zip(keras_layers, cnn_layers):
        c.set_weights([to_np(w) for w in k.get_weights()])


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_eager_chain_applies_the_mask_like_keras(name):
    x = tokens()
    kl, cl = CHAINS[name](keras.layers), CHAINS[name](cnn.layers)
    run_chain(kl, x)
    run_chain(cl, x)  # builds the weights
    copy(kl, cl)
    np.testing.assert_allclose(to_np(run_chain(cl, x)), to_np(run_chain(kl, x)),
                               rtol=1e-5, atol=1e-6)


def test_eager_masking_layer_and_attention_like_keras():
    """Attention applies the carried masks as Keras does (masked query steps are zero)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    x[0, 4:] = 0.0
    x[2, 1:] = 0.0
    ref = to_np(keras.layers.Attention()([keras.layers.Masking(0.0)(x)] * 2))
    h = cnn.layers.Masking(0.0)(x)
    np.testing.assert_allclose(to_np(cnn.layers.Attention()([h, h])), ref, rtol=1e-5, atol=1e-6)


def test_eager_multi_head_attention_applies_carried_masks_as_a_model_does():
    """Eagerly, MultiHeadAttention uses the masks its inputs carry exactly as the same layer
    inside a functional model (checked against Keras in test_attention.py)."""
    x = tokens()
    L = cnn.layers
    emb, mha = L.Embedding(9, 4, mask_zero=True), L.MultiHeadAttention(2, 3)
    inp = L.Input((7,))
    h = emb(inp)
    model = cnn.models.Model(inp, mha(h, h))
    eager = emb(x)
    got = to_np(mha(eager, eager))
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    unmasked = to_np(mha(emb(x) * 1.0, emb(x) * 1.0))  # arithmetic drops the mask
    assert not np.allclose(got, unmasked)


def test_eager_mask_is_carried_and_an_explicit_mask_wins():
    x = tokens()
    emb = cnn.layers.Embedding(9, 4, mask_zero=True)
    h = emb(x)
    np.testing.assert_array_equal(np.asarray(h._keras_mask), (x != 0).astype(np.float32))
    lstm = cnn.layers.LSTM(3)
    everything = np.ones_like(x)
    # An explicit mask replaces the carried one: all steps kept differs from the padding mask.
    assert not np.allclose(np.asarray(lstm(h, mask=everything)), np.asarray(lstm(h)))
    assert cnn.layers.Dense(2)(np.ones((2, 3), np.float32))._keras_mask is None
