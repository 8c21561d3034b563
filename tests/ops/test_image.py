"""Image ops (ops_image.c): image_resize against torch's interpolate (forward and backward),
and the augmentation ops random_flip, random_affine, random_contrast, random_brightness,
random_crop against NumPy references and keras.ops.image.affine_transform, with each
sample's parameters recomputed from the documented counter-based stream (u_k of sample n is
cnn_rand_uniform(seed, 8 n + k)).

ints of the random ops = [mode, seed attribute, ...]: mode 0 follows the call's training
flag, 1 always trains, 2 always infers."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from op_harness import check_grad, check_torch, forward, requires_torch, torch  # noqa: E402

from cnn import _C  # noqa: E402

FOLLOW, TRAIN, INFER = 0, 1, 2
SEED = 777
FILL = {"reflect": 0, "wrap": 1, "constant": 2, "nearest": 3}
M64 = (1 << 64) - 1


def mix(a, b):
    z = (a + 0x9E3779B97F4A7C15 * (b + 1)) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def uniform(seed, n, k):
    return (mix(seed, 8 * n + k) >> 40) / 16777216.0


def images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _keras():
    return pytest.importorskip("keras")


# ---- image_resize --------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("hw,out", [((7, 9), (4, 5)), ((4, 5), (11, 8)), ((6, 6), (6, 6)),
                                    ((5, 3), (2, 7)), ((1, 4), (3, 2))])
@pytest.mark.parametrize("interp,mode", [(0, "bilinear"), (1, "nearest-exact")])
def test_resize_matches_torch_interpolate(hw, out, interp, mode):
    x = images((2, *hw, 3))
    y = forward("image_resize", [x], ints=(*out, interp))
    t = torch.nn.functional.interpolate(torch.from_numpy(x).permute(0, 3, 1, 2), size=out,
                                        mode=mode,
                                        align_corners=False if interp == 0 else None)
    np.testing.assert_allclose(y, t.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-3)


@requires_torch
def test_resize_crop_window_and_single_image():
    x = images((10, 8, 2))
    y = forward("image_resize", [x], ints=(4, 4, 0, 1, 2, 6, 5))
    t = torch.nn.functional.interpolate(torch.from_numpy(x[1:7, 2:7]).permute(2, 0, 1)[None],
                                        size=(4, 4), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(y, t[0].permute(1, 2, 0).numpy(), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("hw,out", [((5, 7), (3, 4)), ((3, 4), (7, 6)), ((4, 4), (4, 4))])
@pytest.mark.parametrize("interp,mode", [(0, "bilinear"), (1, "nearest-exact")])
def test_resize_backward_matches_torch(hw, out, interp, mode):
    x = images((2, *hw, 3)) / 255
    check_torch("image_resize", [x], lambda t: torch.nn.functional.interpolate(
        t.permute(0, 3, 1, 2), size=out, mode=mode,
        align_corners=False if interp == 0 else None).permute(0, 2, 3, 1),
        ints=(*out, interp), rtol=1e-5, atol=1e-5)


def test_resize_gradient_with_a_crop_window():
    x = images((1, 6, 5, 2)) / 255
    check_grad("image_resize", [x], ints=(3, 4, 0, 1, 1, 4, 3))
    check_grad("image_resize", [x[0]], ints=(7, 3, 1))


@pytest.mark.parametrize("ints,match", [((0, 3, 0), "positive"), ((3, 3, 5), "interpolation"),
                                        ((3, 3, 0, 0, 0, 9, 2), "does not fit"),
                                        ((3,), "ints")])
def test_resize_rejects_bad_attributes(ints, match):
    with pytest.raises(ValueError, match=match):
        forward("image_resize", [images((1, 4, 4, 1))], ints=ints)


def test_image_ops_reject_bad_ranks():
    for name, ints, floats in [("image_resize", (2, 2, 0), ()), ("random_flip", (0, 0, 1, 1), ()),
                               ("random_crop", (0, 0, 2, 2), ())]:
        with pytest.raises(ValueError, match=f"{name}: expected images"):
            forward(name, [np.zeros((4, 4), np.float32)], ints=ints, floats=floats)


def test_augmentation_ops_are_not_differentiable():
    names = set(_C.op_names())
    cases = {"random_crop": [TRAIN, 0, 2, 2],
             "random_flip": [TRAIN, 0, 1, 1], "random_affine": [TRAIN, 0, 0, 0],
             "random_contrast": [TRAIN, 0], "random_brightness": [TRAIN, 0]}
    floats = {"random_affine": list(affine_floats()), "random_contrast": [1, 1, 0, 1],
              "random_brightness": [0, 0, 0, 1]}
    for name, ints in cases.items():
        assert name in names
        x = images((1, 4, 4, 1))
        y = forward(name, [x], ints=ints, floats=floats.get(name, ()), training=True)
        assert _C.op_vjp(name, [x], ints, floats.get(name, []), np.ones_like(y), True, 0) == [None]


# ---- inactive: identity --------------------------------------------------------------------

AUG = {
    "random_flip": ((1, 1), ()),
    "random_affine": ((0, 0), (0.1, 0.5, -0.2, 0.2, -0.1, 0.3, 0.8, 1.2, -1.0, -1.0, 0.0)),
    "random_contrast": ((), (0.5, 1.5, 0.0, 255.0)),
    "random_brightness": ((), (-0.2, 0.2, 0.0, 255.0)),
}


@pytest.mark.parametrize("name", AUG)
@pytest.mark.parametrize("mode,training", [(FOLLOW, False), (INFER, True)])
def test_inactive_is_the_identity(name, mode, training):
    x = images((3, 5, 6, 2))
    extra, floats = AUG[name]
    y = forward(name, [x], ints=(mode, SEED, *extra), floats=floats, training=training, seed=4)
    np.testing.assert_array_equal(y, x)
    y = forward(name, [x], ints=(FOLLOW, SEED, *extra), floats=floats, training=True, seed=4)
    assert not np.array_equal(y, x)


@pytest.mark.parametrize("name", AUG)
def test_same_seed_same_draw(name):
    x = images((4, 5, 6, 2))
    extra, floats = AUG[name]
    run = lambda s, attr: forward(name, [x], ints=(TRAIN, attr, *extra), floats=floats, seed=s)
    np.testing.assert_array_equal(run(3, SEED), run(3, SEED))
    assert not np.array_equal(run(3, SEED), run(4, SEED))
    assert not np.array_equal(run(3, SEED), run(3, SEED + 1))


# ---- random_flip ---------------------------------------------------------------------------

@pytest.mark.parametrize("hor,ver", [(1, 0), (0, 1), (1, 1)])
def test_flip_is_the_documented_draw(hor, ver):
    x = images((16, 3, 4, 2))
    y = forward("random_flip", [x], ints=(TRAIN, SEED, hor, ver), seed=9)
    s = mix(9, SEED)
    for n in range(16):
        want = x[n]
        if hor and uniform(s, n, 0) <= 0.5:
            want = want[:, ::-1]
        if ver and uniform(s, n, 1) <= 0.5:
            want = want[::-1]
        np.testing.assert_array_equal(y[n], want)


def test_flip_frequency_is_one_half():
    x = np.zeros((4000, 1, 2, 1), np.float32)
    x[:, 0, 1] = 1  # flipped left-right iff the 1 moved to column 0
    y = forward("random_flip", [x], ints=(TRAIN, 0, 1, 0), seed=1)
    assert abs(y[:, 0, 0, 0].mean() - 0.5) < 0.03


# ---- random_affine -------------------------------------------------------------------------

def keras_matrix(angle, ty, tx, zy, zx, h, w):
    """Keras's rotation/zoom/translation matrix (output -> input) as 8 numbers."""
    cx, cy = (w - 1) / 2, (h - 1) / 2
    c, s = math.cos(angle), math.sin(angle)
    a0, a1, b0, b1 = c * zx, -s * zy, s * zx, c * zy
    return [a0, a1, cx - a0 * cx - a1 * cy - tx, b0, b1, cy - b0 * cx - b1 * cy - ty, 0, 0]


def affine_floats(angle=(0, 0), ty=(0, 0), tx=(0, 0), zy=(1, 1), zx=None, fill_value=0.0):
    return (*angle, *ty, *tx, *zy, *(zx or (-1.0, -1.0)), fill_value)


@pytest.mark.parametrize("fill", list(FILL))
@pytest.mark.parametrize("case", ["rotate", "translate", "zoom_in", "zoom_out", "zoom_xy"])
def test_affine_fixed_transform_matches_keras(fill, case):
    keras = _keras()
    h, w = 7, 9
    x = images((2, h, w, 3))
    p = {"rotate": dict(angle=(0.7, 0.7)), "translate": dict(ty=(0.3, 0.3), tx=(-0.45, -0.45)),
         "zoom_in": dict(zy=(0.6, 0.6)), "zoom_out": dict(zy=(1.7, 1.7)),
         "zoom_xy": dict(zy=(1.3, 1.3), zx=(0.7, 0.7))}[case]
    floats = affine_floats(fill_value=17.0, **p)
    y = forward("random_affine", [x], ints=(TRAIN, 0, FILL[fill], 0), floats=floats, seed=1)
    zy = p.get("zy", (1, 1))[0]
    m = keras_matrix(p.get("angle", (0, 0))[0], p.get("ty", (0, 0))[0] * h,
                     p.get("tx", (0, 0))[0] * w, zy, p.get("zx", (zy, zy))[0], h, w)
    want = keras.ops.image.affine_transform(x, np.array([m, m], np.float32),
                                            interpolation="bilinear", fill_mode=fill,
                                            fill_value=17.0)
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(want), rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("fill", list(FILL))
def test_affine_nearest_matches_keras(fill):
    keras = _keras()
    h, w = 8, 6
    x = images((1, h, w, 2))
    floats = affine_floats(angle=(0.4, 0.4), ty=(0.1, 0.1), fill_value=3.0)
    y = forward("random_affine", [x], ints=(TRAIN, 0, FILL[fill], 1), floats=floats, seed=1)
    m = np.array([keras_matrix(0.4, 0.1 * h, 0, 1, 1, h, w)], np.float32)
    want = keras.ops.convert_to_numpy(keras.ops.image.affine_transform(
        x, m, interpolation="nearest", fill_mode=fill, fill_value=3.0))
    # rounding ties may fall either way under float rounding: nearly every pixel agrees
    assert np.mean(np.all(y == want, axis=-1)) > 0.97


def test_affine_per_sample_draws_match_keras():
    keras = _keras()
    h, w, n = 6, 5, 5
    x = images((n, h, w, 1))
    floats = affine_floats(angle=(-0.5, 0.9), ty=(-0.2, 0.1), tx=(0.0, 0.3), zy=(0.8, 1.3),
                           zx=(0.9, 1.1))
    y = forward("random_affine", [x], ints=(TRAIN, SEED, FILL["reflect"], 0), floats=floats,
                seed=5)
    s = mix(5, SEED)
    f32 = lambda lo, hi, k, i: float(np.float32(lo + (hi - lo) * uniform(s, i, k)))
    mats = []
    for i in range(n):
        ang, ty, tx = f32(-0.5, 0.9, 0, i), f32(-0.2, 0.1, 1, i) * h, f32(0.0, 0.3, 2, i) * w
        mats.append(keras_matrix(ang, ty, tx, f32(0.8, 1.3, 3, i), f32(0.9, 1.1, 4, i), h, w))
    want = keras.ops.image.affine_transform(x, np.array(mats, np.float32), fill_mode="reflect")
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(want), rtol=1e-4, atol=5e-3)


def test_affine_rotation_angles_cover_the_range():
    """A one-pixel probe right of the centre recovers each sample's angle."""
    n, size = 3000, 41
    x = np.zeros((n, size, size, 2), np.float32)
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    x[..., 0], x[..., 1] = xx, yy  # each pixel holds its own coordinates
    y = forward("random_affine", [x], ints=(TRAIN, 0, FILL["constant"], 0),
                floats=affine_floats(angle=(-0.6, 0.3)), seed=2)
    c = (size - 1) // 2
    px, py = y[:, c, c + 10, 0], y[:, c, c + 10, 1]  # the input point read by (row c, col c+10)
    ang = np.arctan2(py, px)  # the input point is R(angle) (10, 0)
    assert ang.min() >= -0.6 - 1e-3 and ang.max() <= 0.3 + 1e-3
    assert ang.min() < -0.58 and ang.max() > 0.28
    assert abs(ang.mean() - (-0.15)) < 0.02


def test_affine_rejects_bad_attributes():
    x = images((1, 4, 4, 1))
    with pytest.raises(ValueError, match="fill mode"):
        forward("random_affine", [x], ints=(TRAIN, 0, 7, 0), floats=affine_floats())
    with pytest.raises(ValueError, match="interpolation"):
        forward("random_affine", [x], ints=(TRAIN, 0, 0, 3), floats=affine_floats())
    with pytest.raises(ValueError, match="random_affine: expected 4 ints and 11 floats"):
        forward("random_affine", [x], ints=(TRAIN, 0, 0, 0), floats=(0.0,))


# ---- contrast, brightness ------------------------------------------------------------------

def test_contrast_is_the_documented_formula():
    x = images((4, 5, 6, 3))
    y = forward("random_contrast", [x], ints=(TRAIN, SEED), floats=(0.3, 1.8, 10.0, 240.0),
                seed=3)
    s = mix(3, SEED)
    for n in range(4):
        f = np.float32(0.3 + 1.5 * uniform(s, n, 0))
        mean = x[n].mean(axis=(0, 1), dtype=np.float64).astype(np.float32)
        want = np.clip((x[n] - mean) * f + mean, 10.0, 240.0)
        np.testing.assert_allclose(y[n], want, rtol=1e-5, atol=1e-3)


def test_brightness_is_the_documented_formula():
    x = images((4, 5, 6, 3))
    y = forward("random_brightness", [x], ints=(TRAIN, SEED), floats=(-0.3, 0.2, 0.0, 255.0),
                seed=3)
    s = mix(3, SEED)
    for n in range(4):
        d = np.float32(-0.3 + 0.5 * uniform(s, n, 0)) * np.float32(255.0)
        np.testing.assert_allclose(y[n], np.clip(x[n] + d, 0, 255), rtol=1e-6, atol=1e-4)


def test_contrast_and_brightness_reject_bad_ranges():
    x = images((1, 4, 4, 1))
    with pytest.raises(ValueError, match="random_contrast: .*lo <= hi"):
        forward("random_contrast", [x], ints=(TRAIN, 0), floats=(1.5, 0.5, 0.0, 1.0))
    with pytest.raises(ValueError, match="random_brightness: .*vmin < vmax"):
        forward("random_brightness", [x], ints=(TRAIN, 0), floats=(0.0, 0.1, 1.0, 1.0))


# ---- random_crop ---------------------------------------------------------------------------

def test_crop_training_is_the_documented_draw():
    x = images((6, 9, 7, 2))
    y = forward("random_crop", [x], ints=(TRAIN, SEED, 4, 3), seed=8)
    s = mix(8, SEED)
    for n in range(6):
        top, left = int(uniform(s, n, 0) * 6), int(uniform(s, n, 1) * 5)
        np.testing.assert_array_equal(y[n], x[n, top:top + 4, left:left + 3])


def test_crop_offsets_cover_every_position():
    x = np.broadcast_to(np.arange(5, dtype=np.float32)[None, :, None, None], (2000, 5, 3, 1))
    y = forward("random_crop", [np.ascontiguousarray(x)], ints=(TRAIN, 0, 2, 2), seed=1)
    counts = np.bincount(y[:, 0, 0, 0].astype(int), minlength=4)
    assert counts.shape == (4,) and counts.min() > 400  # tops 0..3, about 500 each


@requires_torch
@pytest.mark.parametrize("hw,out", [((9, 7), (4, 3)), ((4, 6), (5, 5)), ((8, 8), (3, 6))])
def test_crop_inference_is_the_aspect_centre_crop_resized(hw, out):
    x = images((2, *hw, 1))
    y = forward("random_crop", [x], ints=(INFER, 0, *out), training=True)
    h, w = hw
    ch = max(min(h, int(w * out[0] / out[1])), 1)
    cw = max(min(w, int(h * out[1] / out[0])), 1)
    top, left = int((h - ch) / 2), int((w - cw) / 2)
    t = torch.nn.functional.interpolate(
        torch.from_numpy(x[:, top:top + ch, left:left + cw]).permute(0, 3, 1, 2), size=out,
        mode="bilinear", align_corners=False)
    np.testing.assert_allclose(y, t.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-3)
