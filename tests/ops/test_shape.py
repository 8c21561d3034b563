import sys, os; sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # noqa: E401,E702
import itertools
import re

import numpy as np
import pytest

from op_harness import forward, vjp, check_grad, check_torch, torch, requires_torch  # noqa: F401


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- reshape ------------------------------------------------------------------------

RESHAPES = [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1, 4)), ((2, 3, 4), (4, -1, 2)), ((2, 3, 4), (24,)),
            ((2, 3, 4), (-1,)), ((1, 1), ()), ((6,), (1, 6, 1)), ((2, 0, 3), (3, -1))]


@pytest.mark.parametrize("shape,target", RESHAPES, ids=str)
def test_reshape(shape, target):
    x = rand(*shape)
    out = forward("reshape", [x], target)
    np.testing.assert_array_equal(out, x.reshape(target))
    if x.size:
        check_grad("reshape", [x], target)


@requires_torch
@pytest.mark.parametrize("shape,target", RESHAPES, ids=str)
def test_reshape_torch(shape, target):
    check_torch("reshape", [rand(*shape)], lambda t: t.reshape(target), target)


@pytest.mark.parametrize("shape,target", [((2, 3), (4, 2)), ((2, 3), (-1, 4)), ((2, 3), (7,))], ids=str)
def test_reshape_count_mismatch(shape, target):
    msg = f"reshape: cannot reshape input {shape} (6 elements) into target {target}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        forward("reshape", [np.zeros(shape, np.float32)], target)


def test_reshape_bad_target():
    with pytest.raises(ValueError, match=re.escape("reshape: bad target (-1, -1) for input (2, 3)")):
        forward("reshape", [np.zeros((2, 3), np.float32)], (-1, -1))
    with pytest.raises(ValueError, match=re.escape("reshape: bad target (-2, -3) for input (2, 3)")):
        forward("reshape", [np.zeros((2, 3), np.float32)], (-2, -3))


# ---- transpose ----------------------------------------------------------------------

PERMS = ([((3, 4), p) for p in [(), (1, 0), (0, 1)]]
         + [((2, 3, 4), p) for p in itertools.permutations(range(3))]
         + [((2, 3, 4, 5), p) for p in [(0, 2, 3, 1), (0, 3, 1, 2), (3, 2, 1, 0), (1, 0, 3, 2), ()]]
         + [((2, 1, 3, 4), (2, 1, 3, 0)), ((2, 3, 4), (-1, 0, -2))])


@pytest.mark.parametrize("shape,perm", PERMS, ids=str)
def test_transpose(shape, perm):
    x = rand(*shape)
    out = forward("transpose", [x], perm)
    np.testing.assert_array_equal(out, np.transpose(x, perm or None))
    check_grad("transpose", [x], perm)


@requires_torch
@pytest.mark.parametrize("shape,perm", PERMS + [((70, 45), (1, 0)), ((3, 40, 50), (0, 2, 1)),
                                                 ((4, 33, 35, 6), (0, 3, 1, 2)),
                                                 ((4, 6, 33, 35), (0, 2, 3, 1))], ids=str)
def test_transpose_torch(shape, perm):
    p = tuple(a % len(shape) for a in perm) if perm else tuple(reversed(range(len(shape))))
    check_torch("transpose", [rand(*shape)], lambda t: t.permute(p), perm)


@pytest.mark.parametrize("perm", [(0, 0, 1), (0, 1, 3), (0, 1), (2, 1, 0, 3), (-4, 0, 1)], ids=str)
def test_transpose_bad_permutation(perm):
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="transpose: .*" + re.escape(f"{perm}") + ".*" + re.escape("input (2, 3, 4)")):
        forward("transpose", [x], perm)


# ---- concat -------------------------------------------------------------------------

CONCATS = [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 5)], -1), ([(2, 3), (2, 5)], 1),
           ([(2, 3, 4), (1, 3, 4), (3, 3, 4)], 0), ([(2, 3, 1), (2, 3, 4), (2, 3, 2)], -1),
           ([(2, 1, 4), (2, 3, 4), (2, 2, 4)], 1), ([(2, 3, 4), (2, 3, 4)], -2), ([(3, 2)], 0),
           ([(2, 0, 3), (2, 2, 3)], 1)]


@pytest.mark.parametrize("shapes,axis", CONCATS, ids=str)
def test_concat(shapes, axis):
    xs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    np.testing.assert_array_equal(forward("concat", xs, (axis,)), np.concatenate(xs, axis))
    check_grad("concat", xs, (axis,))


@requires_torch
@pytest.mark.parametrize("shapes,axis", CONCATS, ids=str)
def test_concat_torch(shapes, axis):
    xs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    check_torch("concat", xs, lambda *ts: torch.cat(ts, dim=axis), (axis,))


def test_concat_many_inputs():
    xs = [rand(2, 1, seed=i) for i in range(32)]
    np.testing.assert_array_equal(forward("concat", xs, (1,)), np.concatenate(xs, 1))
    grads = vjp("concat", xs, np.arange(64, dtype=np.float32).reshape(2, 32), (1,))
    for i, g in enumerate(grads):
        np.testing.assert_array_equal(g, [[i], [32 + i]])


def test_concat_mismatch():
    a, b = np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match=re.escape("concat: input 1 (4, 5) does not fit input 0 (2, 3) along axis 0")):
        forward("concat", [a, b], (0,))
    with pytest.raises(ValueError, match=re.escape("concat: input 2 (2, 3, 1) does not fit input 0 (2, 3) along axis -1")):
        forward("concat", [a, a, np.zeros((2, 3, 1), np.float32)], (-1,))


def test_concat_bad_axis():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=re.escape("concat: axis 2 is out of range for input 0 (2, 3)")):
        forward("concat", [a, a], (2,))
    with pytest.raises(ValueError, match=re.escape("concat: the axis (ints[0]) is missing")):
        forward("concat", [a, a], ())


# ---- slice --------------------------------------------------------------------------

# (shape, starts, sizes); size -1 runs to the end of the axis.
SLICES = [((4, 5, 6), (1, 0, 0), (2, -1, -1)),    # axis 0
          ((4, 5, 6), (0, 0, 2), (-1, -1, 3)),    # last axis
          ((4, 5, 6), (0, 1, 0), (-1, 3, -1)),    # middle axis
          ((4, 5, 6), (1, 2, 3), (3, 2, -1)),     # every axis
          ((4, 5, 6), (2, 0, 1), (1, 5, 4)),      # full middle axis between cut axes
          ((4, 5, 6), (0, 0, 0), (-1, -1, -1)),   # the whole tensor
          ((4, 5, 6), (0, 5, 0), (-1, 0, -1)),    # empty
          ((7,), (3,), (-1,)),
          ((2, 3, 4, 5), (0, 1, 1, 0), (2, 1, 2, 5))]


def torch_slice(starts, sizes):
    def fn(t):
        idx = tuple(slice(s, None if z == -1 else s + z) for s, z in zip(starts, sizes))
        return t[idx]
    return fn


@pytest.mark.parametrize("shape,starts,sizes", SLICES, ids=str)
def test_slice(shape, starts, sizes):
    x = rand(*shape)
    idx = tuple(slice(s, None if z == -1 else s + z) for s, z in zip(starts, sizes))
    np.testing.assert_array_equal(forward("slice", [x], starts + sizes), x[idx])
    if x[idx].size and x.size <= 60:
        check_grad("slice", [x], starts + sizes)
    # Backward scatters dy into the slice region and leaves zeros elsewhere.
    dy = rand(*x[idx].shape, seed=5)
    want = np.zeros_like(x)
    want[idx] = dy
    np.testing.assert_array_equal(vjp("slice", [x], dy, starts + sizes)[0], want)


@pytest.mark.parametrize("shape,starts,sizes", [((3, 4), (1, 0), (1, -1)), ((3, 4), (0, 1), (-1, 2)),
                                                ((2, 3, 4), (1, 1, 1), (1, 2, 2))], ids=str)
def test_slice_grad(shape, starts, sizes):
    check_grad("slice", [rand(*shape)], starts + sizes)


@requires_torch
@pytest.mark.parametrize("shape,starts,sizes", SLICES, ids=str)
def test_slice_torch(shape, starts, sizes):
    check_torch("slice", [rand(*shape)], torch_slice(starts, sizes), starts + sizes)


@pytest.mark.parametrize("starts,sizes,axis", [((0, 3), (2, 2), 1), ((3, 0), (1, -1), 0),
                                               ((0, -1), (1, 1), 1), ((0, 0), (-2, 1), 0)], ids=str)
def test_slice_out_of_bounds(starts, sizes, axis):
    x = np.zeros((2, 4), np.float32)
    msg = (f"slice: start {starts[axis]} size {sizes[axis]} is out of bounds on axis {axis} "
           f"of input (2, 4) (starts {starts}, sizes {sizes})")
    with pytest.raises(ValueError, match=re.escape(msg)):
        forward("slice", [x], starts + sizes)


def test_slice_wrong_attr_count():
    with pytest.raises(ValueError, match=re.escape("slice: input (2, 4) needs 2 starts then 2 sizes, got 3 ints")):
        forward("slice", [np.zeros((2, 4), np.float32)], (0, 0, 1))


# ---- reverse ------------------------------------------------------------------------


@pytest.mark.parametrize("shape,axis", [((2, 5, 3), 1), ((4,), 0), ((2, 3, 4), -1), ((3, 1, 2), 1)])
def test_reverse_matches_numpy_and_grads(shape, axis):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(forward("reverse", [x], ints=[axis]), np.flip(x, axis))
    check_grad("reverse", [x], ints=[axis])


@requires_torch
def test_reverse_torch():
    x = np.random.default_rng(1).standard_normal((3, 4, 2)).astype(np.float32)
    check_torch("reverse", [x], lambda t: torch.flip(t, [1]), ints=[1])


def test_reverse_errors():
    with pytest.raises(ValueError, match="reverse: takes ints=\\[axis\\]"):
        forward("reverse", [np.ones((2, 3), np.float32)])
    with pytest.raises(ValueError, match="reverse"):
        forward("reverse", [np.ones((2, 3), np.float32)], ints=[2])
