/* cnn.h: the engine's core types: status codes, shapes, attributes, storage and tensors.
 *
 * Everything the engine computes is float32 in NumPy axis order (dim[0] outermost).
 * Every function that can fail returns a cnn_status and leaves a message in
 * cnn_last_error(); nothing here exits or aborts the process.
 */
#ifndef CNN_H
#define CNN_H

#include <stddef.h>
#include <stdint.h>

#define CNN_MAX_DIMS 8
#define CNN_MAX_INPUTS 32 /* concat is the widest op */
#define CNN_MAX_ATTRS 20

typedef enum {
    CNN_OK = 0,
    CNN_ERR_SHAPE = 1,    /* shapes do not fit: Python ValueError */
    CNN_ERR_VALUE = 2,    /* a bad value (label out of range, bad attribute): ValueError */
    CNN_ERR_TYPE = 3,     /* wrong kind of argument: TypeError */
    CNN_ERR_MEMORY = 4,   /* allocation failed: MemoryError */
    CNN_ERR_INTERNAL = 5  /* a bug in the engine: RuntimeError */
} cnn_status;

/* Records a formatted message for cnn_last_error() and returns `code`, so a failing
 * path reads `return cnn_fail(CNN_ERR_SHAPE, "matmul: ...", ...);` */
cnn_status cnn_fail(cnn_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
const char *cnn_last_error(void);

/* A shape; dim[i] == -1 marks the symbolic (not yet known) batch dimension while a graph
 * is being built. Kernels only ever see concrete shapes. */
typedef struct {
    int ndim;
    int64_t dim[CNN_MAX_DIMS];
} cnn_shape;

int64_t cnn_shape_numel(const cnn_shape *s);        /* -1 if any dim is unknown */
int cnn_shape_equal(const cnn_shape *a, const cnn_shape *b);
/* "(2, 3, 4)" with "None" for unknown dims; writes into buf and returns it. */
const char *cnn_shape_str(const cnn_shape *s, char *buf, size_t n);
/* Several shape strings in one printf: each call of cnn_shape_fmt uses the next of a small
 * ring of buffers, so up to 8 can appear in one message. */
const char *cnn_shape_fmt(const cnn_shape *s);
/* "(1, -2)" for a list of integers, into buf; returns buf. */
const char *cnn_ints_str(const int64_t *v, int n, char *buf, size_t len);

/* Op attributes: a short list of integers and a short list of doubles whose meaning each
 * op documents (axes, permutation, alpha, from_logits, ...). */
typedef struct {
    int n_int;
    int64_t i[CNN_MAX_ATTRS];
    int n_float;
    double f[CNN_MAX_ATTRS];
} cnn_attrs;

/* Refcounted float32 memory. Owned storage frees its data; foreign storage (a NumPy array)
 * calls `release(release_ctx)` instead, so the engine never depends on Python. */
typedef struct cnn_storage {
    float *data;
    int64_t size; /* floats */
    int refcount;
    void (*release)(void *ctx);
    void *release_ctx;
} cnn_storage;

cnn_storage *cnn_storage_new(int64_t size);  /* zero-filled; NULL + error on failure */
cnn_storage *cnn_storage_wrap(float *data, int64_t size, void (*release)(void *), void *ctx);
void cnn_storage_retain(cnn_storage *s);
void cnn_storage_release(cnn_storage *s);

/* A contiguous float32 tensor: a shape over storage at an offset. Refcounted. */
typedef struct cnn_tensor {
    cnn_shape shape;
    cnn_storage *storage;
    int64_t offset;
    int refcount;
    int64_t id; /* unique per process; keys gradients on a tape */
} cnn_tensor;

cnn_tensor *cnn_tensor_new(const cnn_shape *shape);  /* zero-filled owned storage */
cnn_tensor *cnn_tensor_view(cnn_storage *s, int64_t offset, const cnn_shape *shape);
void cnn_tensor_retain(cnn_tensor *t);
void cnn_tensor_release(cnn_tensor *t);
static inline float *cnn_tensor_data(const cnn_tensor *t) { return t->storage->data + t->offset; }

/* Hot loops get clones for AVX-512, AVX2 and baseline x86-64, picked at load time: the
 * default build runs on any x86-64 yet uses the wide units where they exist. With -std=c11
 * GCC contracts no FMAs, so every clone computes bit-identical results. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(CNN_NO_CLONES)
#define CNN_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CNN_HOT
#endif

/* Memory for hot paths: 64-byte aligned, and large blocks are advised into huge pages
 * because first-touch page faults dominate on the machines we target. */
void *cnn_alloc(size_t bytes);
void cnn_free(void *p);

/* Engine-wide thread count for OpenBLAS (the engine's own kernels are single-threaded:
 * the elementwise work of the models we train is below the cost of a parallel region). */
void cnn_set_num_threads(int n);
int cnn_get_num_threads(void);
int cnn_blas_num_threads(void);
const char *cnn_blas_corename(void);
const char *cnn_blas_config(void);

#endif
