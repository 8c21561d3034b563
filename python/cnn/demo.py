"""`python -m cnn.demo`: an MLP on scikit-learn's bundled 8x8 digits (offline), trained with
the Keras-style API; prints test accuracy and training speed."""
import argparse
import time

import numpy as np

from . import callbacks, layers, models, optimizers, utils


class _StepTimer(callbacks.Callback):
    """Wall time spent inside training batches (validation and printing excluded)."""

    def on_train_begin(self, logs=None):
        self.seconds, self.steps = 0.0, 0

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds += time.perf_counter() - self._t
        self.steps += 1


def load_digits_split(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixels are 0..16
    return train_test_split(x, digits.target, test_size=0.25, random_state=seed,
                            stratify=digits.target)


def build_model():
    return models.Sequential([
        layers.Input((64,)),
        layers.Dense(128, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="digits_mlp")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    args = parser.parse_args(argv)

    utils.set_random_seed(args.seed)
    x_train, x_test, y_train, y_test = load_digits_split(args.seed)
    model = build_model()
    model.summary()
    model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    timer = _StepTimer()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_split=0.1, callbacks=[timer], verbose=args.verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    samples = int(np.floor(len(x_train) * (1 - 0.1))) * args.epochs  # fit() holds out the last 10%
    print(f"test accuracy: {accuracy:.4f}  (test loss {loss:.4f}, {len(x_test)} samples)")
    print(f"training speed: {samples / timer.seconds:,.0f} samples/s, "
          f"{1e3 * timer.seconds / timer.steps:.3f} ms/step (batch {args.batch_size})")
    return accuracy


if __name__ == "__main__":
    main()
