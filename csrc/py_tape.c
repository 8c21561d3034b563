/* py_tape.c: eager op calls (cnn._C.eager) and cnn._C.Tape, which records them. */
#include "binding.h"
#include "eager.h"
#include "py_api.h"
#include "tape.h"

typedef struct {
    PyObject_HEAD
    cnn_tape *t;
    int active;
} PyTape;

/* The tapes currently recording, innermost last. Guarded by the GIL. */
#define MAX_ACTIVE 64
static PyTape *active[MAX_ACTIVE];
static int n_active;

static PyObject *tape_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"persistent", NULL};
    int persistent = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &persistent)) return NULL;
    PyTape *o = (PyTape *)type->tp_alloc(type, 0);
    if (!o) return NULL;
    if (!(o->t = cnn_tape_new(persistent))) { Py_DECREF(o); return cnn_py_raise(CNN_ERR_MEMORY); }
    return (PyObject *)o;
}

static void tape_remove(PyTape *o) {
    for (int i = 0; i < n_active; i++)
        if (active[i] == o) {
            memmove(active + i, active + i + 1, sizeof active[0] * (size_t)(n_active - i - 1));
            n_active--;
            o->active = 0;
            return;
        }
}

static void tape_dealloc(PyTape *o) {
    tape_remove(o);
    cnn_tape_free(o->t);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyObject *tape_push(PyTape *o, PyObject *noargs) {
    if (o->active) return PyErr_Format(PyExc_RuntimeError, "this GradientTape is already recording");
    if (n_active == MAX_ACTIVE) return PyErr_Format(PyExc_RuntimeError, "too many nested GradientTapes");
    active[n_active++] = o;  /* borrowed: dealloc removes it */
    o->active = 1;
    Py_RETURN_NONE;
}

static PyObject *tape_pop(PyTape *o, PyObject *noargs) {
    tape_remove(o);
    Py_RETURN_NONE;
}

static PyObject *tape_gradient(PyTape *o, PyObject *args) {
    PyObject *target_o, *src_o;
    if (!PyArg_ParseTuple(args, "OO", &target_o, &src_o)) return NULL;
    if (!PyObject_TypeCheck(target_o, &cnn_PyTensor_Type))
        return PyErr_Format(PyExc_TypeError, "gradient: target must be a tensor computed under the tape, got %s",
                            Py_TYPE(target_o)->tp_name);
    PyObject *seq = PySequence_Fast(src_o, "gradient: sources must be a list");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    cnn_tensor **src = calloc((size_t)n + 1, sizeof *src), **grads = calloc((size_t)n + 1, sizeof *grads);
    if (!src || !grads) { free(src); free(grads); Py_DECREF(seq); return PyErr_NoMemory(); }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyObject_TypeCheck(s, &cnn_PyTensor_Type)) {
            free(src); free(grads); Py_DECREF(seq);
            return PyErr_Format(PyExc_TypeError, "gradient: source %zd is a %s, not a variable or tensor",
                                i, Py_TYPE(s)->tp_name);
        }
        src[i] = ((cnn_PyTensor *)s)->t;
    }
    cnn_status st;
    cnn_tensor *target = ((cnn_PyTensor *)target_o)->t;
    Py_BEGIN_ALLOW_THREADS
    st = cnn_tape_gradient(o->t, target, (int)n, src, grads);
    Py_END_ALLOW_THREADS
    PyObject *res = st ? cnn_py_raise(st) : PyList_New(n);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (res && !st) {
            PyObject *item = Py_None;
            if (grads[i]) { cnn_tensor_retain(grads[i]); item = cnn_py_wrap_tensor(grads[i]); }
            else Py_INCREF(Py_None);
            if (!item) { Py_CLEAR(res); } else PyList_SET_ITEM(res, i, item);
        }
        if (grads[i]) cnn_tensor_release(grads[i]);
    }
    free(src); free(grads);
    Py_DECREF(seq);
    return res;
}

static PyMethodDef tape_methods[] = {
    {"push", (PyCFunction)tape_push, METH_NOARGS, "start recording eager ops"},
    {"pop", (PyCFunction)tape_pop, METH_NOARGS, "stop recording"},
    {"gradient", (PyCFunction)tape_gradient, METH_VARARGS, "gradient(target, sources) -> list of Tensors/None"},
    {NULL},
};

PyTypeObject cnn_PyTape_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cnn._C.Tape",
    .tp_basicsize = sizeof(PyTape),
    .tp_dealloc = (destructor)tape_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Records eager ops for reverse-mode differentiation.",
    .tp_methods = tape_methods,
    .tp_new = tape_new,
};

/* tapes_active() -> number of tapes recording: model(x) takes the compiled fast path only
 * when nothing needs the eager record. */
PyObject *cnn_py_tapes_active(PyObject *self, PyObject *noargs) { return PyLong_FromLong(n_active); }

/* eager(name, inputs, ints, floats, training=False, seed=0) -> Tensor, recorded on every
 * active tape. */
PyObject *cnn_py_eager(PyObject *self, PyObject *args) {
    cnn_py_eager_call c;
    if (cnn_py_eager_run(args, &c)) return NULL;
    cnn_status st = CNN_OK;
    cnn_storage *aux_st = NULL;  /* shared by the tapes that record this call */
    if (c.aux && !(aux_st = cnn_storage_wrap(c.aux, 0, NULL, NULL))) { cnn_free(c.aux); st = CNN_ERR_MEMORY; }
    for (int i = 0; !st && i < n_active; i++)
        st = cnn_tape_record(active[i]->t, c.def, &c.attrs, c.n, c.in, c.out, aux_st, c.training, c.seed);
    cnn_storage_release(aux_st);
    cnn_py_release_tensors(c.in, c.n);
    if (st) { cnn_tensor_release(c.out); return cnn_py_raise(st); }
    return cnn_py_wrap_tensor(c.out);
}
