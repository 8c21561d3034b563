/* status.c: the last error message (thread-local) and shape formatting for messages. */
#include <stdarg.h>
#include <stdio.h>

#include "cnn.h"

static _Thread_local char last_error[1024];

cnn_status cnn_fail(cnn_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

const char *cnn_last_error(void) { return last_error; }

const char *cnn_shape_str(const cnn_shape *s, char *buf, size_t n) {
    size_t used = 0;
    used += (size_t)snprintf(buf + used, n - used, "(");
    for (int i = 0; i < s->ndim && used < n; i++) {
        if (s->dim[i] < 0) used += (size_t)snprintf(buf + used, n - used, "None");
        else used += (size_t)snprintf(buf + used, n - used, "%lld", (long long)s->dim[i]);
        if (used < n && (i + 1 < s->ndim || s->ndim == 1))
            used += (size_t)snprintf(buf + used, n - used, s->ndim == 1 ? "," : ", ");
    }
    if (used < n) snprintf(buf + used, n - used, ")");
    return buf;
}

const char *cnn_shape_fmt(const cnn_shape *s) {
    static _Thread_local char ring[8][96];
    static _Thread_local int next;
    char *buf = ring[next];
    next = (next + 1) % 8;
    return cnn_shape_str(s, buf, sizeof ring[0]);
}

int64_t cnn_shape_numel(const cnn_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dim[i] < 0) return -1;
        n *= s->dim[i];
    }
    return n;
}

int cnn_shape_equal(const cnn_shape *a, const cnn_shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

/* "(1, -2)" for a list of integers (an attribute list), into buf. */
const char *cnn_ints_str(const int64_t *v, int n, char *buf, size_t len) {
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%lld%s", (long long)v[i],
                                 n == 1 ? "," : i + 1 < n ? ", " : "");
    if (used < len) snprintf(buf + used, len - used, ")");
    return buf;
}
