"""Fashion-MNIST (Xiao et al., 2017): 70,000 28x28 grayscale images of 10 clothing classes,
read from local IDX files; Debian's `dataset-fashion-mnist` package installs them under
/usr/share/datasets/fashion-mnist."""
import gzip
import os

import numpy as np

DEFAULT_DIRS = ("/usr/share/datasets/fashion-mnist",)
FILES = {"x_train": "train-images-idx3-ubyte.gz", "y_train": "train-labels-idx1-ubyte.gz",
         "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz"}

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def _find_dir(path):
    candidates = [path] if path is not None else (
        [os.environ["CNN_FASHION_MNIST_DIR"]] if "CNN_FASHION_MNIST_DIR" in os.environ
        else list(DEFAULT_DIRS))
    for directory in candidates:
        if all(os.path.exists(os.path.join(directory, name)) for name in FILES.values()):
            return directory
    raise FileNotFoundError(
        f"Fashion-MNIST's files ({', '.join(FILES.values())}) were not found in "
        f"{', '.join(candidates)}. On Debian or Ubuntu run `apt-get install "
        f"dataset-fashion-mnist`, or pass `path=` (or set CNN_FASHION_MNIST_DIR) to a folder "
        f"holding them; cnn never downloads data.")


def _read_idx(filename, header_ints):
    with gzip.open(filename, "rb") as f:
        data = f.read()
    header = np.frombuffer(data, ">u4", header_ints)
    if header[0] >> 8 != 0x08:  # IDX magic: two zero bytes, then type 0x08 (unsigned byte)
        raise ValueError(f"{filename} is not an unsigned-byte IDX file (magic {header[0]:#x})")
    return np.frombuffer(data, np.uint8, offset=4 * header_ints).reshape(tuple(header[1:]))


def load_data(path=None):
    """Loads Fashion-MNIST as Keras's `keras.datasets.fashion_mnist.load_data()` does.

    Args:
        path: folder holding the four `.gz` IDX files; by default CNN_FASHION_MNIST_DIR or
            /usr/share/datasets/fashion-mnist.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape (60000, 28, 28) and
        (10000, 28, 28), uint8 labels 0-9 (names in `CLASS_NAMES`).
    """
    directory = _find_dir(path)
    read = lambda key, ints: _read_idx(os.path.join(directory, FILES[key]), ints)  # noqa: E731
    return (read("x_train", 4), read("y_train", 2)), (read("x_test", 4), read("y_test", 2))
