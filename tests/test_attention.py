"""MultiHeadAttention: Keras 3 parity (weights, outputs, attention scores, masks, causal
mask, training), functional models with several inputs, tape gradients, validation."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def arrays(seed=0, b=2, t=5, s=7, dq=6, dv=8):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, t, dq)).astype(np.float32),
            rng.standard_normal((b, s, dv)).astype(np.float32), rng)


def twins(**kw):
    k = keras.layers.MultiHeadAttention(**kw)
    c = cnn.layers.MultiHeadAttention(**kw)
    return k, c


def np_(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def copy_weights(k, c, *shapes):
    c.build(*shapes)
    c.set_weights([np_(w) for w in k.get_weights()])


def test_weight_shapes_and_order_match_keras():
    q, v, _ = arrays()
    k, c = twins(num_heads=2, key_dim=3, value_dim=4)
    k(q, v)
    c(q, v)
    assert [w.shape for w in c.get_weights()] == [tuple(w.shape) for w in k.weights]
    assert [w.name for w in c.weights] == [
        "query/kernel", "query/bias", "key/kernel", "key/bias", "value/kernel", "value/bias",
        "attention_output/kernel", "attention_output/bias"]
    assert c.count_params() == k.count_params()


@pytest.mark.parametrize("kw", [dict(num_heads=2, key_dim=3, value_dim=4),
                                dict(num_heads=3, key_dim=2, use_bias=False),
                                dict(num_heads=2, key_dim=4, output_shape=5),
                                dict(num_heads=1, key_dim=3, output_shape=(2, 3))])
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "mask+causal"])
def test_outputs_and_scores_match_keras(kw, masking):
    q, v, rng = arrays(1)
    key = rng.standard_normal((2, 7, 3)).astype(np.float32)
    k, c = twins(**kw)
    k(q, v, key=key)
    copy_weights(k, c, q.shape, v.shape, key.shape)
    call = {}
    if "mask" in masking:
        call["attention_mask"] = rng.random((2, 5, 7)) > 0.4
        call["attention_mask"][0, 0] = False  # a fully masked query step: all zeros
    if "causal" in masking:
        call["use_causal_mask"] = True
    ko, ks = k(q, v, key=key, return_attention_scores=True, **call)
    co, cs = c(q, v, key=key, return_attention_scores=True, **call)
    assert cs.shape == tuple(ks.shape) == (2, kw["num_heads"], 5, 7)
    np.testing.assert_allclose(np_(cs), np_(ks), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np_(co), np_(ko), rtol=1e-5, atol=1e-5)
    if "mask" in masking:
        np.testing.assert_array_equal(np_(cs)[0, :, 0], 0.0)


@pytest.mark.parametrize("masking", ["none", "mask", "causal"])
def test_output_without_scores_matches_keras_fused_path(masking):
    # Keras routes this case through ops.dot_product_attention; no fully masked rows here.
    q, _, rng = arrays(2, s=5)
    k, c = twins(num_heads=2, key_dim=3)
    k(q, q)
    copy_weights(k, c, q.shape, q.shape)
    call = {}
    if masking == "mask":
        m = rng.random((2, 5, 5)) > 0.5
        m[:, :, 0] = True
        call["attention_mask"] = m
    if masking == "causal":
        call["use_causal_mask"] = True
    np.testing.assert_allclose(np_(c(q, q, **call)), np_(k(q, q, **call)), rtol=1e-5, atol=1e-5)


def test_float_and_broadcast_masks_follow_keras():
    # Keras casts the mask to bool (nonzero keeps a position, 0.5 included); a (T, S) mask
    # broadcasts over batch and heads.
    q, v, rng = arrays(3)
    k, c = twins(num_heads=2, key_dim=3)
    k(q, v)
    copy_weights(k, c, q.shape, v.shape)
    m = rng.choice(np.array([0.0, 0.5, -2.0, 1.0, 1e-30], np.float32), (2, 5, 7))
    m[:, :, 0] = 1.0
    for mask in (m, m[0] != 0):
        _, ks = k(q, v, attention_mask=mask, return_attention_scores=True)
        _, cs = c(q, v, attention_mask=mask, return_attention_scores=True)
        np.testing.assert_allclose(np_(cs), np_(ks), rtol=1e-5, atol=1e-6)
    # an eager Tensor mask: the engine computes the same (!= 0) rule
    _, cs_t = c(q, v, attention_mask=cnn.backend.convert_to_tensor(m),
                return_attention_scores=True)
    _, cs_n = c(q, v, attention_mask=m, return_attention_scores=True)
    np.testing.assert_allclose(np_(cs_t), np_(cs_n), rtol=1e-6, atol=1e-7)


def test_functional_model_with_mask_input_and_scores():
    q, v, rng = arrays(4)
    m = (rng.random((2, 5, 7)) > 0.3).astype(np.float32)
    m[:, :, 0] = 1.0

    def build(lib):
        iq, iv, im = lib.layers.Input((5, 6)), lib.layers.Input((7, 8)), lib.layers.Input((5, 7))
        o, s = lib.layers.MultiHeadAttention(2, 3, name="mha")(
            iq, iv, attention_mask=im, return_attention_scores=True, use_causal_mask=True)
        return lib.models.Model([iq, iv, im], [o, s])

    km, cm = build(keras), build(cnn)
    assert cm.outputs[1].shape == (None, 2, 5, 7)
    cm.set_weights([np_(w) for w in km.get_weights()])
    ko, ks = km.predict([q, v, m], verbose=0)
    co, cs = cm.predict([q, v, m], verbose=0)
    np.testing.assert_allclose(cs, ks, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(co, ko, rtol=1e-5, atol=1e-5)
    eo, _ = cm([q, v, m])  # eager replay of the same graph
    np.testing.assert_allclose(np_(eo), co, rtol=1e-5, atol=1e-6)


def test_training_self_attention_matches_keras():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 6, 8)).astype(np.float32)
    y = rng.standard_normal((64, 2)).astype(np.float32)

    def build(lib):
        inp = lib.layers.Input((6, 8))
        h = lib.layers.MultiHeadAttention(num_heads=2, key_dim=4)(inp, inp)
        h = lib.layers.GlobalAveragePooling1D()(h)
        return lib.models.Model(inp, lib.layers.Dense(2)(h))

    km, cm = build(keras), build(cnn)
    cm.set_weights([np_(w) for w in km.get_weights()])
    km.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    cm.compile(optimizer=cnn.optimizers.Adam(0.01), loss="mse")
    hk = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # 16 steps
    hc = cm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    kh = km.fit(x[:32], y[:32], batch_size=8, epochs=1, shuffle=False, verbose=0)  # +4 = 20
    ch = cm.fit(x[:32], y[:32], batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(ch.history["loss"], kh.history["loss"], rtol=1e-5)
    # The key bias's true gradient is 0 (it shifts every logit of a softmax row equally),
    # so both libraries feed Adam rounding noise there and Adam amplifies its sign: only
    # its size is compared. Every other weight matches at rtol 1e-5 after 20 steps.
    names = [w.name for w in cm.weights]
    for name, wk, wc in zip(names, km.get_weights(), cm.get_weights()):
        if name.endswith("key/bias"):
            assert np.abs(wc).max() < 20 * 0.01 and np.abs(np_(wk)).max() < 20 * 0.01
            continue
        np.testing.assert_allclose(wc, np_(wk), rtol=1e-5, atol=1e-6, err_msg=name)


def test_tape_gradient_matches_finite_differences():
    q, v, rng = arrays(6, b=2, t=4, s=3, dq=5, dv=5)
    layer = cnn.layers.MultiHeadAttention(2, 3, value_dim=2)
    mask = np.ones((2, 4, 3), bool)
    mask[1, 2, 1] = False
    r = rng.standard_normal((2, 4, 5)).astype(np.float32)

    def loss():
        return cnn.ops.sum(cnn.ops.multiply(
            layer(q, v, attention_mask=mask, use_causal_mask=True), r))

    layer(q, v)
    kernel = layer.query_kernel
    with cnn.GradientTape() as tape:
        value = loss()
    grad = np_(tape.gradient(value, kernel))
    base = kernel.numpy().astype(np.float64)
    fd = np.zeros_like(base)
    eps = 1e-2
    for idx in np.ndindex(base.shape):
        for sign in (1, -1):
            w = base.copy()
            w[idx] += sign * eps
            kernel.assign(w)
            fd[idx] += sign * float(loss()) / (2 * eps)
    kernel.assign(base)
    assert np.abs(grad).max() > 1e-3
    np.testing.assert_allclose(grad, fd, rtol=2e-2, atol=2e-3)  # float32 central differences


def test_dropout_on_probabilities():
    q, v, _ = arrays(7)
    c = cnn.layers.MultiHeadAttention(2, 3, dropout=0.5, seed=1)
    out_inf, s_inf = c(q, v, return_attention_scores=True)
    out_inf2 = c(q, v, training=False)
    np.testing.assert_array_equal(np_(out_inf), np_(out_inf2))
    out_tr, s_tr = c(q, v, return_attention_scores=True, training=True)
    assert not np.allclose(np_(out_tr), np_(out_inf))
    np.testing.assert_allclose(np_(s_tr), np_(s_inf), rtol=1e-6)  # scores: before dropout
    # dropout 1.0 drops every probability: output is the output bias (zeros)
    full = cnn.layers.MultiHeadAttention(2, 3, dropout=1.0)
    np.testing.assert_array_equal(np_(full(q, v, training=True)), 0.0)
    # inside a compiled graph it trains (dropout active) and predicts deterministically
    inp = cnn.layers.Input((5, 6))
    model = cnn.models.Model(inp, cnn.layers.GlobalAveragePooling1D()(
        cnn.layers.MultiHeadAttention(2, 3, dropout=0.3)(inp, inp)))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(q, np.zeros((2, 6), np.float32), epochs=2, verbose=0)
    np.testing.assert_array_equal(model.predict(q, verbose=0), model.predict(q, verbose=0))


def test_validation_errors():
    for kw, msg in ((dict(num_heads=0, key_dim=2), "num_heads"),
                    (dict(num_heads=2.0, key_dim=2), "num_heads"),
                    (dict(num_heads=2, key_dim=0), "key_dim"),
                    (dict(num_heads=2, key_dim=None), "key_dim"),
                    (dict(num_heads=2, key_dim=2, value_dim=-1), "value_dim"),
                    (dict(num_heads=2, key_dim=2, dropout=1.5), "rate"),
                    (dict(num_heads=2, key_dim=2, output_shape="ab"), "output_shape")):
        with pytest.raises(ValueError, match=msg):
            cnn.layers.MultiHeadAttention(**kw)
    q, v, _ = arrays()
    c = cnn.layers.MultiHeadAttention(2, 3)
    with pytest.raises(ValueError, match="except the last one"):
        c(q, v, key=np.zeros((2, 4, 8), np.float32))
    with pytest.raises(ValueError, match="rank-3"):
        cnn.layers.MultiHeadAttention(2, 3)(q[0], v[0])
    with pytest.raises(TypeError, match="Unrecognized"):
        c(q, v, attention_axes=(1,))


def test_config_round_trip():
    c = cnn.layers.MultiHeadAttention(2, 3, value_dim=4, dropout=0.1, use_bias=False,
                                      output_shape=5, seed=3, name="att")
    config = c.get_config()
    again = cnn.layers.MultiHeadAttention.from_config(config)
    assert again.get_config() == config
    assert config["output_shape"] == (5,)


def test_mha_functional_model_saves_and_loads(tmp_path):
    q, _, rng = arrays(8, s=5)
    m = (rng.random((2, 5, 5)) > 0.3).astype(np.float32)
    iq, im = cnn.layers.Input((5, 6)), cnn.layers.Input((5, 5))
    out = cnn.layers.MultiHeadAttention(2, 3, value_dim=2)(iq, iq, attention_mask=im,
                                                           use_causal_mask=True)
    model = cnn.models.Model([iq, im], out)
    model.save(tmp_path / "mha.keras")
    again = cnn.models.load_model(tmp_path / "mha.keras")
    np.testing.assert_array_equal(again.predict([q, m], verbose=0),
                                  model.predict([q, m], verbose=0))


# ---- Attention and AdditiveAttention --------------------------------------------------------

DOT_CASES = [("Attention", {}), ("Attention", dict(use_scale=True)),
             ("Attention", dict(score_mode="concat")),
             ("Attention", dict(score_mode="concat", use_scale=True)),
             ("AdditiveAttention", {}), ("AdditiveAttention", dict(use_scale=False))]


@pytest.mark.parametrize("cls,kw", DOT_CASES)
@pytest.mark.parametrize("call", [{}, {"mask": "both"}, {"use_causal_mask": True},
                                  {"mask": "value", "use_causal_mask": True},
                                  {"mask": "query"}])
def test_dot_and_additive_attention_match_keras(cls, kw, call):
    rng = np.random.default_rng(10)
    q, v, key = (rng.standard_normal(s).astype(np.float32)
                 for s in ((2, 5, 4), (2, 7, 4), (2, 7, 4)))
    qm, vm = rng.random((2, 5)) > 0.3, rng.random((2, 7)) > 0.3
    call = dict(call)
    if "mask" in call:
        call["mask"] = {"both": [qm, vm], "value": [None, vm], "query": [qm, None]}[call["mask"]]
    k, c = getattr(keras.layers, cls)(**kw), getattr(cnn.layers, cls)(**kw)
    k([q, v, key])
    c([q, v, key])
    assert [w.shape for w in c.get_weights()] == [tuple(w.shape) for w in k.weights]
    weights = [np_(w) + 0.3 * rng.standard_normal(tuple(w.shape)).astype(np.float32)
               for w in k.weights]  # move scales away from their initial values
    k.set_weights(weights)
    c.set_weights(weights)
    ko, ks = k([q, v, key], return_attention_scores=True, **call)
    co, cs = c([q, v, key], return_attention_scores=True, **call)
    np.testing.assert_allclose(np_(cs), np_(ks), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np_(co), np_(ko), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np_(c([q, v], **call)), np_(k([q, v], **call)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,kw", [("Attention", dict(use_scale=True)),
                                    ("Attention", dict(score_mode="concat", use_scale=True)),
                                    ("AdditiveAttention", {})])
def test_attention_training_with_mask_inputs_matches_keras(cls, kw):
    rng = np.random.default_rng(11)
    xq = rng.standard_normal((64, 4, 3)).astype(np.float32)
    xv = rng.standard_normal((64, 6, 3)).astype(np.float32)
    qm = (rng.random((64, 4)) > 0.2).astype(np.float32)
    vm = (rng.random((64, 6)) > 0.3).astype(np.float32)
    y = rng.standard_normal((64, 2)).astype(np.float32)

    def build(lib):
        iq, iv = lib.layers.Input((4, 3)), lib.layers.Input((6, 3))
        iqm, ivm = lib.layers.Input((4,)), lib.layers.Input((6,))
        h = getattr(lib.layers, cls)(**kw)([iq, iv], mask=[iqm, ivm])
        # (test_attention_masks_propagate_as_in_keras covers the output's mask.)
        h = lib.layers.Flatten()(h)
        return lib.models.Model([iq, iv, iqm, ivm], lib.layers.Dense(2)(h))

    km, cm = build(keras), build(cnn)
    cm.set_weights([np_(w) for w in km.get_weights()])
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    cm.compile(optimizer=cnn.optimizers.SGD(0.1), loss="mse")
    data = [xq, xv, qm, vm]
    hk = km.fit(data, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hc = cm.fit(data, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    kh = km.fit([d[:32] for d in data], y[:32], batch_size=8, shuffle=False, verbose=0)
    ch = cm.fit([d[:32] for d in data], y[:32], batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(ch.history["loss"], kh.history["loss"], rtol=1e-5)
    for wk, wc in zip(km.get_weights(), cm.get_weights()):  # 20 SGD steps
        np.testing.assert_allclose(wc, np_(wk), rtol=1e-5, atol=1e-6)


def test_attention_tape_gradient_matches_finite_differences():
    rng = np.random.default_rng(12)
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    v = rng.standard_normal((2, 5, 4)).astype(np.float32)
    vm = np.array([[1, 1, 0, 1, 1], [1, 0, 1, 1, 1]], bool)
    layer = cnn.layers.AdditiveAttention()
    layer([q, v])
    r = rng.standard_normal((2, 3, 4)).astype(np.float32)

    def loss():
        return cnn.ops.sum(cnn.ops.multiply(layer([q, v], mask=[None, vm]), r))

    with cnn.GradientTape() as tape:
        value = loss()
    grad = np_(tape.gradient(value, layer.scale))
    base = layer.scale.numpy().astype(np.float64)
    fd = np.zeros_like(base)
    for i in range(base.size):
        for sign in (1, -1):
            w = base.copy()
            w[i] += sign * 1e-2
            layer.scale.assign(w)
            fd[i] += sign * float(loss()) / 2e-2
    layer.scale.assign(base)
    np.testing.assert_allclose(grad, fd, rtol=2e-2, atol=2e-3)


def test_attention_functional_save_load_and_dropout(tmp_path):
    rng = np.random.default_rng(13)
    q = rng.standard_normal((2, 4, 3)).astype(np.float32)
    vm = np.array([[1, 1, 0, 1], [1, 0, 1, 1]], np.float32)
    iq, ivm = cnn.layers.Input((4, 3)), cnn.layers.Input((4,))
    layer = cnn.layers.Attention(use_scale=True, dropout=0.5)
    out, scores = layer([iq, iq], mask=[ivm, ivm],
                        return_attention_scores=True, use_causal_mask=True)
    assert scores.shape == (None, 4, 4)
    model = cnn.models.Model([iq, ivm], [out, scores])
    model.save(tmp_path / "att.keras")
    again = cnn.models.load_model(tmp_path / "att.keras")
    for a, b in zip(again.predict([q, vm], verbose=0), model.predict([q, vm], verbose=0)):
        np.testing.assert_array_equal(a, b)
    eager_inf = layer([q, q])
    eager_tr = layer([q, q], training=True)
    assert not np.allclose(np_(eager_tr), np_(eager_inf))


def test_attention_validation_errors():
    q = np.zeros((2, 4, 3), np.float32)
    with pytest.raises(ValueError, match="score_mode"):
        cnn.layers.Attention(score_mode="add")
    with pytest.raises(ValueError, match="rate"):
        cnn.layers.AdditiveAttention(dropout=2.0)
    layer = cnn.layers.Attention()
    with pytest.raises(ValueError, match="list of inputs"):
        layer(q)
    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([q])
    with pytest.raises(ValueError, match="mask must be a list"):
        layer([q, q], mask=q[..., 0])
    with pytest.raises(ValueError, match="mask list of length"):
        layer([q, q], mask=[q[..., 0]])
    iq = cnn.layers.Input((4, 3))
    with pytest.raises(ValueError, match="symbolic"):
        layer([iq, iq], mask=[None, q[..., 0]])


@pytest.mark.parametrize("cls", ["Attention", "AdditiveAttention"])
@pytest.mark.parametrize("explicit", [False, True])
def test_attention_masks_propagate_as_in_keras(cls, explicit):
    """Masks from Embedding(mask_zero=True) reach the layer without being passed (Keras
    hands them to `mask`), and the output carries the query's mask on to a pooling layer;
    with masks given as model inputs, the pooling honours the query mask as well."""
    rng = np.random.default_rng(13)
    xq = rng.integers(0, 6, (16, 5)).astype(np.float32)
    xv = rng.integers(0, 6, (16, 7)).astype(np.float32)
    xq[:, -2:] = 0  # padded tails
    xq[:, 0] = 1    # (an all-padding query would make Keras's masked average 0/0 = NaN)
    xv[3] = 0       # one fully padded value sequence

    def build(lib):
        L = lib.layers
        iq, iv = L.Input((5,)), L.Input((7,))
        eq = L.Embedding(6, 3, mask_zero=not explicit)(iq)
        ev = L.Embedding(6, 3, mask_zero=not explicit)(iv)
        inputs = [iq, iv]
        if explicit:
            iqm, ivm = L.Input((5,)), L.Input((7,))
            h = getattr(L, cls)()([eq, ev], mask=[iqm, ivm])
            inputs += [iqm, ivm]
        else:
            h = getattr(L, cls)()([eq, ev])
        out = L.Dense(2)(L.GlobalAveragePooling1D()(h))
        return (lib.models.Model if lib is cnn else keras.Model)(inputs, out)

    km, cm = build(keras), build(cnn)
    weights = [np_(w) + 0.3 * rng.standard_normal(tuple(w.shape)).astype(np.float32)
               for w in km.weights]
    km.set_weights(weights)
    cm.set_weights(weights)
    data = [xq, xv] + ([(xq != 0).astype(np.float32), (xv != 0).astype(np.float32)]
                       if explicit else [])
    np.testing.assert_allclose(cm.predict(data, verbose=0), np_(km.predict(data, verbose=0)),
                               rtol=1e-5, atol=1e-6)
