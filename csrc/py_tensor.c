/* py_tensor.c: cnn._C.Tensor and variable consolidation into flat buffers. */
#include "binding.h"
#include "py_api.h"

PyObject *cnn_py_wrap_tensor(cnn_tensor *t) {
    cnn_PyTensor *o = PyObject_New(cnn_PyTensor, &cnn_PyTensor_Type);
    if (!o) { cnn_tensor_release(t); return NULL; }
    o->t = t;
    return (PyObject *)o;
}

cnn_tensor *cnn_py_as_tensor(PyObject *obj, const char *what) {
    if (PyObject_TypeCheck(obj, &cnn_PyTensor_Type)) {
        cnn_tensor *t = ((cnn_PyTensor *)obj)->t;
        cnn_tensor_retain(t);
        return t;
    }
    PyArrayObject *a = cnn_py_float_array(obj, what);
    if (!a) return NULL;
    cnn_tensor *t = cnn_py_tensor_from_array(a);
    Py_DECREF(a);
    return t;
}

int cnn_py_tensor_list(PyObject *list, const char *what, cnn_tensor **out, int max) {
    PyObject *seq = PySequence_Fast(list, "expected a list");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > max) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "%s: too many items (%zd > %d)", what, n, max);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        char name[128] = "";
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        // Format the argument's name only when it may be needed in a message: this runs
        // once per input per batch.
        int fast = PyObject_TypeCheck(item, &cnn_PyTensor_Type) ||
                   (PyArray_Check(item) && PyArray_TYPE((PyArrayObject *)item) == NPY_FLOAT32 &&
                    PyArray_IS_C_CONTIGUOUS((PyArrayObject *)item) && PyArray_ISALIGNED((PyArrayObject *)item));
        if (!fast) snprintf(name, sizeof name, n == 1 ? "%s" : "%s %zd", what, i);
        out[i] = cnn_py_as_tensor(item, name);
        if (!out[i]) { cnn_py_release_tensors(out, (int)i); Py_DECREF(seq); return -1; }
    }
    Py_DECREF(seq);
    return (int)n;
}

void cnn_py_release_tensors(cnn_tensor **t, int n) {
    for (int i = 0; i < n; i++) cnn_tensor_release(t[i]);
}

static void tensor_dealloc(cnn_PyTensor *o) {
    cnn_tensor_release(o->t);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyObject *tensor_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    PyObject *value;
    if (!PyArg_ParseTuple(args, "O", &value)) return NULL;
    PyArrayObject *a = cnn_py_float_array(value, "Tensor value");
    if (!a) return NULL;
    cnn_shape s = {.ndim = PyArray_NDIM(a)};
    if (s.ndim > CNN_MAX_DIMS) { Py_DECREF(a); return PyErr_Format(PyExc_ValueError, "rank %d is above %d", s.ndim, CNN_MAX_DIMS); }
    for (int i = 0; i < s.ndim; i++) s.dim[i] = PyArray_DIM(a, i);
    cnn_tensor *t = cnn_tensor_new(&s);  /* owned copy: a variable must not alias user data */
    if (!t) { Py_DECREF(a); return cnn_py_raise(CNN_ERR_MEMORY); }
    memcpy(cnn_tensor_data(t), PyArray_DATA(a), sizeof(float) * (size_t)PyArray_SIZE(a));
    Py_DECREF(a);
    cnn_PyTensor *o = (cnn_PyTensor *)type->tp_alloc(type, 0);
    if (!o) { cnn_tensor_release(t); return NULL; }
    o->t = t;
    return (PyObject *)o;
}

static PyObject *tensor_shape(cnn_PyTensor *o, void *c) { return cnn_py_shape_tuple(&o->t->shape); }
static PyObject *tensor_id(cnn_PyTensor *o, void *c) { return PyLong_FromLongLong(o->t->id); }

/* A copy: variables can move into a model's flat buffer, so no view of them may escape. */
static PyObject *tensor_numpy(cnn_PyTensor *o, PyObject *noargs) {
    npy_intp dims[CNN_MAX_DIMS];
    for (int i = 0; i < o->t->shape.ndim; i++) dims[i] = (npy_intp)o->t->shape.dim[i];
    PyObject *arr = PyArray_SimpleNew(o->t->shape.ndim, dims, NPY_FLOAT32);
    if (arr) memcpy(PyArray_DATA((PyArrayObject *)arr), cnn_tensor_data(o->t),
                    sizeof(float) * (size_t)cnn_shape_numel(&o->t->shape));
    return arr;
}

/* A zero-copy view, for eager results that nothing will move. */
static PyObject *tensor_view(cnn_PyTensor *o, PyObject *noargs) { return cnn_py_array_from_tensor(o->t); }

static PyObject *tensor_assign(cnn_PyTensor *o, PyObject *value) {
    PyArrayObject *a = cnn_py_float_array(value, "assigned value");
    if (!a) return NULL;
    cnn_shape s = {.ndim = PyArray_NDIM(a)};
    for (int i = 0; i < s.ndim && i < CNN_MAX_DIMS; i++) s.dim[i] = PyArray_DIM(a, i);
    if (s.ndim > CNN_MAX_DIMS || !cnn_shape_equal(&s, &o->t->shape)) {
        Py_DECREF(a);
        return PyErr_Format(PyExc_ValueError, "cannot assign a value of shape %s to a variable of shape %s",
                            cnn_shape_fmt(&s), cnn_shape_fmt(&o->t->shape));
    }
    memcpy(cnn_tensor_data(o->t), PyArray_DATA(a), sizeof(float) * (size_t)PyArray_SIZE(a));
    Py_DECREF(a);
    Py_RETURN_NONE;
}

static PyMethodDef tensor_methods[] = {
    {"numpy", (PyCFunction)tensor_numpy, METH_NOARGS, "A copy as a float32 ndarray."},
    {"view", (PyCFunction)tensor_view, METH_NOARGS, "A zero-copy float32 ndarray view."},
    {"assign", (PyCFunction)tensor_assign, METH_O, "Copies a value of the same shape in."},
    {NULL},
};

static PyGetSetDef tensor_getset[] = {
    {"shape", (getter)tensor_shape, NULL, "shape", NULL},
    {"id", (getter)tensor_id, NULL, "unique id", NULL},
    {NULL},
};

PyTypeObject cnn_PyTensor_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cnn._C.Tensor",
    .tp_basicsize = sizeof(cnn_PyTensor),
    .tp_dealloc = (destructor)tensor_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An engine tensor (float32).",
    .tp_methods = tensor_methods,
    .tp_getset = tensor_getset,
    .tp_new = tensor_new,
};

/* consolidate([Tensor, ...]): moves the tensors into one new flat buffer, in order, so an
 * optimizer step walks contiguous memory. Values are preserved. */
PyObject *cnn_py_consolidate(PyObject *self, PyObject *list) {
    PyObject *seq = PySequence_Fast(list, "consolidate expects a list of Tensors");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyObject_TypeCheck(o, &cnn_PyTensor_Type)) {
            Py_DECREF(seq);
            return PyErr_Format(PyExc_TypeError, "consolidate: item %zd is not a cnn._C.Tensor", i);
        }
        total += (cnn_shape_numel(&((cnn_PyTensor *)o)->t->shape) + 15) & ~(int64_t)15;
    }
    cnn_storage *st = cnn_storage_new(total);
    if (!st) { Py_DECREF(seq); return cnn_py_raise(CNN_ERR_MEMORY); }
    int64_t off = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        cnn_tensor *t = ((cnn_PyTensor *)PySequence_Fast_GET_ITEM(seq, i))->t;
        int64_t k = cnn_shape_numel(&t->shape);
        memcpy(st->data + off, cnn_tensor_data(t), sizeof(float) * (size_t)k);
        cnn_storage_retain(st);
        cnn_storage_release(t->storage);
        t->storage = st;
        t->offset = off;
        off += (k + 15) & ~(int64_t)15;
    }
    cnn_storage_release(st);
    Py_DECREF(seq);
    Py_RETURN_NONE;
}

/* wrap(array) -> Tensor viewing a float32 array without copying (the array stays alive);
 * other arrays are converted first. */
PyObject *cnn_py_wrap(PyObject *self, PyObject *obj) {
    cnn_tensor *t = cnn_py_as_tensor(obj, "wrap");
    return t ? cnn_py_wrap_tensor(t) : NULL;
}
