/* tensor.c: refcounted storage and tensors, aligned allocation, thread settings. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blas.h"
#include "cnn.h"

#define HUGE_ADVICE_BYTES (2u << 20) /* huge pages only pay off for large blocks */

void *cnn_alloc(size_t bytes) {
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    size_t align = rounded >= HUGE_ADVICE_BYTES ? HUGE_ADVICE_BYTES : 64;
    void *p = NULL;
    if (posix_memalign(&p, align, rounded) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (rounded >= HUGE_ADVICE_BYTES) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

void cnn_free(void *p) { free(p); }

cnn_storage *cnn_storage_new(int64_t size) {
    if (size < 0) { cnn_fail(CNN_ERR_VALUE, "negative storage size %lld", (long long)size); return NULL; }
    cnn_storage *s = calloc(1, sizeof *s);
    float *data = cnn_alloc(sizeof(float) * (size_t)size);
    if (!s || !data) {
        free(s); cnn_free(data);
        cnn_fail(CNN_ERR_MEMORY, "out of memory allocating %lld floats", (long long)size);
        return NULL;
    }
    memset(data, 0, sizeof(float) * (size_t)size);
    s->data = data;
    s->size = size;
    s->refcount = 1;
    return s;
}

cnn_storage *cnn_storage_wrap(float *data, int64_t size, void (*release)(void *), void *ctx) {
    cnn_storage *s = calloc(1, sizeof *s);
    if (!s) { cnn_fail(CNN_ERR_MEMORY, "out of memory"); return NULL; }
    s->data = data;
    s->size = size;
    s->refcount = 1;
    s->release = release;
    s->release_ctx = ctx;
    return s;
}

void cnn_storage_retain(cnn_storage *s) { if (s) s->refcount++; }

void cnn_storage_release(cnn_storage *s) {
    if (!s || --s->refcount > 0) return;
    if (s->release) s->release(s->release_ctx);
    else cnn_free(s->data);
    free(s);
}

static int64_t next_tensor_id = 1;

cnn_tensor *cnn_tensor_view(cnn_storage *s, int64_t offset, const cnn_shape *shape) {
    int64_t n = cnn_shape_numel(shape);
    if (n < 0 || offset < 0 || offset + n > s->size) {
        cnn_fail(CNN_ERR_SHAPE, "tensor view %s at offset %lld exceeds storage of %lld floats",
                 cnn_shape_fmt(shape), (long long)offset, (long long)s->size);
        return NULL;
    }
    cnn_tensor *t = calloc(1, sizeof *t);
    if (!t) { cnn_fail(CNN_ERR_MEMORY, "out of memory"); return NULL; }
    t->shape = *shape;
    t->storage = s;
    cnn_storage_retain(s);
    t->offset = offset;
    t->refcount = 1;
    t->id = next_tensor_id++;
    return t;
}

cnn_tensor *cnn_tensor_new(const cnn_shape *shape) {
    int64_t n = cnn_shape_numel(shape);
    if (n < 0) { cnn_fail(CNN_ERR_SHAPE, "cannot allocate a tensor of unknown shape %s", cnn_shape_fmt(shape)); return NULL; }
    cnn_storage *s = cnn_storage_new(n);
    if (!s) return NULL;
    cnn_tensor *t = cnn_tensor_view(s, 0, shape);
    cnn_storage_release(s);
    return t;
}

void cnn_tensor_retain(cnn_tensor *t) { if (t) t->refcount++; }

void cnn_tensor_release(cnn_tensor *t) {
    if (!t || --t->refcount > 0) return;
    cnn_storage_release(t->storage);
    free(t);
}

static int engine_threads = 1;

/* The engine's threads split products themselves (gemm.c), so OpenBLAS runs on one: its own
 * spinning workers stall whenever another program holds a core. */
void cnn_set_num_threads(int n) {
    if (n < 1) n = 1;
    engine_threads = n;
    cnn_blas_set_threads(1);
}

int cnn_get_num_threads(void) { return engine_threads; }
int cnn_blas_num_threads(void) { return cnn_blas_get_threads(); }
const char *cnn_blas_corename(void) { return cnn_blas_get_corename(); }
const char *cnn_blas_config(void) { return cnn_blas_get_config(); }
