/* ops_image.c: image resizing and data augmentation on channels_last images, either a batch
 * (N, H, W, C) or one image (H, W, C) (then N = 1). Only image_resize is differentiable (its
 * backward scatters each output's gradient onto its taps); the augmentations are
 * preprocessing, placed before the trainable layers.
 *
 * image_resize    ints = [out_h, out_w, interpolation, (crop_top, crop_left, crop_h, crop_w)]
 *                 interpolation 0 bilinear (torch's align_corners=False half-pixel rule:
 *                 src = max((dst + 0.5) in / out - 0.5, 0)), 1 nearest (torch's
 *                 "nearest-exact": src = min(floor((dst + 0.5) in / out), in - 1)), which is
 *                 what Keras 3 calls on the torch backend. The optional crop window is read
 *                 from the input first (Keras's crop_to_aspect_ratio).
 *
 * The random ops share ints[0] = mode (0 follow the call's training flag, 1 always train,
 * 2 always infer) and ints[1] = seed attribute (0 none, else mixed into the call's seed),
 * as ops_random.c. Sample n draws its parameters as u_k = cnn_rand_uniform(seed, n * 8 + k),
 * so every sample's transform is reproducible from the seed. Inactive: y = x, except
 * random_crop, whose inference output is a centre crop (see below).
 *
 * random_flip     ints[2] = horizontal, ints[3] = vertical (0/1): flip left-right when
 *                 u_0 <= 0.5, top-bottom when u_1 <= 0.5.
 * random_affine   ints[2] = fill mode (0 reflect, 1 wrap, 2 constant, 3 nearest),
 *                 ints[3] = interpolation (0 bilinear, 1 nearest);
 *                 floats = [angle_lo, angle_hi (radians), ty_lo, ty_hi, tx_lo, tx_hi
 *                 (fractions of the height and width), zy_lo, zy_hi, zx_lo, zx_hi (zoom
 *                 factors; zx_lo < 0: zx = zy), fill_value].
 *                 angle = lerp(u_0), ty = H lerp(u_1), tx = W lerp(u_2), zy = lerp(u_3),
 *                 zx = lerp(u_4). Output pixel (row y, col x) reads the input at
 *                 p_in = R(angle) Z(zx, zy) (p - c) + c - t, c = ((W - 1) / 2, (H - 1) / 2):
 *                 Keras's rotation, zoom and translation matrices, each alone. Sampling and
 *                 fill modes follow keras.ops.image.affine_transform: reflect is
 *                 half-sample symmetric (d c b a | a b c d | d c b a), wrap periodic,
 *                 nearest clamps, constant reads fill_value outside; bilinear interpolates
 *                 between the (fixed) neighbouring indices, nearest rounds half to even.
 * random_contrast floats = [lo, hi, vmin, vmax]: f = lerp(u_0) over [lo, hi]; per channel
 *                 y = clip((x - mean_hw) f + mean_hw, vmin, vmax).
 * random_brightness floats = [lo, hi, vmin, vmax]: y = clip(x + lerp(u_0) (vmax - vmin),
 *                 vmin, vmax).
 * random_crop     ints[2] = out_h, ints[3] = out_w. Active and H > out_h and W > out_w:
 *                 a crop at (floor(u_0 (H - out_h + 1)), floor(u_1 (W - out_w + 1))) per
 *                 sample. Otherwise the centre crop with the target's aspect ratio, resized
 *                 bilinearly to (out_h, out_w) (Keras's crop box for that case).
 */
#include <math.h>
#include <string.h>

#include "ops.h"

enum { MODE_FOLLOW = 0, MODE_TRAIN = 1, MODE_INFER = 2 };
enum { FILL_REFLECT = 0, FILL_WRAP = 1, FILL_CONSTANT = 2, FILL_NEAREST = 3 };
enum { INTERP_BILINEAR = 0, INTERP_NEAREST = 1 };
#define DRAWS_PER_SAMPLE 8

/* ---- shared ---------------------------------------------------------------------- */

typedef struct { int64_t n, h, w, c; } img_dims;

static img_dims dims_of(const cnn_shape *s) {
    img_dims d;
    int off = s->ndim == 4;
    d.n = off ? s->dim[0] : 1;
    d.h = s->dim[off];
    d.w = s->dim[off + 1];
    d.c = s->dim[off + 2];
    return d;
}

static cnn_status check_image(const char *op, const cnn_shape *x) {
    if (x->ndim != 3 && x->ndim != 4)
        return cnn_fail(CNN_ERR_SHAPE, "%s: expected images (batch, height, width, channels) or "
                        "one image (height, width, channels), got shape %s", op, cnn_shape_fmt(x));
    for (int d = x->ndim - 3; d < x->ndim; d++)
        if (x->dim[d] <= 0)
            return cnn_fail(CNN_ERR_SHAPE, "%s: height, width and channels must be known and "
                            "positive, got shape %s", op, cnn_shape_fmt(x));
    return CNN_OK;
}

static cnn_status check_random(const char *op, const cnn_attrs *a, int n_int, int n_float) {
    if (a->n_int != n_int || a->n_float != n_float)
        return cnn_fail(CNN_ERR_VALUE, "%s: expected %d ints and %d floats, got %d and %d", op,
                        n_int, n_float, a->n_int, a->n_float);
    int64_t m = a->i[0];
    if (m != MODE_FOLLOW && m != MODE_TRAIN && m != MODE_INFER)
        return cnn_fail(CNN_ERR_VALUE, "%s: mode (ints[0]) must be 0 (follow the call), 1 (always "
                        "train) or 2 (always infer), got %lld", op, (long long)m);
    return CNN_OK;
}

static int active(const cnn_op_ctx *c) {
    int64_t m = c->attrs->i[0];
    return m == MODE_TRAIN || (m == MODE_FOLLOW && c->training);
}

static uint64_t op_seed(const cnn_op_ctx *c) {
    int64_t s = c->attrs->i[1];
    return s ? cnn_seed_mix(c->seed, (uint64_t)s) : c->seed;
}

static float draw(uint64_t seed, int64_t n, int k) {
    return cnn_rand_uniform(seed, (uint64_t)n * DRAWS_PER_SAMPLE + (uint64_t)k);
}

static float lerp(double lo, double hi, float u) { return (float)(lo + (hi - lo) * u); }

static void pass_through(cnn_op_ctx *c) {
    int64_t n = cnn_shape_numel(&c->out_shape);
    if (n > 0 && c->out != c->in[0]) memcpy(c->out, c->in[0], sizeof(float) * (size_t)n);
}

static cnn_status same_shape_infer(const char *op, const cnn_shape *x, cnn_shape *out) {
    cnn_status st = check_image(op, x);
    if (st) return st;
    *out = *x;
    return CNN_OK;
}

/* ---- resizing (image_resize, random_crop's inference path) -------------------------- */

typedef struct { int64_t top, left, h, w; } crop_box;

/* Source index pairs and weights along one axis of `in` (a crop of length in starting at
 * `start`) resized to `out`: torch's align_corners=False rules (see the top). */
static void axis_bilinear(int64_t in, int64_t out, int64_t start, int64_t i, int64_t *i0,
                          int64_t *i1, float *t) {
    float scale = (float)in / (float)out;
    float src = ((float)i + 0.5f) * scale - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int64_t lo = (int64_t)src;
    if (lo > in - 1) lo = in - 1;
    *i0 = start + lo;
    *i1 = start + (lo < in - 1 ? lo + 1 : lo);
    *t = src - (float)lo;
}

static int64_t axis_nearest(int64_t in, int64_t out, int64_t start, int64_t i) {
    float scale = (float)in / (float)out;
    int64_t s = (int64_t)floorf(((float)i + 0.5f) * scale);
    return start + (s < in - 1 ? s : in - 1);
}

/* The source rows/cols and weights of output (y, x): the four corners p[0..3] (offsets in
 * floats into the image) with weights w[0..3]; nearest gives one corner of weight 1. */
typedef struct { int64_t p[4]; float w[4], ty, tx; } taps;

static taps taps_at(img_dims d, crop_box b, int64_t oh, int64_t ow, int interp, int64_t y,
                    int64_t x) {
    taps t;
    if (interp == INTERP_NEAREST) {
        int64_t sy = axis_nearest(b.h, oh, b.top, y), sx = axis_nearest(b.w, ow, b.left, x);
        t.p[0] = t.p[1] = t.p[2] = t.p[3] = (sy * d.w + sx) * d.c;
        t.w[0] = 1.0f;
        t.w[1] = t.w[2] = t.w[3] = 0.0f;
        t.ty = t.tx = 0.0f;
        return t;
    }
    int64_t y0, y1, x0, x1;
    float ty, tx;
    axis_bilinear(b.h, oh, b.top, y, &y0, &y1, &ty);
    axis_bilinear(b.w, ow, b.left, x, &x0, &x1, &tx);
    t.p[0] = (y0 * d.w + x0) * d.c; t.p[1] = (y0 * d.w + x1) * d.c;
    t.p[2] = (y1 * d.w + x0) * d.c; t.p[3] = (y1 * d.w + x1) * d.c;
    t.w[0] = (1.0f - ty) * (1.0f - tx); t.w[1] = (1.0f - ty) * tx;
    t.w[2] = ty * (1.0f - tx); t.w[3] = ty * tx;
    t.ty = ty;
    t.tx = tx;
    return t;
}

/* One image (h, w, c) window `b` resized into dst (oh, ow, c). Bilinear blends the rows
 * first, as torch does: (1 - ty) (row y0) + ty (row y1), each row (1 - tx) a + tx b. */
static void resize_one(const float *src, img_dims d, crop_box b, float *dst, int64_t oh,
                       int64_t ow, int interp) {
    for (int64_t y = 0; y < oh; y++) {
        for (int64_t x = 0; x < ow; x++) {
            taps t = taps_at(d, b, oh, ow, interp, y, x);
            float *o = dst + (y * ow + x) * d.c;
            const float *p00 = src + t.p[0], *p01 = src + t.p[1], *p10 = src + t.p[2],
                        *p11 = src + t.p[3];
            if (interp == INTERP_NEAREST) {
                memcpy(o, p00, sizeof(float) * (size_t)d.c);
                continue;
            }
            float ty = t.ty, tx = t.tx, wx0 = 1.0f - tx;
            for (int64_t k = 0; k < d.c; k++)
                o[k] = (1.0f - ty) * (wx0 * p00[k] + tx * p01[k]) + ty * (wx0 * p10[k] + tx * p11[k]);
        }
    }
}

/* dx += the transpose of resize_one applied to g. */
static void resize_one_grad(const float *g, img_dims d, crop_box b, float *dx, int64_t oh,
                            int64_t ow, int interp) {
    for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++) {
            taps t = taps_at(d, b, oh, ow, interp, y, x);
            const float *gp = g + (y * ow + x) * d.c;
            for (int j = 0; j < 4; j++) {
                if (t.w[j] == 0.0f) continue;
                float *q = dx + t.p[j];
                for (int64_t k = 0; k < d.c; k++) q[k] += t.w[j] * gp[k];
            }
        }
}

static void resize_batch(const cnn_op_ctx *c, crop_box b, int64_t oh, int64_t ow, int interp) {
    img_dims d = dims_of(c->in_shape[0]);
    for (int64_t n = 0; n < d.n; n++)
        resize_one(c->in[0] + n * d.h * d.w * d.c, d, b, c->out + n * oh * ow * d.c, oh, ow, interp);
}

static cnn_shape resized_shape(const cnn_shape *x, int64_t oh, int64_t ow) {
    cnn_shape s = *x;
    s.dim[s.ndim - 3] = oh;
    s.dim[s.ndim - 2] = ow;
    return s;
}

static crop_box resize_box(const cnn_attrs *a, img_dims d) {
    crop_box b = {0, 0, d.h, d.w};
    if (a->n_int == 7) { b.top = a->i[3]; b.left = a->i[4]; b.h = a->i[5]; b.w = a->i[6]; }
    return b;
}

static cnn_status image_resize_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = check_image("image_resize", in[0]);
    if (st) return st;
    if ((a->n_int != 3 && a->n_int != 7) || a->n_float != 0)
        return cnn_fail(CNN_ERR_VALUE, "image_resize: expected ints=[out_h, out_w, interpolation"
                        "(, crop_top, crop_left, crop_h, crop_w)], got %d ints", a->n_int);
    if (a->i[0] <= 0 || a->i[1] <= 0)
        return cnn_fail(CNN_ERR_VALUE, "image_resize: the output size must be positive, got "
                        "(%lld, %lld)", (long long)a->i[0], (long long)a->i[1]);
    if (a->i[2] != INTERP_BILINEAR && a->i[2] != INTERP_NEAREST)
        return cnn_fail(CNN_ERR_VALUE, "image_resize: interpolation must be 0 (bilinear) or 1 "
                        "(nearest), got %lld", (long long)a->i[2]);
    crop_box b = resize_box(a, dims_of(in[0]));
    img_dims d = dims_of(in[0]);
    if (b.top < 0 || b.left < 0 || b.h <= 0 || b.w <= 0 || b.top + b.h > d.h || b.left + b.w > d.w)
        return cnn_fail(CNN_ERR_VALUE, "image_resize: crop window (top %lld, left %lld, %lld x "
                        "%lld) does not fit the input %s", (long long)b.top, (long long)b.left,
                        (long long)b.h, (long long)b.w, cnn_shape_fmt(in[0]));
    *out = resized_shape(in[0], a->i[0], a->i[1]);
    return CNN_OK;
}

static cnn_status image_resize_forward(cnn_op_ctx *c) {
    const cnn_attrs *a = c->attrs;
    resize_batch(c, resize_box(a, dims_of(c->in_shape[0])), a->i[0], a->i[1], (int)a->i[2]);
    return CNN_OK;
}

static cnn_status image_resize_backward(cnn_op_ctx *c) {
    if (!c->in_grad[0]) return CNN_OK;
    const cnn_attrs *a = c->attrs;
    img_dims d = dims_of(c->in_shape[0]);
    crop_box b = resize_box(a, d);
    int64_t oh = a->i[0], ow = a->i[1];
    for (int64_t n = 0; n < d.n; n++)
        resize_one_grad(c->out_grad + n * oh * ow * d.c, d, b, c->in_grad[0] + n * d.h * d.w * d.c,
                        oh, ow, (int)a->i[2]);
    return CNN_OK;
}

/* ---- random_flip ------------------------------------------------------------------- */

static cnn_status random_flip_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = check_random("random_flip", a, 4, 0);
    if (st) return st;
    return same_shape_infer("random_flip", in[0], out);
}

static cnn_status random_flip_forward(cnn_op_ctx *c) {
    if (!active(c)) { pass_through(c); return CNN_OK; }
    img_dims d = dims_of(c->in_shape[0]);
    uint64_t seed = op_seed(c);
    int hor = c->attrs->i[2] != 0, ver = c->attrs->i[3] != 0;
    size_t row = sizeof(float) * (size_t)d.c;
    for (int64_t n = 0; n < d.n; n++) {
        int fx = hor && draw(seed, n, 0) <= 0.5f, fy = ver && draw(seed, n, 1) <= 0.5f;
        const float *src = c->in[0] + n * d.h * d.w * d.c;
        float *dst = c->out + n * d.h * d.w * d.c;
        for (int64_t y = 0; y < d.h; y++) {
            int64_t sy = fy ? d.h - 1 - y : y;
            if (!fx) {
                memcpy(dst + y * d.w * d.c, src + sy * d.w * d.c, row * (size_t)d.w);
                continue;
            }
            for (int64_t x = 0; x < d.w; x++) {
                int64_t sx = fx ? d.w - 1 - x : x;
                memcpy(dst + (y * d.w + x) * d.c, src + (sy * d.w + sx) * d.c, row);
            }
        }
    }
    return CNN_OK;
}

/* ---- random_affine ----------------------------------------------------------------- */

static int64_t floor_mod(int64_t i, int64_t n) {
    int64_t r = i % n;
    return r < 0 ? r + n : r;
}

/* The index read for i along an axis of size n, or -1 for fill_value (constant mode). */
static int64_t fix_index(int64_t i, int64_t n, int fill) {
    if (i >= 0 && i < n) return i;
    switch (fill) {
    case FILL_REFLECT: {
        int64_t r = floor_mod(i, 2 * n);
        return r < n ? r : 2 * n - 1 - r;
    }
    case FILL_WRAP: return floor_mod(i, n);
    case FILL_NEAREST: return i < 0 ? 0 : n - 1;
    default: return -1;
    }
}

static cnn_status random_affine_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = check_random("random_affine", a, 4, 11);
    if (st) return st;
    if (a->i[2] < FILL_REFLECT || a->i[2] > FILL_NEAREST)
        return cnn_fail(CNN_ERR_VALUE, "random_affine: fill mode (ints[2]) must be 0 (reflect), 1 "
                        "(wrap), 2 (constant) or 3 (nearest), got %lld", (long long)a->i[2]);
    if (a->i[3] != INTERP_BILINEAR && a->i[3] != INTERP_NEAREST)
        return cnn_fail(CNN_ERR_VALUE, "random_affine: interpolation (ints[3]) must be 0 "
                        "(bilinear) or 1 (nearest), got %lld", (long long)a->i[3]);
    return same_shape_infer("random_affine", in[0], out);
}

/* Output (y, x) -> input (x_in, y_in) = (a0 x + a1 y + a2, b0 x + b1 y + b2). */
typedef struct { float a0, a1, a2, b0, b1, b2; } affine;

static affine sample_affine(const cnn_attrs *a, uint64_t seed, int64_t n, img_dims d) {
    const double *f = a->f;
    float ang = lerp(f[0], f[1], draw(seed, n, 0));
    float ty = lerp(f[2], f[3], draw(seed, n, 1)) * (float)d.h;
    float tx = lerp(f[4], f[5], draw(seed, n, 2)) * (float)d.w;
    float zy = lerp(f[6], f[7], draw(seed, n, 3));
    float zx = f[8] < 0.0 ? zy : lerp(f[8], f[9], draw(seed, n, 4));
    float cs = cosf(ang), sn = sinf(ang);
    float cx = 0.5f * (float)(d.w - 1), cy = 0.5f * (float)(d.h - 1);
    affine m;
    m.a0 = cs * zx; m.a1 = -sn * zy;
    m.b0 = sn * zx; m.b1 = cs * zy;
    m.a2 = cx - m.a0 * cx - m.a1 * cy - tx;
    m.b2 = cy - m.b0 * cx - m.b1 * cy - ty;
    return m;
}

/* acc += wgt * input[(iy, ix)] over the channels; fill_value where either index is -1
 * (constant mode: a corner outside on either axis reads fill_value, as Keras). */
static void accumulate(float *acc, const float *src, img_dims d, int64_t iy, int64_t ix,
                       float wgt, float fill) {
    if (wgt == 0.0f) return;
    if (iy < 0 || ix < 0) {
        for (int64_t k = 0; k < d.c; k++) acc[k] += wgt * fill;
        return;
    }
    const float *p = src + (iy * d.w + ix) * d.c;
    for (int64_t k = 0; k < d.c; k++) acc[k] += wgt * p[k];
}

static void affine_one(const float *src, float *dst, img_dims d, affine m, int fill, int interp,
                       float fill_value) {
    for (int64_t y = 0; y < d.h; y++) {
        for (int64_t x = 0; x < d.w; x++) {
            float xi = m.a0 * (float)x + m.a1 * (float)y + m.a2;
            float yi = m.b0 * (float)x + m.b1 * (float)y + m.b2;
            float *o = dst + (y * d.w + x) * d.c;
            for (int64_t k = 0; k < d.c; k++) o[k] = 0.0f;
            if (interp == INTERP_NEAREST) {
                int64_t ix = fix_index((int64_t)nearbyintf(xi), d.w, fill);
                int64_t iy = fix_index((int64_t)nearbyintf(yi), d.h, fill);
                accumulate(o, src, d, iy, ix, 1.0f, fill_value);
                continue;
            }
            float fx = floorf(xi), fy = floorf(yi);
            float tx = xi - fx, ty = yi - fy;
            int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
            int64_t ix0 = fix_index(x0, d.w, fill), ix1 = fix_index(x0 + 1, d.w, fill);
            int64_t iy0 = fix_index(y0, d.h, fill), iy1 = fix_index(y0 + 1, d.h, fill);
            accumulate(o, src, d, iy0, ix0, (1 - ty) * (1 - tx), fill_value);
            accumulate(o, src, d, iy0, ix1, (1 - ty) * tx, fill_value);
            accumulate(o, src, d, iy1, ix0, ty * (1 - tx), fill_value);
            accumulate(o, src, d, iy1, ix1, ty * tx, fill_value);
        }
    }
}

static cnn_status random_affine_forward(cnn_op_ctx *c) {
    if (!active(c)) { pass_through(c); return CNN_OK; }
    img_dims d = dims_of(c->in_shape[0]);
    uint64_t seed = op_seed(c);
    const cnn_attrs *a = c->attrs;
    int64_t size = d.h * d.w * d.c;
    for (int64_t n = 0; n < d.n; n++)
        affine_one(c->in[0] + n * size, c->out + n * size, d, sample_affine(a, seed, n, d),
                   (int)a->i[2], (int)a->i[3], (float)a->f[10]);
    return CNN_OK;
}

/* ---- random_contrast, random_brightness --------------------------------------------- */

static cnn_status check_range(const char *op, const cnn_attrs *a) {
    if (!(a->f[0] <= a->f[1]) || !(a->f[2] < a->f[3]))
        return cnn_fail(CNN_ERR_VALUE, "%s: expected floats=[lo, hi, vmin, vmax] with lo <= hi "
                        "and vmin < vmax, got [%g, %g, %g, %g]", op, a->f[0], a->f[1], a->f[2], a->f[3]);
    return CNN_OK;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static cnn_status random_contrast_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = check_random("random_contrast", a, 2, 4);
    if (!st) st = check_range("random_contrast", a);
    if (st) return st;
    return same_shape_infer("random_contrast", in[0], out);
}

static int64_t random_contrast_work_size(const cnn_op_ctx *c) {
    return dims_of(c->in_shape[0]).c;
}

static cnn_status random_contrast_forward(cnn_op_ctx *c) {
    if (!active(c)) { pass_through(c); return CNN_OK; }
    img_dims d = dims_of(c->in_shape[0]);
    uint64_t seed = op_seed(c);
    const double *f = c->attrs->f;
    float vmin = (float)f[2], vmax = (float)f[3];
    int64_t hw = d.h * d.w;
    float *mean = c->work;
    for (int64_t n = 0; n < d.n; n++) {
        const float *x = c->in[0] + n * hw * d.c;
        float *y = c->out + n * hw * d.c;
        float fac = lerp(f[0], f[1], draw(seed, n, 0));
        for (int64_t k = 0; k < d.c; k++) mean[k] = 0.0f;
        for (int64_t p = 0; p < hw; p++)
            for (int64_t k = 0; k < d.c; k++) mean[k] += x[p * d.c + k];
        for (int64_t k = 0; k < d.c; k++) mean[k] /= (float)hw;
        for (int64_t p = 0; p < hw; p++)
            for (int64_t k = 0; k < d.c; k++) {
                int64_t i = p * d.c + k;
                y[i] = clampf((x[i] - mean[k]) * fac + mean[k], vmin, vmax);
            }
    }
    return CNN_OK;
}

static cnn_status random_brightness_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = check_random("random_brightness", a, 2, 4);
    if (!st) st = check_range("random_brightness", a);
    if (st) return st;
    return same_shape_infer("random_brightness", in[0], out);
}

static cnn_status random_brightness_forward(cnn_op_ctx *c) {
    if (!active(c)) { pass_through(c); return CNN_OK; }
    img_dims d = dims_of(c->in_shape[0]);
    uint64_t seed = op_seed(c);
    const double *f = c->attrs->f;
    float vmin = (float)f[2], vmax = (float)f[3];
    int64_t size = d.h * d.w * d.c;
    for (int64_t n = 0; n < d.n; n++) {
        float delta = lerp(f[0], f[1], draw(seed, n, 0)) * (vmax - vmin);
        const float *x = c->in[0] + n * size;
        float *y = c->out + n * size;
        for (int64_t i = 0; i < size; i++) y[i] = clampf(x[i] + delta, vmin, vmax);
    }
    return CNN_OK;
}

/* ---- random_crop ------------------------------------------------------------------- */

static cnn_status random_crop_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = check_random("random_crop", a, 4, 0);
    if (!st) st = check_image("random_crop", in[0]);
    if (st) return st;
    if (a->i[2] <= 0 || a->i[3] <= 0)
        return cnn_fail(CNN_ERR_VALUE, "random_crop: the crop size must be positive, got (%lld, %lld)",
                        (long long)a->i[2], (long long)a->i[3]);
    *out = resized_shape(in[0], a->i[2], a->i[3]);
    return CNN_OK;
}

/* Keras's box when no random crop applies: the target's aspect ratio, centred. */
static crop_box centre_box(img_dims d, int64_t oh, int64_t ow) {
    crop_box b;
    b.h = (int64_t)((double)(d.w * oh) / (double)ow);
    b.h = b.h < d.h ? b.h : d.h;
    b.h = b.h > 1 ? b.h : 1;
    b.w = (int64_t)((double)(d.h * ow) / (double)oh);
    b.w = b.w < d.w ? b.w : d.w;
    b.w = b.w > 1 ? b.w : 1;
    b.top = (int64_t)((double)(d.h - b.h) / 2.0);
    b.left = (int64_t)((double)(d.w - b.w) / 2.0);
    return b;
}

static cnn_status random_crop_forward(cnn_op_ctx *c) {
    img_dims d = dims_of(c->in_shape[0]);
    int64_t oh = c->attrs->i[2], ow = c->attrs->i[3];
    if (!active(c) || d.h <= oh || d.w <= ow) {
        resize_batch(c, centre_box(d, oh, ow), oh, ow, INTERP_BILINEAR);
        return CNN_OK;
    }
    uint64_t seed = op_seed(c);
    size_t row = sizeof(float) * (size_t)(ow * d.c);
    for (int64_t n = 0; n < d.n; n++) {
        int64_t top = (int64_t)(draw(seed, n, 0) * (float)(d.h - oh + 1));
        int64_t left = (int64_t)(draw(seed, n, 1) * (float)(d.w - ow + 1));
        top = top < d.h - oh ? top : d.h - oh;  // float rounding never overshoots
        left = left < d.w - ow ? left : d.w - ow;
        const float *src = c->in[0] + n * d.h * d.w * d.c;
        float *dst = c->out + n * oh * ow * d.c;
        for (int64_t y = 0; y < oh; y++)
            memcpy(dst + y * ow * d.c, src + ((top + y) * d.w + left) * d.c, row);
    }
    return CNN_OK;
}

/* ---- table ----------------------------------------------------------------------- */

const cnn_op_def cnn_ops_image[] = {
    {.name = "image_resize", .min_inputs = 1, .max_inputs = 1, .infer = image_resize_infer,
     .forward = image_resize_forward, .backward = image_resize_backward},
    {.name = "random_flip", .min_inputs = 1, .max_inputs = 1, .infer = random_flip_infer,
     .forward = random_flip_forward, .not_differentiable = 1},
    {.name = "random_affine", .min_inputs = 1, .max_inputs = 1, .infer = random_affine_infer,
     .forward = random_affine_forward, .not_differentiable = 1},
    {.name = "random_contrast", .min_inputs = 1, .max_inputs = 1, .infer = random_contrast_infer,
     .forward = random_contrast_forward, .work_size = random_contrast_work_size,
     .not_differentiable = 1},
    {.name = "random_brightness", .min_inputs = 1, .max_inputs = 1,
     .infer = random_brightness_infer, .forward = random_brightness_forward,
     .not_differentiable = 1},
    {.name = "random_crop", .min_inputs = 1, .max_inputs = 1, .infer = random_crop_infer,
     .forward = random_crop_forward, .not_differentiable = 1},
    {0},
};
