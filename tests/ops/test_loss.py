import sys, os; sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # noqa: E401,E702
from op_harness import forward, vjp, check_grad, check_torch, torch, requires_torch  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

EPS = 1e-7  # keras.backend.epsilon()
LOGITS = [0, 1]


def _keras():
    """Keras 3 on the torch backend, or skip."""
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except Exception as e:  # pragma: no cover - depends on the environment
        pytest.skip(f"keras unavailable: {e}")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    return keras


def _np(x):
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


# ---- data -------------------------------------------------------------------------------

def regression(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape).astype(np.float32),
            rng.standard_normal(shape).astype(np.float32))


def binary(shape, logits, seed=0, soft=False):
    rng = np.random.default_rng(seed)
    t = (rng.uniform(0, 1, shape) if soft else rng.integers(0, 2, shape)).astype(np.float32)
    p = (rng.standard_normal(shape) * 2 if logits else rng.uniform(0.05, 0.95, shape)).astype(np.float32)
    return t, p


def categorical(shape, logits, seed=0, soft=False):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    if soft:
        t = rng.uniform(0, 1, shape)
        t /= t.sum(-1, keepdims=True)
    else:
        t = np.eye(c)[rng.integers(0, c, shape[:-1])]
    # probabilities need not be normalised: the op divides by the sum as Keras does
    p = rng.standard_normal(shape) * 2 if logits else rng.uniform(0.2, 1.0, shape)
    return t.astype(np.float32), p.astype(np.float32)


def sparse(shape, logits, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, shape[-1], shape[:-1]).astype(np.float32)
    _, p = categorical(shape, logits, seed)
    return y, p


# ---- torch references replicating Keras 3's formulas (torch backend) -------------------

def t_mse(t, p):
    return torch.mean(torch.square(t - p), -1)


def t_mae(t, p):
    return torch.mean(torch.abs(t - p), -1)


def t_huber(delta):
    def f(t, p):
        e = p - t
        a = torch.abs(e)
        d = torch.tensor(delta, dtype=torch.float32)
        return torch.mean(torch.where(a <= d, 0.5 * torch.square(e), d * a - 0.5 * torch.square(d)), -1)
    return f


def t_bce(logits):
    F = torch.nn.functional

    def f(t, p):
        if logits:
            loss = F.binary_cross_entropy_with_logits(p, t, reduction="none")
        else:
            loss = F.binary_cross_entropy(torch.clip(p, EPS, 1.0 - EPS), t, reduction="none")
        return torch.mean(loss, -1)
    return f


def t_cce(logits):
    def f(t, p):
        if logits:
            logp = torch.nn.functional.log_softmax(p, dim=-1)
        else:
            o = p / torch.sum(p, dim=-1, keepdim=True)
            logp = torch.log(torch.clip(o, EPS, 1.0 - EPS))
        return -torch.sum(t * logp, dim=-1)
    return f


def t_scce(logits):
    F = torch.nn.functional

    def f(y, p):
        y = y.long()
        if y.ndim == p.ndim:
            y = y.squeeze(-1)
        if logits:
            logp = F.log_softmax(p, dim=-1)
        else:
            logp = torch.log(torch.clip(p / torch.sum(p, dim=-1, keepdim=True), EPS, 1.0 - EPS))
        return -torch.gather(logp, -1, y.unsqueeze(-1)).squeeze(-1)
    return f


# ---- finite differences (w.r.t. y_pred only) ------------------------------------------

def test_mse_grad():
    check_grad("mse", regression((3, 4)), wrt=[1])


def test_mae_grad():
    t, p = regression((3, 4))
    check_grad("mae", [t, p], wrt=[1], mask=lambda i, x: np.abs(p - t) > 0.05)  # off the kink


@pytest.mark.parametrize("delta", [None, 0.7])
def test_huber_grad(delta):
    t, p = regression((3, 5), seed=1)
    floats = () if delta is None else (delta,)
    d = 1.0 if delta is None else delta
    # keep away from the |e| == delta switch
    check_grad("huber", [t, p], floats=floats, wrt=[1],
               mask=lambda i, x: np.abs(np.abs(p - t) - d) > 0.05)


@pytest.mark.parametrize("logits", LOGITS)
def test_bce_grad(logits):
    t, p = binary((3, 4), logits, soft=True)
    check_grad("binary_crossentropy", [t, p], ints=(logits,), wrt=[1], eps=1e-2 if logits else 1e-3)


@pytest.mark.parametrize("logits", LOGITS)
def test_cce_grad(logits):
    t, p = categorical((3, 5), logits, soft=True)
    check_grad("categorical_crossentropy", [t, p], ints=(logits,), wrt=[1], eps=1e-2 if logits else 1e-3)


@pytest.mark.parametrize("logits", LOGITS)
def test_scce_grad(logits):
    y, p = sparse((2, 3, 5), logits)
    check_grad("sparse_categorical_crossentropy", [y, p], ints=(logits,), wrt=[1],
               eps=1e-2 if logits else 1e-3)


def test_label_gets_no_gradient():
    for name, (t, p) in [("mse", regression((2, 3))), ("mae", regression((2, 3))),
                         ("huber", regression((2, 3))), ("binary_crossentropy", binary((2, 3), 0)),
                         ("categorical_crossentropy", categorical((2, 3), 0)),
                         ("sparse_categorical_crossentropy", sparse((2, 3), 0))]:
        g = vjp(name, [t, p], np.ones(p.shape[:-1], np.float32))
        assert g[0] is None and g[1].shape == p.shape, name


# ---- parity with torch expressions of Keras's formulas (forward + backward) -----------

@requires_torch
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 7), (5,)])
def test_regression_torch(shape):
    t, p = regression(shape, seed=2)
    p[..., 0] = t[..., 0]  # exact zero error: sign(0) = 0 for mae
    check_torch("mse", [t, p], t_mse, wrt=[1])
    check_torch("mae", [t, p], t_mae, wrt=[1])
    check_torch("huber", [t, p], t_huber(1.0), wrt=[1])
    check_torch("huber", [t, p], t_huber(0.3), floats=(0.3,), wrt=[1])


@requires_torch
@pytest.mark.parametrize("logits", LOGITS)
@pytest.mark.parametrize("shape", [(8, 3), (2, 5, 4)])
def test_bce_torch(logits, shape):
    t, p = binary(shape, logits, seed=3, soft=True)
    if not logits:
        # the clip: exact 0/1, beyond, tiny and near 1 (gradient blocked where active)
        p.reshape(-1)[:6] = [0.0, 1.0, 1e-9, 1.0 - 1e-9, -0.5, 1.5]
    else:
        p.reshape(-1)[:4] = [40.0, -40.0, 0.0, 90.0]
    check_torch("binary_crossentropy", [t, p], t_bce(logits), ints=(logits,), wrt=[1])


@requires_torch
@pytest.mark.parametrize("logits", LOGITS)
@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 5)])
def test_cce_torch(logits, shape):
    t, p = categorical(shape, logits, seed=4, soft=True)
    if logits:
        p.reshape(-1, shape[-1])[0] += 80.0  # large logits: log_softmax stays finite
    else:
        p.reshape(-1, shape[-1])[0, 1] = 0.0  # clipped from below: no gradient there
        p.reshape(-1, shape[-1])[1, :] = [1.0] + [0.0] * (shape[-1] - 1)  # clipped at 1 - eps
    check_torch("categorical_crossentropy", [t, p], t_cce(logits), ints=(logits,), wrt=[1])


@requires_torch
@pytest.mark.parametrize("logits", LOGITS)
@pytest.mark.parametrize("shape,trailing", [((7, 5), False), ((7, 5), True), ((2, 3, 6), False)])
def test_scce_torch(logits, shape, trailing):
    y, p = sparse(shape, logits, seed=5)
    if not logits:
        p.reshape(-1, shape[-1])[0, int(y.reshape(-1)[0])] = 0.0  # picked class clipped
    if trailing:
        y = y[..., None]
    check_torch("sparse_categorical_crossentropy", [y, p], t_scce(logits), ints=(logits,), wrt=[1])


# ---- parity with Keras 3 itself --------------------------------------------------------

KERAS_SHAPES = [(16, 5), (4, 3, 6)]


@pytest.mark.parametrize("shape", KERAS_SHAPES)
def test_keras_regression(shape):
    keras = _keras()
    t, p = regression(shape, seed=6)
    for name, fn in [("mse", keras.losses.mean_squared_error), ("mae", keras.losses.mean_absolute_error)]:
        np.testing.assert_allclose(forward(name, [t, p]), _np(fn(t, p)), rtol=1e-5, atol=1e-6, err_msg=name)
    for delta in (1.0, 0.4):
        np.testing.assert_allclose(forward("huber", [t, p], floats=(delta,)),
                                   _np(keras.losses.huber(t, p, delta=delta)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(forward("huber", [t, p]), _np(keras.losses.huber(t, p)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("logits", LOGITS)
@pytest.mark.parametrize("shape", KERAS_SHAPES)
def test_keras_bce(logits, shape):
    keras = _keras()
    t, p = binary(shape, logits, seed=7, soft=True)
    if not logits:
        p.reshape(-1)[:4] = [0.0, 1.0, 1e-9, 1.0 - 1e-9]
    got = forward("binary_crossentropy", [t, p], ints=(logits,))
    ref = _np(keras.losses.binary_crossentropy(t, p, from_logits=bool(logits)))
    assert got.shape == ref.shape == shape[:-1]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("logits", LOGITS)
@pytest.mark.parametrize("shape", KERAS_SHAPES)
def test_keras_cce(logits, shape):
    keras = _keras()
    t, p = categorical(shape, logits, seed=8)
    if not logits:
        p.reshape(-1, shape[-1])[0, 0] = 0.0
    got = forward("categorical_crossentropy", [t, p], ints=(logits,))
    ref = _np(keras.losses.categorical_crossentropy(t, p, from_logits=bool(logits)))
    assert got.shape == ref.shape == shape[:-1]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("logits", LOGITS)
@pytest.mark.parametrize("shape", KERAS_SHAPES)
@pytest.mark.parametrize("trailing", [False, True])
def test_keras_scce(logits, shape, trailing):
    keras = _keras()
    y, p = sparse(shape, logits, seed=9)
    if not logits:
        p.reshape(-1, shape[-1])[0, int(y.reshape(-1)[0])] = 0.0
    if trailing:
        y = y[..., None]
    got = forward("sparse_categorical_crossentropy", [y, p], ints=(logits,))
    ref = _np(keras.losses.sparse_categorical_crossentropy(y, p, from_logits=bool(logits)))
    assert got.shape == ref.shape == shape[:-1]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


# ---- errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy"])
def test_shape_mismatch(name):
    t = np.zeros((2, 3), np.float32)
    p = np.full((2, 4), 0.5, np.float32)
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(2, 4\)"):
        forward(name, [t, p])
    with pytest.raises(ValueError, match=rf"{name}.*\(6,\).*\(2, 3\)"):
        forward(name, [np.zeros(6, np.float32), np.full((2, 3), 0.5, np.float32)])


def test_sparse_shape_mismatch():
    p = np.full((2, 3), 0.5, np.float32)
    for y in (np.zeros(3, np.float32), np.zeros((2, 3), np.float32), np.zeros((2, 1, 1), np.float32)):
        with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*\(2, 3\)"):
            forward("sparse_categorical_crossentropy", [y, p])


@pytest.mark.parametrize("logits", LOGITS)
@pytest.mark.parametrize("bad", [3.0, -1.0, 1.5, np.nan, 1e9])
def test_sparse_bad_label(logits, bad):
    p = np.full((2, 3), 0.5, np.float32)
    y = np.array([0.0, bad], np.float32)
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*label.*3\)"):
        forward("sparse_categorical_crossentropy", [y, p], ints=(logits,))
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy"):
        vjp("sparse_categorical_crossentropy", [y, p], np.ones(2, np.float32), ints=(logits,))


def test_empty_batch():
    for name, (t, p) in [("mse", regression((0, 3))), ("categorical_crossentropy", categorical((0, 3), 1)),
                         ("sparse_categorical_crossentropy", sparse((0, 3), 1))]:
        assert forward(name, [t, p]).shape == (0,)
        assert vjp(name, [t, p], np.zeros(0, np.float32))[1].shape == (0, 3)
