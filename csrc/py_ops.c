/* py_ops.c: one op on arrays, for tests and for the tape: op_forward, op_vjp. */
#include "binding.h"
#include "eager.h"

int cnn_py_eager_run(PyObject *args, cnn_py_eager_call *c) {
    const char *name;
    PyObject *inputs, *ints, *floats;
    c->training = 0;
    c->seed = 0;
    if (!PyArg_ParseTuple(args, "sOOO|pK", &name, &inputs, &ints, &floats, &c->training, &c->seed)) return -1;
    c->def = cnn_py_find_op(name);
    if (!c->def || cnn_py_parse_attrs(ints, floats, &c->attrs)) return -1;
    char what[96];
    snprintf(what, sizeof what, "%s input", name);
    c->n = cnn_py_tensor_list(inputs, what, c->in, CNN_MAX_INPUTS);
    if (c->n < 0) return -1;
    cnn_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cnn_eager_forward(c->def, c->n, c->in, &c->attrs, c->training, c->seed, &c->out, &c->aux);
    Py_END_ALLOW_THREADS
    if (st) {
        cnn_py_release_tensors(c->in, c->n);
        cnn_py_raise(st);
        return -1;
    }
    return 0;
}

PyObject *cnn_py_op_forward(PyObject *self, PyObject *args) {
    cnn_py_eager_call c;
    if (cnn_py_eager_run(args, &c)) return NULL;
    cnn_py_release_tensors(c.in, c.n);
    cnn_free(c.aux);
    PyObject *res = cnn_py_array_from_tensor(c.out);
    cnn_tensor_release(c.out);
    return res;
}

PyObject *cnn_py_op_vjp(PyObject *self, PyObject *args) {
    const char *name;
    PyObject *inputs, *ints, *floats, *gobj;
    int training = 0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTuple(args, "sOOOO|pK", &name, &inputs, &ints, &floats, &gobj, &training, &seed))
        return NULL;
    const cnn_op_def *def = cnn_py_find_op(name);
    cnn_attrs a;
    if (!def || cnn_py_parse_attrs(ints, floats, &a)) return NULL;
    cnn_tensor *in[CNN_MAX_INPUTS], *grads[CNN_MAX_INPUTS] = {0};
    char what[96];
    snprintf(what, sizeof what, "%s input", name);
    int n = cnn_py_tensor_list(inputs, what, in, CNN_MAX_INPUTS);
    if (n < 0) return NULL;
    PyArrayObject *g = cnn_py_float_array(gobj, "out_grad");
    cnn_tensor *out = NULL;
    float *aux = NULL;
    PyObject *res = NULL;
    cnn_status st = CNN_OK;
    if (!g) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cnn_eager_forward(def, n, in, &a, training, seed, &out, &aux);
    Py_END_ALLOW_THREADS
    if (st) { cnn_py_raise(st); goto done; }
    if (PyArray_SIZE(g) != cnn_shape_numel(&out->shape)) {
        PyErr_Format(PyExc_ValueError, "%s: out_grad has %zd elements, the output %s",
                     name, (Py_ssize_t)PyArray_SIZE(g), cnn_shape_fmt(&out->shape));
        goto done;
    }
    float *gp[CNN_MAX_INPUTS] = {0};
    for (int i = 0; i < n; i++) {
        if (def->not_differentiable || ((def->no_grad_inputs >> i) & 1u)) continue;
        if (!(grads[i] = cnn_tensor_new(&in[i]->shape))) { cnn_py_raise(CNN_ERR_MEMORY); goto done; }
        gp[i] = cnn_tensor_data(grads[i]);
    }
    Py_BEGIN_ALLOW_THREADS
    st = cnn_eager_backward(def, n, in, out, aux, &a, training, seed, (const float *)PyArray_DATA(g), gp);
    Py_END_ALLOW_THREADS
    if (st) { cnn_py_raise(st); goto done; }
    res = PyList_New(n);
    for (int i = 0; res && i < n; i++) {
        PyObject *item = grads[i] ? cnn_py_array_from_tensor(grads[i]) : (Py_INCREF(Py_None), Py_None);
        if (!item) { Py_CLEAR(res); break; }
        PyList_SET_ITEM(res, i, item);
    }
done:
    Py_XDECREF(g);
    cnn_free(aux);
    if (out) cnn_tensor_release(out);
    cnn_py_release_tensors(in, n);
    for (int i = 0; i < n; i++) if (grads[i]) cnn_tensor_release(grads[i]);
    return res;
}

PyObject *cnn_py_op_names(PyObject *self, PyObject *noargs) {
    PyObject *list = PyList_New(0);
    for (int i = 0; list && i < cnn_op_count(); i++) {
        PyObject *s = PyUnicode_FromString(cnn_op_at(i)->name);
        if (!s || PyList_Append(list, s)) { Py_XDECREF(s); Py_CLEAR(list); break; }
        Py_DECREF(s);
    }
    return list;
}
