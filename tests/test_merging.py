"""Merge layers (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot) and
Lambda: values and output shapes against Keras 3, gradients through a compiled training
step, shape errors naming the layer, functional forms and the Keras 2 import path."""
import numpy as np
import pytest

import cnn
from cnn import layers as L

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


ELEMENTWISE = ["Add", "Multiply", "Average", "Maximum", "Minimum"]


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shapes", [[(4, 3), (4, 3)], [(4, 3), (4, 3), (4, 3)],
                                    [(4, 2, 3), (4, 3)], [(4, 2, 3), (4, 1, 3)],
                                    [(4, 1), (4, 3)]])
def test_elementwise_merges_match_keras(name, shapes):
    xs = [rand(*s) for s in shapes]
    ours = getattr(L, name)()(xs)
    ref = getattr(keras.layers, name)()(xs)
    np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(ref), rtol=1e-6,
                               atol=1e-6)
    sym = getattr(L, name)()([L.Input(s[1:]) for s in shapes])
    ksym = getattr(keras.layers, name)()([keras.Input(s[1:]) for s in shapes])
    assert sym.shape == tuple(ksym.shape)


def test_subtract_matches_keras_and_needs_two_inputs():
    a, b = rand(5, 3), rand(5, 3)
    np.testing.assert_allclose(L.Subtract()([a, b]).numpy(), a - b, rtol=1e-6)
    np.testing.assert_allclose(L.subtract([a, b]).numpy(),
                               keras.ops.convert_to_numpy(keras.layers.subtract([a, b])),
                               rtol=1e-6)
    with pytest.raises(ValueError, match=r"Subtract.*exactly 2 inputs"):
        L.Subtract(name="sub")([L.Input((3,)), L.Input((3,)), L.Input((3,))])


@pytest.mark.parametrize("axis,shapes", [(-1, [(4, 2), (4, 3)]), (1, [(4, 2, 5), (4, 1, 5)]),
                                         (2, [(4, 2, 5), (4, 2, 1), (4, 2, 2)])])
def test_concatenate_matches_keras(axis, shapes):
    xs = [rand(*s) for s in shapes]
    ours = L.Concatenate(axis=axis)(xs)
    ref = keras.layers.Concatenate(axis=axis)(xs)
    np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(ref))
    sym = L.concatenate([L.Input(s[1:]) for s in shapes], axis=axis)
    assert sym.shape == tuple(keras.layers.concatenate(
        [keras.Input(s[1:]) for s in shapes], axis=axis).shape)
    assert L.Concatenate(axis=axis).get_config()["axis"] == axis


@pytest.mark.parametrize("axes,shapes", [
    (1, [(4, 3), (4, 3)]),
    (-1, [(4, 3), (4, 3)]),
    ((1, 2), [(4, 3, 5), (4, 6, 3)]),
    ((2, 1), [(4, 3, 5), (4, 5, 2)]),
    (-1, [(4, 2, 5), (4, 3, 5)]),
    ((1, 1), [(4, 3), (4, 3, 2)]),
    ((2, 1), [(4, 3, 2), (4, 2)]),
    ((3, 1), [(4, 2, 3, 5), (4, 5, 2, 2)]),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(axes, shapes, normalize):
    xs = [rand(*s) for s in shapes]
    ours = L.Dot(axes=axes, normalize=normalize)(xs)
    ref = keras.ops.convert_to_numpy(keras.layers.Dot(axes=axes, normalize=normalize)(xs))
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-5, atol=1e-5)
    sym = L.Dot(axes=axes, normalize=normalize)([L.Input(s[1:]) for s in shapes])
    ksym = keras.layers.Dot(axes=axes)([keras.Input(s[1:]) for s in shapes])
    assert sym.shape == tuple(ksym.shape)


def test_dot_normalize_is_cosine_similarity_with_finite_gradient_at_zero():
    a, b = rand(6, 4), rand(6, 4)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(L.dot([a, b], axes=1, normalize=True).numpy()[:, 0], cos,
                               rtol=1e-5)
    zero = cnn.backend.Variable(np.zeros((2, 4), np.float32))
    with cnn.GradientTape() as tape:
        out = L.Dot(axes=1, normalize=True)([zero, b[:2]])
    grad = tape.gradient(out, zero)
    assert np.all(np.isfinite(grad.numpy()))


def test_merge_model_trains_like_keras():
    """A two-input model using every merge layer: 10 SGD steps from the same weights."""
    def build(lib):
        a, b = lib.layers.Input((4,)), lib.layers.Input((4,))
        da = lib.layers.Dense(3, name="da")(a)
        db = lib.layers.Dense(3, name="db")(b)
        parts = [lib.layers.add([da, db]), lib.layers.subtract([da, db]),
                 lib.layers.multiply([da, db]), lib.layers.average([da, db]),
                 lib.layers.maximum([da, db]), lib.layers.minimum([da, db]),
                 lib.layers.dot([da, db], axes=1, normalize=True)]
        y = lib.layers.Dense(1, name="head")(lib.layers.concatenate(parts))
        model = lib.models.Model([a, b], y)
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        return model

    ours, ref = build(cnn), build(keras)
    for name in ("da", "db", "head"):
        ours.get_layer(name).set_weights(ref.get_layer(name).get_weights())
    xa, xb, y = rand(40, 4), rand(40, 4), rand(40, 1)
    h1 = ours.fit([xa, xb], y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    h2 = ref.fit([xa, xb], y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-4)
    for w1, w2 in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(w1, w2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make,shapes,match", [
    (lambda: L.Add(name="adder"), [(3,), (4,)],
     r"'adder'.*incompatible shapes.*\(None, 3\), \(None, 4\)"),
    (lambda: L.Multiply(name="mul"), [(2, 3), (4, 3)], r"'mul'.*\(None, 2, 3\), \(None, 4, 3\)"),
    (lambda: L.Concatenate(name="cat"), [(3, 2), (4, 2)],
     r"'cat'.*except for the concatenation axis"),
    (lambda: L.Concatenate(name="cat"), [(3, 2), (3,)], r"'cat'.*same rank"),
    (lambda: L.Dot(axes=1, name="d"), [(3,), (4,)], r"'d'.*3 \(at axis 1\) != 4"),
    (lambda: L.Dot(axes=0, name="d"), [(3,), (3,)], r"'d'.*axis 0"),
])
def test_bad_shapes_name_the_layer(make, shapes, match):
    with pytest.raises(ValueError, match=match):
        make()([L.Input(s) for s in shapes])


def test_bad_calls():
    with pytest.raises(ValueError, match="list of inputs"):
        L.Add()(L.Input((3,)))
    with pytest.raises(ValueError, match="different batch sizes"):
        L.Add(name="a")([rand(2, 3), rand(3, 3)])
    with pytest.raises(ValueError, match="two elements"):
        L.Dot(axes=(1, 2, 3))
    with pytest.raises(TypeError, match="axes"):
        L.Dot(axes="1")


def test_keras2_merge_path_and_exports():
    from cnn.layers import merge
    assert merge.Add is L.Add and merge.concatenate is L.concatenate
    assert {"Add", "Concatenate", "Dot", "Lambda", "add", "dot"} <= set(L.__all__)
    cfg = L.Dot(axes=(1, 2), normalize=True, name="dd").get_config()
    assert cfg["axes"] == [1, 2] and cfg["normalize"] is True
    assert L.Dot.from_config(cfg).axes == [1, 2]


# ---- Lambda ------------------------------------------------------------------------------

def test_lambda_eager_graph_and_shape_inference():
    layer = L.Lambda(lambda t: cnn.ops.multiply(cnn.ops.square(t), 2.0), name="sq")
    x = rand(5, 3)
    np.testing.assert_allclose(layer(x).numpy(), 2 * x * x, rtol=1e-6)
    inp = L.Input((3,))
    out = layer(inp)
    assert out.shape == (None, 3)
    model = cnn.models.Model(inp, out)
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * x * x, rtol=1e-6)
    # several inputs, inferred shape
    a, b = L.Input((3,)), L.Input((2,))
    cat = L.Lambda(lambda ts: cnn.ops.concatenate(ts, axis=-1))([a, b])
    assert cat.shape == (None, 5)


def test_lambda_output_shape_arguments_and_training_flag():
    seen = []

    def fn(t, scale, training=None):
        seen.append(training)
        return cnn.ops.multiply(t, scale)

    layer = L.Lambda(fn, output_shape=(3,), arguments={"scale": 3.0})
    assert layer(L.Input((3,))).shape == (None, 3)
    assert layer.compute_output_shape((None, 3)) == (None, 3)
    assert L.Lambda(fn, output_shape=lambda s: s).compute_output_shape((7, 3)) == (7, 3)
    np.testing.assert_allclose(layer(np.ones((2, 3), np.float32), training=True).numpy(), 3.0)
    assert seen[-1] is True


def test_lambda_trains_inside_a_model_like_keras():
    def build(lib):
        x = lib.layers.Input((4,))
        h = lib.layers.Dense(3, name="d1")(x)
        h = lib.layers.Lambda(lambda t: lib.ops.tanh(t) * 2.0)(h)
        y = lib.layers.Dense(1, name="d2")(h)
        model = lib.models.Model(x, y)
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
        return model

    ours, ref = build(cnn), build(keras)
    ours.set_weights(ref.get_weights())
    x, y = rand(32, 4), rand(32, 1)
    h1 = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    h2 = ref.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h1, h2, rtol=1e-4)


def test_lambda_config():
    layer = L.Lambda(cnn.ops.relu, output_shape=(3,), name="r")
    cfg = layer.get_config()
    assert cfg["function"] == {"module": "cnn.ops", "function_name": "relu"}
    assert cfg["output_shape"] == (3,) and cfg["name"] == "r"
    again = L.Lambda.from_config(cfg)
    np.testing.assert_allclose(again(np.array([[-1.0, 2.0, 0.5]], np.float32)).numpy(),
                               [[0.0, 2.0, 0.5]])
    lam = L.Lambda(lambda t: t, name="ident")
    assert lam.get_config()["function"]["function_name"].endswith("<lambda>")
    with pytest.raises(ValueError, match="'ident'.*cannot be rebuilt"):
        L.Lambda.from_config(lam.get_config())
    with pytest.raises(TypeError, match="callable"):
        L.Lambda(3)


def test_lambda_reports_untraceable_functions():
    layer = L.Lambda(lambda t: np.tanh(t), name="numpy_fn")
    with pytest.raises(ValueError, match="numpy_fn.*output_shape"):
        layer(L.Input((3,)))
