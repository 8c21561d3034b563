"""cnn.applications.VGG16 against Keras's VGG16: layer names, weights files both ways,
predictions; preprocess_input; feature extraction and transfer learning on a frozen base."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
from cnn.applications import VGG16  # noqa: E402
from cnn.applications.vgg16 import preprocess_input  # noqa: E402
from cnn.layers import Dense, GlobalAveragePooling2D  # noqa: E402
from cnn.models import Model  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")

KERAS_NAMES = ["input_layer", "block1_conv1", "block1_conv2", "block1_pool", "block2_conv1",
               "block2_conv2", "block2_pool", "block3_conv1", "block3_conv2", "block3_conv3",
               "block3_pool", "block4_conv1", "block4_conv2", "block4_conv3", "block4_pool",
               "block5_conv1", "block5_conv2", "block5_conv3", "block5_pool"]


def images(n=2, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def small_random(model, seed=0):
    """Random weights small enough that 13 ReLU convolutions stay in a sane range."""
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.standard_normal(w.shape) * (0.5 / np.sqrt(np.prod(w.shape[:-1]))
                                                        if w.ndim > 1 else 0.01)
                        ).astype(np.float32) for w in model.get_weights()])


@pytest.fixture(scope="module")
def keras_base():
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    small_random(base)
    return base


def test_layer_names_and_shapes():
    base = VGG16(include_top=False, input_shape=(32, 32, 3))
    assert [l.name for l in base.layers][1:] == KERAS_NAMES[1:]
    assert base.output_shape == (None, 1, 1, 512)
    top = VGG16(include_top=True, input_shape=(32, 32, 3), classes=7,
                classifier_activation=None)
    assert [l.name for l in top.layers][-4:] == ["flatten", "fc1", "fc2", "predictions"]
    assert top.output_shape == (None, 7)
    assert VGG16(include_top=False, pooling="avg", input_shape=(32, 32, 3)).output_shape == \
        (None, 512)
    assert VGG16(include_top=False, pooling="max", input_shape=(48, 64, 3)).output_shape == \
        (None, 512)
    assert VGG16(include_top=False).input_shape == (None, 224, 224, 3)


def test_keras_weights_load_with_same_predictions(tmp_path, keras_base):
    kernel_path = tmp_path / "base.weights.h5"
    keras_base.save_weights(kernel_path)
    base = VGG16(include_top=False, weights=str(kernel_path), input_shape=(32, 32, 3))
    x = preprocess_input(images())
    np.testing.assert_allclose(base.predict(x, verbose=0), keras_base.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-4)


def test_keras_legacy_h5_weights_file(tmp_path, keras_base):
    """The layout of Keras's published vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, keras_base)
    base = VGG16(include_top=False, weights=str(path), input_shape=(32, 32, 3), pooling="avg")
    kpooled = keras.Model(keras_base.input,
                          keras.layers.GlobalAveragePooling2D()(keras_base.output))
    x = preprocess_input(images(seed=3))
    np.testing.assert_allclose(base.predict(x, verbose=0), kpooled.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-4)


def test_cnn_model_with_top_loads_in_keras(tmp_path):
    model = VGG16(include_top=True, input_shape=(32, 32, 3), classes=5)
    small_random(model, seed=1)
    model.save(tmp_path / "vgg.keras")
    kmodel = keras.saving.load_model(tmp_path / "vgg.keras")
    x = preprocess_input(images(seed=2))
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)
    reference = keras.applications.VGG16(include_top=True, weights=None,
                                         input_shape=(32, 32, 3), classes=5)
    assert [l.name for l in kmodel.layers][1:] == [l.name for l in reference.layers][1:]


def test_feature_extractor_and_frozen_base_training():
    base = VGG16(include_top=False, input_shape=(32, 32, 3))
    small_random(base)
    features = Model(base.input, base.get_layer("block3_pool").output)
    x = preprocess_input(images(n=8, seed=4))
    assert features.predict(x, verbose=0).shape == (8, 4, 4, 256)

    base.trainable = False
    frozen = [w.numpy().copy() for w in base.weights]
    out = Dense(3, activation="softmax", name="head")(GlobalAveragePooling2D()(base.output))
    model = Model(base.input, out)
    assert len(model.trainable_weights) == 2
    model.compile(optimizer=cnn.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    head = model.get_layer("head").get_weights()[0].copy()
    y = np.arange(8) % 3
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(frozen, base.weights))
    assert not np.array_equal(head, model.get_layer("head").get_weights()[0])


def test_preprocess_input_matches_keras():
    rgb = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3)).astype(np.uint8)
    ours = preprocess_input(rgb)
    expected = keras.applications.vgg16.preprocess_input(rgb.astype(np.float32))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours[0, 0, 0], rgb[0, 0, 0, ::-1] - [103.939, 116.779, 123.68],
                               rtol=1e-6)
    chw = np.transpose(rgb, (0, 3, 1, 2)).astype(np.float32)
    np.testing.assert_allclose(preprocess_input(chw, data_format="channels_first"),
                               np.transpose(expected, (0, 3, 1, 2)), atol=1e-4)
    single = preprocess_input(rgb[0])
    np.testing.assert_allclose(single, expected[0], atol=1e-4)
    with pytest.raises(ValueError, match="data_format"):
        preprocess_input(rgb, data_format="nhwc")


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="vgg16_weights_tf_dim_ordering_tf_kernels.h5"):
        VGG16(weights="imagenet")
    with pytest.raises(ValueError, match="_notop.h5"):
        VGG16(include_top=False, weights="imagenet")
    with pytest.raises(ValueError, match="weights"):
        VGG16(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="at least 32x32"):
        VGG16(include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="static"):
        VGG16(include_top=True, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="static image size"):
        VGG16(include_top=False, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="pooling"):
        VGG16(include_top=False, pooling="mean", input_shape=(32, 32, 3))


def test_input_tensor():
    from cnn.layers import Activation, Input
    inp = Input((32, 32, 3))
    base = VGG16(include_top=False, input_tensor=inp)
    assert base.inputs[0] is inp
    scaled = Activation("linear")(inp)  # a predecessor: the model starts at its Input
    model = VGG16(include_top=False, input_tensor=scaled, pooling="avg")
    assert model.inputs[0] is inp and model.output_shape == (None, 512)
    with pytest.raises(ValueError, match="input_tensor"):
        VGG16(include_top=False, input_tensor=np.zeros((1, 32, 32, 3)))
