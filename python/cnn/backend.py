"""The thin layer between the Keras-style API and the C engine.

One op dispatcher, two ways to drive the same kernels:
- eagerly: `op(name, [arrays or Tensors])` runs one C kernel and returns a `Tensor`, recorded
  on every active `GradientTape`;
- symbolically: when an input is a `Symbol` (a node of a `GraphBuilder`), `op` adds a node
  instead. A model's graph is built this way once and compiled into a `CompiledGraph`,
  whose `train_step` is a single C call (forward, loss, backward, optimizer update).
"""
import contextlib
import itertools

import numpy as np

from . import _C

__all__ = ["Tensor", "Variable", "Symbol", "op", "GradientTape", "GraphBuilder", "CompiledGraph",
           "OptimizerState", "convert_to_tensor", "is_tensor", "next_seed"]

_seed_counter = itertools.count(1)


def next_seed():
    """A fresh seed for one stochastic call; `cnn.utils.set_random_seed` resets the stream."""
    return next(_seed_counter)


def reset_seed_stream(seed):
    global _seed_counter
    _seed_counter = itertools.count(int(seed) * 1_000_003 + 1)


class _Operators:
    """Arithmetic operators for Tensors and Symbols, expressed as ops."""
    __array_priority__ = 100  # NumPy defers to our operators

    def __add__(self, o): return op("add", [self, o])
    def __radd__(self, o): return op("add", [o, self])
    def __sub__(self, o): return op("sub", [self, o])
    def __rsub__(self, o): return op("sub", [o, self])
    def __mul__(self, o): return op("mul", [self, o])
    def __rmul__(self, o): return op("mul", [o, self])
    def __truediv__(self, o): return op("div", [self, o])
    def __rtruediv__(self, o): return op("div", [o, self])
    def __matmul__(self, o): return op("matmul", [self, o])
    def __rmatmul__(self, o): return op("matmul", [o, self])
    def __neg__(self): return op("neg", [self])
    def __abs__(self): return op("abs", [self])

    def __pow__(self, p):
        if p == 2:
            return op("square", [self])
        if p == 0.5:
            return op("sqrt", [self])
        raise ValueError(f"only the powers 2 and 0.5 are supported on tensors, got {p!r}")


class Tensor(_Operators):
    """An eager float32 value computed by the engine. `_keras_mask`: the step mask a layer
    attached to its output (Embedding(mask_zero=True), Masking, ...), read by the next
    layer called on it, as in Keras."""
    __slots__ = ("_t", "_keras_mask")

    def __init__(self, handle):
        self._t = handle
        self._keras_mask = None

    @property
    def shape(self):
        return self._t.shape

    @property
    def ndim(self):
        return len(self._t.shape)

    dtype = "float32"

    def numpy(self):
        return self._t.view()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.numpy().reshape(()))

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"<cnn.Tensor shape={self.shape}\n{self.numpy()!r}>"


class Variable(Tensor):
    """A trainable (or not) weight. Its memory may move into a model's flat parameter
    buffer, so `numpy()` returns a copy."""
    __slots__ = ("name", "trainable")

    def __init__(self, value, name="variable", trainable=True):
        super().__init__(_C.Tensor(np.asarray(value, dtype=np.float32)))
        self.name = name
        self.trainable = trainable

    def numpy(self):
        return self._t.numpy()

    def assign(self, value):
        self._t.assign(np.asarray(value, dtype=np.float32))
        return self

    @property
    def value(self):
        return self

    def __repr__(self):
        return f"<cnn.Variable '{self.name}' shape={self.shape}>"


def is_tensor(x):
    return isinstance(x, (Tensor, Symbol))


def convert_to_tensor(x):
    if isinstance(x, (Tensor, Symbol)):
        return x
    return Tensor(_C.Tensor(np.asarray(x, dtype=np.float32)))


class Symbol(_Operators):
    """A node of a graph under construction: its shape has None for the batch dimension."""
    __slots__ = ("builder", "node", "shape")

    def __init__(self, builder, node, shape):
        self.builder = builder
        self.node = node
        self.shape = shape

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<cnn.Symbol node={self.node} shape={self.shape}>"


_building = []  # GraphBuilders whose layers are being called on Symbols, innermost last


@contextlib.contextmanager
def building(builder):
    """Marks `builder` as the graph being built (None: nothing to mark) for ops that read
    only Variables, which would otherwise run eagerly and enter the graph as constants."""
    if builder is None:
        yield
        return
    _building.append(builder)
    try:
        yield
    finally:
        _building.pop()


def op(name, inputs, ints=(), floats=(), training=False, seed=None):
    """Applies engine op `name`: adds a graph node if any input is a Symbol (or a Variable
    while a graph is being built), else runs it."""
    for x in inputs:
        if isinstance(x, Symbol):
            return x.builder.add(name, inputs, ints, floats)
    if _building and any(isinstance(x, Variable) for x in inputs):
        return _building[-1].add(name, inputs, ints, floats)
    handles = [x._t if isinstance(x, Tensor) else x for x in inputs]
    if seed is None:
        seed = next_seed() if training else 0
    return Tensor(_C.eager(name, handles, list(ints), [float(f) for f in floats], bool(training), seed))


class GraphBuilder:
    """Builds one C graph. Variables become parameter nodes (one per variable), arrays and
    eager Tensors become constants."""

    def __init__(self):
        self.graph = _C.Graph()
        self._params = {}

    def input(self, shape, name=None, batch=True):
        full = ((None,) + tuple(shape)) if batch else tuple(shape)
        node = self.graph.input(full)
        return Symbol(self, node, self.graph.shape(node))

    def param(self, var):
        sym = self._params.get(var._t.id)
        if sym is None:
            node = self.graph.param(var._t)
            sym = self._params[var._t.id] = Symbol(self, node, self.graph.shape(node))
        return sym

    def const(self, value):
        node = self.graph.const(np.asarray(value, dtype=np.float32))
        return Symbol(self, node, self.graph.shape(node))

    def _node(self, x):
        if isinstance(x, Symbol):
            if x.builder is not self:
                raise ValueError("an op mixes symbolic tensors of two different graphs")
            return x.node
        if isinstance(x, Variable):
            return self.param(x).node
        if isinstance(x, Tensor):
            return self.const(x.numpy()).node
        return self.const(x).node

    def add(self, name, inputs, ints=(), floats=()):
        ids = [self._node(x) for x in inputs]
        node = self.graph.op(name, ids, list(ints), [float(f) for f in floats])
        return Symbol(self, node, self.graph.shape(node))


class CompiledGraph:
    """A compiled program over a GraphBuilder's graph; each method is one C call."""

    def __init__(self, builder, inputs, outputs, targets=(), loss=None, reports=(), trainable=()):
        self.builder = builder
        self.trainable = list(trainable)
        self._program = _C.Program(
            builder.graph, [s.node for s in inputs], [s.node for s in targets], [s.node for s in outputs],
            -1 if loss is None else loss.node, [s.node for s in reports], [v._t for v in self.trainable])

    def predict(self, xs):
        return self._program.predict(xs)

    def evaluate(self, xs, ys):
        return self._program.evaluate(xs, ys)

    def train_step(self, xs, ys, optimizer, seed=0):
        state = optimizer._c if isinstance(optimizer, OptimizerState) else optimizer
        return self._program.train_step(xs, ys, state, int(seed))


class OptimizerState:
    """The C optimizer: update rules and per-variable moments."""

    def __init__(self, kind, **hyper):
        self._c = _C.Optimizer(kind, **hyper)

    @property
    def learning_rate(self):
        return self._c.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._c.learning_rate = float(value)

    @property
    def iterations(self):
        return self._c.iterations

    @iterations.setter
    def iterations(self, value):
        self._c.iterations = int(value)

    def apply(self, grads, variables):
        grads = [g._t if isinstance(g, Tensor) else g for g in grads]
        self._c.apply(grads, [v._t for v in variables])


class GradientTape:
    """Records eager ops; `gradient(target, sources)` differentiates sum(target).

    Every op run while the tape is active is recorded, so `watch` is accepted for Keras/TF
    compatibility but not needed."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._tape = _C.Tape(persistent=persistent)

    def __enter__(self):
        self._tape.push()
        return self

    def __exit__(self, *exc):
        self._tape.pop()
        return False

    def watch(self, x):
        pass

    def gradient(self, target, sources):
        single = not isinstance(sources, (list, tuple))
        srcs = [sources] if single else list(sources)
        if not isinstance(target, Tensor):
            raise TypeError(f"gradient: target must be a Tensor computed under the tape, got {type(target).__name__}")
        for i, s in enumerate(srcs):
            if not isinstance(s, Tensor):
                raise TypeError(f"gradient: source {i} must be a Variable or Tensor, got {type(s).__name__}")
        grads = self._tape.gradient(target._t, [s._t for s in srcs])
        out = [None if g is None else Tensor(g) for g in grads]
        return out[0] if single else out
