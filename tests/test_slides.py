"""The course slides' four Keras 2 snippets (Sequential CNN, functional CNN, shared input with
two convolution branches, two inputs) run with only `keras` replaced by `cnn`, Keras 2 module
paths included; each model then trains a step and predicts."""
import shutil
import textwrap

import numpy as np
import pytest

SEQUENTIAL = """
from keras.models import Sequential
from keras.layers import Dense, Flatten
from keras.layers.convolutional import Conv2D
from keras.layers.pooling import MaxPooling2D
from keras.utils import plot_model
model = Sequential()
model.add(Conv2D(32, kernel_size=4, activation='relu', input_shape=(64, 64, 1)))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Conv2D(16, kernel_size=4, activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(10, activation='relu'))
model.add(Dense(1, activation='sigmoid'))
model.summary()
plot_model(model, to_file='convolutional_neural_network.png')
"""

FUNCTIONAL = """
from keras.utils import plot_model
from keras.models import Model
from keras.layers import Input, Dense, Flatten
from keras.layers.convolutional import Conv2D
from keras.layers.pooling import MaxPooling2D
visible = Input(shape=(64, 64, 1))
conv1 = Conv2D(32, kernel_size=4, activation='relu')(visible)
pool1 = MaxPooling2D(pool_size=(2, 2))(conv1)
conv2 = Conv2D(16, kernel_size=4, activation='relu')(pool1)
pool2 = MaxPooling2D(pool_size=(2, 2))(conv2)
flat = Flatten()(pool2)
hidden1 = Dense(10, activation='relu')(flat)
output = Dense(1, activation='sigmoid')(hidden1)
model = Model(inputs=visible, outputs=output)
model.summary()
plot_model(model, to_file='convolutional_neural_network.png')
"""

SHARED_INPUT = """
from keras.utils import plot_model
from keras.models import Model
from keras.layers import Input, Dense, Flatten
from keras.layers.convolutional import Conv2D
from keras.layers.pooling import MaxPooling2D
from keras.layers.merge import concatenate
visible = Input(shape=(64, 64, 1))
conv1 = Conv2D(32, kernel_size=4, activation='relu')(visible)
pool1 = MaxPooling2D(pool_size=(2, 2))(conv1)
flat1 = Flatten()(pool1)
conv2 = Conv2D(16, kernel_size=8, activation='relu')(visible)
pool2 = MaxPooling2D(pool_size=(2, 2))(conv2)
flat2 = Flatten()(pool2)
merge = concatenate([flat1, flat2])
hidden1 = Dense(10, activation='relu')(merge)
output = Dense(1, activation='sigmoid')(hidden1)
model = Model(inputs=visible, outputs=output)
model.summary()
plot_model(model, to_file='shared_input_layer.png')
"""

TWO_INPUTS = """
from keras.utils import plot_model
from keras.models import Model
from keras.layers import Input, Dense, Flatten
from keras.layers.convolutional import Conv2D
from keras.layers.pooling import MaxPooling2D
from keras.layers.merge import concatenate
visible1 = Input(shape=(64, 64, 1))
conv11 = Conv2D(32, kernel_size=4, activation='relu')(visible1)
pool11 = MaxPooling2D(pool_size=(2, 2))(conv11)
conv12 = Conv2D(16, kernel_size=4, activation='relu')(pool11)
pool12 = MaxPooling2D(pool_size=(2, 2))(conv12)
flat1 = Flatten()(pool12)
visible2 = Input(shape=(32, 32, 3))
conv21 = Conv2D(32, kernel_size=4, activation='relu')(visible2)
pool21 = MaxPooling2D(pool_size=(2, 2))(conv21)
conv22 = Conv2D(16, kernel_size=4, activation='relu')(pool21)
pool22 = MaxPooling2D(pool_size=(2, 2))(conv22)
flat2 = Flatten()(pool22)
merge = concatenate([flat1, flat2])
hidden1 = Dense(10, activation='relu')(merge)
hidden2 = Dense(10, activation='relu')(hidden1)
output = Dense(1, activation='sigmoid')(hidden2)
model = Model(inputs=[visible1, visible2], outputs=output)
model.summary()
plot_model(model, to_file='multiple_inputs.png')
"""


def run_slide(source, tmp_path, monkeypatch):
    """Runs a slide with `keras` replaced by `cnn`, in a scratch folder; returns its model."""
    monkeypatch.chdir(tmp_path)
    code = textwrap.dedent(source).replace("keras", "cnn")
    if shutil.which("dot") is None:  # CI installs Graphviz; elsewhere plot_model must say so
        code = code.replace("plot_model(", "(lambda *args, **kwargs: None)(")
    scope = {}
    exec(compile(code, "<slide>", "exec"), scope)
    return scope["model"]


@pytest.mark.parametrize("source,inputs,png", [
    (SEQUENTIAL, [(64, 64, 1)], "convolutional_neural_network.png"),
    (FUNCTIONAL, [(64, 64, 1)], "convolutional_neural_network.png"),
    (SHARED_INPUT, [(64, 64, 1)], "shared_input_layer.png"),
    (TWO_INPUTS, [(64, 64, 1), (32, 32, 3)], "multiple_inputs.png"),
], ids=["sequential", "functional", "shared_input", "two_inputs"])
def test_slide_runs_trains_and_plots(source, inputs, png, tmp_path, monkeypatch, capsys):
    pytest.importorskip("pydot")
    model = run_slide(source, tmp_path, monkeypatch)
    assert "Total params" in capsys.readouterr().out
    if shutil.which("dot") is not None:
        assert (tmp_path / png).stat().st_size > 0
    rng = np.random.default_rng(0)
    xs = [rng.random((4,) + shape, dtype=np.float32) for shape in inputs]
    y = rng.integers(0, 2, (4, 1)).astype(np.float32)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(xs if len(xs) > 1 else xs[0], y, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(xs if len(xs) > 1 else xs[0], verbose=0).shape == (4, 1)
