/* py_graph.c: cnn._C.Graph (build a static graph) and cnn._C.Program (run it per batch). */
#include <stdlib.h>

#include "binding.h"
#include "graph.h"
#include "py_api.h"

typedef struct {
    PyObject_HEAD
    cnn_graph *g;
} PyGraph;

typedef struct {
    PyObject_HEAD
    cnn_program *p;
    PyObject *graph;   /* keeps the graph alive */
    int n_inputs, n_targets, n_outputs, n_reports;
} PyProgram;

typedef struct {
    PyObject_HEAD
    cnn_optimizer *o;
} PyOptimizerHead; /* the layout py_optim.c defines; only the pointer is read here */

static PyObject *graph_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    PyGraph *o = (PyGraph *)type->tp_alloc(type, 0);
    if (!o) return NULL;
    if (!(o->g = cnn_graph_new())) { Py_DECREF(o); return cnn_py_raise(CNN_ERR_MEMORY); }
    return (PyObject *)o;
}

static void graph_dealloc(PyGraph *o) {
    cnn_graph_free(o->g);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyObject *node_or_raise(int id) {
    if (id < 0) return cnn_py_raise(CNN_ERR_SHAPE);
    return PyLong_FromLong(id);
}

static PyObject *graph_input(PyGraph *o, PyObject *shape_obj) {
    cnn_shape s;
    if (cnn_py_parse_shape(shape_obj, &s, "Graph.input")) return NULL;
    return node_or_raise(cnn_graph_input(o->g, &s));
}

static PyObject *graph_param(PyGraph *o, PyObject *var) {
    if (!PyObject_TypeCheck(var, &cnn_PyTensor_Type))
        return PyErr_Format(PyExc_TypeError, "Graph.param expects a cnn._C.Tensor, got %s", Py_TYPE(var)->tp_name);
    return node_or_raise(cnn_graph_param(o->g, ((cnn_PyTensor *)var)->t));
}

static PyObject *graph_const(PyGraph *o, PyObject *value) {
    cnn_tensor *t = cnn_py_as_tensor(value, "Graph.const value");
    if (!t) return NULL;
    int id = cnn_graph_const(o->g, t);
    cnn_tensor_release(t);
    return node_or_raise(id);
}

static int parse_ids(PyObject *obj, int *ids, int max, const char *what) {
    PyObject *seq = PySequence_Fast(obj, "node ids must be a sequence");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > max) { Py_DECREF(seq); PyErr_Format(PyExc_ValueError, "%s: too many nodes", what); return -1; }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred()) { Py_DECREF(seq); return -1; }
        ids[i] = (int)v;
    }
    Py_DECREF(seq);
    return (int)n;
}

static PyObject *graph_op(PyGraph *o, PyObject *args) {
    const char *name;
    PyObject *ids_obj, *ints = Py_None, *floats = Py_None;
    if (!PyArg_ParseTuple(args, "sO|OO", &name, &ids_obj, &ints, &floats)) return NULL;
    const cnn_op_def *def = cnn_py_find_op(name);
    cnn_attrs a;
    int ids[CNN_MAX_INPUTS];
    if (!def || cnn_py_parse_attrs(ints, floats, &a)) return NULL;
    int n = parse_ids(ids_obj, ids, CNN_MAX_INPUTS, name);
    if (n < 0) return NULL;
    int id = cnn_graph_op(o->g, def, n, ids, &a);
    return id < 0 ? cnn_py_raise(CNN_ERR_SHAPE) : PyLong_FromLong(id);
}

static PyObject *graph_shape(PyGraph *o, PyObject *id_obj) {
    long id = PyLong_AsLong(id_obj);
    if (id == -1 && PyErr_Occurred()) return NULL;
    const cnn_shape *s = cnn_graph_shape(o->g, (int)id);
    if (!s) return PyErr_Format(PyExc_IndexError, "no node %ld", id);
    return cnn_py_shape_tuple(s);
}

static Py_ssize_t graph_len(PyGraph *o) { return cnn_graph_size(o->g); }

/* The status of a failed op-node addition is not kept; errors there are shape or value
 * errors, which both map to ValueError. */

static PyMethodDef graph_methods[] = {
    {"input", (PyCFunction)graph_input, METH_O, "input(shape) -> node id; None marks the batch dim"},
    {"param", (PyCFunction)graph_param, METH_O, "param(Tensor) -> node id of a variable"},
    {"const", (PyCFunction)graph_const, METH_O, "const(array) -> node id"},
    {"op", (PyCFunction)graph_op, METH_VARARGS, "op(name, input_ids, ints=None, floats=None) -> node id"},
    {"shape", (PyCFunction)graph_shape, METH_O, "symbolic shape of a node"},
    {NULL},
};

static PySequenceMethods graph_seq = {.sq_length = (lenfunc)graph_len};

PyTypeObject cnn_PyGraph_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cnn._C.Graph",
    .tp_basicsize = sizeof(PyGraph),
    .tp_dealloc = (destructor)graph_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A static graph under construction.",
    .tp_methods = graph_methods,
    .tp_as_sequence = &graph_seq,
    .tp_new = graph_new,
};

/* ---- Program ------------------------------------------------------------------------ */

#define MAX_FED 64

static PyObject *program_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"graph", "inputs", "targets", "outputs", "loss", "reports", "trainable", NULL};
    PyObject *graph, *in_o, *tg_o, *out_o, *rep_o, *tr_o;
    int loss;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!OOOiOO", kwlist, &cnn_PyGraph_Type, &graph, &in_o, &tg_o,
                                     &out_o, &loss, &rep_o, &tr_o))
        return NULL;
    int ins[MAX_FED], tgs[MAX_FED], outs[MAX_FED], reps[MAX_FED];
    int ni = parse_ids(in_o, ins, MAX_FED, "inputs"), nt = parse_ids(tg_o, tgs, MAX_FED, "targets");
    int no = parse_ids(out_o, outs, MAX_FED, "outputs"), nr = parse_ids(rep_o, reps, MAX_FED, "reports");
    if (ni < 0 || nt < 0 || no < 0 || nr < 0) return NULL;
    PyObject *seq = PySequence_Fast(tr_o, "trainable must be a list of Tensors");
    if (!seq) return NULL;
    Py_ssize_t nv = PySequence_Fast_GET_SIZE(seq);
    cnn_tensor **vars = malloc(sizeof *vars * (size_t)(nv + 1));
    if (!vars) { Py_DECREF(seq); return PyErr_NoMemory(); }
    for (Py_ssize_t i = 0; i < nv; i++) {
        PyObject *v = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyObject_TypeCheck(v, &cnn_PyTensor_Type)) {
            free(vars); Py_DECREF(seq);
            return PyErr_Format(PyExc_TypeError, "trainable[%zd] is not a cnn._C.Tensor", i);
        }
        vars[i] = ((cnn_PyTensor *)v)->t;
    }
    cnn_program_spec spec = {ni, ins, nt, tgs, no, outs, loss, nr, reps, (int)nv, vars};
    cnn_program *p;
    cnn_status st = cnn_program_new(((PyGraph *)graph)->g, &spec, &p);
    free(vars);
    Py_DECREF(seq);
    if (st) return cnn_py_raise(st);
    PyProgram *o = (PyProgram *)type->tp_alloc(type, 0);
    if (!o) { cnn_program_free(p); return NULL; }
    o->p = p;
    o->graph = graph;
    Py_INCREF(graph);
    o->n_inputs = ni; o->n_targets = nt; o->n_outputs = no; o->n_reports = nr;
    return (PyObject *)o;
}

static void program_dealloc(PyProgram *o) {
    cnn_program_free(o->p);
    Py_XDECREF(o->graph);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

/* Converts the fed lists, checking their lengths. */
static int feed(PyObject *obj, int want, const char *what, cnn_tensor **out) {
    int n = cnn_py_tensor_list(obj, what, out, MAX_FED);
    if (n < 0) return -1;
    if (n != want) {
        cnn_py_release_tensors(out, n);
        PyErr_Format(PyExc_ValueError, "expected %d %s array(s), got %d", want, what, n);
        return -1;
    }
    return n;
}

static PyObject *program_predict(PyProgram *o, PyObject *xs_obj) {
    cnn_tensor *xs[MAX_FED];
    if (feed(xs_obj, o->n_inputs, "x", xs) < 0) return NULL;
    PyObject *res = PyList_New(o->n_outputs);
    float *outs[MAX_FED];
    cnn_status st = CNN_OK;
    for (int k = 0; res && k < o->n_outputs; k++) {
        cnn_shape s;
        if ((st = cnn_program_output_shape(o->p, xs, k, &s))) break;
        npy_intp dims[CNN_MAX_DIMS];
        for (int d = 0; d < s.ndim; d++) dims[d] = (npy_intp)s.dim[d];
        PyObject *arr = PyArray_SimpleNew(s.ndim, dims, NPY_FLOAT32);
        if (!arr) { Py_CLEAR(res); break; }
        PyList_SET_ITEM(res, k, arr);
        outs[k] = (float *)PyArray_DATA((PyArrayObject *)arr);
    }
    if (res && !st) {
        Py_BEGIN_ALLOW_THREADS
        st = cnn_program_predict(o->p, xs, outs);
        Py_END_ALLOW_THREADS
    }
    cnn_py_release_tensors(xs, o->n_inputs);
    if (st) { Py_XDECREF(res); return cnn_py_raise(st); }
    return res;
}

static PyObject *program_run(PyProgram *o, PyObject *args, int train) {
    PyObject *xs_obj, *ys_obj, *opt = Py_None;
    unsigned long long seed = 0;
    if (train ? !PyArg_ParseTuple(args, "OOO|K", &xs_obj, &ys_obj, &opt, &seed)
              : !PyArg_ParseTuple(args, "OO", &xs_obj, &ys_obj))
        return NULL;
    cnn_optimizer *optimizer = NULL;
    if (opt != Py_None) {
        if (!PyObject_TypeCheck(opt, &cnn_PyOptimizer_Type))
            return PyErr_Format(PyExc_TypeError, "train_step: optimizer must be a cnn._C.Optimizer");
        optimizer = ((PyOptimizerHead *)opt)->o;
    }
    cnn_tensor *xs[MAX_FED], *ys[MAX_FED];
    if (feed(xs_obj, o->n_inputs, "x", xs) < 0) return NULL;
    if (feed(ys_obj, o->n_targets, "y", ys) < 0) { cnn_py_release_tensors(xs, o->n_inputs); return NULL; }
    npy_intp size = (npy_intp)cnn_program_report_size(o->p);
    PyObject *reports = PyArray_SimpleNew(1, &size, NPY_FLOAT32);  /* filled in place */
    if (!reports) {
        cnn_py_release_tensors(xs, o->n_inputs);
        cnn_py_release_tensors(ys, o->n_targets);
        return NULL;
    }
    float *rp = (float *)PyArray_DATA((PyArrayObject *)reports);
    cnn_status st;
    Py_BEGIN_ALLOW_THREADS
    st = train ? cnn_program_train_step(o->p, xs, ys, optimizer, seed, rp)
               : cnn_program_evaluate(o->p, xs, ys, rp);
    Py_END_ALLOW_THREADS
    cnn_py_release_tensors(xs, o->n_inputs);
    cnn_py_release_tensors(ys, o->n_targets);
    if (st) { Py_DECREF(reports); return cnn_py_raise(st); }
    return reports;
}

static PyObject *program_train_step(PyProgram *o, PyObject *args) { return program_run(o, args, 1); }
static PyObject *program_evaluate(PyProgram *o, PyObject *args) { return program_run(o, args, 0); }

static PyMethodDef program_methods[] = {
    {"predict", (PyCFunction)program_predict, METH_O, "predict(xs) -> list of outputs for one batch"},
    {"evaluate", (PyCFunction)program_evaluate, METH_VARARGS, "evaluate(xs, ys) -> reports"},
    {"train_step", (PyCFunction)program_train_step, METH_VARARGS,
     "train_step(xs, ys, optimizer, seed=0) -> reports (one forward+backward+update)"},
    {NULL},
};

PyTypeObject cnn_PyProgram_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cnn._C.Program",
    .tp_basicsize = sizeof(PyProgram),
    .tp_dealloc = (destructor)program_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled program over a Graph: predict, evaluate, train_step.",
    .tp_methods = program_methods,
    .tp_new = program_new,
};
