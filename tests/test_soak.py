"""Memory behaviour over many calls: no growth, and no page faults in a steady-state step.

Page faults cost ~10 us each on the machines we target, so a training step that touches
fresh memory (an allocator returning pages to the OS and faulting them back) loses most of
its time there. The engine plans its buffers once per batch size and keeps them."""
import resource

import numpy as np

import cnn
from cnn.layers import Dense, Input
from cnn.models import Sequential


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def small_model(features=16):
    model = Sequential([Input((features,)), Dense(32, activation="relu"), Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_soak_1000_fit_and_predict_calls_keep_rss_flat():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 16)).astype(np.float32)
    y = rng.integers(0, 4, 256)
    model = small_model()
    for i in range(1000):
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
        model.predict(x, verbose=0)
        if i == 49:
            after_50 = rss_bytes()
    growth = rss_bytes() / after_50 - 1
    assert growth < 0.05, f"RSS grew {growth:.1%} between call 50 and call 1000"


def test_steady_state_training_step_causes_no_page_faults():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6400, 784)).astype(np.float32)  # batches of 200 KB: above malloc's mmap threshold
    y = rng.integers(0, 10, 6400)
    model = Sequential([Input((784,)), Dense(256, activation="relu"), Dense(128, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)  # warm-up: plans, arenas, optimizer state
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # 100 steps
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults <= 5, f"{faults} page faults over 100 steady-state training steps"
