"""Keras-named tensor ops (`keras.ops` subset). Each works eagerly on arrays/Tensors (and is
recorded on GradientTapes) and symbolically on graph Symbols, running the same C kernels."""
import numpy as np

from .backend import Symbol, Tensor, convert_to_tensor, op

__all__ = [
    "matmul", "add", "subtract", "multiply", "divide", "negative", "exp", "log", "sqrt", "square",
    "abs", "absolute", "clip", "maximum", "minimum", "sum", "mean", "max", "reshape", "transpose",
    "concatenate", "slice", "arange",
    "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid",
    "tanh", "softplus", "softsign", "silu", "swish", "softmax", "log_softmax", "convert_to_tensor",
    "convert_to_numpy", "shape", "expand_dims", "squeeze",
]


def _axes(axis, ndim):
    if axis is None:
        return []
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    return [int(a) for a in axes]


def matmul(x1, x2): return op("matmul", [x1, x2])
def add(x1, x2): return op("add", [x1, x2])
def subtract(x1, x2): return op("sub", [x1, x2])
def multiply(x1, x2): return op("mul", [x1, x2])
def divide(x1, x2): return op("div", [x1, x2])
def negative(x): return op("neg", [x])
def exp(x): return op("exp", [x])
def log(x): return op("log", [x])
def sqrt(x): return op("sqrt", [x])
def square(x): return op("square", [x])
def abs(x): return op("abs", [x])  # noqa: A001 (Keras name)
absolute = abs
def maximum(x1, x2): return op("maximum", [x1, x2])
def minimum(x1, x2): return op("minimum", [x1, x2])
def clip(x, x_min, x_max): return op("clip", [x], floats=[x_min, x_max])


def _ndim(x):
    return len(x.shape) if isinstance(x, (Tensor, Symbol)) else np.ndim(x)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return op("sum", [x], ints=[int(keepdims)] + _axes(axis, _ndim(x)))


def mean(x, axis=None, keepdims=False):
    return op("mean", [x], ints=[int(keepdims)] + _axes(axis, _ndim(x)))


def max(x, axis=None, keepdims=False):  # noqa: A001
    return op("max", [x], ints=[int(keepdims)] + _axes(axis, _ndim(x)))


def reshape(x, newshape):
    dims = [newshape] if isinstance(newshape, int) else list(newshape)
    return op("reshape", [x], ints=[-1 if d is None else int(d) for d in dims])


def transpose(x, axes=None):
    return op("transpose", [x], ints=[] if axes is None else [int(a) for a in axes])


def concatenate(xs, axis=0):
    return op("concat", list(xs), ints=[int(axis)])


def slice(x, start_indices, shape):  # noqa: A001 (Keras name)
    return op("slice", [x], ints=[int(s) for s in start_indices] + [int(s) for s in shape])


def expand_dims(x, axis):
    s = list(x.shape if isinstance(x, (Tensor, Symbol)) else np.shape(x))
    ax = axis if axis >= 0 else len(s) + 1 + axis
    s.insert(ax, 1)
    return reshape(x, [-1 if d is None else d for d in s])


def squeeze(x, axis=None):
    s = list(x.shape if isinstance(x, (Tensor, Symbol)) else np.shape(x))
    axes = range(len(s)) if axis is None else [a % len(s) for a in _axes(axis, len(s))]
    keep = [d for i, d in enumerate(s) if not (i in axes and d == 1)]
    return reshape(x, [-1 if d is None else d for d in keep])


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop) (or [0, start)), as NumPy's arange: a constant
    float32 tensor (cnn's tensors hold float32, and integer-valued ones up to 2**24 are
    exact, so the result can index an Embedding, e.g. positions 0..length-1)."""
    if dtype not in (None, "float32", "int32", "int64", "int"):
        raise ValueError(f"cnn tensors are float32; received dtype={dtype!r}")
    if stop is None:
        start, stop = 0, start
    values = np.arange(start, stop, step)
    return convert_to_tensor(values.astype(np.float32))


def relu(x): return op("relu", [x])
def leaky_relu(x, negative_slope=0.2): return op("leaky_relu", [x], floats=[negative_slope])
def elu(x, alpha=1.0): return op("elu", [x], floats=[alpha])
def selu(x): return op("selu", [x])
def gelu(x, approximate=True): return op("gelu", [x], ints=[int(approximate)])
def sigmoid(x): return op("sigmoid", [x])
def hard_sigmoid(x): return op("hard_sigmoid", [x])
def tanh(x): return op("tanh", [x])
def softplus(x): return op("softplus", [x])
def softsign(x): return op("softsign", [x])
def silu(x): return op("silu", [x])
swish = silu
def softmax(x, axis=-1): return op("softmax", [x], ints=[int(axis)])
def log_softmax(x, axis=-1): return op("log_softmax", [x], ints=[int(axis)])


def convert_to_numpy(x):
    return np.asarray(x.numpy() if isinstance(x, Tensor) else x)


def shape(x):
    return tuple(x.shape) if isinstance(x, (Tensor, Symbol)) else np.shape(x)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Keras 3's `ops.dot_product_attention`: softmax(query key^T * scale + bias) value over
    the key steps, as one fused engine op (`sdpa`, csrc/ops_attention.c).

    Args:
        query: (B, T, N, H) array: batch, query steps, heads, head size.
        key, value: (B, S, K, H); N must be a multiple of K (grouped-query attention: query
            head n reads key/value head n // (N // K)).
        bias: optional additive bias of the logits, broadcastable to (B, N, T, S);
            differentiable.
        mask: optional mask broadcastable to (B, N, T, S): True (nonzero) attends. Masked
            logits become Keras's large negative (-0.7 * float32 max), so a query step
            whose keys are all masked averages every value, as Keras computes it. Only one
            of bias and mask, as in Keras.
        scale: multiplier of the logits (default 1 / sqrt(H)).
        is_causal: also mask key steps after each query step (lower-triangular, top-left
            aligned).
        flash_attention: None or False; there is one CPU kernel (True raises, as Keras
            does where flash attention is unavailable).
        attn_logits_soft_cap: not supported (must be None).

    Returns:
        The (B, T, N, H) attention output (H of value's last axis)."""
    shapes = [tuple(shape(x)) for x in (query, key, value)]
    if any(len(s) != 4 for s in shapes):
        raise ValueError("`dot_product_attention` only supports 4D inputs. Received: "
                         f"query.shape={shapes[0]}, key.shape={shapes[1]}, "
                         f"value.shape={shapes[2]}.")
    if bias is not None and mask is not None:
        raise ValueError("Only one of `bias` and `mask` can be provided. Received both.")
    if flash_attention:
        raise ValueError("Flash attention is not supported by cnn's CPU engine; pass "
                         "flash_attention=None or False.")
    if attn_logits_soft_cap is not None:
        raise ValueError("`attn_logits_soft_cap` is not supported by cnn; received "
                         f"attn_logits_soft_cap={attn_logits_soft_cap}")
    if scale is None:
        scale = 1.0 / float(np.sqrt(shapes[0][-1]))
    extra, kind = [], 0
    m = bias if bias is not None else mask
    if m is not None:
        kind = int(bias is not None)
        if not isinstance(m, (Tensor, Symbol)):
            m = np.asarray(m)
            m = (m != 0).astype(np.float32) if kind == 0 else m.astype(np.float32)
        dims = list(shape(m))
        if len(dims) > 4:
            raise ValueError(f"`{'bias' if kind else 'mask'}` must be broadcastable to (B, N, T, "
                             f"S) = ({shapes[0][0]}, {shapes[0][2]}, {shapes[0][1]}, "
                             f"{shapes[1][1]}); received shape {tuple(dims)}")
        if len(dims) < 4:  # NumPy broadcasting: leading axes of size 1
            dims = [1] * (4 - len(dims)) + dims
            m = reshape(m, [-1 if d is None else d for d in dims])
        extra = [m]
    # sdpa's ints: rank-4 layout, causal, mask or bias, keras.ops masking (no zeroing)
    return op("sdpa", [query, key, value] + extra, ints=[0, int(bool(is_causal)), kind, 1],
              floats=[float(scale)])


__all__ += ["dot_product_attention"]
