/* py_optim.c: cnn._C.Optimizer, the C update rules behind cnn.optimizers. */
#include "binding.h"
#include "optim.h"
#include "py_api.h"

typedef struct {
    PyObject_HEAD
    cnn_optimizer *o;
} PyOptimizer;

static PyObject *optimizer_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"kind", "learning_rate", "momentum", "nesterov", "beta_1", "beta_2",
                             "epsilon", "amsgrad", "rho", "centered", "initial_accumulator_value",
                             "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", NULL};
    static const struct { const char *name; cnn_optimizer_kind kind; } kinds[] = {
        {"sgd", CNN_OPT_SGD}, {"adam", CNN_OPT_ADAM}, {"rmsprop", CNN_OPT_RMSPROP},
        {"adagrad", CNN_OPT_ADAGRAD}, {"nadam", CNN_OPT_NADAM}};
    const char *kind;
    /* Unset options are off (0); the Python classes pass Keras's defaults explicitly. */
    cnn_optimizer_config c = {.learning_rate = 0.01, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7, .rho = 0.9,
                              .initial_accumulator_value = 0.1};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ddpdddpdpddddd", kwlist, &kind, &c.learning_rate, &c.momentum,
                                     &c.nesterov, &c.beta_1, &c.beta_2, &c.epsilon, &c.amsgrad, &c.rho,
                                     &c.centered, &c.initial_accumulator_value, &c.weight_decay, &c.clipnorm,
                                     &c.clipvalue, &c.global_clipnorm))
        return NULL;
    size_t k = 0, n_kinds = sizeof kinds / sizeof kinds[0];
    while (k < n_kinds && strcmp(kind, kinds[k].name)) k++;
    if (k == n_kinds)
        return PyErr_Format(PyExc_ValueError, "unknown optimizer kind '%s' (known: sgd, adam, rmsprop, adagrad, nadam)",
                            kind);
    c.kind = kinds[k].kind;
    PyOptimizer *o = (PyOptimizer *)type->tp_alloc(type, 0);
    if (!o) return NULL;
    cnn_status st = cnn_optimizer_new(&c, &o->o);
    if (st) { Py_DECREF(o); return cnn_py_raise(st); }
    return (PyObject *)o;
}

static void optimizer_dealloc(PyOptimizer *o) {
    cnn_optimizer_free(o->o);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

/* apply(grads, variables): one update step; grads are arrays or Tensors shaped like vars. */
static PyObject *optimizer_apply(PyOptimizer *o, PyObject *args) {
    PyObject *g_o, *v_o;
    if (!PyArg_ParseTuple(args, "OO", &g_o, &v_o)) return NULL;
    PyObject *gs = PySequence_Fast(g_o, "grads must be a list"), *vs = gs ? PySequence_Fast(v_o, "variables must be a list") : NULL;
    if (!vs) { Py_XDECREF(gs); return NULL; }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(vs);
    PyObject *res = NULL;
    cnn_tensor **vars = calloc((size_t)n + 1, sizeof *vars), **grads = calloc((size_t)n + 1, sizeof *grads);
    const float **gp = calloc((size_t)n + 1, sizeof *gp);
    Py_ssize_t done = 0;
    if (!vars || !grads || !gp) { PyErr_NoMemory(); goto out; }
    if (PySequence_Fast_GET_SIZE(gs) != n) {
        PyErr_Format(PyExc_ValueError, "apply: %zd gradients for %zd variables", PySequence_Fast_GET_SIZE(gs), n);
        goto out;
    }
    for (; done < n; done++) {
        PyObject *v = PySequence_Fast_GET_ITEM(vs, done);
        if (!PyObject_TypeCheck(v, &cnn_PyTensor_Type)) {
            PyErr_Format(PyExc_TypeError, "apply: variable %zd is a %s, not a variable", done, Py_TYPE(v)->tp_name);
            goto out;
        }
        vars[done] = ((cnn_PyTensor *)v)->t;
        char what[64];
        snprintf(what, sizeof what, "gradient %zd", done);
        if (!(grads[done] = cnn_py_as_tensor(PySequence_Fast_GET_ITEM(gs, done), what))) goto out;
        if (cnn_shape_numel(&grads[done]->shape) != cnn_shape_numel(&vars[done]->shape)) {
            PyErr_Format(PyExc_ValueError, "apply: gradient %zd has shape %s, its variable %s", done,
                         cnn_shape_fmt(&grads[done]->shape), cnn_shape_fmt(&vars[done]->shape));
            done++;
            goto out;
        }
        gp[done] = cnn_tensor_data(grads[done]);
    }
    cnn_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cnn_optimizer_apply(o->o, (int)n, vars, gp);
    Py_END_ALLOW_THREADS
    if (st) cnn_py_raise(st);
    else { Py_INCREF(Py_None); res = Py_None; }
out:
    for (Py_ssize_t i = 0; grads && i < done; i++) if (grads[i]) cnn_tensor_release(grads[i]);
    free(vars); free(grads); free(gp);
    Py_DECREF(gs); Py_DECREF(vs);
    return res;
}

static PyObject *get_lr(PyOptimizer *o, void *c) { return PyFloat_FromDouble(cnn_optimizer_config_of(o->o)->learning_rate); }
static int set_lr(PyOptimizer *o, PyObject *v, void *c) {
    if (!v) { PyErr_SetString(PyExc_AttributeError, "learning_rate cannot be deleted"); return -1; }
    double lr = PyFloat_AsDouble(v);
    if (lr == -1.0 && PyErr_Occurred()) return -1;
    cnn_optimizer_config_of(o->o)->learning_rate = lr;
    return 0;
}
static PyObject *get_it(PyOptimizer *o, void *c) { return PyLong_FromLongLong(cnn_optimizer_iterations(o->o)); }
static int set_it(PyOptimizer *o, PyObject *v, void *c) {
    if (!v) { PyErr_SetString(PyExc_AttributeError, "iterations cannot be deleted"); return -1; }
    long long it = PyLong_AsLongLong(v);
    if (it == -1 && PyErr_Occurred()) return -1;
    cnn_optimizer_set_iterations(o->o, it);
    return 0;
}

static cnn_tensor *variable_of(PyObject *v, const char *fn) {
    if (!PyObject_TypeCheck(v, &cnn_PyTensor_Type)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a variable, got a %s", fn, Py_TYPE(v)->tp_name);
        return NULL;
    }
    return ((cnn_PyTensor *)v)->t;
}

/* get_slots(var): copies of the variable's state buffers that exist, in the order m, v, vhat
 * (see optim.h for which each rule keeps), each shaped like the variable; [] when the
 * variable has not been updated (nor restored) yet. */
static PyObject *optimizer_get_slots(PyOptimizer *o, PyObject *var) {
    cnn_tensor *t = variable_of(var, "get_slots");
    if (!t) return NULL;
    float *bufs[3];
    int64_t size;
    cnn_optimizer_slots(o->o, t, bufs, &size);
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    npy_intp dims[CNN_MAX_DIMS];
    for (int d = 0; d < t->shape.ndim; d++) dims[d] = (npy_intp)t->shape.dim[d];
    for (int k = 0; k < 3; k++) {
        if (!bufs[k]) continue;
        PyObject *arr = PyArray_SimpleNew(t->shape.ndim, dims, NPY_FLOAT32);
        if (!arr) { Py_DECREF(out); return NULL; }
        memcpy(PyArray_DATA((PyArrayObject *)arr), bufs[k], sizeof(float) * (size_t)size);
        int err = PyList_Append(out, arr);
        Py_DECREF(arr);
        if (err) { Py_DECREF(out); return NULL; }
    }
    return out;
}

/* set_slots(var, arrays): writes the variable's state (created first when missing); the
 * arrays come in get_slots' order, as many as the rule keeps, each shaped like var. */
static PyObject *optimizer_set_slots(PyOptimizer *o, PyObject *args) {
    PyObject *var, *arrays_o;
    if (!PyArg_ParseTuple(args, "OO", &var, &arrays_o)) return NULL;
    cnn_tensor *t = variable_of(var, "set_slots");
    if (!t) return NULL;
    PyObject *seq = PySequence_Fast(arrays_o, "set_slots: arrays must be a list");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyArrayObject *arrs[3] = {NULL, NULL, NULL};
    PyObject *res = NULL;
    float *bufs[3];
    int64_t size;
    /* The arrays are checked before any state is created or written. */
    int mask = cnn_optimizer_slot_mask(o->o);
    int want = (mask & 1) + (mask >> 1 & 1) + (mask >> 2 & 1);
    if (n != want) {
        PyErr_Format(PyExc_ValueError, "set_slots: this optimizer keeps %d state array(s) for a variable, got %zd",
                     want, n);
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof what, "set_slots: array %zd", i);
        if (!(arrs[i] = cnn_py_float_array(PySequence_Fast_GET_ITEM(seq, i), what))) goto out;
        int nd = PyArray_NDIM(arrs[i]), same = nd == t->shape.ndim;
        for (int d = 0; same && d < nd; d++) same = PyArray_DIMS(arrs[i])[d] == t->shape.dim[d];
        if (!same) {
            PyObject *shape = PyObject_GetAttrString((PyObject *)arrs[i], "shape");
            PyObject *repr = shape ? PyObject_Repr(shape) : NULL;
            if (repr)
                PyErr_Format(PyExc_ValueError, "set_slots: array %zd has shape %U, its variable %s", i, repr,
                             cnn_shape_fmt(&t->shape));
            Py_XDECREF(repr);
            Py_XDECREF(shape);
            goto out;
        }
    }
    cnn_status st = cnn_optimizer_ensure_slots(o->o, t, bufs, &size);
    if (st) { cnn_py_raise(st); goto out; }
    for (int k = 0, i = 0; k < 3; k++)
        if (bufs[k]) memcpy(bufs[k], PyArray_DATA(arrs[i++]), sizeof(float) * (size_t)size);
    Py_INCREF(Py_None);
    res = Py_None;
out:
    for (int i = 0; i < 3; i++) Py_XDECREF(arrs[i]);
    Py_DECREF(seq);
    return res;
}

static PyMethodDef optimizer_methods[] = {
    {"apply", (PyCFunction)optimizer_apply, METH_VARARGS, "apply(grads, variables): one update step"},
    {"get_slots", (PyCFunction)optimizer_get_slots, METH_O,
     "get_slots(var) -> list of float32 arrays: the variable's state in the order m, v, vhat (those the "
     "rule keeps: SGD m if momentum; Adam m, v, vhat if amsgrad; RMSprop m if momentum, v, vhat = average "
     "gradient if centered; Adagrad v = accumulator; Nadam m, v); [] before the variable's first update"},
    {"set_slots", (PyCFunction)optimizer_set_slots, METH_VARARGS,
     "set_slots(var, arrays): restore the variable's state (get_slots' order), creating it if missing"},
    {NULL},
};

static PyObject *get_u(PyOptimizer *o, void *c) { return PyFloat_FromDouble(cnn_optimizer_u_product(o->o)); }
static int set_u(PyOptimizer *o, PyObject *v, void *c) {
    if (!v) { PyErr_SetString(PyExc_AttributeError, "u_product cannot be deleted"); return -1; }
    double u = PyFloat_AsDouble(v);
    if (u == -1.0 && PyErr_Occurred()) return -1;
    cnn_optimizer_set_u_product(o->o, (float)u);
    return 0;
}

static PyGetSetDef optimizer_getset[] = {
    {"u_product", (getter)get_u, (setter)set_u, "Nadam's running product of momentum-schedule terms (1 at start)", NULL},
    {"learning_rate", (getter)get_lr, (setter)set_lr, "learning rate", NULL},
    {"iterations", (getter)get_it, (setter)set_it, "update steps taken", NULL},
    {NULL},
};

PyTypeObject cnn_PyOptimizer_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cnn._C.Optimizer",
    .tp_basicsize = sizeof(PyOptimizer),
    .tp_dealloc = (destructor)optimizer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Optimizer(kind, learning_rate, momentum, nesterov, beta_1, beta_2, epsilon, amsgrad, rho, centered, "
              "initial_accumulator_value, weight_decay, clipnorm, clipvalue, global_clipnorm)",
    .tp_methods = optimizer_methods,
    .tp_getset = optimizer_getset,
    .tp_new = optimizer_new,
};
