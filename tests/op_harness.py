"""Per-op test harness: finite-difference gradient checks and PyTorch parity.

Every op is driven through two low-level entry points of the binding:
  _C.op_forward(name, inputs, ints, floats, training, seed) -> ndarray
  _C.op_vjp(name, inputs, ints, floats, out_grad, training, seed) -> list of ndarray | None
op_vjp returns d(sum(out * out_grad))/d(input) for every input (None for inputs the op
does not differentiate, e.g. integer labels).
"""
import numpy as np
import pytest

from cnn import _C

try:
    import torch
except ImportError:  # parity tests skip without the peer
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="torch==2.13.0 not installed")


def as32(arrays):
    return [np.asarray(a, dtype=np.float32, order="C") for a in arrays]


def forward(name, inputs, ints=(), floats=(), training=False, seed=0):
    return _C.op_forward(name, as32(inputs), list(ints), list(floats), training, seed)


def vjp(name, inputs, out_grad, ints=(), floats=(), training=False, seed=0):
    return _C.op_vjp(name, as32(inputs), list(ints), list(floats),
                     np.ascontiguousarray(out_grad, dtype=np.float32), training, seed)


def check_grad(name, inputs, ints=(), floats=(), wrt=None, eps=1e-2, rtol=2e-2, atol=2e-3,
               mask=None, seed=0, training=False, op_seed=0):
    """Central differences of L = sum(op(x) * r) against op_vjp.

    The kernels are float32, so the differences are taken with a step of `eps` in float32
    and compared in float64 with tolerances that fit float32 rounding. `mask(i, x)` may
    return a boolean array of the entries of input i to compare (drop kinks like relu's 0).
    `training` and `op_seed` are the op's call arguments (a stochastic op's masks are fixed
    by its seed, so its gradient is checked like any other).
    """
    rng = np.random.default_rng(seed)
    inputs = as32(inputs)
    def run():
        return forward(name, inputs, ints, floats, training, op_seed)

    out = run()
    r = rng.standard_normal(np.shape(out)).astype(np.float32)
    grads = vjp(name, inputs, r, ints, floats, training, op_seed)
    wrt = range(len(inputs)) if wrt is None else wrt
    for i in wrt:
        x = inputs[i]
        num = np.zeros(x.shape, dtype=np.float64)
        flat = x.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            fp = np.sum(np.asarray(run(), np.float64) * r)
            flat[j] = orig - eps
            fm = np.sum(np.asarray(run(), np.float64) * r)
            flat[j] = orig
            num.reshape(-1)[j] = (fp - fm) / (2 * eps)
        got = np.asarray(grads[i], np.float64)
        keep = np.ones(x.shape, bool) if mask is None else mask(i, x)
        np.testing.assert_allclose(got[keep], num[keep], rtol=rtol, atol=atol,
                                   err_msg=f"{name}: gradient of input {i}")


def check_torch(name, inputs, torch_fn, ints=(), floats=(), wrt=None, rtol=1e-5, atol=1e-6,
                seed=0, exact=False):
    """Forward and backward against PyTorch (float32, CPU). torch_fn maps torch tensors
    (requires_grad set on the differentiated inputs) to the op's output. exact=True runs
    PyTorch in float64: for long sums, whose float32 rounding in PyTorch depends on the
    CPU's kernels (oneDNN's AVX2 path errs several times more than its AVX-512 one)."""
    if torch is None:
        pytest.skip("torch==2.13.0 not installed")
    rng = np.random.default_rng(seed)
    inputs = as32(inputs)
    wrt = list(range(len(inputs))) if wrt is None else list(wrt)
    dtype = torch.float64 if exact else torch.float32
    ts = [torch.tensor(x, dtype=dtype, requires_grad=(i in wrt)) for i, x in enumerate(inputs)]
    ref = torch_fn(*ts)
    out = forward(name, inputs, ints, floats)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg=f"{name}: forward vs torch")
    r = rng.standard_normal(np.shape(out)).astype(np.float32)
    ref.backward(torch.tensor(r, dtype=dtype))
    grads = vjp(name, inputs, r, ints, floats)
    for i in wrt:
        np.testing.assert_allclose(grads[i], ts[i].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{name}: gradient of input {i} vs torch")


def run_threads(fn, counts=(1, 2, 3)):
    """fn() at each engine thread count: {count: result}; the thread count is restored."""
    import cnn
    before = cnn.config()["engine_threads"]
    try:
        out = {}
        for n in counts:
            cnn.set_num_threads(n)
            out[n] = fn()
        return out
    finally:
        cnn.set_num_threads(before)


def assert_same_at_every_count(results):
    """Every array of run_threads' results equals the single-threaded one, bit for bit."""
    for n in results:
        for one, many in zip(results[1], results[n]):
            np.testing.assert_array_equal(many, one)
