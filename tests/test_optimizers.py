"""Optimizers against real Keras 3 (torch backend): 50 fit steps of the same MLP from the same
weights for every optimizer and option (clipping, weight decay, schedules, callables),
apply_gradients on raw variables, schedule values, configs and variable counts, and the
errors for bad arguments."""
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402  (Keras's backend here)
from cnn import optimizers  # noqa: E402
from cnn.optimizers import schedules  # noqa: E402

# Tiny models: torch's intra-op threads would only fight OpenBLAS's for the cores.
torch.set_num_threads(1)

N, D, H, C, BATCH = 400, 8, 16, 3, 8  # 50 steps of batch 8


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D)).astype(np.float32), rng.integers(0, C, N)


def twin_models():
    k = keras.Sequential([keras.Input((D,)), keras.layers.Dense(H, activation="relu"),
                          keras.layers.Dense(C, activation="softmax")])
    c = cnn.models.Sequential([cnn.layers.Input((D,)), cnn.layers.Dense(H, activation="relu"),
                               cnn.layers.Dense(C, activation="softmax")])
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


def lr_args(lib, kind, base):
    """A learning rate of each kind, peaking at `base`, built from `lib` (keras.optimizers or
    cnn.optimizers)."""
    s = lib.schedules
    return {
        "exponential": s.ExponentialDecay(base, decay_steps=7, decay_rate=0.5),
        "exponential_staircase": s.ExponentialDecay(base, decay_steps=10, decay_rate=0.5,
                                                    staircase=True),
        "piecewise": s.PiecewiseConstantDecay([10, 30], [base, base / 2, base / 10]),
        "inverse_time": s.InverseTimeDecay(base, decay_steps=5, decay_rate=0.5),
        "inverse_time_staircase": s.InverseTimeDecay(base, decay_steps=5, decay_rate=0.5,
                                                     staircase=True),
        "polynomial": s.PolynomialDecay(base, decay_steps=20, power=2.0, cycle=True),
        "cosine": s.CosineDecay(base, decay_steps=40, alpha=0.1),
        "cosine_warmup": s.CosineDecay(0.0, decay_steps=30, warmup_target=base, warmup_steps=15),
        "cosine_restarts": s.CosineDecayRestarts(base, first_decay_steps=10),
        "callable": lambda: base * 0.7,
    }[kind]


# (optimizer, its arguments, learning-rate kind or None)
FIT_CASES = [
    ("SGD", dict(learning_rate=0.1), None),
    ("SGD", dict(learning_rate=0.05, momentum=0.9), None),
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True), None),
    ("SGD", dict(learning_rate=0.1, weight_decay=0.1), None),
    ("SGD", dict(learning_rate=0.1, clipnorm=0.5), None),
    ("SGD", dict(learning_rate=0.1, clipvalue=0.05), None),
    ("SGD", dict(learning_rate=0.1, momentum=0.5, global_clipnorm=0.5), None),
    ("RMSprop", dict(learning_rate=0.01), None),
    ("RMSprop", dict(learning_rate=0.005, rho=0.8, momentum=0.9, epsilon=1e-5), None),
    ("RMSprop", dict(learning_rate=0.01, centered=True), None),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True, clipvalue=0.1), None),
    ("Adagrad", dict(learning_rate=0.1), None),
    ("Adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-4,
                     global_clipnorm=1.0), None),
    ("Adam", dict(learning_rate=0.01), None),
    ("Adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5, amsgrad=True), None),
    ("Adam", dict(learning_rate=0.01, weight_decay=0.1), None),
    ("Adam", dict(learning_rate=0.01, clipnorm=0.5), None),
    ("Adam", dict(learning_rate=0.01, clipvalue=0.05), None),
    ("Adam", dict(learning_rate=0.01, global_clipnorm=0.5), None),
    ("AdamW", dict(learning_rate=0.01), None),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.1, amsgrad=True), None),
    ("Nadam", dict(learning_rate=0.01), None),
    ("Nadam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5, weight_decay=0.05,
                   clipnorm=1.0), None),
    ("SGD", dict(momentum=0.9), "exponential"),
    ("SGD", dict(), "exponential_staircase"),
    ("SGD", dict(weight_decay=0.1), "piecewise"),
    ("SGD", dict(), "inverse_time"),
    ("SGD", dict(), "inverse_time_staircase"),
    ("SGD", dict(), "polynomial"),
    ("Adam", dict(), "cosine"),
    ("AdamW", dict(weight_decay=0.05), "cosine_warmup"),
    ("RMSprop", dict(), "cosine_restarts"),
    ("SGD", dict(weight_decay=0.1), "callable"),
    ("Nadam", dict(), "callable"),
]


def case_id(case):
    name, kw, lr = case
    return "-".join([name] + [f"{k}={v}" for k, v in kw.items()] + ([lr] if lr else []))


@pytest.mark.parametrize("name,kwargs,lr_kind", FIT_CASES, ids=[case_id(c) for c in FIT_CASES])
def test_fit_50_steps_matches_keras(name, kwargs, lr_kind):
    x, y = data()
    k, c = twin_models()
    kargs, cargs = dict(kwargs), dict(kwargs)
    if lr_kind:
        base = 0.1 if name == "SGD" else 0.01  # rates each optimizer trains stably with
        kargs["learning_rate"] = lr_args(keras.optimizers, lr_kind, base)
        cargs["learning_rate"] = lr_args(optimizers, lr_kind, base)
    ko, co = getattr(keras.optimizers, name)(**kargs), getattr(optimizers, name)(**cargs)
    k.compile(optimizer=ko, loss="sparse_categorical_crossentropy")
    c.compile(optimizer=co, loss="sparse_categorical_crossentropy")
    hk = k.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    hc = c.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    assert co.iterations == int(ko.iterations) == N // BATCH
    assert co.learning_rate == pytest.approx(float(ko.learning_rate), rel=1e-6)


# ---- apply_gradients on raw variables ---------------------------------------------------

APPLY_CASES = [
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(learning_rate=0.1, clipnorm=1.0)),
    ("Adam", dict(learning_rate=0.01, amsgrad=True, global_clipnorm=2.0)),
    ("AdamW", dict(learning_rate=0.01, clipvalue=1.0)),
    ("Nadam", dict(learning_rate=0.01)),
]


@pytest.mark.parametrize("name,kwargs", APPLY_CASES, ids=[c[0] for c in APPLY_CASES])
def test_apply_gradients_matches_keras(name, kwargs):
    rng = np.random.default_rng(1)
    shapes = [(7, 5), (5,), (37,), (3, 3, 2)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    kv = [keras.Variable(a.copy()) for a in init]
    cv = [cnn.Variable(a.copy(), name=f"v{i}") for i, a in enumerate(init)]
    ko, co = getattr(keras.optimizers, name)(**kwargs), getattr(optimizers, name)(**kwargs)
    for _ in range(30):
        grads = [(rng.standard_normal(s) * rng.uniform(0.01, 3)).astype(np.float32) for s in shapes]
        ko.apply_gradients(zip([torch.tensor(g) for g in grads], kv))
        assert co.apply_gradients(zip(grads, cv)) == co.iterations
    # Same gradients, same operations: only torch's float32 sqrt (not correctly rounded) and
    # the order of the clip norms' sums leave last-bit differences.
    for a, b in zip(kv, cv):
        np.testing.assert_allclose(b.numpy(), np.asarray(a.numpy()), rtol=1e-6, atol=1e-7)
    assert co.iterations == int(ko.iterations) == 30


def test_apply_skips_missing_gradients():
    a, b = cnn.Variable(np.ones(3, np.float32), name="a"), cnn.Variable(np.ones(2, np.float32), name="b")
    opt = optimizers.SGD(0.5, weight_decay=0.1)
    opt.apply_gradients([(np.ones(3, np.float32), a), (None, b)])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])  # not decayed either (Keras skips it)
    assert opt.iterations == 1
    opt.apply([np.ones(3, np.float32), np.ones(2, np.float32)])  # the variables of the first call
    np.testing.assert_allclose(b.numpy(), [0.45, 0.45])
    with pytest.raises(ValueError, match="must already be built"):
        optimizers.Adam().apply([np.ones(3, np.float32)])


# ---- schedules ----------------------------------------------------------------------------

SCHEDULES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.3, decay_steps=10, decay_rate=0.96,
                              staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[10, 50, 100], values=[0.1, 0.05, 0.01, 0.001])),
    ("PiecewiseConstantDecay", dict(boundaries=[10.5, 50.7], values=[0.1, 0.05, 0.01])),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.7)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.7,
                              staircase=True)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=33, end_learning_rate=0.01,
                             power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=33, power=0.5, cycle=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=77, alpha=0.2)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=50, alpha=0.1, warmup_target=0.2,
                         warmup_steps=13)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=10)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=7, t_mul=1.0,
                                 m_mul=0.8, alpha=0.1)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=9, t_mul=1.5,
                                 m_mul=0.9)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_values_match_keras(name, kwargs):
    ks, cs = getattr(keras.optimizers.schedules, name)(**kwargs), getattr(schedules, name)(**kwargs)
    steps = list(range(300)) + [1000, 12345, 10**6]
    expected = np.array([float(ks(torch.tensor(s))) for s in steps])
    got = np.array([cs(s) for s in steps])
    # Arithmetic is float32 as in Keras; torch's float32 pow, cos and log may differ from
    # ours by an ulp: 1e-7 of the peak rate (0.1 here), relatively more near a cosine's zero.
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
    assert cs.get_config() == ks.get_config()
    assert type(cs).from_config(cs.get_config())(17) == cs(17)


def test_schedule_serialization_round_trips_through_optimizer_config():
    opt = optimizers.Adam(schedules.CosineDecay(0.1, 100, warmup_target=0.5, warmup_steps=5))
    config = opt.get_config()
    assert config["learning_rate"] == keras.optimizers.schedules.serialize(
        keras.optimizers.schedules.CosineDecay(0.1, 100, warmup_target=0.5, warmup_steps=5))
    again = optimizers.Adam.from_config(config)
    assert isinstance(again._learning_rate, schedules.CosineDecay)
    assert again.learning_rate == opt.learning_rate == pytest.approx(0.1)
    keras_opt = keras.optimizers.Adam.from_config(config)  # our config loads in Keras
    assert float(keras_opt.learning_rate) == pytest.approx(0.1)


# ---- configs, names, variable counts ------------------------------------------------------

CLASSES = ["SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Nadam"]


@pytest.mark.parametrize("name", CLASSES)
def test_defaults_config_and_variable_count_match_keras(name):
    ko, co = getattr(keras.optimizers, name)(), getattr(optimizers, name)()
    kc, cc = ko.get_config(), co.get_config()
    assert kc.pop("name").split("_")[0] == cc.pop("name").split("_")[0]
    assert cc == kc
    assert type(co).from_config(co.get_config()).get_config()["learning_rate"] == cc["learning_rate"]
    ko.build([keras.Variable(np.ones((3, 4), np.float32)), keras.Variable(np.ones(5, np.float32))])
    count = sum(int(np.prod(v.shape)) for v in ko.variables)
    assert co.slot_count(17) == count


@pytest.mark.parametrize("kwargs", [dict(momentum=0.9), dict(momentum=0.5, centered=True),
                                    dict(amsgrad=True)])
def test_variable_count_with_options(kwargs):
    name = "Adam" if "amsgrad" in kwargs else "RMSprop" if "centered" in kwargs else "SGD"
    ko, co = getattr(keras.optimizers, name)(**kwargs), getattr(optimizers, name)(**kwargs)
    ko.build([keras.Variable(np.ones((3, 4), np.float32))])
    assert co.slot_count(12) == sum(int(np.prod(v.shape)) for v in ko.variables)
    # a schedule has no learning-rate variable
    ks = getattr(keras.optimizers, name)(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 5, 0.5), **kwargs)
    cs = getattr(optimizers, name)(learning_rate=schedules.ExponentialDecay(0.1, 5, 0.5), **kwargs)
    ks.build([keras.Variable(np.ones((3, 4), np.float32))])
    assert cs.slot_count(12) == sum(int(np.prod(v.shape)) for v in ks.variables)


def test_get_every_name():
    for name, cls in [("sgd", optimizers.SGD), ("rmsprop", optimizers.RMSprop),
                      ("adagrad", optimizers.Adagrad), ("adam", optimizers.Adam),
                      ("nadam", optimizers.Nadam), ("adamw", optimizers.AdamW),
                      ("AdamW", optimizers.AdamW), ("RMSprop", optimizers.RMSprop)]:
        assert type(optimizers.get(name)) is cls
    serialized = keras.optimizers.serialize(keras.optimizers.Nadam(0.02, beta_1=0.8))
    opt = optimizers.get(serialized)
    assert isinstance(opt, optimizers.Nadam) and opt.beta_1 == 0.8
    assert opt.learning_rate == pytest.approx(0.02)
    assert optimizers.deserialize(optimizers.serialize(opt)).get_config() == opt.get_config()
    assert sorted(optimizers.known_names()) == ["adagrad", "adam", "adamw", "nadam", "rmsprop", "sgd"]
    with pytest.raises(ValueError, match=r"'adadelta' is not available in cnn yet"):
        optimizers.get("adadelta")
    with pytest.raises(ValueError, match=r"Could not interpret optimizer identifier: 'nope'"):
        optimizers.get("nope")


# ---- learning rate as state ---------------------------------------------------------------

def test_learning_rate_is_settable_like_keras():
    opt = optimizers.SGD(0.1)
    assert opt.learning_rate == float(np.float32(0.1))  # a float32 variable in Keras
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and opt.get_config()["learning_rate"] == 0.5
    opt.learning_rate = schedules.ExponentialDecay(1.0, 1, 0.5)  # a schedule replaces a float
    var = cnn.Variable(np.zeros(1, np.float32), name="w")
    for expected in (1.0, 0.5, 0.25):
        assert opt.learning_rate == expected
        before = var.numpy().copy()
        opt.apply_gradients([(np.ones(1, np.float32), var)])
        assert before - var.numpy() == pytest.approx(expected)
    with pytest.raises(TypeError, match="learning rate is not settable"):
        opt.learning_rate = 0.1  # Keras: a float cannot replace a schedule
    opt.learning_rate = lambda: 0.125
    assert opt.learning_rate == 0.125
    opt.learning_rate = 0.25  # a float replaces a callable
    assert opt.learning_rate == 0.25 and opt.slot_count(10) == 2
    with pytest.raises(ValueError, match=r"learning_rate=-1"):
        opt.learning_rate = -1


def test_learning_rate_set_between_fits_takes_effect():
    x, y = data()
    k, c = twin_models()
    ko, co = keras.optimizers.SGD(0.1, momentum=0.5), optimizers.SGD(0.1, momentum=0.5)
    k.compile(optimizer=ko, loss="sparse_categorical_crossentropy")
    c.compile(optimizer=co, loss="sparse_categorical_crossentropy")
    for lr in (0.1, 0.02):
        ko.learning_rate = lr
        co.learning_rate = lr
        k.fit(x[:80], y[:80], batch_size=BATCH, shuffle=False, verbose=0)
        c.fit(x[:80], y[:80], batch_size=BATCH, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=1e-6)


def test_hyperparameters_read_like_keras_and_are_fixed():
    opt = optimizers.Adam(beta_1=0.8, clipnorm=1.0)
    assert (opt.beta_1, opt.beta_2, opt.clipnorm, opt.weight_decay) == (0.8, 0.999, 1.0, None)
    with pytest.raises(AttributeError, match="`beta_1` is fixed"):
        opt.beta_1 = 0.5


# ---- errors -------------------------------------------------------------------------------

BAD = [
    (lambda: optimizers.SGD(-0.1), r"`learning_rate` must be a non-negative finite float.*-0.1"),
    (lambda: optimizers.Adam(float("nan")), r"learning_rate=nan"),
    (lambda: optimizers.Adam("fast"), r"`learning_rate` should be float.*learning_rate='fast'"),
    (lambda: optimizers.SGD(momentum=1.5), r"`momentum` must be a float in \[0, 1\].*momentum=1.5"),
    (lambda: optimizers.RMSprop(momentum=-0.1), r"momentum=-0.1"),
    (lambda: optimizers.RMSprop(rho=1.1), r"`rho` must be a float in \[0, 1\].*rho=1.1"),
    (lambda: optimizers.Adam(beta_1=1.0), r"`beta_1` must be a float in \[0, 1\).*beta_1=1.0"),
    (lambda: optimizers.Nadam(beta_2=float("nan")), r"beta_2=nan"),
    (lambda: optimizers.Adam(epsilon=-1e-7), r"`epsilon` must be a non-negative float.*-1e-07"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1), r"initial_accumulator_value=-1"),
    (lambda: optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0),
     r"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set"),
    (lambda: optimizers.Adam(clipvalue=1.0, clipnorm=2.0), r"clipnorm=2.0, clipvalue=1.0"),
    (lambda: optimizers.SGD(clipnorm=-1.0), r"`clipnorm` must be a non-negative float or None"),
    (lambda: optimizers.SGD(weight_decay=-0.1), r"weight_decay=-0.1"),
    (lambda: optimizers.AdamW(weight_decay=None), r"`weight_decay` must be a float.*None"),
    (lambda: optimizers.Adam(use_ema=True), r"`use_ema` is not supported.*use_ema=True"),
    (lambda: optimizers.SGD(gradient_accumulation_steps=4), r"gradient_accumulation_steps=4"),
    (lambda: optimizers.SGD(lr=0.1), r"Argument\(s\) not recognized: \{'lr': 0.1\}"),
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), r"`decay_steps` must be > 0.*decay_steps=0"),
    (lambda: schedules.CosineDecayRestarts(0.1, -3), r"first_decay_steps=-3"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]),
     r"length of boundaries should be 1 less than the length of values"),
]


@pytest.mark.parametrize("make,match", BAD, ids=[m for _, m in BAD])
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_keras_configs_with_features_off_still_load():
    config = keras.optimizers.SGD(0.1, momentum=0.9).get_config()  # use_ema=False etc.
    opt = optimizers.SGD.from_config(config)
    assert opt.momentum == 0.9 and math.isclose(opt.learning_rate, 0.1, rel_tol=1e-7)


def test_engine_rejects_bad_configs():
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        cnn._C.Optimizer("sgd", clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        cnn._C.Optimizer("adam", epsilon=-1.0)
    with pytest.raises(ValueError, match="unknown optimizer kind 'adadelta'"):
        cnn._C.Optimizer("adadelta")


def test_base_class_is_abstract():
    with pytest.raises(TypeError, match="SGD, RMSprop, Adagrad, Adam, AdamW or Nadam"):
        optimizers.Optimizer(0.1)
