/* py_util.c: conversions between Python objects and engine types. */
#include "binding.h"

PyObject *cnn_py_raise(cnn_status st) {
    PyObject *kind = PyExc_RuntimeError;
    switch (st) {
    case CNN_ERR_SHAPE: case CNN_ERR_VALUE: kind = PyExc_ValueError; break;
    case CNN_ERR_TYPE: kind = PyExc_TypeError; break;
    case CNN_ERR_MEMORY: kind = PyExc_MemoryError; break;
    default: break;
    }
    PyErr_SetString(kind, cnn_last_error());
    return NULL;
}

PyArrayObject *cnn_py_float_array(PyObject *obj, const char *what) {
    if (PyArray_Check(obj)) {
        PyArrayObject *a = (PyArrayObject *)obj;
        int t = PyArray_TYPE(a);
        if (!(PyTypeNum_ISFLOAT(t) || PyTypeNum_ISINTEGER(t) || PyTypeNum_ISBOOL(t))) {
            PyErr_Format(PyExc_TypeError, "%s must hold real numbers, got an array of dtype %s",
                         what, PyArray_DESCR(a)->typeobj->tp_name);
            return NULL;
        }
        return (PyArrayObject *)PyArray_FROMANY(obj, NPY_FLOAT32, 0, 0,
                                                NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    }
    if (PyUnicode_Check(obj) || PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be numeric, got a string", what);
        return NULL;
    }
    // Go through numpy's own inference first so ragged and object input is caught by kind.
    PyObject *probe = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!probe) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a rectangular array of numbers; got %s that "
                     "cannot be read as one (ragged or mixed)", what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *res = cnn_py_float_array(probe, what);
    Py_DECREF(probe);
    return res;
}

static void release_array(void *ctx) {
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)ctx);
    PyGILState_Release(g);
}

cnn_tensor *cnn_py_tensor_from_array(PyArrayObject *arr) {
    cnn_shape s;
    int nd = PyArray_NDIM(arr);
    if (nd > CNN_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "arrays of rank %d are not supported (max %d)", nd, CNN_MAX_DIMS);
        return NULL;
    }
    s.ndim = nd;
    for (int i = 0; i < nd; i++) s.dim[i] = PyArray_DIM(arr, i);
    Py_INCREF(arr);
    cnn_storage *st = cnn_storage_wrap((float *)PyArray_DATA(arr), PyArray_SIZE(arr), release_array, arr);
    if (!st) { Py_DECREF(arr); cnn_py_raise(CNN_ERR_MEMORY); return NULL; }
    cnn_tensor *t = cnn_tensor_view(st, 0, &s);
    cnn_storage_release(st);
    if (!t) cnn_py_raise(CNN_ERR_MEMORY);
    return t;
}

static void capsule_release(PyObject *cap) {
    cnn_tensor_release((cnn_tensor *)PyCapsule_GetPointer(cap, "cnn.tensor"));
}

PyObject *cnn_py_array_from_tensor(cnn_tensor *t) {
    npy_intp dims[CNN_MAX_DIMS];
    for (int i = 0; i < t->shape.ndim; i++) dims[i] = (npy_intp)t->shape.dim[i];
    PyObject *arr = PyArray_SimpleNewFromData(t->shape.ndim, dims, NPY_FLOAT32, cnn_tensor_data(t));
    if (!arr) return NULL;
    PyObject *cap = PyCapsule_New(t, "cnn.tensor", capsule_release);
    if (!cap) { Py_DECREF(arr); return NULL; }
    cnn_tensor_retain(t);
    if (PyArray_SetBaseObject((PyArrayObject *)arr, cap) < 0) { Py_DECREF(arr); return NULL; }
    return arr;
}

int cnn_py_parse_attrs(PyObject *ints, PyObject *floats, cnn_attrs *a) {
    memset(a, 0, sizeof *a);
    PyObject *lists[2] = {ints, floats};
    for (int k = 0; k < 2; k++) {
        if (!lists[k] || lists[k] == Py_None) continue;
        PyObject *seq = PySequence_Fast(lists[k], "op attributes must be a sequence");
        if (!seq) return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (n > CNN_MAX_ATTRS) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "too many op attributes (%zd > %d)", n, CNN_MAX_ATTRS);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
            if (k == 0) {
                long long v = PyLong_AsLongLong(item);
                if (v == -1 && PyErr_Occurred()) { Py_DECREF(seq); return -1; }
                a->i[i] = v;
            } else {
                double v = PyFloat_AsDouble(item);
                if (v == -1.0 && PyErr_Occurred()) { Py_DECREF(seq); return -1; }
                a->f[i] = v;
            }
        }
        if (k == 0) a->n_int = (int)n; else a->n_float = (int)n;
        Py_DECREF(seq);
    }
    return 0;
}

int cnn_py_parse_shape(PyObject *obj, cnn_shape *s, const char *what) {
    PyObject *seq = PySequence_Fast(obj, "shape must be a sequence");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > CNN_MAX_DIMS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "%s: rank %zd is above the maximum %d", what, n, CNN_MAX_DIMS);
        return -1;
    }
    s->ndim = (int)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (item == Py_None) { s->dim[i] = -1; continue; }
        long long v = PyLong_AsLongLong(item);
        if ((v == -1 && PyErr_Occurred()) || v < 0) {
            Py_DECREF(seq);
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "%s: dimensions must be >= 0 or None, got %lld", what, v);
            return -1;
        }
        s->dim[i] = v;
    }
    Py_DECREF(seq);
    return 0;
}

PyObject *cnn_py_shape_tuple(const cnn_shape *s) {
    PyObject *t = PyTuple_New(s->ndim);
    if (!t) return NULL;
    for (int i = 0; i < s->ndim; i++) {
        PyObject *v = s->dim[i] < 0 ? (Py_INCREF(Py_None), Py_None) : PyLong_FromLongLong(s->dim[i]);
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

const cnn_op_def *cnn_py_find_op(const char *name) {
    const cnn_op_def *d = cnn_op_find(name);
    if (!d) PyErr_Format(PyExc_ValueError, "unknown op '%s'", name);
    return d;
}
